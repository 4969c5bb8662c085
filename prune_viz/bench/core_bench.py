"""Headless benchmark: slider step, evaluation, sweep, scale (a 120M MLP and VGG-16) and compaction, side by side.

Every timing is a median over repeats, and every target is a ratio to a
baseline measured in the same run (the seed's pruning code, a NumPy matmul
floor, one evaluation), so the verdicts hold on a shared, noisy machine.
Models are built with random weights (timings do not depend on training) and
opened through the real loader from a temporary .keras file.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from prune_viz.core.tasks import TaskState, quiet

FC1000 = (784, 1000, 1000, 500, 200, 10)  # no biases, as in Han et al.'s fc-1000
LENET_300_100 = (784, 300, 100, 10)  # with biases
QUICK_MLP = (784, 64, 32, 10)
SCALE_LAYERS = (25088, 4096, 4096, 10)  # VGG-16's classifier shape: ~120M weights
QUICK_SCALE_LAYERS = (2048, 1024, 1024, 10)
# A narrow VGG for quick runs: VGG-16's 224x224x3 input, five blocks of 3x3 convolutions (2, 2, 3, 3, 3 of
# them) each closed by a 2x2 max-pool, then two Dense layers and the classifier
QUICK_VGG_BLOCKS = ((16, 2), (32, 2), (64, 3), (64, 3), (64, 3))
QUICK_VGG_DENSE = (1024, 1024)
SECTIONS = ("slider", "evaluation", "sweep", "flips", "scale", "vgg16", "compaction")

SEED_SPEEDUP_TARGET = 50.0
EVAL_FLOOR_TARGET = 1.2
SWEEP_TARGET = 1.3
FLIPS_TARGET = 1.3
SCALE_STEP_TARGET = 4.0  # x one NumPy copy of the weights
OPEN_TARGET = 2.5  # open to a usable slider / the load alone
SCALE_MEMORY_TARGET = 3.0  # x the weights
LOAD_TIME_TARGET = 1.0  # x keras.saving.load_model, on the same file
LOAD_MEMORY_TARGET = 2.0  # x the weights: peak memory while loading, over the TF baseline
LOAD_RUNS = 5


@dataclass
class Figure:
    """One line of the results table. A target is always a ratio to a floor measured in the same
    run: ``times`` is value/floor (floor/value for an "at least" target such as a speedup)."""

    key: str
    name: str
    value: float
    unit: str
    target: str = ""  # human-readable, e.g. "<= 1.5x floor"
    ratio: float | None = None  # times / the limit (limit / times for "at least" targets); <= 1 passes
    passed: bool | None = None  # None: reported for information, no target
    note: str = ""
    floor: float | None = None  # the floor's own figure, in ``unit``
    floor_name: str = ""  # what the floor is
    times: float | None = None  # the figure as a multiple of its floor (how many times faster, if ``faster``)
    faster: bool = False  # the floor is a slower way: times = floor / value


@dataclass
class BenchOptions:
    quick: bool = False
    data: str | None = None
    sections: tuple[str, ...] = SECTIONS
    workdir: str | None = None  # where temporary models go (default: a fresh temp dir)


@dataclass
class BenchReport:
    machine: dict
    options: dict
    figures: list[Figure] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "machine": self.machine,
            "options": self.options,
            "figures": [asdict(f) for f in self.figures],
            "details": self.details,
            "seconds": round(self.seconds, 2),
        }


def vs_floor(key, name, value, unit, floor, floor_name, limit, note="") -> Figure:
    """A figure that passes when it is at most ``limit`` times its floor (same unit, same run)."""
    times = value / floor if floor else math.inf
    return Figure(key, name, value, unit, f"<= {limit:g}x floor", times / limit, times <= limit, note,
                  floor, floor_name, round(times, 3))


def speedup_vs_floor(key, name, value, unit, floor, floor_name, limit, note="") -> Figure:
    """A figure that passes when its floor (a slower way, same run) takes at least ``limit`` times as long."""
    times = floor / value if value else math.inf
    return Figure(key, name, value, unit, f">= {limit:g}x faster than floor", limit / times, times >= limit, note,
                  floor, floor_name, round(times, 3), faster=True)


def info(key, name, value, unit, note="", floor=None, floor_name="", faster=False) -> Figure:
    """A figure reported without a target (beside its floor, if it has one)."""
    times = None
    if floor and value:
        times = round(floor / value if faster else value / floor, 3)
    return Figure(key, name, value, unit, "", None, None, note, floor, floor_name, times, faster)


# -- machine ---------------------------------------------------------------------------------------
def _proc_status(field_name: str) -> int:
    """A /proc/self/status memory field in bytes (0 where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux), so each phase's peak can be read on its own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def machine_info() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    import platform

    return {
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(mem / 2**30, 1),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# -- models ----------------------------------------------------------------------------------------
def build_mlp(widths: tuple[int, ...], use_bias: bool, seed: int = 0, name: str = "mlp"):
    """A ReLU MLP with softmax output and random (Glorot) weights."""
    import keras

    keras.utils.set_random_seed(seed)
    body = [keras.layers.Dense(w, activation="relu", use_bias=use_bias, name=f"fc{i + 1}")
            for i, w in enumerate(widths[1:-1])]
    body.append(keras.layers.Dense(widths[-1], activation="softmax", use_bias=use_bias, name="output"))
    return keras.Sequential([keras.Input((widths[0],)), *body], name=name)


def save_mlp(path: Path, widths, use_bias: bool, name: str) -> Path:
    build_mlp(widths, use_bias, name=name).save(path)
    return path


def build_vgg(blocks=QUICK_VGG_BLOCKS, dense=QUICK_VGG_DENSE, classes: int = 10,
              input_shape=(224, 224, 3), seed: int = 0, name: str = "vgg"):
    """A VGG-shaped CNN with random weights: per (filters, convs) block, ``convs`` 3x3 ReLU
    convolutions and a 2x2 max-pool; then Flatten, ReLU Dense layers and a softmax classifier."""
    import keras

    keras.utils.set_random_seed(seed)
    layers = [keras.Input(input_shape)]
    for b, (filters, convs) in enumerate(blocks, start=1):
        layers += [keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"block{b}_conv{c}")
                   for c in range(1, convs + 1)]
        layers.append(keras.layers.MaxPooling2D(2, name=f"block{b}_pool"))
    layers.append(keras.layers.Flatten(name="flatten"))
    layers += [keras.layers.Dense(w, activation="relu", name=f"fc{i}") for i, w in enumerate(dense, start=1)]
    layers.append(keras.layers.Dense(classes, activation="softmax", name="predictions"))
    return keras.Sequential(layers, name=name)


