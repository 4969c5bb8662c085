"""The user's own data (issue 27, Must 6): a CIFAR-10-size CNN (32x32x3 in, 10 classes) evaluated on
10,000 colour images read from an ``.npz`` and from a folder of PNGs, each against the dense floor of the
same run: the same model's forward pass over the same images already in memory, scaled, as tensors.

- ``.npz``: an evaluation (``Evaluator.run``, what each pruning state costs) of the images read from the
  file, within 1.2x the floor;
- image folder, after the first pass (its images decoded and kept for the session): the same, within
  1.5x the floor; the first pass (listing and decoding the files) is reported on its own;
- for information, the first evaluation from each source, once: reading it (the folder: from the session's
  cache), scaling and building the evaluator, whose reference pass is the evaluation.

The files are written to a temporary folder here: random images of smooth colour blobs (PNG files of
about CIFAR's size), random weights (timings do not depend on training). Figures are the fastest of
a few interleaved runs, as the MNIST evaluation's are.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from prune_viz.bench.measure import SETTLE_S
from prune_viz.bench.models import build_vgg
from prune_viz.bench.report import Figure, info, vs_floor
from prune_viz.core.tasks import TaskState

SECTION = "data"
IMAGES, QUICK_IMAGES = 10_000, 100
CIFAR_BLOCKS = ((16, 2), (32, 2))  # two VGG blocks and a Dense 128: ~280k weights, 6.4M multiply-adds an image
CIFAR_DENSE = (128,)
NPZ_TARGET = 1.2
FOLDER_TARGET = 1.5
CLASSES = 10


def cifar_like_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (n, 32, 32, 3) images of smooth colour blobs (upsampled 8x8 noise) and their labels."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (n, 8, 8, 3)).astype(np.float32)
    x = np.repeat(np.repeat(coarse, 4, axis=1), 4, axis=2) + rng.normal(0, 12, (n, 32, 32, 3))
    return np.clip(np.round(x), 0, 255).astype(np.uint8), rng.integers(0, CLASSES, n).astype(np.int64)


def write_files(folder: Path, x: np.ndarray, y: np.ndarray) -> tuple[Path, Path]:
    """``images.npz`` (x_test, y_test) and ``images/test/<class>/<i>.png``."""
    import tensorflow as tf

    npz = folder / "images.npz"
    np.savez(npz, x_test=x, y_test=y)
    images = folder / "images"
    for c in range(CLASSES):
        (images / "test" / f"class{c}").mkdir(parents=True)
    for i, (image, label) in enumerate(zip(x, y)):
        (images / "test" / f"class{label}" / f"{i:05d}.png").write_bytes(tf.io.encode_png(image).numpy())
    return npz, images


def bench_data(workdir: Path, quick: bool, task: TaskState) -> tuple[list[Figure], dict]:
    import tensorflow as tf

    from prune_viz.core import data_images
    from prune_viz.core.data import load_data
    from prune_viz.core.evaluation import Evaluator
    from prune_viz.core.inputs import preprocess
    from prune_viz.core.session import open_model

    n = QUICK_IMAGES if quick else IMAGES
    repeats = 1 if quick else 3
    task.progress(0.0, f"data: writing {n:,} images as an .npz and as PNG files")
    x, y = cifar_like_images(n)
    started = time.perf_counter()
    npz, folder = write_files(workdir, x, y)
    written_s = time.perf_counter() - started
    path = workdir / "cifar-cnn.keras"
    build_vgg(CIFAR_BLOCKS, CIFAR_DENSE, CLASSES, (32, 32, 3), name="cifar_cnn").save(path)
    opened = open_model(path)
    fit = opened.data_fit

    task.progress(0.1, f"data: decoding {n:,} PNG files (first pass)")
    data_images.forget_decoded()  # a cold first pass, whatever ran before
    started = time.perf_counter()
    decoded = load_data(folder, fit=fit)
    first_pass_s = time.perf_counter() - started
    order = np.argsort(y, kind="stable")  # the folder lists the images class by class
    same_images = bool(np.array_equal(decoded.x[np.argsort(decoded.y, kind="stable")], x[order]))

    def first_evaluation(source):
        """Read the data (the folder: from the session's cache), build the evaluator; its reference
        pass is the first evaluation."""
        return Evaluator(opened.loaded, load_data(source, fit=fit), "scale")

    evaluators, first_ms = {}, {}
    for name, source in (("npz", npz), ("folder", folder)):  # once each: a first evaluation traces its pass
        time.sleep(SETTLE_S)
        started = time.perf_counter()
        evaluators[name] = first_evaluation(source)
        first_ms[name] = round((time.perf_counter() - started) * 1000, 1)
    batch = evaluators["npz"].batch_size
    # the floor: the same model's forward pass over the same images, scaled and in memory as tensors,
    # in the evaluator's batches
    scaled = preprocess(x, "scale")
    chunks = []
    for start in range(0, n, batch):
        chunk = scaled[start : start + batch]
        if len(chunk) < batch:
            chunk = np.concatenate([chunk, np.zeros((batch - len(chunk),) + chunk.shape[1:], chunk.dtype)])
        chunks.append(tf.constant(chunk))
    model = opened.loaded

    @tf.function(input_signature=[tf.TensorSpec((batch, 32, 32, 3), tf.float32)])
    def forward(batch_x):
        return model(batch_x)

    runs = {
        "floor": lambda: [forward(c).numpy() for c in chunks],
        "npz": lambda: evaluators["npz"].run(),
        "folder": lambda: evaluators["folder"].run(),
    }
    runs["floor"]()  # warm-up: traces (the evaluators' passes were traced when they were built)
    times = {name: [] for name in runs}
    for i in range(repeats):  # interleaved so all see the same machine load
        for name, run in runs.items():
            time.sleep(SETTLE_S)
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
        task.progress(0.2 + 0.8 * (i + 1) / repeats, f"data: {i + 1} of {repeats} interleaved runs")
    best = {name: round(min(t) * 1000, 1) for name, t in times.items()}
    floor_name = "the same model on the images in memory, scaled"
    label = f"cifar-cnn, {n:,} 32x32x3 images"
    fastest = f"fastest of {repeats} interleaved (batch {batch})"
    figures = [
        vs_floor(
            "data.npz.vs_floor",
            f"{label} from an .npz: evaluation, fastest run",
            best["npz"],
            "ms",
            best["floor"],
            floor_name,
            NPZ_TARGET,
            fastest,
        ),
        vs_floor(
            "data.folder.vs_floor",
            f"{label} from a folder of PNGs after the first pass: evaluation, fastest run",
            best["folder"],
            "ms",
            best["floor"],
            floor_name,
            FOLDER_TARGET,
            fastest,
        ),
        info(
            "data.folder.first_pass_s",
            f"{label}: first pass over the PNG folder (listing and decoding)",
            round(first_pass_s, 2),
            "s",
            f"{n / first_pass_s:,.0f} images/s",
        ),
        info(
            "data.npz.first_ms",
            f"{label} from an .npz: read, scale, first evaluation",
            first_ms["npz"],
            "ms",
            "once; building the evaluator traces its pass and checks the outputs on one batch, "
            "then its reference pass is the evaluation",
            best["floor"],
            floor_name,
        ),
        info(
            "data.folder.first_ms",
            f"{label} from the PNG folder after the first pass: read (cached), scale, first evaluation",
            first_ms["folder"],
            "ms",
            "once, as the .npz's",
            best["floor"],
            floor_name,
        ),
    ]
    details = {
        "images": n,
        "parameters": opened.total_parameters,
        "batch": batch,
        "npz_bytes": npz.stat().st_size,
        "png_bytes": sum(p.stat().st_size for p in folder.rglob("*.png")),
        "files_written_s": round(written_s, 2),
        "first_pass_s": round(first_pass_s, 3),
        "decoded_images_equal_the_originals": same_images,
        "ms": {name: [round(t * 1000, 1) for t in found] for name, found in times.items()},
        "accuracy_npz": evaluators["npz"].reference.accuracy,
        "accuracy_folder": evaluators["folder"].reference.accuracy,
    }
    return figures, details
