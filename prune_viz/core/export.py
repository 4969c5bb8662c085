"""Write pruned models, compact them, and measure what pruning buys in bytes and milliseconds.

* ``export_pruned``: the masked model (zeros in place, or compacted) as a .keras file,
  written by core.files (atomically, never over the opened model).
* ``compact_model``: a physically smaller dense model without the dead units
  (all-zero kernel columns) of a chain of Dense/Conv layers. A dead unit still
  outputs act(bias), a constant, so its effect on the next layer is folded into
  that layer's bias: the compacted model computes what the masked one does. A
  BatchNormalization after dead units loses their channels too (the same group
  unit mode "remove" zeroes: kernel column, bias, BN channel).
* ``dead_unit_coupling``: weights of layer L+1 that only ever read a dead unit of L.
* ``size_and_speed``: file sizes (dense .keras, gzip, CSR arrays, compacted .keras)
  and the measured test-set latency of the masked and compacted models.
"""

from __future__ import annotations

import gzip
import os
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from prune_viz.core.errors import UserError
from prune_viz.core.pruning import PruneResult, PruningConfig
from prune_viz.core.tasks import TaskState, quiet, tensorflow_job


class ExportError(UserError):
    """The model cannot be written as asked; the message is one sentence."""


class CompactionError(ExportError):
    """The architecture cannot be compacted; the message says which layer and why."""


# -- walking a chain of layers ------------------------------------------------------------------

_PASS_THROUGH = {  # layers that keep channels and map a constant channel to a constant
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
    "Identity",
    "MaxPooling1D",
    "MaxPooling2D",
    "AveragePooling1D",
    "AveragePooling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
}
_ELEMENTWISE = {"Activation", "ReLU", "LeakyReLU", "ELU"}
_PRUNABLE = {"Dense": "Dense", "Conv1D": "Conv1D", "Conv2D": "Conv2D"}


def _kind(layer) -> str | None:
    for cls in type(layer).__mro__:
        if cls.__name__ in _PRUNABLE:
            return _PRUNABLE[cls.__name__]
    return None


def _class_name(layer) -> str:
    return type(layer).__name__


@dataclass
class _Step:
    layer: Any
    kind: str | None  # "Dense"/"Conv1D"/"Conv2D", or None for a pass-through layer
    in_alive: np.ndarray | None = None  # over the kernel's input axis; None = every input alive
    in_const: np.ndarray | None = None  # constant value of each dead input
    alive: np.ndarray | None = None  # over the units
    channels: np.ndarray | None = None  # a BatchNormalization's kept channels; None = all


def _chain_layers(model) -> list:
    """The model's layers in order if it is one straight chain; CompactionError otherwise."""
    if model is None:
        raise CompactionError("Only Keras models can be compacted, not a bare SavedModel.")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise CompactionError("Only single-input, single-output models can be compacted.")
    import keras

    layers = [layer for layer in model.layers if _class_name(layer) != "InputLayer"]
    previous = model.inputs[0]
    for layer in layers:
        if getattr(layer, "layers", None):
            raise CompactionError(f"{layer.name} is a nested model; only flat chains of layers can be compacted.")
        # a Sequential is a chain by construction (a reloaded one has extra build-time nodes)
        if not isinstance(model, keras.Sequential) and layer.input is not previous:
            raise CompactionError(
                f"The model branches or reuses layers at {layer.name}; only straight chains of layers can be compacted."
            )
        previous = layer.output
    return layers


def _plan(model, alive_units: dict[str, np.ndarray]) -> list[_Step]:
    """Which inputs and units of every prunable layer are alive, following dead units down the chain.

    ``alive_units`` maps a prunable layer name to a bool array over its units; the
    last prunable layer keeps all its units (its outputs are the class scores).
    """
    layers = _chain_layers(model)
    prunable = [layer for layer in layers if _kind(layer)]
    last = prunable[-1].name if prunable else None
    alive = None  # over the last axis of the tensor flowing between layers
    const = None
    steps = []
    for layer in layers:
        kind = _kind(layer)
        name = _class_name(layer)
        if kind:
            if getattr(layer, "data_format", "channels_last") != "channels_last":
                raise CompactionError(f"{layer.name} uses channels_first; only channels_last can be compacted.")
            if kind != "Dense" and alive is not None and np.any(const[~alive] != 0) and layer.padding != "valid":
                raise CompactionError(
                    f"{layer.name} zero-pads its input ('{layer.padding}' padding), so the "
                    "constant output of a dead unit before it cannot be folded into its bias."
                )
            units = int(layer.kernel.shape[-1])
            unit_alive = (
                np.ones(units, bool)
                if layer.name == last
                else np.asarray(alive_units.get(layer.name, np.ones(units, bool)), bool)
            )
            steps.append(_Step(layer, kind, alive, const, unit_alive))
            bias = np.asarray(layer.bias.numpy(), np.float32) if layer.use_bias else np.zeros(units, np.float32)
            out_const = np.asarray(layer.activation(bias), np.float32)
            out_const = np.where(unit_alive, 0.0, out_const).astype(np.float32)
            alive, const = (None, None) if unit_alive.all() else (unit_alive, out_const)
        elif name in _PASS_THROUGH:
            steps.append(_Step(layer, None))
        elif name in _ELEMENTWISE:
            if const is not None:
                const = np.where(alive, 0.0, np.asarray(layer(const[None, :]))[0]).astype(np.float32)
            steps.append(_Step(layer, None))
        elif name == "Flatten":
            if alive is not None:
                spatial = int(np.prod(layer.input.shape[1:-1]))
                alive, const = np.tile(alive, spatial), np.tile(const, spatial)
            steps.append(_Step(layer, None))
        elif alive is None:
            steps.append(_Step(layer, None))  # nothing dead upstream: copied as it is
        elif name == "BatchNormalization" and _normalises_last_axis(layer):
            const = np.where(alive, 0.0, _batch_norm_of(layer, const)).astype(np.float32)
            steps.append(_Step(layer, None, channels=alive))
        else:
            raise CompactionError(
                f"A {name} layer ({layer.name}) follows dead units; prune-viz can compact "
                "chains of Dense/Conv layers with activations, pooling, dropout and Flatten between them."
            )
    return steps


