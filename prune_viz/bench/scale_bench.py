"""A big model (the 120M MLP, VGG-16) opened, pruned and loaded in fresh processes, so that each
peak of memory is the model's own: against one NumPy copy of its weights and Keras's own loader.
A quick run (a smoke run) measures its small stand-ins the same way in one child process for all."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from prune_viz.bench.measure import median_ms, proc_status, reset_peak, timed
from prune_viz.bench.models import save_scale_mlp
from prune_viz.bench.report import Figure, info, vs_floor
from prune_viz.core.tasks import TaskState

SCALE_STEP_TARGET = 4.0  # x one NumPy copy of the weights
OPEN_TARGET = 2.5  # open to a usable slider / the load alone
SCALE_MEMORY_TARGET = 3.0  # x the weights
LOAD_TIME_TARGET = 1.0  # x keras.saving.load_model, on the same file
LOAD_MEMORY_TARGET = 2.0  # x the weights: peak memory while loading, over the TF baseline
LOAD_RUNS = 5
# big_child's list of what each measurement loaded, kept to the end of the process: memory a measurement
# frees is not there for the next to reuse, so each peak is still its own allocation (None: let go)
_KEPT: list | None = None


def _keep(*found) -> None:
    if _KEPT is not None:
        _KEPT.extend(found)


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
    import keras  # noqa: F401
    import tensorflow  # noqa: F401

    from prune_viz.core.session import Session, open_model

    baseline = proc_status("VmRSS")
    phases = []  # open_model's progress steps; each peak is that step's own (VmHWM reset between steps)
    start = time.perf_counter()
    resettable = reset_peak()

    def record(fraction: float, message: str) -> None:
        if phases:
            phases[-1]["peak_rss"] = proc_status("VmHWM")
            phases[-1]["end_rss"] = proc_status("VmRSS")
            phases[-1]["seconds"] = round(time.perf_counter() - start - phases[-1]["start_seconds"], 4)
        reset_peak()
        phases.append(
            {"phase": message, "start_seconds": time.perf_counter() - start, "start_rss": proc_status("VmRSS")}
        )

    opened = open_model(path, TaskState(on_progress=record))
    open_s = time.perf_counter() - start
    after_open = proc_status("VmRSS")
    phases[-1]["peak_rss"] = phases[-1]["end_rss"] = after_open
    phases[-1]["seconds"] = round(open_s - phases[-1]["start_seconds"], 4)
    for phase in phases:
        phase["start_seconds"] = round(phase["start_seconds"], 3)
    open_peak = max(p["peak_rss"] for p in phases) if resettable else proc_status("VmHWM")
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
            copies.extend(timed(lambda: np.copyto(scratch, largest), 1))
        return round(median_ms(times), 1)

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
    steps_peak = proc_status("VmHWM") - scratch.nbytes
    peak = max(open_peak, steps_peak)
    copy_ms = median_ms(copies) * weight_bytes / largest.nbytes
    restored = all(np.array_equal(np.asarray(layer.variable.numpy()), layer.original) for layer in opened.layers)
    _keep(opened, session)
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
    import keras
    import tensorflow  # noqa: F401

    from prune_viz.core.io import load_model

    baseline = proc_status("VmRSS")
    reset_peak()
    start = time.perf_counter()
    model = load_model(path).keras_model if reader == "prune-viz" else keras.saving.load_model(path)
    seconds = time.perf_counter() - start
    weights_bytes = sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in model.weights)
    _keep(model)
    return {"load_seconds": seconds, "peak_over_weights": (proc_status("VmHWM") - baseline) / weights_bytes}


def open_child(path: str) -> dict:
    """Runs in a fresh process, after the TF import: File > Open to a usable slider, i.e.
    ``open_model`` and then the masks of a first layerwise and a first global weight k."""
    import keras  # noqa: F401
    import tensorflow  # noqa: F401

    from prune_viz.core.session import Session, open_model

    start = time.perf_counter()
    opened = open_model(path)
    opened_s = time.perf_counter() - start
    session = Session()
    session.set_model(opened)
    session.configure(method="weight", scope="layer", k=50.0)
    session.configure(scope="global", k=60.0)
    _keep(opened, session)
    return {"open_seconds": opened_s, "usable_seconds": time.perf_counter() - start}


def describe_big_model(child: dict) -> str:
    """e.g. "224x224x3 input, 13 Conv2D + 3 Dense prunable layers", from scale_child's report."""
    shape = "x".join("?" if d is None else str(d) for d in child["input_shape"][1:])
    kinds = " + ".join(f"{count} {kind}" for kind, count in child["prunable_layer_kinds"].items())
    return f"{shape} input, {kinds} prunable layers"


