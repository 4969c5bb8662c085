"""Hostile and odd inputs through the CLI: exit code 2 (or 0 when it legitimately works),
exactly one line on stderr, and never a traceback.

Each case builds its input in a temporary folder; the expected stderr line is pinned
by a fragment, so a regression to a vaguer message fails.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest


@dataclass
class BadInput:
    name: str
    argv: list[str]
    code: int
    says: str  # fragment of the one stderr line (exit 2) or of stdout (exit 0)


def _save_mlp(path: Path, units: int = 16, mutate=None) -> Path:
    import keras

    keras.utils.set_random_seed(5)
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(units, activation="relu", name="h1"),
            keras.layers.Dense(10, activation="softmax", name="out"),
        ]
    )
    if mutate is not None:
        mutate(model)
    model.save(path)
    return path


def _idx(path: Path, magic: int, dims: list[int], payload: bytes, compress: bool = True) -> None:
    raw = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + payload
    path.write_bytes(gzip.compress(raw) if compress else raw)


def _mnist_copy(source: Path, target: Path) -> Path:
    target.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copyfile(source / name, target / name)
    return target


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory, mnist_dir) -> dict[str, BadInput]:
    import keras

    root = tmp_path_factory.mktemp("bad inputs")
    good = _save_mlp(root / "good.keras")
    data = str(mnist_dir)
    cases: list[BadInput] = []

    def add(name, argv, code, says):
        cases.append(BadInput(name, [str(a) for a in argv], code, says))

    # -- model files ----------------------------------------------------------------------------
    (root / "empty.keras").write_bytes(b"")
    add("empty file", ["inspect", root / "empty.keras"], 2, "empty.keras is empty")
    rng = np.random.default_rng(0)
    (root / "noise.keras").write_bytes(rng.bytes(4096))
    add(
        "random bytes .keras",
        ["inspect", root / "noise.keras"],
        2,
        "noise.keras is neither a Keras archive nor an HDF5 model file",
    )
    (root / "noise.h5").write_bytes(rng.bytes(4096))
    add("random bytes .h5", ["inspect", root / "noise.h5"], 2, "noise.h5 is neither a Keras archive nor an HDF5")
    raw = good.read_bytes()
    (root / "truncated.keras").write_bytes(raw[: len(raw) // 2])
    add("truncated .keras", ["inspect", root / "truncated.keras"], 2, "truncated.keras is a damaged zip file")
    h5 = _save_mlp(root / "good.h5")
    (root / "truncated.h5").write_bytes(h5.read_bytes()[: h5.stat().st_size // 2])
    add("truncated .h5", ["inspect", root / "truncated.h5"], 2, "truncated.h5 is a damaged HDF5 file: it is truncated")
    with zipfile.ZipFile(root / "photos.keras", "w") as z:
        z.writestr("holiday.txt", "not a model")
    add(
        "zip that is not a Keras archive",
        ["inspect", root / "photos.keras"],
        2,
        "photos.keras is a zip file but not a Keras model archive",
    )
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(root / "no-weights.keras", "w") as out:
        for name in src.namelist():
            if name != "model.weights.h5":
                out.writestr(name, src.read(name))
    add(
        "archive without its weights",
        ["inspect", root / "no-weights.keras"],
        2,
        "no-weights.keras has no model.weights.h5",
    )
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(root / "bad-config.keras", "w") as out:
        for name in src.namelist():
            out.writestr(name, b"{not json" if name == "config.json" else src.read(name))
    add(
        "archive with a broken config.json",
        ["inspect", root / "bad-config.keras"],
        2,
        "bad-config.keras has an unreadable config.json",
    )
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(root / "mismatch.keras", "w") as out:
        other = _save_mlp(root / "wider.keras", units=32)
        with zipfile.ZipFile(other) as wide:
            for name in src.namelist():
                out.writestr(name, wide.read(name) if name == "model.weights.h5" else src.read(name))
    add(
        "weights that do not fit the architecture",
        ["inspect", root / "mismatch.keras"],
        2,
        "mismatch.keras: its weights do not fit its architecture",
    )

    model = keras.models.load_model(good)
    model.save_weights(root / "only.weights.h5")
    shutil.copyfile(root / "only.weights.h5", root / "weights-only.h5")
    add(
        "HDF5 weights without architecture",
        ["inspect", root / "weights-only.h5"],
        2,
        "weights-only.h5 holds weights only, without the model architecture",
    )
    import h5py

    with h5py.File(root / "table.h5", "w") as f:
        f["measurements"] = np.arange(10)
    add(
        "HDF5 file that is no Keras model",
        ["inspect", root / "table.h5"],
        2,
        "table.h5 is an HDF5 file but holds no Keras model",
    )

    model.export(str(root / "exported"), verbose=False)
    shutil.copytree(root / "exported", root / "no-variables")
    shutil.rmtree(root / "no-variables" / "variables")
    add(
        "SavedModel folder without variables",
        ["inspect", root / "no-variables"],
        2,
        "The SavedModel no-variables has no variables folder",
    )
    shutil.copytree(root / "exported", root / "empty-variables")
    for file in (root / "empty-variables" / "variables").iterdir():
        file.unlink()
    add(
        "SavedModel whose variables folder is empty",
        ["inspect", root / "empty-variables"],
        2,
        "The SavedModel empty-variables",
    )
    shutil.copytree(root / "exported", root / "bad-pb")
    (root / "bad-pb" / "saved_model.pb").write_bytes(rng.bytes(300))
    add("SavedModel with a corrupt saved_model.pb", ["inspect", root / "bad-pb"], 2, "The SavedModel bad-pb is damaged")
    (root / "some folder").mkdir()
    add(
        "folder that is not a SavedModel",
        ["inspect", root / "some folder"],
        2,
        "The folder some folder is not a TensorFlow SavedModel",
    )
    add("missing model file", ["inspect", root / "nowhere.keras"], 2, "nowhere.keras does not exist")
    os.mkfifo(root / "pipe.keras")
    add("named pipe instead of a model file", ["inspect", root / "pipe.keras"], 2, "pipe.keras is not a regular file")

    @keras.saving.register_keras_serializable(package="BadInputs")
    class ScaledDense(keras.layers.Dense):
        pass

    custom = keras.Sequential([keras.Input((784,)), ScaledDense(10, name="custom")])
    custom.save(root / "custom.keras")
    custom.save(root / "custom.h5")
    keras.saving.get_custom_objects().pop("BadInputs>ScaledDense")
    # a model Keras cannot rebuild opens from its weights (issue 26), and cannot be evaluated
    add(
        "unregistered custom layer (.keras)",
        ["inspect", root / "custom.keras"],
        0,
        "Warning:      opened from its weights only because its custom class ScaledDense is not part of Keras",
    )
    add(
        "unregistered custom layer (.h5)",
        ["evaluate", root / "custom.h5", "--data", data],
        2,
        "custom.h5 was opened from its weights only because its custom class ScaledDense is not part of Keras, "
        "so it cannot be run or evaluated; the Python file that defines it, given with --custom-objects FILE.py",
    )

    # -- models that open but are odd ---------------------------------------------------------------
    keras.Sequential([keras.Input((784,)), keras.layers.Activation("softmax")]).save(root / "no-kernels.keras")
    add("no prunable layers: inspect", ["inspect", root / "no-kernels.keras"], 0, "(no prunable tensors")
    add(
        "no prunable layers: evaluate",
        ["evaluate", root / "no-kernels.keras", "--data", data],
        2,
        "The model has 784 outputs; MNIST evaluation needs 10 class scores.",
    )
    keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10)]).save(
        root / "cifar.keras"
    )
    add("32x32x3 input: inspect", ["inspect", root / "cifar.keras"], 0, "(None, 32, 32, 3)")
    add(
        "32x32x3 input: evaluate",
        ["evaluate", root / "cifar.keras", "--data", data],
        2,
        "This model takes 32x32x3 colour images; MNIST's are 28x28 grey images, so it cannot be evaluated on MNIST.",
    )

    def poison(model):
        kernel = model.get_layer("h1").kernel.numpy()
        kernel[0, 0], kernel[1, 1] = np.nan, np.inf
        model.get_layer("h1").kernel.assign(kernel)

    _save_mlp(root / "nan.keras", mutate=poison)
    add(
        "NaN/Inf weights: inspect",
        ["inspect", root / "nan.keras"],
        0,
        "Warning:      The model holds 2 weights that are NaN or infinite (h1/kernel: 1 NaN and 1 infinite of 12,544",
    )
    # pixels 0 and 1 are always 0, 0*NaN is NaN, and ReLU maps NaN to 0: the outputs stay finite
    add(
        "NaN/Inf weights behind a ReLU: evaluate",
        ["evaluate", root / "nan.keras", "--data", data, "--k", "50"],
        0,
        "Warning:      The model holds 2 weights that are NaN or infinite (h1/kernel: 1 NaN and 1 infinite of 12,544",
    )

    def poison_output(model):
        bias = model.get_layer("out").bias.numpy()
        bias[3] = np.nan
        model.get_layer("out").bias.assign(bias)

    _save_mlp(root / "nan-output.keras", mutate=poison_output)
    add(
        "NaN weight in the output layer: evaluate",
        ["evaluate", root / "nan-output.keras", "--data", data],
        2,
        "The model's outputs are not numbers because it has NaN or infinite weights (out: 1)",
    )

    def zero(model):
        model.get_layer("h1").kernel.assign(np.zeros((784, 16), np.float32))

    _save_mlp(root / "zero-layer.keras", mutate=zero)
    add(
        "all-zero layer",
        ["evaluate", root / "zero-layer.keras", "--data", data, "--k", "50", "--method", "unit"],
        0,
        "Accuracy:",
    )
    keras.utils.set_random_seed(2)
    keras.Sequential([keras.Input((784,)), keras.layers.Dense(1, name="one"), keras.layers.Dense(10, name="out")]).save(
        root / "one-unit.keras"
    )
    add(
        "1-unit layer",
        ["evaluate", root / "one-unit.keras", "--data", data, "--k", "50", "--method", "unit"],
        0,
        "Accuracy:",
    )
    keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, name="only")]).save(root / "1x1.keras")
    add("1x1 layer: inspect", ["inspect", root / "1x1.keras"], 0, "only")

    # -- arguments --------------------------------------------------------------------------------
    for k in ("150", "-5", "abc", "nan", "inf", "1e3", ""):
        add(f"k={k!r}", ["evaluate", good, "--data", data, "--k", k], 2, "argument --k: k must be")
    add("unknown method", ["evaluate", good, "--method", "magnitude"], 2, "argument --method: invalid choice")

    # -- data -------------------------------------------------------------------------------------
    add("missing data path", ["evaluate", good, "--data", root / "no-mnist-here"], 2, "no-mnist-here does not exist")
    os.mkfifo(root / "mnist-pipe.npz")
    add(
        "named pipe as data",
        ["evaluate", good, "--data", root / "mnist-pipe.npz"],
        2,
        "mnist-pipe.npz is not a regular file",
    )
    unreadable = _mnist_copy(mnist_dir, root / "unreadable-mnist")
    (unreadable / "t10k-images-idx3-ubyte.gz").unlink()
    (unreadable / "t10k-images-idx3-ubyte.gz").mkdir()  # root reads any file, but not a folder as one
    add("data file that cannot be read", ["evaluate", good, "--data", unreadable], 2, "has no MNIST test files")
    empty = root / "empty-data"
    empty.mkdir()
    add("data folder without MNIST", ["evaluate", good, "--data", empty], 2, "has no MNIST test files")
    (root / "not-an.npz").write_bytes(rng.bytes(100))
    add(
        "data file that is no .npz",
        ["evaluate", good, "--data", root / "not-an.npz"],
        2,
        "not-an.npz is not an .npz archive",
    )

    magic = _mnist_copy(mnist_dir, root / "bad-magic")
    _idx(magic / "t10k-labels-idx1-ubyte.gz", 0x00000802, [10_000], bytes(10_000))
    add(
        "IDX with a bad magic number",
        ["evaluate", good, "--data", magic],
        2,
        "t10k-labels-idx1-ubyte.gz is not an MNIST IDX file (bad magic number 0x00000802)",
    )
    counts = _mnist_copy(mnist_dir, root / "wrong-count")
    _idx(counts / "t10k-labels-idx1-ubyte.gz", 0x00000801, [10_001], bytes(10_000))
    add(
        "IDX whose count disagrees with its size",
        ["evaluate", good, "--data", counts],
        2,
        "says it holds 10,001 items but its size does not match",
    )
    mismatch = _mnist_copy(mnist_dir, root / "label-mismatch")
    _idx(mismatch / "t10k-labels-idx1-ubyte.gz", 0x00000801, [9_999], bytes(9_999))
    add(
        "labels/images count mismatch",
        ["evaluate", good, "--data", mismatch],
        2,
        "has 10,000 images but t10k-labels-idx1-ubyte.gz has 9,999 labels",
    )
    huge = _mnist_copy(mnist_dir, root / "huge-header")
    _idx(huge / "t10k-images-idx3-ubyte.gz", 0x00000803, [0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF], bytes(16))
    add("IDX header claiming 2^96 bytes", ["evaluate", good, "--data", huge], 2, "says it holds 4,294,967,295 items")
    shape = _mnist_copy(mnist_dir, root / "odd-shape")
    _idx(shape / "t10k-images-idx3-ubyte.gz", 0x00000803, [10, 32, 32], bytes(10 * 32 * 32))
    _idx(shape / "t10k-labels-idx1-ubyte.gz", 0x00000801, [10], bytes(10))
    add("IDX images that are not 28x28", ["evaluate", good, "--data", shape], 2, "32x32 images, not 28x28")
    cut = _mnist_copy(mnist_dir, root / "truncated-gz")
    gz = (cut / "t10k-images-idx3-ubyte.gz").read_bytes()
    (cut / "t10k-images-idx3-ubyte.gz").write_bytes(gz[: len(gz) // 2])
    add("truncated gzip", ["evaluate", good, "--data", cut], 2, "Cannot read IDX file t10k-images-idx3-ubyte.gz")
    flipped = _mnist_copy(mnist_dir, root / "corrupt-gz")
    body = bytearray((flipped / "t10k-images-idx3-ubyte.gz").read_bytes())
    body[len(body) // 2 : len(body) // 2 + 64] = bytes(64)
    (flipped / "t10k-images-idx3-ubyte.gz").write_bytes(bytes(body))
    add(
        "gzip with a corrupt deflate stream",
        ["evaluate", good, "--data", flipped],
        2,
        "Cannot read IDX file t10k-images-idx3-ubyte.gz",
    )
    labels_only = _mnist_copy(mnist_dir, root / "bad-npz-shape")
    np.savez(labels_only / "mnist.npz", x_test=np.zeros((5, 32, 32), np.uint8), y_test=np.zeros(5, np.uint8))
    add(
        ".npz with 32x32 images",
        ["evaluate", good, "--data", labels_only / "mnist.npz"],
        2,
        "mnist.npz's are 32x32 grey images, so it cannot be evaluated on them",
    )

    # -- paths ------------------------------------------------------------------------------------
    odd = root / "mödèls with spaces" / "réseau ñ 模型.keras"
    odd.parent.mkdir()
    shutil.copyfile(good, odd)
    odd_data = _mnist_copy(mnist_dir, root / "données MNIST ü")
    add("spaces and non-ASCII in paths", ["evaluate", odd, "--data", odd_data], 0, "Accuracy:")
    return {case.name: case for case in cases}


CASE_NAMES = [
    "empty file",
    "random bytes .keras",
    "random bytes .h5",
    "truncated .keras",
    "truncated .h5",
    "zip that is not a Keras archive",
    "archive without its weights",
    "archive with a broken config.json",
    "weights that do not fit the architecture",
    "HDF5 weights without architecture",
    "HDF5 file that is no Keras model",
    "SavedModel folder without variables",
    "SavedModel whose variables folder is empty",
    "SavedModel with a corrupt saved_model.pb",
    "folder that is not a SavedModel",
    "missing model file",
    "named pipe instead of a model file",
    "unregistered custom layer (.keras)",
    "unregistered custom layer (.h5)",
    "no prunable layers: inspect",
    "no prunable layers: evaluate",
    "32x32x3 input: inspect",
    "32x32x3 input: evaluate",
    "NaN/Inf weights: inspect",
    "NaN/Inf weights behind a ReLU: evaluate",
    "NaN weight in the output layer: evaluate",
    "all-zero layer",
    "1-unit layer",
    "1x1 layer: inspect",
    "k='150'",
    "k='-5'",
    "k='abc'",
    "k='nan'",
    "k='inf'",
    "k='1e3'",
    "k=''",
    "unknown method",
    "missing data path",
    "named pipe as data",
    "data file that cannot be read",
    "data folder without MNIST",
    "data file that is no .npz",
    "IDX with a bad magic number",
    "IDX whose count disagrees with its size",
    "labels/images count mismatch",
    "IDX header claiming 2^96 bytes",
    "IDX images that are not 28x28",
    "truncated gzip",
    "gzip with a corrupt deflate stream",
    ".npz with 32x32 images",
    "spaces and non-ASCII in paths",
]


def test_every_case_is_built(bad_inputs):
    assert sorted(bad_inputs) == sorted(CASE_NAMES)


def _run_main(argv, capsys) -> tuple[int, str, str]:
    from prune_viz import cli

    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse exits on bad arguments
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", CASE_NAMES)
def test_bad_input_gives_one_clear_line(name, bad_inputs, capsys, monkeypatch):
    monkeypatch.delenv("PRUNE_VIZ_MNIST", raising=False)
    case = bad_inputs[name]
    code, out, err = _run_main(case.argv, capsys)
    print(f"[{name}] exit {code}: {err.strip() or out.strip().splitlines()[-1]}")
    assert "Traceback" not in out + err
    assert code == case.code, err
    if case.code == 2:
        lines = err.splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("prune-viz"), lines[0]
        assert case.says in lines[0]
    else:
        assert err == ""
        assert case.says in out


@pytest.mark.slow
@pytest.mark.parametrize("name", ["truncated .keras", "unregistered custom layer (.h5)", "IDX with a bad magic number"])
def test_bad_input_in_a_real_process(name, bad_inputs):
    """The same through ``python -m prune_viz``: nothing else (TensorFlow logs, warnings) reaches stderr."""
    case = bad_inputs[name]
    env = dict(os.environ)
    env.pop("PRUNE_VIZ_MNIST", None)
    proc = subprocess.run(
        [sys.executable, "-m", "prune_viz", *case.argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
        env=env,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and case.says in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_json_output_of_the_odd_model_is_valid(bad_inputs, capsys):
    """A model with NaN weights still inspects to strict JSON (no bare NaN tokens)."""
    code, out, _ = _run_main(["inspect", "--json", bad_inputs["NaN/Inf weights: inspect"].argv[1]], capsys)
    assert code == 0
    info = json.loads(out, parse_constant=lambda token: pytest.fail(f"non-JSON token {token}"))
    assert [layer["name"] for layer in info["layers"]] == ["h1", "out"]


def _without_root_file_access() -> list[str]:
    """A command prefix that runs as root minus the capability to read any file, or skip.

    The tests run as root, which reads chmod-000 files; dropping CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH from the bounding set makes permissions count again."""
    if os.geteuid() != 0:
        return []  # permissions already apply
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed, so root cannot be kept from reading files")
    prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]
    probe = subprocess.run(prefix + ["true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"setpriv cannot drop capabilities here: {probe.stderr.decode().strip()}")
    return prefix


@pytest.mark.slow
@pytest.mark.parametrize("what", ["model", "data"])
def test_unreadable_file_says_permission_denied(what, bad_inputs, tmp_path, mnist_dir):
    prefix = _without_root_file_access()
    good = Path(bad_inputs["all-zero layer"].argv[1]).with_name("good.keras")
    model, data = tmp_path / "locked.keras", _mnist_copy(mnist_dir, tmp_path / "mnist")
    shutil.copyfile(good, model)
    locked = model if what == "model" else data / "t10k-images-idx3-ubyte.gz"
    locked.chmod(0)
    env = {k: v for k, v in os.environ.items() if k != "PRUNE_VIZ_MNIST"}
    proc = subprocess.run(
        prefix + [sys.executable, "-m", "prune_viz", "evaluate", str(model), "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    print(proc.stderr.strip())
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Permission denied" in proc.stderr and locked.name in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_archive_that_unpacks_too_big_is_refused(bad_inputs, capsys, monkeypatch):
    """A zip bomb named .keras: the limit is lowered so a real archive stands in for an 8 GB one."""
    from prune_viz.core.io import archive_checks

    good = Path(bad_inputs["all-zero layer"].argv[1]).with_name("good.keras")
    monkeypatch.setattr(archive_checks, "MAX_ARCHIVE_BYTES", 10_000)
    code, _, err = _run_main(["inspect", str(good)], capsys)
    assert code == 2
    assert err.startswith("prune-viz: error: good.keras would unpack to 0.0 GB, more than prune-viz opens")
    assert err.count("\n") == 1


def test_npz_that_unpacks_too_big_is_refused(tmp_path, mnist, capsys, monkeypatch):
    from prune_viz.core import data

    path = tmp_path / "mnist.npz"
    np.savez(path, x_test=mnist.x_test[:100], y_test=mnist.y_test[:100])
    assert data.load_npz(path).x_test.shape == (100, 28, 28)
    from prune_viz.core import data_base

    monkeypatch.setattr(data_base, "MAX_IDX_BYTES", 1_000)
    with pytest.raises(data.DataError, match="mnist.npz would unpack to 0 MB; it is not MNIST"):
        data.load_npz(path)


def test_names_with_newlines_and_escapes_still_give_one_line(tmp_path, capsys):
    """A file name (or a zip member name from a damaged archive) with a newline or ESC stays on one line."""
    odd = tmp_path / "evil\nname\x1b[31m.keras"
    odd.write_bytes(b"not a model at all")
    code, _, err = _run_main(["inspect", str(odd)], capsys)
    assert code == 2
    assert err == "prune-viz: error: evil name?[31m.keras is neither a Keras archive nor an HDF5 model file.\n"
    with zipfile.ZipFile(tmp_path / "member.keras", "w") as z:
        z.writestr("meta\ndata.json", "{}")
        z.writestr("config.json", "{}")
        z.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n")
    raw = bytearray((tmp_path / "member.keras").read_bytes())
    at = raw.index(b"{}")  # damage the first member's data behind its CRC
    raw[at] = ord("[")
    (tmp_path / "member.keras").write_bytes(bytes(raw))
    code, _, err = _run_main(["inspect", str(tmp_path / "member.keras")], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert "its member meta data.json cannot be read" in err