def _normalises_last_axis(layer) -> bool:
    axis = layer.axis if isinstance(layer.axis, int) else (layer.axis[0] if len(layer.axis) == 1 else None)
    return axis is not None and axis in (-1, len(layer.input.shape) - 1)


def _batch_norm_of(layer, values: np.ndarray) -> np.ndarray:
    """What an inference-mode BatchNormalization makes of per-channel ``values``."""
    channels = values.shape[-1]
    gamma, beta = getattr(layer, "gamma", None), getattr(layer, "beta", None)
    gamma = np.asarray(gamma.numpy(), np.float64) if gamma is not None else np.ones(channels)
    beta = np.asarray(beta.numpy(), np.float64) if beta is not None else np.zeros(channels)
    mean = np.asarray(layer.moving_mean.numpy(), np.float64)
    variance = np.asarray(layer.moving_variance.numpy(), np.float64)
    return gamma * (values - mean) / np.sqrt(variance + layer.epsilon) + beta


def alive_units_of(kernels: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Units (last axis) whose kernel column has at least one non-zero weight."""
    return {name: np.any(k.reshape(-1, k.shape[-1]) != 0, axis=0) for name, k in kernels.items()}


# -- dead-unit coupling -------------------------------------------------------------------------


@dataclass
class CouplingRow:
    layer: str  # the layer whose weights are useless
    after: str  # the layer whose dead units they read
    dead_inputs: int  # input rows (Dense) or input channels x positions fed by dead units
    useless_weights: int  # non-zero weights on those inputs


@dataclass
class DeadUnitCoupling:
    layers: list[CouplingRow]

    @property
    def useless_weights(self) -> int:
        return sum(row.useless_weights for row in self.layers)

    @property
    def dead_inputs(self) -> int:
        return sum(row.dead_inputs for row in self.layers)


def dead_unit_coupling(model, kernels: dict[str, np.ndarray]) -> DeadUnitCoupling:
    """Non-zero weights of layer L+1 that read a dead unit of L (they see only a constant)."""
    steps = _plan(model, alive_units_of(kernels))
    rows, previous = [], None
    for step in steps:
        if step.kind is None:
            continue
        if step.in_alive is not None:
            kernel = kernels[step.layer.name]
            dead = ~step.in_alive
            on_dead = np.take(kernel, np.flatnonzero(dead), axis=kernel.ndim - 2)
            rows.append(CouplingRow(step.layer.name, previous, int(dead.sum()), int(np.count_nonzero(on_dead))))
        previous = step.layer.name
    return DeadUnitCoupling(rows)


# -- compaction ---------------------------------------------------------------------------------


@dataclass
class CompactedLayer:
    name: str
    units_before: int
    units_after: int
    kernel_shape_before: tuple
    kernel_shape_after: tuple


@dataclass
class Compaction:
    model: Any  # keras.Model
    layers: list[CompactedLayer]
    parameters_before: int
    parameters_after: int


def compact_model(model, kernels: dict[str, np.ndarray]) -> Compaction:
    """A smaller Sequential model computing what ``model`` with ``kernels`` written in computes.

    Dead units (all-zero kernel columns) are removed from their layer's kernel and
    bias and from the next layer's kernel inputs; their constant output is folded
    into the next layer's bias. Raises CompactionError for architectures it cannot handle.
    """
    import keras

    steps = _plan(model, alive_units_of(kernels))
    new_layers, weights, report = [], [], []
    for step in steps:
        layer = step.layer
        config = layer.get_config()
        if step.kind is None:
            layer_weights = [np.asarray(w) for w in layer.get_weights()]
            if step.channels is not None:  # a BatchNormalization: every weight is per channel
                layer_weights = [w[step.channels] for w in layer_weights]
        else:
            kernel = np.asarray(kernels[layer.name], np.float32)
            bias = np.asarray(layer.bias.numpy(), np.float32).copy() if layer.use_bias else None
            if step.in_alive is not None:
                dead = ~step.in_alive
                on_dead = np.take(kernel, np.flatnonzero(dead), axis=kernel.ndim - 2)
                folded = np.tensordot(step.in_const[dead], np.moveaxis(on_dead, -2, 0), axes=(0, 0))
                folded = folded.reshape(-1, kernel.shape[-1]).sum(axis=0)  # sum over kernel positions
                if np.any(folded != 0):
                    if bias is None:
                        raise CompactionError(
                            f"{layer.name} has no bias to absorb the constant output of the dead units before it."
                        )
                    bias += folded.astype(np.float32)
                kernel = np.take(kernel, np.flatnonzero(step.in_alive), axis=kernel.ndim - 2)
            if not step.alive.any():
                raise CompactionError(f"Every unit of {layer.name} is pruned; a compacted layer needs at least one.")
            keep = np.flatnonzero(step.alive)
            kernel = np.ascontiguousarray(kernel[..., keep])
            layer_weights = [kernel] if bias is None else [kernel, bias[keep]]
            config["units" if step.kind == "Dense" else "filters"] = int(len(keep))
            report.append(
                CompactedLayer(
                    layer.name,
                    int(layer.kernel.shape[-1]),
                    int(len(keep)),
                    tuple(layer.kernel.shape),
                    tuple(kernel.shape),
                )
            )
        try:
            new_layers.append(type(layer).from_config(config))
        except Exception as exc:  # custom layers without a faithful config
            raise CompactionError(f"{layer.name} cannot be rebuilt from its config ({type(exc).__name__}).") from exc
        weights.append(layer_weights)
    compact = keras.Sequential(
        [keras.Input(tuple(model.inputs[0].shape[1:])), *new_layers], name=f"{model.name}_compact"
    )
    for layer, layer_weights in zip(new_layers, weights):
        layer.set_weights(layer_weights)
    return Compaction(compact, report, _parameters(model), _parameters(compact))


def _parameters(model) -> int:
    return int(sum(int(np.prod(w.shape)) for w in model.weights))


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
    """Why the opened model cannot be written as a .keras file at all, or None."""
    if opened.loaded.keras_model is None:
        return (
            f"{opened.loaded.path.name} is a bare TensorFlow SavedModel; only Keras models "
            "can be written back as .keras files."
        )
    return None


def compaction_problem(opened, method: str) -> str | None:
    """Why a compacted export cannot work for the opened model with ``method``, or None.

    Looks at the layers only (no TensorFlow computation, so a window can ask before any dialog).
    A layer other than an activation, pooling, dropout or Flatten between two prunable layers
    would have to drop the inputs of pruned units, which prune-viz cannot do; whether a zero-padded
    convolution can absorb a dead unit's constant output depends on the pruning and is found at export.
    """
    problem = export_problem(opened)
    if problem is not None:
        return problem
    if method != "unit":
        return (
            "Compaction removes whole units, so it needs unit pruning (Pruning > Unit pruning); weight "
            "pruning keeps every matrix's shape, so export it with zeros in place."
        )
    model = opened.loaded.keras_model
    try:
        layers = _chain_layers(model)
    except CompactionError as exc:
        return str(exc)
    prunable = [i for i, layer in enumerate(layers) if _kind(layer)]
    if not prunable:
        return "The model has no Dense or Conv layer whose units could be removed."
    for layer in layers[prunable[0] : prunable[-1]]:
        name = _class_name(layer)
        if _kind(layer):
            if getattr(layer, "data_format", "channels_last") != "channels_last":
                return f"{layer.name} uses channels_first; only channels_last can be compacted."
        elif name not in _PASS_THROUGH | _ELEMENTWISE | {"Flatten"}:
            return (
                f"A {name} layer ({layer.name}) sits between prunable layers; prune-viz can compact chains of "
                "Dense/Conv layers with activations, pooling, dropout and Flatten between them."
            )
    return None


def _require_keras(opened) -> None:
    problem = export_problem(opened)
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
    """
    from prune_viz.core.io import save_keras_with_metadata

    task = task or quiet()
    _require_keras(opened)
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
        try:
            coupling = dead_unit_coupling(model, kernels)
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
    parameters = _parameters(model)
    zeros = result.prunable_zeros + (parameters - result.prunable_size - _nonzero_outside(model, opened.layers))
    return SizeSpeedReport(
        config=config,
        rows=rows,
        parameters=parameters,
        nonzero_parameters=parameters - zeros,
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