def big_child(paths: list[str]) -> list[dict]:
    """Runs in one fresh process for every big model of a quick run (one TensorFlow import, not four per
    model): per model, what ``load_child`` (ours, then Keras's; first, on a clean heap), ``scale_child``
    and ``open_child`` report, one after the other, everything each loaded kept alive (``_KEPT``). Their
    memory figures are then over what the measurements before left, not a fresh process's: a smoke run of
    the code, not figures to quote."""
    global _KEPT
    _KEPT = []  # nothing measured here is let go: each peak stays its own measurement's
    found = []
    for path in paths:
        loads = {reader: [load_child(path, reader)] for reader in ("prune-viz", "keras")}  # first: a clean heap
        child = scale_child(path, True)
        found.append({"child": child, "loads": loads, "opens": [open_child(path)]})
    return found


def _save_big_model(workdir: Path, quick: bool, task: TaskState, label: str, save_model) -> tuple[Path, float]:
    """``save_model(path, quick)`` writes the model as .keras (here: only the children that load it are
    measured), flushed to disk as a user's model is: no writeback during the load."""
    path = workdir / f"{label}.keras"
    task.progress(0.0, f"{label}: building the model")
    start = time.perf_counter()
    save_model(path, quick)
    build_s = time.perf_counter() - start
    import gc

    gc.collect()
    if hasattr(os, "sync"):
        os.sync()
    return path, build_s


def bench_scale(
    workdir: Path, quick: bool, task: TaskState, label: str = "scale", save_model=save_scale_mlp
) -> tuple[list[Figure], dict]:
    """One big model (``save_model(path, quick)`` writes it as .keras), figures keyed ``label.*``: open
    phases, slider steps and peak memory in one fresh process, then the load alone (ours and Keras's) and
    open to a usable slider in fresh processes, interleaved."""
    path, build_s = _save_big_model(workdir, quick, task, label, save_model)
    task.progress(0.3, f"{label}: loading and pruning")
    child = _run_child(
        "import json; from prune_viz.bench.scale_bench import scale_child; "
        f"print(json.dumps(scale_child({str(path)!r}, {quick!r})))"
    )
    # Loading alone and opening to a usable slider, in fresh processes, prune-viz's loader and Keras's
    # interleaved: all meet the same machine load and the same state of the page cache
    loads: dict[str, list[dict]] = {"prune-viz": [], "keras": []}
    opens: list[dict] = []
    rounds = 1 if quick else LOAD_RUNS
    for round_index in range(rounds):
        task.progress(
            0.4 + 0.6 * round_index / rounds, f"{label}: fresh processes, round {round_index + 1} of {rounds}"
        )
        for reader, reader_runs in loads.items():
            reader_runs.append(
                _run_child(
                    "import json; from prune_viz.bench.scale_bench import load_child; "
                    f"print(json.dumps(load_child({str(path)!r}, {reader!r})))"
                )
            )
        opens.append(
            _run_child(
                "import json; from prune_viz.bench.scale_bench import open_child; "
                f"print(json.dumps(open_child({str(path)!r})))"
            )
        )
    return _scale_figures(label, path, build_s, child, loads, opens, "fresh processes")


def bench_big_models_quick(workdir: Path, task: TaskState, models: dict) -> tuple[list[Figure], dict]:
    """The quick run's big models (``models``: label -> .keras writer), each measured as ``bench_scale``
    measures it, but all in one child process (``big_child``): one TensorFlow import instead of four per
    model. Figures keyed ``label.*``; details per label."""
    saved = {}
    for index, (label, save_model) in enumerate(models.items()):
        sub = task.sub(0.3 * index / len(models), 0.3 * (index + 1) / len(models))
        saved[label] = _save_big_model(workdir, True, sub, label, save_model)
    task.progress(0.3, f"{', '.join(models)}: loading and pruning in one process")
    paths = [str(path) for path, _ in saved.values()]
    found = _run_child(
        f"import json; from prune_viz.bench.scale_bench import big_child; print(json.dumps(big_child({paths!r})))"
    )
    figures, details = [], {}
    for (label, (path, build_s)), one in zip(saved.items(), found, strict=True):
        figures_one, details[label] = _scale_figures(
            label, path, build_s, one["child"], one["loads"], one["opens"], "one process for every big model (quick)"
        )
        figures += figures_one
    task.progress(1.0, "big models done")
    return figures, details


