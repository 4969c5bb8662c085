"""Write pruned models, compact them, and measure what pruning buys in bytes and milliseconds.

* ``export_pruned``: the masked model (zeros in place, or compacted) as a .keras file,
  written by core.files (atomically, never over the opened model); for a model opened from its
  weights only, its pruned weights in a copy of its file (``export_stored_weights``).
* ``compact_model`` (``core.compaction``, per layer kind ``core.compaction_kinds``): a physically
  smaller model without the dead units, computing what the masked one does; ``compaction_problem``
  says before any dialog why it cannot be done for a model and its pruning settings.
* ``dead_unit_coupling``: weights of a layer that only ever read a dead unit of the layer before it.
* ``size_and_speed``: file sizes (dense .keras, gzip, CSR arrays, packed N:M for N:M pruning, compacted .keras)
  and the measured test-set latency of the masked and compacted models.
"""

from __future__ import annotations

import gzip
import math
import os
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from prune_viz.core.compaction import (
    Compaction,
    DeadUnitCoupling,
    compact_model,
    dead_unit_coupling,
    parameters,
    structure_problem,
)
from prune_viz.core.export_errors import CompactionError, ExportError
from prune_viz.core.patterns import input_run, packed_nm_bytes
from prune_viz.core.pruning import PruneResult, PruningConfig
from prune_viz.core.tasks import TaskState, quiet, tensorflow_job

# -- exporting ----------------------------------------------------------------------------------


def masked_kernels(result: PruneResult) -> dict[str, np.ndarray]:
    return {name: np.asarray(kernel.numpy(), np.float32) for name, kernel in result.kernels.items()}


def export_metadata(opened, result: PruneResult, *, compacted: bool, extra: dict | None = None) -> dict:
    from prune_viz.core.provenance import derivation
    from prune_viz.core.training import software_versions, utc_now

    config = result.config
    base = dict(opened.loaded.metadata)
    return {
        "trained_on": base.get("trained_on", "unknown (the source model has no prune-viz metadata)"),
        "base_model_metadata": base,
        "derived_from": derivation(opened.loaded.path, config),
        "pruning": {
            **config.as_dict(),
            **(
                {"scores": opened.pruner.taylor.description}
                if config.criterion == "taylor" and opened.pruner.taylor is not None
                else {}
            ),
            "included_layers": sorted(config.included),
            "sparsity_included": round(result.included_sparsity(), 6),
            "source_model": str(opened.loaded.path),
            "compacted": compacted,
            "date": utc_now(),
        },
        **software_versions(),
        **(extra or {}),
    }


def export_problem(opened) -> str | None:
    """Why the opened model cannot be exported at all, or None. A model opened from its weights only
    is exported as a copy of its file carrying the pruned weights."""
    if opened.loaded.keras_model is None and not opened.loaded.weights_only:
        return (
            f"{opened.loaded.path.name} is a bare TensorFlow SavedModel; only Keras models "
            "can be written back as .keras files."
        )
    return None


def model_problem(opened) -> str | None:
    """Why what needs the whole Keras model (compaction, sizes and timings) cannot work for the
    opened model, or None."""
    problem = export_problem(opened)
    if problem is not None:
        return problem
    if opened.loaded.weights_only:
        return (
            f"{opened.loaded.path.name} was opened from its weights only, without its model; "
            "File > Export writes its pruned weights into a copy of its file."
        )
    return None


def compaction_problem(
    opened, method: str, included: frozenset[str] | None = None, unit_mode: str | None = None
) -> str | None:
    """Why a compacted export cannot work for the opened model when ``method`` prunes ``included``
    (the tensors pruned by default when None) in ``unit_mode``, in one sentence, or None.

    Looks at the layers only (no TensorFlow computation, so a window can ask before any dialog): a
    layer whose units are pruned must be one whose units prune-viz can remove, on a straight chain
    to the next weighted layer. Whether a zero-padded or transposed convolution can absorb the
    constant output of dead units depends on the pruning and is found at export.
    """
    problem = model_problem(opened)
    if problem is not None:
        return problem
    if method != "unit":
        return (
            "Compaction removes whole units, so it needs unit pruning (Pruning > Unit pruning); weight "
            "pruning keeps every matrix's shape, so export it with zeros in place."
        )
    if not any(tensor.units for tensor in opened.layers):
        return "The model has no layer whose units could be removed."
    included = opened.default_included if included is None else included
    pruned = [tensor for tensor in opened.layers if tensor.name in included and tensor.units]
    return structure_problem(opened.loaded.keras_model, pruned, unit_mode)


