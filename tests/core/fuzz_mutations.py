"""Deterministic mutations of real model and IDX files, for fuzzing the loaders.

Every mutation takes the original bytes and a ``random.Random``; the same seed gives the
same broken file, so any finding is reproducible from (kind, seed) alone.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import zipfile

MODEL_KINDS = ("flip", "truncate", "zip-member", "zip-config", "zip-names", "h5-config", "splice")
IDX_KINDS = ("flip", "truncate", "header", "gzip-flip", "gzip-truncate", "append")
NPZ_KINDS = ("flip", "truncate", "member-flip", "member-header", "member-names")

_ODD_VALUES = (
    None,
    -1,
    0,
    2**31,
    2**63,
    -(2**40),
    1e308,
    float("nan"),
    "",
    "x" * 300,
    [],
    {},
    [None],
    True,
    "float64",
    "Dense",
    "../../etc/passwd",
)


def flip_bytes(data: bytes, rng: random.Random, count: int | None = None) -> bytes:
    buffer = bytearray(data)
    for _ in range(count or rng.randint(1, 32)):
        buffer[rng.randrange(len(buffer))] = rng.randrange(256)
    return bytes(buffer)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))]


def _json_places(value) -> list[tuple]:
    """Every (container, key or index) in a JSON tree, parents before children."""
    places = []

    def walk(node):
        if isinstance(node, dict):
            for key in list(node):
                places.append((node, key))
                walk(node[key])
        elif isinstance(node, list):
            for index in range(len(node)):
                places.append((node, index))
                walk(node[index])

    walk(value)
    return places


def mutate_json(value, rng: random.Random, changes: int = 3):
    """Replace, delete or retype a few values anywhere in a JSON tree (the result stays valid JSON)."""
    for _ in range(changes):
        nodes = _json_places(value)
        if not nodes:
            return rng.choice(_ODD_VALUES)
        parent, key = rng.choice(nodes)
        action = rng.random()
        if action < 0.2 and isinstance(parent, dict):
            del parent[key]
        elif action < 0.3 and isinstance(parent[key], list) and parent[key]:
            parent[key] = parent[key] * rng.randint(2, 4)
        else:
            parent[key] = rng.choice(_ODD_VALUES)
    return value


def _rebuild_zip(data: bytes, change) -> bytes:
    """A valid zip (fresh CRCs) whose members went through ``change(name, bytes) -> [(name, bytes)]``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            for new_name, new_data in change(name, src.read(name)):
                dst.writestr(new_name, new_data)
    return out.getvalue()


def mutate_model(data: bytes, kind: str, rng: random.Random) -> bytes:
    """A broken variant of a saved model file (.keras zip or .h5)."""
    is_zip = data[:2] == b"PK"
    if kind == "flip":
        return flip_bytes(data, rng)
    if kind == "truncate":
        return truncate(data, rng)
    if kind == "splice":  # a chunk of the file copied over another place
        start, length = rng.randrange(len(data)), rng.randint(1, 4096)
        chunk = data[start : start + length]
        at = rng.randrange(len(data))
        return data[:at] + chunk + data[at + len(chunk) :]
    if is_zip and kind == "zip-member":  # member bytes corrupted behind a valid CRC
        target = rng.choice(["model.weights.h5", "config.json", "metadata.json"])
        return _rebuild_zip(data, lambda n, d: [(n, flip_bytes(d, rng) if n == target else d)])
    if is_zip and kind == "zip-config":

        def change(name, raw):
            if name != "config.json":
                return [(name, raw)]
            return [(name, json.dumps(mutate_json(json.loads(raw), rng, rng.randint(1, 4))).encode())]

        return _rebuild_zip(data, change)
    if is_zip and kind == "zip-names":

        def change(name, raw):
            roll = rng.random()
            if roll < 0.25:
                return []  # member dropped
            if roll < 0.5:
                return [(name.upper(), raw)]
            if roll < 0.6:
                return [(name, raw), ("..\\" + name, raw)]
            return [(name, raw)]

        return _rebuild_zip(data, change)
    if not is_zip and kind == "h5-config":
        return _mutate_h5_config(data, rng)
    return flip_bytes(data, rng)


def _mutate_h5_config(data: bytes, rng: random.Random) -> bytes:
    import h5py

    buffer = io.BytesIO(data)
    with h5py.File(buffer, "r+") as h5:
        config = json.loads(h5.attrs["model_config"])
        h5.attrs["model_config"] = json.dumps(mutate_json(config, rng, rng.randint(1, 4)))
    return buffer.getvalue()


def mutate_idx(raw_idx: bytes, kind: str, rng: random.Random) -> bytes:
    """A broken variant of an uncompressed IDX file; some kinds return gzip bytes."""
    if kind == "flip":
        return flip_bytes(raw_idx, rng, rng.randint(1, 8))
    if kind == "truncate":
        return truncate(raw_idx, rng)
    if kind == "header":
        header = bytearray(raw_idx[:16])
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(0, 16, 4)
            header[at : at + 4] = rng.choice(
                [0, 1, 28, 2049, 2051, 0x7FFFFFFF, 0xFFFFFFFF, rng.randrange(2**32)]
            ).to_bytes(4, "big")
        return bytes(header) + raw_idx[16:]
    if kind == "gzip-flip":
        return flip_bytes(gzip.compress(raw_idx, mtime=0), rng, rng.randint(1, 8))
    if kind == "gzip-truncate":
        return truncate(gzip.compress(raw_idx, mtime=0), rng)
    if kind == "append":
        return raw_idx + bytes(rng.randint(1, 100))
    raise ValueError(kind)


def mutate_npz(data: bytes, kind: str, rng: random.Random) -> bytes:
    """A broken variant of an .npz (a zip of .npy members): raw damage, or damage behind valid CRCs."""
    if kind == "flip":
        return flip_bytes(data, rng)
    if kind == "truncate":
        return truncate(data, rng)
    target = rng.choice(["x_test.npy", "y_test.npy", "x_train.npy", "y_train.npy"])
    if kind == "member-flip":
        return _rebuild_zip(data, lambda n, d: [(n, flip_bytes(d, rng, rng.randint(1, 8)) if n == target else d)])
    if kind == "member-header":  # the .npy header text (dtype, shape) edited

        def change(name, raw):
            if name != target:
                return [(name, raw)]
            header_end = raw.index(b"\n") + 1
            header = raw[10:header_end].decode("latin1")
            header = (
                header.replace("'<u1'", rng.choice(["'<f8'", "'|O'", "'<u2'", "'<i4'"]))
                if rng.random() < 0.5
                else header.replace("(", "(" + str(rng.choice([0, 1, 2**31, 2**40])) + ", ", 1)
            )
            encoded = header.encode("latin1")
            return [(name, raw[:8] + len(encoded).to_bytes(2, "little") + encoded + raw[header_end:])]

        return _rebuild_zip(data, change)
    if kind == "member-names":
        return _rebuild_zip(data, lambda n, d: [] if n == target else [(n, d)])
    raise ValueError(kind)
