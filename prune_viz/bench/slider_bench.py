"""The slider step: Session.configure and Pruner.apply per k, interleaved with the seed's way of pruning
(the floor), for weight and unit pruning, layerwise and global."""

from __future__ import annotations

import time

from prune_viz.bench.measure import median_ms
from prune_viz.bench.report import Figure, info, speedup_vs_floor
from prune_viz.core.tasks import TaskState

SEED_SPEEDUP_TARGET = 50.0


def seed_step(tf, layers, originals: dict, method: str, scope: str, k: float, included) -> None:
    """The seed's per-k pruning, kept here as the baseline: top_k over -|w| (or -norm) to find
    the k% smallest, a fresh tf.Variable mask per call, a TF1-style scatter update, then assign.
    The seed knew Dense and Conv kernels only: its units are the columns of a tensor's matrix view,
    which for an LSTM's or an attention head's tensors are not their units (the same work, as a floor)."""
    from prune_viz.core.pruning import count_to_prune

    chosen = [layer for layer in layers if layer.name in included]
    if method == "weight":
        scores = [tf.reshape(tf.abs(originals[layer.name]), [-1]) for layer in chosen]
    else:
        scores = [tf.norm(tf.reshape(originals[layer.name], (-1, layer.columns)), axis=0) for layer in chosen]
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
        else:  # the columns of the tensor's matrix view (a Dense or Conv kernel's last axis)
            matrix = tf.reshape(original, (-1, layer.columns))
            layer.variable.assign(tf.reshape(matrix * mask[None, :], original.shape))


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
        ours_ms = median_ms(ours)
        key = f"{label}.slider.{method}_{scope}"
        details[f"{method}_{scope}"] = {
            "first_step_ms": round(first_ms, 1),
            "ours_ms": [round(s * 1000, 3) for s in ours],
            "seed_ms": [round(s * 1000, 1) for s in seed],
        }
        seed_ms = median_ms(seed)
        details[f"{method}_{scope}"]["seed_median_ms"] = round(seed_ms, 1)
        name = f"{label} slider step, {method} {scope}"
        note = (
            f"median of {len(ours)} k changes, first step after open {first_ms:.0f} ms; "
            f"floor: the seed's top_k step, median of {len(seed)} ks, interleaved"
        )
        if method == "weight" and speedup_target:
            figures.append(
                speedup_vs_floor(
                    key + ".ms",
                    name,
                    round(ours_ms, 2),
                    "ms",
                    round(seed_ms, 1),
                    "the seed's step",
                    SEED_SPEEDUP_TARGET,
                    note,
                )
            )
        else:  # the seed's unit step only top_k's one norm per unit: cheap, no 50x to be had
            figures.append(
                info(
                    key + ".ms", name, round(ours_ms, 2), "ms", note, round(seed_ms, 1), "the seed's step", faster=True
                )
            )
    session.set_model(None)
    return figures, details
