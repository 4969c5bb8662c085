"""Shared fixtures: real MNIST and the one small model trained on it for the whole session.

MNIST comes from ``../shared/data/mnist`` (next to the project folder) when it is there. Elsewhere
the tests use the test set bundled in the package, and as training images 500 per digit from
``$PRUNE_VIZ_MNIST`` or the Keras cache; with neither, the tests that need training images skip."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import hypothesis_profiles
import pytest

# Before anything imports Qt or TensorFlow.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # One thread each for TensorFlow's ops and OpenMP/MKL in every xdist worker (and the processes it starts):
    # two workers on two cores, each with a thread pool per core, oversubscribe them and spin.
    for _threads in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_threads, "1")

hypothesis_profiles.load()

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_MNIST = PROJECT_ROOT.parent / "shared" / "data" / "mnist"
TRAIN_PER_DIGIT = 500  # the shape of the shared 5k subset: 5,000 images, 500 of each digit
NO_TRAINING_IMAGES = (
    "no MNIST training images: the tests train on ../shared/data/mnist/train5k-* (next to the project "
    "folder) or on 500 images per digit from $PRUNE_VIZ_MNIST or ~/.keras/datasets/mnist.npz "
    "(python -c 'import keras; keras.datasets.mnist.load_data()' downloads it)"
)


@contextmanager
def once_for_all_workers(tmp_path_factory, name: str):
    """A folder shared by every pytest-xdist worker of this run (or this process's own folder without
    xdist), held under a lock: the first to enter makes what the others then find there."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's base folder, above each worker's own
    folder = root / name
    folder.mkdir(exist_ok=True)
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield folder
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_idx(path: Path, array) -> None:
    import struct

    magic = 0x803 if array.ndim == 3 else 0x801
    path.write_bytes(struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.tobytes())