def _require_keras(opened) -> None:
    problem = model_problem(opened)
    if problem is not None:
        raise ExportError(problem)


@dataclass
class ExportResult:
    path: Path
    config: PruningConfig
    compacted: bool
    bytes: int
    sparsity_included: float
    compaction: Compaction | None = None


@tensorflow_job()
def export_pruned(
    opened,
    config: PruningConfig,
    out: str | os.PathLike,
    *,
    force: bool = False,
    compact: bool = False,
    task: TaskState | None = None,
) -> ExportResult:
    """Write the pruned model (zeros in place, or compacted) to ``out``; the opened model is left unpruned.

    Writes the masked kernels into the opened model while it saves, so call it from the TF job thread.
    A model opened from its weights only is written as a copy of its file (``out`` must have its
    suffix) carrying the pruned weights; it cannot be compacted.
    """
    from prune_viz.core.io import save_keras_with_metadata

    task = task or quiet()
    if opened.loaded.weights_only and not compact:
        return _export_weights_only(opened, config, out, force=force, task=task)
    _require_keras(opened)
    problem = compaction_problem(opened, config.method, config.included, config.unit_mode) if compact else None
    if problem is not None:
        raise CompactionError(problem)
    pruner = opened.pruner
    task.progress(0.1, "Pruning")
    result = pruner.prune(config)
    kernels = masked_kernels(result)
    compaction = None
    with pruner.applied(result):
        task.progress(0.4, "Compacting" if compact else "Saving")
        if compact:
            compaction = compact_model(opened.loaded.keras_model, kernels)
            model = compaction.model
        else:
            model = opened.loaded.keras_model
        metadata = export_metadata(opened, result, compacted=compact)
        if compaction is not None:
            metadata["pruning"]["compacted_layers"] = {
                c.name: [c.units_before, c.units_after] for c in compaction.layers
            }
        path = save_keras_with_metadata(model, out, metadata, force=force, protect=(opened.loaded.path,))
    task.progress(1.0, "Saved")
    return ExportResult(path, config, compact, path.stat().st_size, result.included_sparsity(), compaction)


def pruned_stored_arrays(opened, result: PruneResult) -> dict:
    """{StoredVariable: values} of every weight of a model opened from its weights only, as ``result``
    prunes it: the pruner writes the pruned kernels (and, removing units, their biases...) into the
    stored variables, and each is read back while they hold them."""
    from prune_viz.core.io import variable_copy

    with opened.pruner.applied(result):
        return {
            stored: variable_copy(stored.variable, np.dtype(_numpy_dtype(stored.variable)))
            for stored in opened.loaded.stored_variables
        }


def _numpy_dtype(variable):
    dtype = getattr(variable, "dtype", None)
    return getattr(dtype, "as_numpy_dtype", dtype)


@tensorflow_job()
def export_stored_weights(
    opened, arrays: dict, out: str | os.PathLike, *, metadata: dict | None = None, force: bool = False
) -> Path:
    """Write ``arrays`` ({StoredVariable or dataset path: array}) into a copy of the file of ``opened``,
    a model opened from its weights only (``core.io.weights_copy``); the variables not named keep
    their stored values."""
    from prune_viz.core.io.weights_copy import write_weights_copy

    if not opened.loaded.weights_only:
        raise ExportError(f"{opened.loaded.path.name} was opened as a whole model; export it with export_pruned.")
    return write_weights_copy(opened.loaded, out, arrays, metadata=metadata, force=force)


def _export_weights_only(opened, config: PruningConfig, out, *, force: bool, task: TaskState) -> ExportResult:
    task.progress(0.1, "Pruning")
    result = opened.pruner.prune(config)
    arrays = pruned_stored_arrays(opened, result)
    task.progress(0.4, "Writing the copy")
    metadata = export_metadata(opened, result, compacted=False, extra={"weights_only_copy": True})
    path = export_stored_weights(opened, arrays, out, metadata=metadata, force=force)
    task.progress(1.0, "Saved")
    return ExportResult(path, config, False, path.stat().st_size, result.included_sparsity())


