"""Latency of a unit-pruned model as masked (pruned units multiplied by zeros) against compacted."""

from __future__ import annotations

import time

import numpy as np

from prune_viz.bench.dense_chain import dense_weights, tf_chain
from prune_viz.bench.measure import median_ms
from prune_viz.bench.report import Figure, info
from prune_viz.core.tasks import TaskState


def compact_dense_chain(weights: list[tuple[np.ndarray, np.ndarray | None]]):
    """Bench-local compaction of a Dense chain: drop every hidden unit whose incoming column is all
    zero (its ReLU output is then relu(bias), constant; folded into the next layer's bias)."""
    out = []
    keep_rows = None
    carry = None  # constant contribution of dropped units to the next layer
    for i, (kernel, bias) in enumerate(weights):
        k = kernel if keep_rows is None else kernel[keep_rows]
        b = np.zeros(kernel.shape[1], np.float32) if bias is None else bias.copy()
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
    return median_ms(times) / len(chunks), np.concatenate(out)


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
    masked = [
        (kernels[layer.name], bias)
        for layer, (_, bias) in zip(opened.layers, dense_weights(opened.loaded.keras_model), strict=True)
    ]
    chain = compact_dense_chain(masked)
    activation = getattr(opened.loaded.keras_model.layers[-1], "activation", None)
    softmax = getattr(activation, "__name__", "") == "softmax"
    return (tf_chain(tf, chain, batch, softmax), [int(k.shape[1]) for k, _ in chain], "bench-local compact_dense_chain")


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
            "batch_ms_masked": round(masked_big_ms, 3),
            "batch_ms_compacted": round(compact_big_ms, 3),
            "batch1_ms_masked": round(masked_one_ms, 4),
            "batch1_ms_compacted": round(compact_one_ms, 4),
            "same_predictions": same,
            "max_abs_output_diff": max_diff,
        }
        figures.append(
            info(
                f"{label}.compaction.k{k:g}.batch_speedup",
                f"{label} unit k={k:g}%: compacted speedup, batch {big}",
                round(masked_big_ms / compact_big_ms, 2),
                "x",
                f"{masked_big_ms:.1f} -> {compact_big_ms:.1f} ms; widths {widths}; {compactor}; "
                f"same predictions: {same}",
            )
        )
        figures.append(
            info(
                f"{label}.compaction.k{k:g}.single_speedup",
                f"{label} unit k={k:g}%: compacted speedup, batch 1",
                round(masked_one_ms / compact_one_ms, 2),
                "x",
                f"{masked_one_ms * 1000:.0f} us -> {compact_one_ms * 1000:.0f} us per image",
            )
        )
    return figures, details