def _scale_figures(
    label: str, path: Path, build_s: float, child: dict, loads: dict, opens: list, processes: str
) -> tuple[list[Figure], dict]:
    """The figures of one big model from its children's reports; ``processes`` says where they ran.
    Deletes the model's file."""
    loads_ms = {reader: [round(run["load_seconds"] * 1000, 1) for run in runs] for reader, runs in loads.items()}
    peaks = {reader: [round(run["peak_over_weights"], 2) for run in runs] for reader, runs in loads.items()}
    child["load_ms_fresh_processes"] = loads_ms
    child["load_peak_over_weights_fresh_processes"] = peaks
    child["usable_seconds_fresh_processes"] = [round(run["usable_seconds"], 3) for run in opens]
    child["processes"] = processes
    child["file_bytes"] = path.stat().st_size
    child["build_and_save_seconds"] = round(build_s, 1)
    path.unlink()
    weights = child["prunable_bytes"]
    growth = (child["peak_rss"] - child["rss_after_tf_import"]) / weights
    name = f"{label} {child['parameters'] / 1e6:.3g}M"
    phases = ", ".join(
        f"{p['phase'].split(' ')[0].lower()} {p['seconds']:.2f} s" for p in child["open_phases"] if p["seconds"] >= 0.01
    )
    ours_ms, keras_ms = (statistics.median(loads_ms[reader]) for reader in ("prune-viz", "keras"))
    usable_s = statistics.median(child["usable_seconds_fresh_processes"])
    mib = weights / 2**20
    runs = len(loads_ms["keras"])
    figures = [
        vs_floor(
            f"{label}.load_ms",
            f"{name}: load (core.io.load_model)",
            round(ours_ms, 1),
            "ms",
            round(keras_ms, 1),
            "keras.saving.load_model",
            LOAD_TIME_TARGET,
            f"medians of {runs} runs each, {processes}, interleaved (ours {loads_ms['prune-viz']}, "
            f"Keras {loads_ms['keras']} ms)",
        ),
        vs_floor(
            f"{label}.load_peak_memory",
            f"{name}: peak memory while loading, over the RSS before",
            round(statistics.median(peaks["prune-viz"]) * mib),
            "MiB",
            round(mib),
            "the weights",
            LOAD_MEMORY_TARGET,
            f"x weights in {runs} runs: {peaks['prune-viz']}; keras.saving.load_model: "
            f"{statistics.median(peaks['keras']):.2f}x ({peaks['keras']})",
        ),
        vs_floor(
            f"{label}.open_usable_s",
            f"{name}: open to a usable slider",
            round(usable_s, 2),
            "s",
            round(ours_ms / 1000, 2),
            "its load alone",
            OPEN_TARGET,
            f"open_model, then a layerwise and a global weight k; median of {runs} runs, {processes} "
            f"{child['usable_seconds_fresh_processes']}",
        ),
        info(
            f"{label}.open_s",
            f"{name}: open (load, copy of the originals, ranking), one process",
            child["open_seconds"],
            "s",
            f"{describe_big_model(child)}, {child['file_bytes'] / 2**20:.0f} MiB .keras; {phases}",
        ),
        info(
            f"{label}.copy_floor_ms",
            f"{name}: one NumPy copy of the weights",
            child["copy_weights_once_ms"],
            "ms",
            "memory-bandwidth floor for rewriting every weight: median of one copy after each step",
        ),
    ]
    for mode, ms in child["step_ms"].items():
        words = mode.replace("_", " ")
        warmed = mode in child["warm_up_seconds"]
        figures.append(
            vs_floor(
                f"{label}.slider.{mode}.ms",
                f"{name}: slider step applied, {words}",
                ms,
                "ms",
                child["copy_weights_once_ms"],
                "one NumPy copy of the weights",
                SCALE_STEP_TARGET,
                "masks computed and written into the model's variables"
                + ("; after Pruner.warm_up, which the window runs in the background" if warmed else ""),
            )
        )
        if warmed:
            figures.append(
                info(
                    f"{label}.slider.{mode}.before_warm_up_ms",
                    f"{name}: slider step applied, {words}, before the warm-up",
                    child["step_ms_before_warm_up"][mode],
                    "ms",
                    "a threshold read from the buckets"
                    if mode.startswith("weight")
                    else "unit plans and their counts computed on the spot",
                    child["copy_weights_once_ms"],
                    "one NumPy copy of the weights",
                )
            )
            figures.append(
                info(
                    f"{label}.slider.{mode}.warm_up_s",
                    f"{name}: warm-up of every whole-percent k, {words}",
                    child["warm_up_seconds"][mode],
                    "s",
                    "Pruner.warm_up, one thread",
                )
            )
    figures.append(
        vs_floor(
            f"{label}.peak_memory",
            f"{name}: peak memory over TF baseline",
            round(growth * mib),
            "MiB",
            round(mib),
            "the weights",
            SCALE_MEMORY_TARGET,
            f"VmHWM {child['peak_rss'] / 2**20:.0f} MiB, after TF import "
            f"{child['rss_after_tf_import'] / 2**20:.0f} MiB; open, slider steps and restore",
        )
    )
    figures.append(
        info(
            f"{label}.peak_memory_total",
            f"{name}: peak memory (whole process)",
            round(child["peak_rss"] / 2**20),
            "MiB",
            floor=round(mib),
            floor_name="the weights",
        )
    )
    figures.append(
        info(
            f"{label}.peak_memory_reading",
            f"{name}: peak while the file is read, over TF baseline",
            round((child["peak_rss_reading_model"] - child["rss_after_tf_import"]) / 2**20),
            "MiB",
            "core.io.load_model alone, before any prune-viz copy",
            round(mib),
            "the weights",
        )
    )
    figures.append(
        info(
            f"{label}.peak_memory_pruning",
            f"{name}: peak while pruning, over TF baseline",
            round((child["peak_rss_while_pruning"] - child["rss_after_tf_import"]) / 2**20),
            "MiB",
            "slider steps and restore, after open",
            round(mib),
            "the weights",
        )
    )
    return figures, child