# -- size and speed -----------------------------------------------------------------------------


@dataclass
class FormatRow:
    name: str
    bytes: int
    latency_seconds: float | None = None  # median over repeats of one pass over the test set
    accuracy: float | None = None
    note: str = ""


@dataclass
class SizeSpeedReport:
    config: PruningConfig
    rows: list[FormatRow]
    parameters: int
    nonzero_parameters: int
    coupling: DeadUnitCoupling | None
    compaction: Compaction | None
    compaction_error: str | None
    max_output_difference: float | None  # masked vs compacted, over the test set
    test_images: int = 0
    repeats: int = 0
    latency_note: str = ""
    extra: dict = field(default_factory=dict)

    def row(self, name: str) -> FormatRow:
        return next(r for r in self.rows if r.name == name)

    def coupling_sentence(self) -> str | None:
        """What the dead-unit coupling means, with the per-layer breakdown; None if not measured."""
        if self.coupling is None:
            return None
        detail = ", ".join(
            f"{row.layer}: {row.useless_weights:,} weights on {row.dead_inputs:,} inputs from dead units of {row.after}"
            for row in self.coupling.layers
            if row.dead_inputs
        )
        return (
            f"{self.coupling.useless_weights:,} non-zero weights read only dead units (a constant) "
            f"and cannot change the output" + (f" ({detail})" if detail else "")
        )

    def compaction_sentence(self, arrow: str = "->") -> str:
        """How much compaction removed and how closely it matches, or why it was not possible."""
        if self.compaction is None:
            return f"not possible: {self.compaction_error}"
        c = self.compaction
        shrunk = (
            ", ".join(
                f"{layer.name} {layer.units_before}{arrow}{layer.units_after}"
                for layer in c.layers
                if layer.units_before != layer.units_after
            )
            or "no dead units"
        )
        match = (
            f"; outputs match the masked model to {self.max_output_difference:.1e}"
            if self.max_output_difference is not None
            else ""
        )
        return f"{c.parameters_before:,} {arrow} {c.parameters_after:,} parameters ({shrunk}){match}"


def csr_bytes(matrix: np.ndarray, value_bytes: int = 4, index_bytes: int = 4) -> int:
    """data + indices + indptr of a CSR matrix with float32 values and int32 indices."""
    nnz = int(np.count_nonzero(matrix))
    return nnz * value_bytes + nnz * index_bytes + (matrix.shape[0] + 1) * index_bytes


def _median_latency(evaluator, repeats: int, task: TaskState) -> tuple[float, float]:
    evaluator.run()  # warm-up: the first call runs the traced graph's one-off setup
    times, accuracy = [], 0.0
    for i in range(repeats):
        task.progress(i / repeats, f"Timing {i + 1}/{repeats}")
        result = evaluator.run()
        times.append(result.seconds)
        accuracy = result.accuracy
    return statistics.median(times), accuracy