def save_vgg16(path: Path, quick: bool = False) -> Path:
    """``keras.applications.VGG16(weights=None)`` (138M random weights) saved as .keras at ``path``;
    with ``quick``, a narrow VGG-shaped stack with the same input (build_vgg)."""
    import keras

    if quick:
        build_vgg().save(path)
    else:
        keras.utils.set_random_seed(0)
        keras.applications.VGG16(weights=None).save(path)
    return path


def save_scale_mlp(path: Path, quick: bool = False) -> Path:
    """The VGG-16-classifier-shaped MLP (SCALE_LAYERS, ~120M weights) saved as .keras at ``path``."""
    return save_mlp(path, QUICK_SCALE_LAYERS if quick else SCALE_LAYERS, False, "scale")


def _median_ms(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1000.0


# -- 1. slider step --------------------------------------------------------------------------------
def seed_step(tf, layers, originals: dict, method: str, scope: str, k: float, included) -> None:
    """The seed's per-k pruning, kept here as the baseline: top_k over -|w| (or -norm) to find
    the k% smallest, a fresh tf.Variable mask per call, a TF1-style scatter update, then assign."""
    from prune_viz.core.pruning import count_to_prune

    chosen = [layer for layer in layers if layer.name in included]
    if method == "weight":
        scores = [tf.reshape(tf.abs(originals[layer.name]), [-1]) for layer in chosen]
    else:
        scores = [tf.norm(tf.reshape(originals[layer.name], (-1, layer.units)), axis=0) for layer in chosen]
    groups = [scores] if scope == "global" else [[s] for s in scores]
    masks = []
    for group in groups:
        flat = tf.concat(group, axis=0) if len(group) > 1 else group[0]
        n = count_to_prune(int(flat.shape[0]), k)
        mask = tf.Variable(tf.ones_like(flat))
        if n:
            _, smallest = tf.nn.top_k(-flat, k=n)
            tf.compat.v1.scatter_nd_update(mask, tf.expand_dims(smallest, 1), tf.zeros([n], flat.dtype))
        masks.extend(tf.split(mask, [int(s.shape[0]) for s in group]) if len(group) > 1 else [mask])
    for layer, mask in zip(chosen, masks, strict=True):
        original = originals[layer.name]
        if method == "weight":
            layer.variable.assign(original * tf.reshape(mask, original.shape))
        else:
            layer.variable.assign(original * tf.reshape(mask, (1,) * (len(original.shape) - 1) + (-1,)))


def slider_ks(quick: bool) -> list[float]:
    # a drag across the range, never the same k twice in a row
    return [10.0, 50.0, 90.0] if quick else [5.0, 20.0, 35.0, 50.0, 65.0, 80.0, 95.0]


def bench_slider(opened, label: str, quick: bool, speedup_target: bool, task: TaskState) -> tuple[list[Figure], dict]:
    """Time k -> masks computed and applied (Session.configure + Pruner.apply) per method and
    scope, interleaved per k with the seed's way on the same layers. The 50x target applies
    to weight pruning of the big model (``speedup_target``); other speedups are information."""
    import tensorflow as tf

    from prune_viz.core.session import Session

    session = Session()
    session.set_model(opened)
    pruner = opened.pruner
    included = opened.default_included
    originals = {layer.name: pruner.original(layer.name) for layer in opened.layers}
    repeats = 2 if quick else 5
    modes = [(m, s) for m in ("weight", "unit") for s in ("layer", "global")]
    details, figures = {}, []
    for index, (method, scope) in enumerate(modes):
        task.progress(index / len(modes), f"{label}: slider {method}/{scope}")
        start = time.perf_counter()
        session.configure(method=method, scope=scope, k=1.0)
        pruner.apply(session.result)  # warm-up, timed: the first step after open pays one-off costs
        first_ms = (time.perf_counter() - start) * 1000
        ours, seed = [], []
        for k in slider_ks(quick):
            for r in range(repeats):
                step_k = k + 0.5 * (r % 2)  # alternate so every call is a real change
                start = time.perf_counter()
                result = session.configure(k=step_k)
                pruner.apply(result)
                ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            seed_step(tf, opened.layers, originals, method, scope, k, included)
            seed.append(time.perf_counter() - start)
            task.check()
        pruner.restore()
        ours_ms = _median_ms(ours)
        key = f"{label}.slider.{method}_{scope}"
        details[f"{method}_{scope}"] = {"first_step_ms": round(first_ms, 1),
                                        "ours_ms": [round(s * 1000, 3) for s in ours],
                                        "seed_ms": [round(s * 1000, 1) for s in seed]}
        seed_ms = _median_ms(seed)
        details[f"{method}_{scope}"]["seed_median_ms"] = round(seed_ms, 1)
        name = f"{label} slider step, {method} {scope}"
        note = (f"median of {len(ours)} k changes, first step after open {first_ms:.0f} ms; "
                f"floor: the seed's top_k step, median of {len(seed)} ks, interleaved")
        if method == "weight" and speedup_target:
            figures.append(speedup_vs_floor(key + ".ms", name, round(ours_ms, 2), "ms", round(seed_ms, 1),
                                            "the seed's step", SEED_SPEEDUP_TARGET, note))
        else:  # the seed's unit step only top_k's one norm per unit: cheap, no 50x to be had
            figures.append(info(key + ".ms", name, round(ours_ms, 2), "ms", note, round(seed_ms, 1), "the seed's step",
                                faster=True))
    session.set_model(None)
    return figures, details


# -- 3. evaluation ---------------------------------------------------------------------------------
def numpy_forward(weights: list[tuple[np.ndarray, np.ndarray | None]], x: np.ndarray, batch: int) -> np.ndarray:
    """The dense FLOP floor: the same matmul chain in NumPy float32, ReLU between layers."""
    outputs = []
    for start in range(0, len(x), batch):
        h = x[start : start + batch]
        for i, (kernel, bias) in enumerate(weights):
            h = h @ kernel
            if bias is not None:
                h += bias
            if i < len(weights) - 1:
                np.maximum(h, 0, out=h)
        outputs.append(h)
    return np.concatenate(outputs)


def dense_weights(keras_model) -> list[tuple[np.ndarray, np.ndarray | None]]:
    out = []
    for layer in keras_model.layers:
        if getattr(layer, "kernel", None) is None:
            continue
        bias = layer.bias.numpy() if getattr(layer, "bias", None) is not None else None
        out.append((np.ascontiguousarray(layer.kernel.numpy(), dtype=np.float32), bias))
    return out


# Pause before each timed run of an interleaved comparison: OpenBLAS threads spin for a while after
# a NumPy matmul, and on 2 cores they slowed the TensorFlow run that came next by up to 2x.
SETTLE_S = 0.15


def _timed(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def bench_evaluation(opened, data, label: str, quick: bool, task: TaskState) -> tuple[list[Figure], dict, object]:
    """Evaluator.run on the 10k test set vs the NumPy floor (full batch and best batch), and
    model.predict(batch 32) for reference. Returns the evaluator for the sweep to reuse."""
    from prune_viz.core.evaluation import DEFAULT_BATCH, Evaluator
    from prune_viz.core.inputs import preprocess

    task.progress(0.0, f"{label}: evaluation")
    opened.pruner.restore()
    evaluator = Evaluator(opened.loaded, data, "scale")
    evaluator.run()  # warm-up
    # a 15-25 ms evaluation (LeNet-300-100) swings by a third between runs on this VM: more repeats
    repeats = 3 if quick else (15 if evaluator.run().seconds < 0.05 else 7)
    import tensorflow as tf

    x = preprocess(data.x_test, "scale").reshape(len(data.x_test), -1)
    weights = dense_weights(opened.loaded.keras_model)
    floor_batches = (len(x),) if quick else (1000, 2500, 5000, len(x))
    runners = {}
    for b in floor_batches:  # the same matmul chain, in NumPy and as a bare TF graph on constants
        runners[f"numpy/{b}"] = lambda b=b: numpy_forward(weights, x, b)
        chain = _tf_chain(tf, weights, b)
        chunks = [tf.constant(x[s : s + b]) for s in range(0, len(x), b)]
        runners[f"tf/{b}"] = lambda chain=chain, chunks=chunks: [chain(c).numpy() for c in chunks]
    for run in runners.values():
        run()  # warm-up: traces, pages in, starts BLAS threads
    ours, floors = [], {name: [] for name in runners}
    for _ in range(repeats):  # interleaved so all see the same machine load
        # each timed run follows a pause and one untimed run of the same thing: right after a pause
        # this VM's CPUs wake slowly (LeNet: 15.8 ms back to back, 21-24 ms after a 0.15-0.5 s pause)
        time.sleep(SETTLE_S)
        evaluator.run()
        ours.append(evaluator.run().seconds)
        for name, run in runners.items():
            time.sleep(SETTLE_S)
            run()
            floors[name].extend(_timed(run, 1))
        task.check()
    floor_ms = {name: _median_ms(t) for name, t in floors.items()}
    ours_ms = _median_ms(ours)
    # The ratio compares the fastest run of each. On this VM about half of the 15 ms LeNet runs land
    # in a slow mode (21-26 ms), for a bare TF chain as for the evaluator (12, 12 and 6 of 25 runs),
    # so a ratio of medians swung between 0.85x and 1.57x from one run to the next.
    floor_best_ms = {name: min(t) * 1000 for name, t in floors.items()}
    best_batch = min(floor_best_ms, key=floor_best_ms.get)
    ours_best_ms = min(ours) * 1000
    reference = evaluator.run()
    numpy_accuracy = float(np.mean(np.argmax(numpy_forward(weights, x, len(x)), axis=1) == data.y_test))

    batch_ms = {}
    if not quick:  # how the evaluator's batch size matters, to choose DEFAULT_BATCH
        for b in (1000, 2500, 5000, 10000):
            other = Evaluator(opened.loaded, data, "scale", batch_size=b)
            other.run()
            batch_ms[b] = round(_median_ms([other.run().seconds for _ in range(3)]), 2)
    predict_ms = None
    keras_model = opened.loaded.keras_model
    keras_model.predict(x[:64], batch_size=32, verbose=0)  # warm-up: builds the predict function
    start = time.perf_counter()
    keras_model.predict(x, batch_size=32, verbose=0)
    predict_ms = (time.perf_counter() - start) * 1000

    figures = [
        vs_floor(f"{label}.eval.vs_floor", f"{label} evaluation of {len(x):,} images, fastest run",
                 round(ours_best_ms, 2), "ms", round(floor_best_ms[best_batch], 2),
                 f"dense matmul chain ({best_batch.replace('/', ', batch ')})", EVAL_FLOOR_TARGET,
                 f"fastest of {len(ours)} interleaved (batch {evaluator.batch_size}); medians {ours_ms:.1f} "
                 f"and {floor_ms[best_batch]:.1f} ms"),
        info(f"{label}.eval.ms", f"{label} evaluation of {len(x):,} images", round(ours_ms, 2), "ms",
             f"median of {len(ours)}"),
        info(f"{label}.eval.predict32_ms", f"{label} model.predict, batch 32", round(predict_ms, 1), "ms",
             f"{predict_ms / ours_ms:.1f}x our evaluation"),
    ]
    details = {
        "evaluator_ms": [round(s * 1000, 2) for s in ours],
        "evaluator_batch": evaluator.batch_size,
        "default_batch": DEFAULT_BATCH,
        "floor_median_ms": {name: round(v, 2) for name, v in floor_ms.items()},
        "floor_fastest_ms": {name: round(v, 2) for name, v in floor_best_ms.items()},
        "floor_best_batch": best_batch,
        "evaluator_median_ms_by_batch": {str(b): v for b, v in batch_ms.items()},
        "predict_batch32_ms": round(predict_ms, 1),
        "accuracy_evaluator": reference.accuracy,
        "accuracy_numpy": numpy_accuracy,
    }
    return figures, details, evaluator


# -- 4. sweep --------------------------------------------------------------------------------------
def sweep_ks() -> list[float]:
    return [float(k) for k in range(5, 100, 10)]  # 10 ks


def bench_sweep(opened, data_path, evaluator, label: str, quick: bool, task: TaskState) -> tuple[list[Figure], dict]:
    """2 methods x 10 ks through run_sweep vs as many evaluations in a row, interleaved."""
    from prune_viz.core.session import Session

    session = Session(data_path=data_path, preprocessing="scale")
    session.set_model(opened)
    # share the already-built evaluator (same model, data and preprocessing): no recompiling
    session._evaluator = evaluator
    session._evaluator_key = (id(session.model), session.data_path, session.preprocessing)
    from prune_viz.core.sweep import run_sweep

    engine = "prune_viz.core.sweep.run_sweep"
    points_in_sweep = 2 * len(sweep_ks())
    # interleaved: the floor, as many evaluations in a row as the sweep has points, then the sweep; the
    # fastest of each is compared. Both are sums over the same number of evaluations, so the same noise
    # (a 30 ms evaluation swings by a third from one run to the next on this kind of VM) is in each.
    blocks, sweeps, ones = [], [], []
    repeats = 1 if quick else 3
    for repeat in range(repeats):
        task.progress(repeat / repeats, f"{label}: sweep")
        start = time.perf_counter()
        ones += [evaluator.run().seconds * 1000 for _ in range(points_in_sweep)]
        blocks.append((time.perf_counter() - start) * 1000)
        points = []
        start = time.perf_counter()
        for point in run_sweep(session, ("weight", "unit"), sweep_ks(), "layer", task):
            points.append({"method": point.method, "k": point.k, "accuracy": point.accuracy,
                           "sparsity": round(point.sparsity_included, 4)})
        sweeps.append((time.perf_counter() - start) * 1000)
    floor_ms, sweep_ms = min(blocks), min(sweeps)
    session.set_model(None)
    figures = [vs_floor(f"{label}.sweep.ratio", f"{label} sweep of {len(points)} points", round(sweep_ms, 1), "ms",
                        round(floor_ms, 1), f"{len(points)} evaluations in a row", SWEEP_TARGET,
                        f"fastest of {len(sweeps)} sweeps {[round(t) for t in sweeps]} and of {len(blocks)} runs of "
                        f"{points_in_sweep} evaluations {[round(t) for t in blocks]}, interleaved (fastest single "
                        f"evaluation {min(ones):.1f} ms); {engine}")]
    return figures, {"engine": engine, "sweep_ms": round(sweep_ms, 1), "floor_ms": round(floor_ms, 1),
                     "one_evaluation_ms": round(min(ones), 2), "points": points}


# -- 5. flip scan ----------------------------------------------------------------------------------
def bench_flips(opened, data_path, label: str, quick: bool, task: TaskState) -> tuple[list[Figure], dict]:
    """The flip scan (k = 0..100, every prediction kept) vs 101 single Session.evaluate calls of the
    same configs, interleaved in the same run; the fastest of each is compared."""
    from prune_viz.core.flips import SCAN_KS, run_flip_scan
    from prune_viz.core.pruning import PruningConfig
    from prune_viz.core.session import Session

    session = Session(data_path=data_path, preprocessing="scale")
    session.set_model(opened)
    base = PruningConfig("weight", 0.0, "layer", opened.default_included)
    configs = [PruningConfig(base.method, k, base.scope, base.included) for k in SCAN_KS]
    session.evaluate(base, with_baseline=False)  # builds the evaluator and warms the forward pass

    def singles() -> None:
        for config in configs:
            session.evaluate(config, with_baseline=False)
            task.check()

    repeats = 1 if quick else 3
    scan_s, singles_s = [], []
    for r in range(repeats):
        task.progress(r / repeats, f"{label}: flip scan")
        scan_s += _timed(lambda: run_flip_scan(session, base), 1)
        singles_s += _timed(singles, 1)
    session.set_model(None)
    scan_ms, singles_ms = min(scan_s) * 1000, min(singles_s) * 1000
    figures = [vs_floor(f"{label}.flips.ratio", f"{label} flip scan (k = 0..100)", round(scan_ms, 1), "ms",
                        round(singles_ms, 1), f"{len(configs)} Session.evaluate calls", FLIPS_TARGET,
                        f"fastest of {repeats} interleaved")]
    return figures, {"scan_ms": round(scan_ms, 1), "evaluations_ms": round(singles_ms, 1), "repeats": repeats}


# -- 6. scale (in subprocesses, so peak memory is the model's own) ---------------------------------
def _run_child(code: str, timeout: float = 1800) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"bench child failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def scale_child(path: str, quick: bool) -> dict:
    """Runs in a fresh process: RSS after importing TF, open_model time and RSS per phase,
    slider steps, peak RSS, and a memory-bandwidth floor (one copy of the weights)."""
    import tensorflow  # noqa: F401
    import keras  # noqa: F401

    from prune_viz.core.session import Session, open_model

    baseline = _proc_status("VmRSS")
    phases = []  # open_model's progress steps; each peak is that step's own (VmHWM reset between steps)
    start = time.perf_counter()
    resettable = _reset_peak()

    def record(fraction: float, message: str) -> None:
        if phases:
            phases[-1]["peak_rss"] = _proc_status("VmHWM")
            phases[-1]["end_rss"] = _proc_status("VmRSS")
            phases[-1]["seconds"] = round(time.perf_counter() - start - phases[-1]["start_seconds"], 4)
        _reset_peak()
        phases.append({"phase": message, "start_seconds": time.perf_counter() - start,
                       "start_rss": _proc_status("VmRSS")})

    opened = open_model(path, TaskState(on_progress=record))
    open_s = time.perf_counter() - start
    after_open = _proc_status("VmRSS")
    phases[-1]["peak_rss"] = phases[-1]["end_rss"] = after_open
    phases[-1]["seconds"] = round(open_s - phases[-1]["start_seconds"], 4)
    for phase in phases:
        phase["start_seconds"] = round(phase["start_seconds"], 3)
    open_peak = max(p["peak_rss"] for p in phases) if resettable else _proc_status("VmHWM")
    weight_bytes = sum(layer.size * 4 for layer in opened.layers)
    session = Session()
    session.set_model(opened)
    # the floor, one read and one write of every prunable weight, is timed after each step; its
    # scratch array is resident through all the steps, and is taken off their peak
    largest = max(opened.layers, key=lambda layer: layer.size).original
    scratch = np.empty_like(largest)
    np.copyto(scratch, largest)
    steps, cold_steps, warm_ups, copies = {}, {}, {}, []
    cold_ks = [10.0, 50.0, 90.0] if quick else [10.0, 30.0, 50.0, 70.0, 90.0]
    warm_ks = [k + 5 for k in cold_ks]  # ks not met yet: only the plans computed ahead help

    def timed_steps(ks) -> float:
        times = []
        for k in ks:
            t0 = time.perf_counter()
            opened.pruner.apply(session.configure(k=k))
            times.append(time.perf_counter() - t0)
            copies.extend(_timed(lambda: np.copyto(scratch, largest), 1))
        return round(_median_ms(times), 1)

    for method in ("weight", "unit"):
        for scope in ("layer", "global"):
            mode = f"{method}_{scope}"
            session.configure(method=method, scope=scope, k=1.0)  # first use traces the block kernels
            opened.pruner.apply(session.result)
            cold_steps[mode] = timed_steps(cold_ks)  # before the window's warm-up has run
            t0 = time.perf_counter()
            if opened.pruner.warm_up(session.config):  # what the window runs in the background
                warm_ups[mode] = round(time.perf_counter() - t0, 2)
            steps[mode] = timed_steps(warm_ks)
    opened.pruner.restore()
    steps_peak = _proc_status("VmHWM") - scratch.nbytes
    peak = max(open_peak, steps_peak)
    copy_ms = _median_ms(copies) * weight_bytes / largest.nbytes
    restored = all(np.array_equal(np.asarray(layer.variable.numpy()), layer.original) for layer in opened.layers)
    kinds: dict[str, int] = {}
    for layer in opened.layers:
        kinds[layer.kind] = kinds.get(layer.kind, 0) + 1
    return {
        "parameters": opened.total_parameters,
        "input_shape": list(opened.loaded.input_shape or (None,)),
        "prunable_layer_kinds": kinds,
        "restored_exactly": restored,
        "prunable_bytes": weight_bytes,
        "open_seconds": round(open_s, 2),
        "open_phases": phases,
        "rss_after_tf_import": baseline,
        "rss_after_open": after_open,
        "peak_rss": peak,
        "peak_rss_while_pruning": steps_peak,
        "peak_rss_reading_model": next((p["peak_rss"] for p in phases if p["phase"].startswith("Reading")), 0),
        "load_seconds": next((p["seconds"] for p in phases if p["phase"].startswith("Reading")), open_s),
        "step_ms": steps,
        "step_ms_before_warm_up": cold_steps,
        "warm_up_seconds": warm_ups,
        "copy_weights_once_ms": round(copy_ms, 3),
    }


def load_child(path: str, reader: str) -> dict:
    """Runs in a fresh process, after the TF import: the time and the peak memory (over the RSS
    before it) of loading ``path`` with ``reader``, "prune-viz" (``core.io.load_model``) or "keras"
    (``keras.saving.load_model``, the floor)."""
    import tensorflow  # noqa: F401
    import keras

    from prune_viz.core.io import load_model

    baseline = _proc_status("VmRSS")
    _reset_peak()
    start = time.perf_counter()
    model = load_model(path).keras_model if reader == "prune-viz" else keras.saving.load_model(path)
    seconds = time.perf_counter() - start
    weights_bytes = sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in model.weights)
    return {"load_seconds": seconds, "peak_over_weights": (_proc_status("VmHWM") - baseline) / weights_bytes}


def open_child(path: str) -> dict:
    """Runs in a fresh process, after the TF import: File > Open to a usable slider, i.e.
    ``open_model`` and then the masks of a first layerwise and a first global weight k."""
    import tensorflow  # noqa: F401
    import keras  # noqa: F401

    from prune_viz.core.session import Session, open_model

    start = time.perf_counter()
    opened = open_model(path)
    opened_s = time.perf_counter() - start
    session = Session()
    session.set_model(opened)
    session.configure(method="weight", scope="layer", k=50.0)
    session.configure(scope="global", k=60.0)
    return {"open_seconds": opened_s, "usable_seconds": time.perf_counter() - start}


def describe_big_model(child: dict) -> str:
    """e.g. "224x224x3 input, 13 Conv2D + 3 Dense prunable layers", from scale_child's report."""
    shape = "x".join("?" if d is None else str(d) for d in child["input_shape"][1:])
    kinds = " + ".join(f"{count} {kind}" for kind, count in child["prunable_layer_kinds"].items())
    return f"{shape} input, {kinds} prunable layers"


def bench_scale(workdir: Path, quick: bool, task: TaskState, label: str = "scale",
                save_model=save_scale_mlp) -> tuple[list[Figure], dict]:
    """One big model (``save_model(path, quick)`` writes it as .keras), figures keyed ``label.*``: open
    phases, slider steps and peak memory in one fresh process, then the load alone (ours and Keras's) and
    open to a usable slider in fresh processes, interleaved."""
    path = workdir / f"{label}.keras"
    task.progress(0.0, f"{label}: building the model")
    start = time.perf_counter()
    save_model(path, quick)  # here: only the children that load it are measured
    build_s = time.perf_counter() - start
    import gc

    gc.collect()
    if hasattr(os, "sync"):
        os.sync()  # the file just written is on disk, as a user's model is: no writeback during the load
    task.progress(0.3, f"{label}: loading and pruning")
    child = _run_child("import json; from prune_viz.bench.core_bench import scale_child; "
                       f"print(json.dumps(scale_child({str(path)!r}, {quick!r})))")
    # Loading alone and opening to a usable slider, in fresh processes, prune-viz's loader and Keras's
    # interleaved: all meet the same machine load and the same state of the page cache
    loads: dict[str, list[dict]] = {"prune-viz": [], "keras": []}
    opens: list[dict] = []
    rounds = 1 if quick else LOAD_RUNS
    for round_index in range(rounds):
        task.progress(0.4 + 0.6 * round_index / rounds,
                      f"{label}: fresh processes, round {round_index + 1} of {rounds}")
        for reader, reader_runs in loads.items():
            reader_runs.append(_run_child("import json; from prune_viz.bench.core_bench import load_child; "
                                          f"print(json.dumps(load_child({str(path)!r}, {reader!r})))"))
        opens.append(_run_child("import json; from prune_viz.bench.core_bench import open_child; "
                                f"print(json.dumps(open_child({str(path)!r})))"))
    loads_ms = {reader: [round(run["load_seconds"] * 1000, 1) for run in runs] for reader, runs in loads.items()}
    peaks = {reader: [round(run["peak_over_weights"], 2) for run in runs] for reader, runs in loads.items()}
    child["load_ms_fresh_processes"] = loads_ms
    child["load_peak_over_weights_fresh_processes"] = peaks
    child["usable_seconds_fresh_processes"] = [round(run["usable_seconds"], 3) for run in opens]
    child["file_bytes"] = path.stat().st_size
    child["build_and_save_seconds"] = round(build_s, 1)
    path.unlink()
    weights = child["prunable_bytes"]
    growth = (child["peak_rss"] - child["rss_after_tf_import"]) / weights
    name = f"{label} {child['parameters'] / 1e6:.3g}M"
    phases = ", ".join(f"{p['phase'].split(' ')[0].lower()} {p['seconds']:.2f} s" for p in child["open_phases"]
                       if p["seconds"] >= 0.01)
    ours_ms, keras_ms = (statistics.median(loads_ms[reader]) for reader in ("prune-viz", "keras"))
    usable_s = statistics.median(child["usable_seconds_fresh_processes"])
    mib = weights / 2**20
    runs = len(loads_ms["keras"])
    figures = [vs_floor(f"{label}.load_ms", f"{name}: load (model_io.load_model)", round(ours_ms, 1), "ms",
                        round(keras_ms, 1), "keras.saving.load_model", LOAD_TIME_TARGET,
                        f"medians of {runs} fresh processes each, interleaved (ours {loads_ms['prune-viz']}, "
                        f"Keras {loads_ms['keras']} ms)"),
               vs_floor(f"{label}.load_peak_memory", f"{name}: peak memory while loading, over the RSS before",
                        round(statistics.median(peaks["prune-viz"]) * mib), "MiB", round(mib), "the weights",
                        LOAD_MEMORY_TARGET, f"x weights in {runs} runs: {peaks['prune-viz']}; keras.saving.load_model: "
                        f"{statistics.median(peaks['keras']):.2f}x ({peaks['keras']})"),
               vs_floor(f"{label}.open_usable_s", f"{name}: open to a usable slider", round(usable_s, 2), "s",
                        round(ours_ms / 1000, 2), "its load alone", OPEN_TARGET,
                        f"open_model, then a layerwise and a global weight k; median of {runs} fresh processes "
                        f"{child['usable_seconds_fresh_processes']}"),
               info(f"{label}.open_s", f"{name}: open (load, copy of the originals, ranking), one process",
                    child["open_seconds"], "s",
                    f"{describe_big_model(child)}, {child['file_bytes'] / 2**20:.0f} MiB .keras; {phases}"),
               info(f"{label}.copy_floor_ms", f"{name}: one NumPy copy of the weights", child["copy_weights_once_ms"],
                    "ms", "memory-bandwidth floor for rewriting every weight: median of one copy after each step")]
    for mode, ms in child["step_ms"].items():
        words = mode.replace("_", " ")
        warmed = mode in child["warm_up_seconds"]
        figures.append(vs_floor(f"{label}.slider.{mode}.ms", f"{name}: slider step applied, {words}",
                                ms, "ms", child["copy_weights_once_ms"], "one NumPy copy of the weights",
                                SCALE_STEP_TARGET, "masks computed and written into the model's variables" +
                                ("; after Pruner.warm_up, which the window runs in the background" if warmed else "")))
        if warmed:
            figures.append(info(f"{label}.slider.{mode}.before_warm_up_ms",
                                f"{name}: slider step applied, {words}, before the warm-up",
                                child["step_ms_before_warm_up"][mode], "ms",
                                "a threshold read from the buckets" if mode.startswith("weight")
                                else "unit plans and their counts computed on the spot",
                                child["copy_weights_once_ms"], "one NumPy copy of the weights"))
            figures.append(info(f"{label}.slider.{mode}.warm_up_s", f"{name}: warm-up of every whole-percent k, {words}",
                                child["warm_up_seconds"][mode], "s", "Pruner.warm_up, one thread"))
    figures.append(vs_floor(f"{label}.peak_memory", f"{name}: peak memory over TF baseline", round(growth * mib),
                            "MiB", round(mib), "the weights", SCALE_MEMORY_TARGET,
                            f"VmHWM {child['peak_rss'] / 2**20:.0f} MiB, after TF import "
                            f"{child['rss_after_tf_import'] / 2**20:.0f} MiB; open, slider steps and restore"))
    figures.append(info(f"{label}.peak_memory_total", f"{name}: peak memory (whole process)",
                        round(child["peak_rss"] / 2**20), "MiB", floor=round(mib), floor_name="the weights"))
    figures.append(info(f"{label}.peak_memory_reading", f"{name}: peak while the file is read, over TF baseline",
                        round((child["peak_rss_reading_model"] - child["rss_after_tf_import"]) / 2**20), "MiB",
                        "model_io.load_model alone, before any prune-viz copy", round(mib), "the weights"))
    figures.append(info(f"{label}.peak_memory_pruning", f"{name}: peak while pruning, over TF baseline",
                        round((child["peak_rss_while_pruning"] - child["rss_after_tf_import"]) / 2**20), "MiB",
                        "slider steps and restore, after open", round(mib), "the weights"))
    return figures, child


BIG_MODELS = {"scale": save_scale_mlp, "vgg16": save_vgg16}  # section (and key prefix) -> its .keras writer


# -- 7. compaction ---------------------------------------------------------------------------------
def compact_dense_chain(weights: list[tuple[np.ndarray, np.ndarray | None]]):
    """Bench-local compaction of a Dense chain: drop every hidden unit whose incoming column is all
    zero (its ReLU output is then relu(bias), constant; folded into the next layer's bias)."""
    out = []
    keep_rows = None
    carry = None  # constant contribution of dropped units to the next layer
    for i, (kernel, bias) in enumerate(weights):
        k = kernel if keep_rows is None else kernel[keep_rows]
        b = (np.zeros(kernel.shape[1], np.float32) if bias is None else bias.copy())
        if carry is not None:
            b = b + carry @ kernel
        last = i == len(weights) - 1
        if last:
            out.append((np.ascontiguousarray(k), b))
            break
        dead = ~np.any(k != 0, axis=0)
        if dead.all():  # keep one (zero) unit: TF's oneDNN matmul aborts the process on a 0-wide matrix
            dead[0] = False
        # a dead unit outputs relu(bias): a constant the next layer absorbs into its bias
        carry = np.where(dead, np.maximum(b, 0), 0).astype(np.float32)
        keep_rows = ~dead
        out.append((np.ascontiguousarray(k[:, keep_rows]), b[keep_rows]))
    return out


def _tf_chain(tf, weights, batch: int, softmax: bool = False):
    variables = [(tf.constant(k), tf.constant(b if b is not None else np.zeros(k.shape[1], np.float32)))
                 for k, b in weights]

    @tf.function(input_signature=[tf.TensorSpec((batch, weights[0][0].shape[0]), tf.float32)])
    def forward(x):
        h = x
        for i, (k, b) in enumerate(variables):
            h = tf.matmul(h, k) + b
            if i < len(variables) - 1:
                h = tf.nn.relu(h)
        return tf.nn.softmax(h) if softmax else h

    return forward


def _latency(forward, x: np.ndarray, batch: int, repeats: int) -> tuple[float, np.ndarray]:
    """Median ms per batch of ``forward`` (a fixed-batch tf.function) over x, and its outputs."""
    import tensorflow as tf

    chunks = [tf.constant(x[s : s + batch]) for s in range(0, len(x) - len(x) % batch, batch)]
    forward(chunks[0])
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = [forward(c).numpy() for c in chunks]
        times.append(time.perf_counter() - start)
    return _median_ms(times) / len(chunks), np.concatenate(out)


def _model_forward(tf, keras_model, batch: int, features: int):
    @tf.function(input_signature=[tf.TensorSpec((batch, features), tf.float32)])
    def forward(x):
        return keras_model(x, training=False)

    return forward


def _compacted_forward(tf, opened, kernels: dict, batch: int, features: int):
    """(forward, output widths, compactor) with prune_viz.core.export.compact_model, or the
    bench-local Dense-chain compaction where export cannot compact (e.g. a layer with no unit left)."""
    try:
        from prune_viz.core.export import CompactionError, compact_model
    except ImportError:
        compact_model = None
    if compact_model is not None:
        try:
            compacted = compact_model(opened.loaded.keras_model, kernels).model
            widths = [int(w.shape[-1]) for w in compacted.weights if len(w.shape) == 2]
            return _model_forward(tf, compacted, batch, features), widths, "export.compact_model"
        except CompactionError:
            pass
    masked = [(kernels[layer.name], bias) for layer, (_, bias)
              in zip(opened.layers, dense_weights(opened.loaded.keras_model), strict=True)]
    chain = compact_dense_chain(masked)
    activation = getattr(opened.loaded.keras_model.layers[-1], "activation", None)
    softmax = getattr(activation, "__name__", "") == "softmax"
    return (_tf_chain(tf, chain, batch, softmax), [int(k.shape[1]) for k, _ in chain],
            "bench-local compact_dense_chain")


def bench_compaction(opened, data, label: str, quick: bool, task: TaskState) -> tuple[list[Figure], dict]:
    """Latency of the masked model (pruned units still multiplied by zeros) vs the compacted one,
    at 50/90/99% unit pruning of the hidden layers, for batches of 2500 and for batch 1."""
    import tensorflow as tf

    from prune_viz.core.inputs import preprocess
    from prune_viz.core.pruning import PruningConfig

    x = preprocess(data.x_test, "scale").reshape(len(data.x_test), -1)
    x_single = x[:100] if quick else x[:500]
    features = x.shape[1]
    big = 1000 if quick else 2500
    repeats = 3 if quick else 5
    pruner = opened.pruner
    model = opened.loaded.keras_model
    figures, details = [], {}
    for index, k in enumerate((50.0, 90.0, 99.0)):
        task.progress(index / 3, f"{label}: compaction k={k:g}")
        result = pruner.prune(PruningConfig("unit", k, "layer", opened.default_included))
        kernels = {name: kernel.numpy() for name, kernel in result.kernels.items()}
        compact_big, widths, compactor = _compacted_forward(tf, opened, kernels, big, features)
        compact_one, _, _ = _compacted_forward(tf, opened, kernels, 1, features)
        pruner.apply(result)
        try:
            masked_big_ms, masked_out = _latency(_model_forward(tf, model, big, features), x, big, repeats)
            masked_one_ms, _ = _latency(_model_forward(tf, model, 1, features), x_single, 1, 1)
        finally:
            pruner.restore()
        compact_big_ms, compact_out = _latency(compact_big, x, big, repeats)
        compact_one_ms, _ = _latency(compact_one, x_single, 1, 1)
        same = bool(np.array_equal(np.argmax(masked_out, 1), np.argmax(compact_out, 1)))
        max_diff = float(np.max(np.abs(masked_out - compact_out)))
        details[f"k{k:g}"] = {
            "compactor": compactor,
            "compacted_widths": widths,
            "batch_size": big,
            "batch_ms_masked": round(masked_big_ms, 3), "batch_ms_compacted": round(compact_big_ms, 3),
            "batch1_ms_masked": round(masked_one_ms, 4), "batch1_ms_compacted": round(compact_one_ms, 4),
            "same_predictions": same, "max_abs_output_diff": max_diff,
        }
        figures.append(info(f"{label}.compaction.k{k:g}.batch_speedup",
                            f"{label} unit k={k:g}%: compacted speedup, batch {big}",
                            round(masked_big_ms / compact_big_ms, 2), "x",
                            f"{masked_big_ms:.1f} -> {compact_big_ms:.1f} ms; widths {widths}; {compactor}; "
                            f"same predictions: {same}"))
        figures.append(info(f"{label}.compaction.k{k:g}.single_speedup",
                            f"{label} unit k={k:g}%: compacted speedup, batch 1",
                            round(masked_one_ms / compact_one_ms, 2), "x",
                            f"{masked_one_ms * 1000:.0f} us -> {compact_one_ms * 1000:.0f} us per image"))
    return figures, details


# -- the whole run ---------------------------------------------------------------------------------
def run_bench(options: BenchOptions, task: TaskState | None = None) -> BenchReport:
    task = task or quiet()
    started = time.perf_counter()
    report = BenchReport(machine_info(), {"quick": options.quick, "data": options.data,
                                          "sections": list(options.sections)})
    from prune_viz.core.data import load_mnist
    from prune_viz.core.session import open_model

    data = load_mnist(options.data) if {"evaluation", "sweep", "compaction"} & set(options.sections) else None
    with tempfile.TemporaryDirectory(prefix="prune-viz-bench-", dir=options.workdir) as tmp:
        workdir = Path(tmp)
        # quick: one small MLP only (a smoke run of every section)
        models = [("mlp-64-32", QUICK_MLP, False)] if options.quick else [
            ("fc-1000", FC1000, False), ("lenet-300-100", LENET_300_100, True)]
        big = [label for label in BIG_MODELS if label in options.sections]
        steps = len(models) * 5 + len(big)
        step = 0
        for label, widths, bias in models:
            sub = lambda: task.sub(step / steps, (step + 1) / steps)  # noqa: E731
            path = save_mlp(workdir / f"{label}.keras", widths, bias, label.replace("-", "_"))
            opened = open_model(path)
            report.details[label] = {"widths": list(widths), "biases": bias,
                                     "prunable_weights": sum(layer.size for layer in opened.layers)}
            if "slider" in options.sections:
                figures, details = bench_slider(opened, label, options.quick, widths == models[0][1], sub())
                report.figures += figures
                report.details[label]["slider"] = details
            step += 1
            evaluator = None
            if "evaluation" in options.sections or "sweep" in options.sections:
                figures, details, evaluator = bench_evaluation(opened, data, label, options.quick, sub())
                report.figures += figures
                report.details[label]["evaluation"] = details
            step += 1
            if "sweep" in options.sections:
                figures, details = bench_sweep(opened, options.data, evaluator, label, options.quick, sub())
                report.figures += figures
                report.details[label]["sweep"] = details
            step += 1
            if "flips" in options.sections:
                figures, details = bench_flips(opened, options.data, label, options.quick, sub())
                report.figures += figures
                report.details[label]["flips"] = details
            step += 1
            if "compaction" in options.sections and widths == models[0][1]:
                figures, details = bench_compaction(opened, data, label, options.quick, sub())
                report.figures += figures
                report.details[label]["compaction"] = details
            step += 1
            opened.pruner.restore()
        for label in big:
            figures, details = bench_scale(workdir, options.quick, task.sub(step / steps, (step + 1) / steps),
                                           label, BIG_MODELS[label])
            report.figures += figures
            report.details[label] = details
            step += 1
    report.machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report.seconds = time.perf_counter() - started
    task.progress(1.0, "done")
    return report


def format_table(report: BenchReport) -> str:
    """The figures as a table: each beside its floor, the multiple of the floor, and the target."""
    rows = [("figure", "value", "floor", "x floor", "target", "result", "note")]
    for f in report.figures:
        floor = "" if f.floor is None else f"{f.floor:g} {f.unit} ({f.floor_name})"
        times = "" if f.times is None else f"{f.times:.2f}x" + (" faster" if f.faster else "")
        verdict = "info" if f.passed is None else ("PASS" if f.passed else "FAIL")
        rows.append((f.name, f"{f.value:g} {f.unit}", floor, times, f.target, verdict, f.note))
    columns = len(rows[0]) - 1
    widths = [max(len(r[i]) for r in rows) for i in range(columns)]
    lines = []
    for i, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(r[:columns], widths, strict=True)) + "  " + r[columns])
        if i == 0:
            lines.append("-" * (sum(widths) + 2 * columns + 4))
    m = report.machine
    head = (f"prune-viz bench, {m['date_utc']}: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gb']} GB RAM, "
            f"load average {m['load_average_at_start']} at start, {m.get('load_average_at_end')} at end")
    failed = sum(1 for f in report.figures if f.passed is False)
    passed = sum(1 for f in report.figures if f.passed)
    tail = f"\n{passed} passed, {failed} failed, {report.seconds:.0f} s"
    return head + "\n\n" + "\n".join(lines) + tail