def _newcomer_mnist(folder: Path) -> None:
    """The bundled test set, and a balanced 5k training subset of the user's own MNIST if there is one."""
    import numpy as np

    from prune_viz.core.data import BUNDLED_TEST_SET, ENV_VAR, keras_cache_path, load_path

    for test_file in BUNDLED_TEST_SET.glob("t10k-*"):
        (folder / test_file.name).write_bytes(test_file.read_bytes())
    source = os.environ.get(ENV_VAR) or (keras_cache_path() if keras_cache_path().is_file() else None)
    if source is None:
        return
    own = load_path(source)
    picked = np.concatenate([np.flatnonzero(own.y_train == digit)[:TRAIN_PER_DIGIT] for digit in range(10)])
    if len(picked) == 10 * TRAIN_PER_DIGIT:
        _write_idx(folder / "train5k-images-idx3-ubyte", own.x_train[picked])
        _write_idx(folder / "train5k-labels-idx1-ubyte", own.y_train[picked])


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory) -> Path:
    """A folder of MNIST IDX files: the shared one, or one made from the bundled test set."""
    if (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").is_file():
        return SHARED_MNIST
    with once_for_all_workers(tmp_path_factory, "mnist") as folder:
        if not any(folder.iterdir()):
            _newcomer_mnist(folder)
    return folder


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    from prune_viz.core.data import load_idx_folder

    return load_idx_folder(mnist_dir)


@pytest.fixture(scope="session")
def mnist_train(mnist):
    """MNIST with its 5k training subset; the test skips, saying where that subset comes from, without it."""
    if len(mnist.x_train) == 0:
        pytest.skip(NO_TRAINING_IMAGES)
    return mnist


@pytest.fixture(scope="session")
def trained_mlp_path(tmp_path_factory, mnist_train) -> Path:
    """A 784-64-32-10 MLP trained for 3 epochs on the 5k subset (~92% test accuracy), saved as .keras:
    the one trained model of the whole run, shared by the core, CLI and GUI tests (and by xdist's
    workers)."""
    with once_for_all_workers(tmp_path_factory, "trained") as folder:
        path = folder / "mlp.keras"
        if not path.is_file():
            _train_mlp(mnist_train, path)
    return path


def _train_mlp(mnist, path: Path) -> None:
    import keras
    import numpy as np

    from prune_viz.core.io import save_keras_with_metadata

    keras.utils.set_random_seed(7)
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(64, activation="relu", name="hidden1"),
            keras.layers.Dense(32, activation="relu", name="hidden2"),
            keras.layers.Dense(10, activation="softmax", name="output"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = mnist.x_train.reshape(-1, 784).astype(np.float32) / 255.0
    model.fit(x, mnist.y_train, epochs=3, batch_size=64, verbose=0, shuffle=True)
    save_keras_with_metadata(model, path, {"trained_on": "MNIST 5,000-image training subset (test fixture)"})


@pytest.fixture(scope="session")
def kind_checkpoints(tmp_path_factory) -> list:
    """Small seeded models of every Keras layer kind that has weights (tests/core/kind_models.py, issue 26), each
    saved as Keras 3 .keras and .h5 and Keras 2 .h5, and checkpoints plain Keras 3 cannot rebuild (custom
    classes, TFOpLambda, a lambda): the list of KindCheckpoint, written once for all xdist workers."""
    core = str(PROJECT_ROOT / "tests" / "core")
    if core not in sys.path:
        sys.path.append(core)
    import kind_models

    with once_for_all_workers(tmp_path_factory, "kinds") as folder:
        if not kind_models.is_written(folder):
            return kind_models.save_kind_checkpoints(folder)
        return kind_models.written_checkpoints(folder)


@pytest.fixture(scope="session")
def vgg_shaped_path(tmp_path_factory) -> Path:
    """A narrow, untrained VGG-16 look-alike saved as .keras: a 224x224x3 input (which MNIST cannot
    feed), 13 3x3 Conv2D layers in five max-pooled blocks, then Dense 32, 32 and 10."""
    from prune_viz.bench.models import build_vgg

    path = tmp_path_factory.mktemp("vgg") / "vgg.keras"
    build_vgg(((4, 2), (8, 2), (8, 3), (8, 3), (8, 3)), dense=(32, 32), classes=10).save(path)
    return path


@pytest.fixture(scope="session")
def weights_only_models(tmp_path_factory):
    """Checkpoints whose model Keras cannot rebuild (custom classes, TFOpLambda, Lambda), each saved
    by a process of its own, with the Python file defining the custom classes (weights_only_models)."""
    from weights_only_models import WeightsOnlyModels, write_weights_only_models

    with once_for_all_workers(tmp_path_factory, "weights-only") as folder:
        if not (folder / "k2-weights.npz").is_file():
            write_weights_only_models(folder)
    return WeightsOnlyModels(folder, folder / "custom_layers.py")


@pytest.fixture
def keras_registry_kept():
    """Keras's registry of custom classes as before the test: a test that imports a custom objects
    file (which registers its classes) leaves no class behind for the next test's loads to find."""
    import keras

    registry = keras.saving.get_custom_objects()
    before = dict(registry)
    yield
    registry.clear()
    registry.update(before)


@pytest.fixture
def run_prune_viz(tmp_path):
    """``run_prune_viz(*argv, timeout=300, **env)`` runs ``python -m prune_viz ARGV`` in a real process
    (offscreen Qt, this checkout's prune_viz, a settings folder of its own under tmp_path) and returns
    the CompletedProcess with its text output."""

    def run(*argv, timeout: float = 300, **env) -> subprocess.CompletedProcess:
        environment = dict(
            os.environ,
            QT_QPA_PLATFORM="offscreen",
            XDG_CONFIG_HOME=str(tmp_path / "config"),
            PYTHONPATH=str(PROJECT_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            **env,
        )
        command = [sys.executable, "-m", "prune_viz", *map(str, argv)]
        return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=timeout)

    return run


@pytest.fixture(scope="session")
def text_model_path(tmp_path_factory) -> Path:
    """An untrained Embedding(200, 16) + LSTM(12) + BatchNormalization text model on 20 token ids, with a
    two-class softmax head, saved as .keras."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((20,), dtype="int32")
    x = keras.layers.Embedding(200, 16, name="embedding")(inputs)
    x = keras.layers.LSTM(12, name="lstm")(x)
    x = keras.layers.BatchNormalization(name="norm")(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="head")(x))
    path = tmp_path_factory.mktemp("text") / "text.keras"
    model.save(path)
    return path


@pytest.fixture(scope="session")
def conv_bn_cnn_path(tmp_path_factory) -> Path:
    """An untrained Conv2D+BatchNormalization CNN on 28x28x1 (conv1 8 filters, conv2 16, dense 10)
    saved as .keras, with conv1's kernel scaled down so that global unit pruning at k = 50 removes
    every conv1 filter (as issue 30 saw on a trained Conv-BN CNN) and at k = 25 only some."""
    import keras

    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(8, 3, name="conv1"),
            keras.layers.BatchNormalization(name="bn1"),
            keras.layers.ReLU(),
            keras.layers.Conv2D(16, 3, strides=2, name="conv2"),
            keras.layers.BatchNormalization(name="bn2"),
            keras.layers.ReLU(),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10, activation="softmax", name="output"),
        ]
    )
    conv1 = model.get_layer("conv1")
    conv1.kernel.assign(conv1.kernel * 0.01)
    path = tmp_path_factory.mktemp("conv_bn") / "conv_bn.keras"
    model.save(path)
    return path


@pytest.fixture(scope="session")
def letters_cnn_path(tmp_path_factory) -> Path:
    """An untrained EMNIST-letters-like CNN saved as .keras: a 28x28x1 input MNIST feeds, but 26
    class scores (Dense(26, softmax)) where MNIST evaluation needs 10."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(26, activation="softmax", name="letters"),
        ]
    )
    path = tmp_path_factory.mktemp("letters") / "letters.keras"
    model.save(path)
    return path


@pytest.fixture(scope="session")
def own_data(tmp_path_factory) -> Path:
    """Data in every format issue 27 reads and tiny models trained on it (tests/own_data.py)."""
    import own_data as builders

    with once_for_all_workers(tmp_path_factory, "own_data") as folder:
        if not (folder / "done").is_file():
            builders.build(folder)
    return folder