@tensorflow_job()
def size_and_speed(
    opened,
    config: PruningConfig,
    data=None,
    *,
    preprocessing: str = "auto",
    repeats: int = 5,
    task: TaskState | None = None,
) -> SizeSpeedReport:
    """Sizes of the pruned model in several formats and, with ``data``, their test-set latency.

    gzip and CSR are storage formats only (no forward pass is timed for them).
    Writes the masked kernels into the opened model meanwhile, so call it from the TF job thread.
    """
    from prune_viz.core.evaluation import Evaluator
    from prune_viz.core.io import LoadedModel

    task = task or quiet()
    _require_keras(opened)
    pruner = opened.pruner
    model = opened.loaded.keras_model
    result = pruner.prune(config)
    kernels = masked_kernels(result)
    rows: list[FormatRow] = []
    compaction, compaction_error, coupling, difference = None, None, None, None
    evaluator = None
    latency_note = "" if data is not None else "no test data, so no latency"
    if data is not None and (problem := opened.problem_with(data)):  # sizes still apply; no latency on this data
        latency_note, data = problem, None
    if data is not None:
        task.progress(0.02, "Compiling the forward pass")
        evaluator = opened.evaluator_on(data, preprocessing)
    kernel_names = set(kernels)
    other_bytes = sum(int(np.prod(w.shape)) * 4 for w in _outside_kernels(model, opened.layers))
    with pruner.applied(result), tempfile.TemporaryDirectory(prefix="prune-viz-size-") as tmp:
        dense_path = Path(tmp) / "dense.keras"
        model.save(dense_path)
        raw = dense_path.read_bytes()
        dense_row = FormatRow("dense .keras (zeros in place)", len(raw))
        if evaluator is not None:
            dense_row.latency_seconds, dense_row.accuracy = _median_latency(evaluator, repeats, task.sub(0.05, 0.5))
        rows.append(dense_row)
        rows.append(FormatRow("gzip of the dense .keras", len(gzip.compress(raw, 9)), note="storage only"))
        csr = sum(
            csr_bytes(layer.as_matrix(kernels[layer.name])) for layer in opened.layers if layer.name in kernel_names
        )
        rows.append(
            FormatRow(
                "CSR arrays (kernels) + dense other weights",
                csr + other_bytes,
                note="float32 data + int32 indices + indptr; storage only",
            )
        )
        if config.method == "nm":  # what a sparse tensor core reads: N values and their indices per group
            n, m = config.nm
            packed = sum(
                packed_nm_bytes(layer.as_matrix(kernels[layer.name]), n, m, input_run(layer))
                if layer.name in result.plans
                else int(np.prod(layer.shape)) * 4
                for layer in opened.layers
                if layer.name in kernel_names
            )
            rows.append(
                FormatRow(
                    f"packed {config.pattern} (values + indices) + dense other weights",
                    packed + other_bytes,
                    note=f"{n} float32 values and {max(1, math.ceil(math.log2(m)))}-bit indices per group of {m} "
                    "(padding included); excluded tensors dense; storage only",
                )
            )
        try:
            coupling = dead_unit_coupling(model, kernels)
            problem = None  # weight pruning compacts only the units that happen to lose every weight
            if config.method == "unit":
                problem = compaction_problem(opened, config.method, config.included, config.unit_mode)
            if problem is not None:
                raise CompactionError(problem)
            compaction = compact_model(model, kernels)
        except CompactionError as exc:
            compaction_error = str(exc)
        if compaction is not None:
            compact_path = Path(tmp) / "compact.keras"
            compaction.model.save(compact_path)
            compact_row = FormatRow("compacted .keras (dead units removed)", compact_path.stat().st_size)
            if evaluator is not None:
                task.progress(0.5, "Timing the compacted model")
                compact_loaded = LoadedModel(path=compact_path, format="compacted", keras_model=compaction.model)
                compact_eval = Evaluator(compact_loaded, data, evaluator.preprocessing)
                compact_row.latency_seconds, compact_row.accuracy = _median_latency(
                    compact_eval, repeats, task.sub(0.5, 0.95)
                )
                x = evaluator.feed(data.x_test)
                difference = 0.0
                for start in range(0, len(x), 2500):
                    batch = x[start : start + 2500]
                    a = np.asarray(model(batch, training=False))
                    b = np.asarray(compaction.model(batch, training=False))
                    difference = max(difference, float(np.max(np.abs(a - b))))
            rows.append(compact_row)
    task.progress(1.0, "Done")
    total = parameters(model)
    zeros = result.prunable_zeros + (total - result.prunable_size - _nonzero_outside(model, opened.layers))
    return SizeSpeedReport(
        config=config,
        rows=rows,
        parameters=total,
        nonzero_parameters=total - zeros,
        coupling=coupling,
        compaction=compaction,
        compaction_error=compaction_error,
        max_output_difference=difference,
        test_images=0 if data is None else len(data.x_test),
        repeats=repeats if data is not None else 0,
        latency_note=latency_note,
    )


def _outside_kernels(model, layers) -> list:
    """The model's weights that are not prunable kernels (biases, normalisation...)."""
    kernels = {id(layer.variable) for layer in layers}
    return [w for w in model.weights if id(w) not in kernels and id(getattr(w, "value", None)) not in kernels]


def _nonzero_outside(model, layers) -> int:
    return sum(int(np.count_nonzero(np.asarray(w.numpy()))) for w in _outside_kernels(model, layers))
