"""Where each dataset's bytes lie in an HDF5 file as h5py writes it by default, read in pure Python.

libhdf5 can crash or hang on a damaged file, so prune-viz lets it read a file only after a child
process has read the same file first (0.1-0.25 s for a 456 MiB model). This index needs no libhdf5:
a damaged or hostile file makes it raise ``Unsupported``, never crash, and every loop is bounded.
It understands only the old-style format h5py writes by default (and Keras through it):
superblock 0, version-1 object headers, symbol-table groups, and contiguous or compact datasets of
little-endian IEEE floats or integers. Anything else raises ``Unsupported``, and the caller reads
the file with h5py after the child-process check, as before.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

from prune_viz.core.file_range import FileRange

_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_UNDEFINED = 0xFFFFFFFFFFFFFFFF
MAX_OBJECTS = 100_000
MAX_STRUCTURE_BYTES = 16 << 20  # a header block or a heap of group names; Keras's are under 1 KiB
MAX_TREE_DEPTH = 32
MAX_HEADER_BLOCKS = 1_000  # per object header, counting its continuations

# IEEE layouts, as HDF5 describes them: (precision, exponent location, exponent size,
# mantissa location, mantissa size, exponent bias) for 2-, 4- and 8-byte floats
_IEEE = {2: (16, 10, 5, 0, 10, 15), 4: (32, 23, 8, 0, 23, 127), 8: (64, 52, 11, 0, 52, 1023)}
# header messages with nothing this index needs: nil, fill value (old and new), comment,
# modification time (old and new)
_IGNORED_MESSAGES = {0x00, 0x04, 0x05, 0x0D, 0x0E, 0x12}


class Unsupported(Exception):
    """The file is damaged, or uses HDF5 features this index does not read."""


@dataclass(frozen=True)
class Dataset:
    path: str  # "layers/dense/vars/0"
    dtype: np.dtype
    shape: tuple[int, ...]
    offset: int | None  # of the contiguous data, from the start of the HDF5 file
    compact: bytes | None  # the data of a compact dataset, which lives in its header
    attributes: frozenset[str]

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def datasets(source: FileRange) -> dict[str, Dataset]:
    """{path: Dataset} of every dataset in the HDF5 file at ``source``."""
    with open(source.path, "rb", buffering=0) as file:
        return _Index(_Bytes(file, source.offset, source.size)).datasets()


class _Bytes:
    """Bounds-checked reads from the HDF5 file."""

    def __init__(self, file, base: int, size: int):
        self.file, self.base, self.size = file, base, size

    def read(self, address: int, count: int) -> bytes:
        if address < 0 or count < 0 or address + count > self.size:
            raise Unsupported(f"a structure at {address} runs past the end of the file")
        self.file.seek(self.base + address)
        data = self.file.read(count)
        if len(data) != count:
            raise Unsupported("the file is shorter than it says")
        return data


def _u(data: bytes, at: int, size: int) -> int:
    if at + size > len(data):
        raise Unsupported("a header message is cut short")
    return int.from_bytes(data[at:at + size], "little")


class _Index:
    def __init__(self, file: _Bytes):
        self.file = file
        self.objects = 0

    def datasets(self) -> dict[str, Dataset]:
        head = self.file.read(0, 96)
        if head[:8] != _SIGNATURE:
            raise Unsupported("no HDF5 signature at the start")
        if head[8] != 0 or head[13] != 8 or head[14] != 8:
            raise Unsupported(f"superblock version {head[8]} or 8-byte addresses and lengths not used")
        base, end_of_file = _u(head, 24, 8), _u(head, 40, 8)
        if base != 0 or end_of_file > self.file.size:
            raise Unsupported("the superblock's base or end-of-file address does not fit the file")
        found: dict[str, Dataset] = {}
        seen: set[int] = set()
        pending = [("", _u(head, 64, 8))]  # the root group's object header
        while pending:
            path, address = pending.pop()
            if address in seen:
                raise Unsupported("an object is linked twice (or in a cycle)")
            seen.add(address)
            self.objects += 1
            if self.objects > MAX_OBJECTS:
                raise Unsupported("too many objects")
            messages = self._messages(address)
            if 0x11 in messages:  # a group: its symbol table's B-tree and name heap
                table = messages[0x11][0]
                children = self._group_children(_u(table, 0, 8), _u(table, 8, 8))
                pending.extend((f"{path}/{name}" if path else name, child) for name, child in children)
            elif 0x08 in messages:
                found[path] = self._dataset(path, messages)
            else:
                raise Unsupported(f"{path or '/'} is neither a group nor a dataset")
        stored = sorted((d.offset, d.offset + d.nbytes) for d in found.values() if d.offset is not None)
        if any(end > next_start for (_, end), (next_start, _) in zip(stored, stored[1:])):
            raise Unsupported("two datasets share bytes")  # h5py never writes that; a crafted file may
        return found

    def _messages(self, address: int) -> dict[int, list[bytes]]:
        """{message type: [data, ...]} of a version-1 object header, continuations followed."""
        head = self.file.read(address, 16)
        if head[0] != 1:
            raise Unsupported(f"object header version {head[0]}")
        blocks, visited, found = [(address + 16, _u(head, 8, 4))], set(), {}
        while blocks:
            start, length = blocks.pop()
            if start in visited or len(visited) >= MAX_HEADER_BLOCKS:
                raise Unsupported("object header continuations loop")
            if length > MAX_STRUCTURE_BYTES:
                raise Unsupported("an object header block is too large")
            visited.add(start)
            block = self.file.read(start, length)
            at = 0
            while at + 8 <= len(block):
                kind, size, flags = _u(block, at, 2), _u(block, at + 2, 2), block[at + 4]
                data = block[at + 8:at + 8 + size]
                if len(data) != size:
                    raise Unsupported("a header message runs past its block")
                at += 8 + size
                if kind == 0x10:  # continuation: more messages elsewhere
                    blocks.append((_u(data, 0, 8), _u(data, 8, 8)))
                elif kind not in _IGNORED_MESSAGES:
                    if flags & 0x02:
                        raise Unsupported("shared header messages")
                    found.setdefault(kind, []).append(data)
        unknown = set(found) - {0x01, 0x03, 0x08, 0x0C, 0x11}
        if unknown:  # filters, external storage, new-style links or attributes...
            raise Unsupported(f"header message type(s) {sorted(unknown)}")
        return found

    def _group_children(self, tree: int, heap: int) -> list[tuple[str, int]]:
        head = self._structure(heap, 32, b"HEAP", 0, "a group's name heap")
        size = _u(head, 8, 8)
        if size > MAX_STRUCTURE_BYTES:
            raise Unsupported("a group's name heap is too large")
        names = self.file.read(_u(head, 24, 8), size)
        children, nodes, visited = [], [(tree, None, 0)], set()
        while nodes:
            address, level, depth = nodes.pop()
            if address in visited or depth > MAX_TREE_DEPTH or len(visited) > MAX_OBJECTS:
                raise Unsupported("a group's B-tree loops or is too large")
            visited.add(address)
            node = self._structure(address, 24, b"TREE", 0, "a group's B-tree")  # 0: a tree of groups
            if level is not None and node[5] != level:
                raise Unsupported("a group's B-tree has a node at the wrong level")
            used = _u(node, 6, 2)
            # keys and child addresses alternate: key 0, child 0, key 1, ..., child n-1, key n
            values = struct.unpack(f"<{2 * used + 1}Q", self.file.read(address + 24, 8 * (2 * used + 1)))
            for child in values[1::2]:
                if node[5] > 0:
                    nodes.append((child, node[5] - 1, depth + 1))
                else:
                    children.extend(self._symbol_node(child, names))
            if len(children) > MAX_OBJECTS:
                raise Unsupported("too many objects")
        return children

    def _structure(self, address: int, size: int, signature: bytes, version: int, what: str) -> bytes:
        """``size`` bytes at ``address``, which must start with ``signature`` and then ``version``."""
        data = self.file.read(address, size)
        if data[:4] != signature or data[4] != version:
            raise Unsupported(f"{what} is damaged")
        return data

    def _symbol_node(self, address: int, names: bytes) -> list[tuple[str, int]]:
        head = self._structure(address, 8, b"SNOD", 1, "a group's symbol node")
        count = _u(head, 6, 2)
        entries = self.file.read(address + 8, 40 * count)
        found = []
        for i in range(count):
            name_at, header = struct.unpack_from("<QQ", entries, 40 * i)
            end = names.find(b"\0", name_at)
            if name_at >= len(names) or end < 0:
                raise Unsupported("a name lies outside its group's heap")
            try:
                name = names[name_at:end].decode("utf-8")
            except UnicodeDecodeError as exc:
                raise Unsupported("a name is not UTF-8") from exc
            if not name or name in (".", "..") or "/" in name:
                raise Unsupported(f"the name {name!r} cannot be a path part")
            found.append((name, header))
        return found

    def _dataset(self, path: str, messages: dict[int, list[bytes]]) -> Dataset:
        if any(len(messages.get(kind, [])) != 1 for kind in (0x01, 0x03, 0x08)):
            raise Unsupported(f"{path} lacks a shape, type or layout, or has two")
        shape = _shape(messages[0x01][0])
        dtype = _dtype(messages[0x03][0])
        attributes = frozenset(_attribute_name(data) for data in messages.get(0x0C, []))
        layout = messages[0x08][0]
        nbytes = math.prod(shape) * dtype.itemsize
        if layout[:2] == b"\x03\x01":  # version 3, contiguous
            offset, size = _u(layout, 2, 8), _u(layout, 10, 8)
            if offset == _UNDEFINED or size != nbytes or offset + size > self.file.size:
                raise Unsupported(f"{path}'s data is unwritten or does not fit the file")
            return Dataset(path, dtype, shape, offset, None, attributes)
        if layout[:2] == b"\x03\x00":  # version 3, compact: the data is in the header
            data = layout[4:4 + _u(layout, 2, 2)]
            if len(data) != nbytes:
                raise Unsupported(f"{path}'s compact data has the wrong size")
            return Dataset(path, dtype, shape, None, data, attributes)
        raise Unsupported(f"{path} is chunked or uses an old layout message")


def _shape(data: bytes) -> tuple[int, ...]:
    version, rank = data[0], data[1]
    if version == 1:
        start = 8
    elif version == 2 and data[3] in (0, 1):  # scalar or simple, not null
        start = 4
    else:
        raise Unsupported(f"dataspace version {version}")
    return tuple(_u(data, start + 8 * i, 8) for i in range(rank))


def _dtype(data: bytes) -> np.dtype:
    kind, bits, size = data[0] & 0x0F, data[1:4], _u(data, 4, 4)
    if len(bits) != 3:
        raise Unsupported("a datatype is cut short")
    if kind == 0 and size in (1, 2, 4, 8):  # integer: little-endian, all bits used
        if bits[0] & 0x01 or (_u(data, 8, 2), _u(data, 10, 2)) != (0, 8 * size):
            raise Unsupported("a big-endian or padded integer type")
        return np.dtype(f"<{'i' if bits[0] & 0x08 else 'u'}{size}")
    if kind == 1 and size in _IEEE:  # float: little-endian IEEE, implied leading mantissa bit
        if len(data) < 20:
            raise Unsupported("a float type is cut short")
        described = (_u(data, 10, 2), data[12], data[13], data[14], data[15], _u(data, 16, 4))
        if bits[0] & 0x41 or (bits[0] >> 4) & 0x3 != 2 or bits[1] != 8 * size - 1 or _u(data, 8, 2) != 0 \
                or described != _IEEE[size]:
            raise Unsupported("a float type that is not little-endian IEEE")
        return np.dtype(f"<f{size}")
    raise Unsupported(f"datatype class {kind} of {size} bytes")


def _attribute_name(data: bytes) -> str:
    version = data[0]
    if version not in (1, 2, 3):
        raise Unsupported(f"attribute message version {version}")
    size = _u(data, 2, 2)
    start = 9 if version == 3 else 8  # version 3 adds a name-encoding byte
    raw = data[start:start + size]
    if len(raw) != size:
        raise Unsupported("an attribute name is cut short")
    return raw.rstrip(b"\0").decode("utf-8", "replace")
