"""The one evented state the GUI drives: model, pruning settings, masks and results.

Threading contract: ``open_model``, ``evaluate`` and other ``*_job`` style
methods do TensorFlow work and may run in a worker thread; they hold the one
TensorFlow job lock (core.tasks) while they run, return values and do not emit. Everything that changes state and emits
(``set_model``, ``configure``, ``record_evaluation`` ...) is called from the
thread that owns the session (the GUI thread, or the CLI's only thread).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from psygnal import Signal

from prune_viz.core.criteria import TaylorScores, taylor_scores
from prune_viz.core.data import Dataset, load_data
from prune_viz.core.evaluation import EvaluationResult, Evaluator
from prune_viz.core.inputs import STILL_WORKS, EvaluationUnavailable, data_problem, evaluation_problem, fit_for
from prune_viz.core.io import LoadedModel, OpenOptions, load_model
from prune_viz.core.layers import PrunableLayer, WeightShare, find_prunable_layers, model_parameter_count, weight_share
from prune_viz.core.non_finite import NonFinite, count_non_finite, non_finite_notes
from prune_viz.core.patterns import block_text, nm_text
from prune_viz.core.pruning import Pruner, PruneResult, PruningConfig
from prune_viz.core.tasks import TaskState, quiet, tensorflow_job
from prune_viz.core.tf_runtime import import_tensorflow


@dataclass
class OpenedModel:
    """A loaded model with its prunable layers and a ready Pruner (built off the GUI thread)."""

    loaded: LoadedModel
    layers: list[PrunableLayer]
    pruner: Pruner
    total_parameters: int
    other_zeros: int  # zeros among the weights that are not prunable kernels (biases, norms...)
    _non_finite: list[NonFinite] | None = field(default=None, repr=False)  # (non_finite_tensors)
    _share: WeightShare | None = field(default=None, repr=False)  # (share): the layers never change

    @property
    def non_finite_tensors(self) -> list[NonFinite]:
        """The prunable tensors holding NaN or infinite weights (by tensor name), in model order."""
        if self._non_finite is None:
            self._non_finite = (
                [found for layer in self.layers if (found := count_non_finite(layer.name, [layer.original]))]
                if self.loaded.non_finite_variables()  # counted when the model was loaded: most models have none
                else []
            )
        return self._non_finite

    @property
    def non_finite_notes(self) -> list[str]:
        """What the user is told about the model's NaN or infinite weights (none if it has none)."""
        return non_finite_notes(self.loaded.non_finite_variables())

    @property
    def share(self) -> WeightShare:
        """The share of the model's weight-matrix entries it shows and prunes, and what it leaves out."""
        if self._share is None:
            self._share = weight_share(self.loaded, self.layers)
        return self._share

    @property
    def default_included(self) -> frozenset[str]:
        return frozenset(layer.name for layer in self.layers if not layer.is_output)

    @property
    def evaluation_problem(self) -> str | None:
        """Why this model cannot be evaluated on MNIST (one sentence, e.g. a 224x224x3 input, 26
        outputs, or a model opened from its weights only), or None."""
        if self.loaded.weights_only:
            return f"{self.loaded.weights_only_sentence} {STILL_WORKS}"
        return evaluation_problem(self.loaded.input_shape, self.loaded.output_shape)

    def problem_with(self, data: Dataset | None) -> str | None:
        """Why this model cannot be evaluated on ``data`` as far as shapes tell (None: on the default
        MNIST test set), or None."""
        if data is None or self.loaded.weights_only:  # a model not rebuilt cannot run on any data
            return self.evaluation_problem
        return data_problem(self.loaded, data)

    @property
    def data_fit(self):
        """What the model takes (core.data.DataFit), for readers that shape data to it."""
        return fit_for(self.loaded)

    def evaluator_on(self, data: Dataset, preprocessing: str = "auto", task: TaskState | None = None) -> Evaluator:
        """An Evaluator of this model on ``data``, built on the original weights: "auto"
        preprocessing is chosen, and the reference outputs taken, from the unpruned model (only
        from the TF job thread)."""
        self.pruner.restore()
        return Evaluator(self.loaded, data, preprocessing, task=task)


@tensorflow_job()
def open_model(
    path: str | os.PathLike, task: TaskState | None = None, options: OpenOptions | None = None
) -> OpenedModel:
    """Load ``path`` and prepare its pruner; safe to call from a worker thread. ``options``: the
    custom objects file to rebuild the model with, and whether Lambda layers may run."""
    task = task or quiet()
    task.progress(0.05, "Loading TensorFlow")
    import_tensorflow()  # the slow step, reported on its own

    task.progress(0.3, f"Reading {Path(path).name}")
    loaded = load_model(path, options)
    task.progress(0.7, "Finding prunable layers")
    layers = find_prunable_layers(loaded)
    pruner = Pruner(layers)
    task.progress(0.85, "Ranking weights")
    for layer in layers:  # warm the per-layer ranks so the first slider move is instant
        pruner.prepare(layer.name)
    total = model_parameter_count(loaded)
    opened = OpenedModel(loaded, layers, pruner, total, _zeros_outside_kernels(loaded, layers))
    _ = opened.non_finite_tensors  # counted here, off the GUI thread
    task.progress(1.0, "Ready")
    return opened


def _zeros_outside_kernels(loaded: LoadedModel, layers: list[PrunableLayer]) -> int:
    import numpy as np

    kernels = {id(layer.variable) for layer in layers}
    variables = loaded.variables
    zeros = 0
    for var in variables:
        inner = getattr(var, "value", var)
        if id(inner) in kernels or id(var) in kernels:
            continue
        zeros += int(np.count_nonzero(np.asarray(var.numpy()) == 0))
    return zeros


@dataclass(frozen=True)
class ResultKey:
    """What a result was computed for; the result is current while the Session's key is the same."""

    model: int  # the Session's serial number of the opened model (ids of freed objects are reused)
    config: PruningConfig
    data_path: str | None
    preprocessing: str


CONFIG_FIELDS = ("method", "k", "scope", "included", "criterion", "unit_mode", "seed", "nm", "block", "layer_k")


def describe_change(old: PruningConfig, new: PruningConfig, fields: tuple[str, ...] = CONFIG_FIELDS) -> str:
    """What differs between two pruning settings, e.g. 'k changed (20% -> 70%)'."""
    changes = []
    if "k" in fields and old.k != new.k:
        changes.append(f"k changed ({old.k:g}% -> {new.k:g}%)")
    if "method" in fields and old.method != new.method:
        changes.append(f"the method changed ({old.method} -> {new.method})")
    if "scope" in fields and old.scope != new.scope:
        changes.append(f"the scope changed ({old.scope} -> {new.scope})")
    if "included" in fields and old.included != new.included:
        changes.append("the included layers changed")
    if "criterion" in fields and old.criterion != new.criterion:
        changes.append(f"the criterion changed ({old.criterion} -> {new.criterion})")
    if "unit_mode" in fields and old.unit_mode != new.unit_mode and "unit" in (old.method, new.method):
        changes.append(f"the unit mode changed ({old.unit_mode} -> {new.unit_mode})")
    if "seed" in fields and old.seed != new.seed and "random" in (old.criterion, new.criterion):
        changes.append(f"the random seed changed ({old.seed} -> {new.seed})")
    if "nm" in fields and old.nm != new.nm and "nm" in (old.method, new.method):
        changes.append(f"the N:M pattern changed ({nm_text(old.nm)} -> {nm_text(new.nm)})")
    if "block" in fields and old.block != new.block and "block" in (old.method, new.method):
        changes.append(f"the block changed ({block_text(old.block)} -> {block_text(new.block)})")
    if "layer_k" in fields and old.layer_k != new.layer_k:
        changes.append("the per-layer ks changed")
    return ", ".join(changes)


@dataclass
class EvaluationRecord:
    key: ResultKey
    config: PruningConfig
    result: EvaluationResult
    sparsity: float  # of the included layers, as pruned for this evaluation
    sparsity_all: float  # of all the model's weights, biases and other non-prunable ones included
    data_source: str
    train_description: str
    data_description: str = ""  # what was read: name, samples, shape, classes (Dataset.description)


class Session:
    model_changed = Signal(object)  # OpenedModel | None
    config_changed = Signal(object)  # PruningConfig
    pruning_changed = Signal(object)  # PruneResult
    evaluation_changed = Signal(object)  # EvaluationRecord | None
    data_changed = Signal()  # data path or preprocessing changed

    def __init__(self, data_path: str | None = None, preprocessing: str = "auto"):
        self.model: OpenedModel | None = None
        self.config = PruningConfig()
        self.result: PruneResult | None = None
        self.last_evaluation: EvaluationRecord | None = None
        self.history: list[EvaluationRecord] = []
        self.data_path = data_path
        self.preprocessing = preprocessing
        self._evaluator: Evaluator | None = None
        self._evaluator_key: tuple | None = None
        self._baselines: dict[tuple, EvaluationRecord] = {}
        self._model_serials = itertools.count(1)
        self.model_serial = 0  # 0: no model opened yet
        self._taylor_key: tuple | None = None  # (model serial, data path, preprocessing) of the Taylor scores
        self.open_options = OpenOptions()  # how models are opened: custom objects file, Lambda layers allowed
        self._data: dict[tuple, Dataset] = {}  # (source, the model's DataFit, training) -> data read for it

    # -- state changes (owner thread) -----------------------------------------------------------
    def set_model(self, opened: OpenedModel | None) -> None:
        self.model = opened
        self.model_serial = next(self._model_serials)
        self.result = None
        self.last_evaluation = None
        self.history = []
        self._evaluator = None
        self._evaluator_key = None
        self._baselines = {}
        self._taylor_key = None
        self.model_changed.emit(opened)
        if opened is not None:
            self.configure(k=0.0, included=opened.default_included, layer_k={})  # the last model's own ks go

    def configure(self, **changes) -> PruneResult | None:
        """Change any of the PruningConfig fields (method, k, scope, included, criterion, unit_mode,
        seed, layer_k); recompute the masks (TF ops) and emit. Taylor scores must be ready (``taylor``)."""
        config = replace(self.config, **changes)
        if self.model is not None:
            config = replace(config, included=frozenset(self.model.pruner.check_included(config.included)))
        changed = config != self.config
        self.config = config
        if changed:
            self.config_changed.emit(config)
        if self.model is None:
            return None
        if changed or self.result is None:
            self.result = self.model.pruner.prune(config)
            self.pruning_changed.emit(self.result)
        return self.result

    def reset(self) -> None:
        """Back to the original weights: k = 0 (N:M, which has no k, becomes weight pruning at k = 0)."""
        self.configure(method=self.config.unpruned().method, k=0.0)

    def set_data(self, data_path: str | None = None, preprocessing: str | None = None) -> None:
        if data_path is not None:
            self.data_path = data_path or None
        if preprocessing is not None:
            self.preprocessing = preprocessing
        self._data = {key: data for key, data in self._data.items() if key[0] == self.data_path}
        self._evaluator = None
        self._evaluator_key = None
        self.data_changed.emit()

    def record_evaluation(self, record: EvaluationRecord) -> None:
        """Keep a finished evaluation; emits even when it is stale, so views can grey it."""
        self.history.append(record)
        self.last_evaluation = record
        self.evaluation_changed.emit(record)

    # -- staleness: the one rule every view asks -------------------------------------------------
    def result_key(self, config: PruningConfig | None = None) -> ResultKey:
        """The key of a result computed now, for ``config`` (default: the current settings)."""
        return ResultKey(self.model_serial, config or self.config, self.data_path, self.preprocessing)

    def why_stale(
        self,
        result: ResultKey | EvaluationRecord | None,
        what: str = "evaluation",
        fields: tuple[str, ...] = CONFIG_FIELDS,
    ) -> str | None:
        """None while ``result`` (a ResultKey, or anything carrying one as ``.key``) is current,
        else the one sentence a view shows. ``fields``: the pruning settings the result depends on
        (a sweep, for one, does not depend on k)."""
        if result is None:
            return None
        key = result if isinstance(result, ResultKey) else result.key
        if key.model != self.model_serial:
            return f"Another model was opened since this {what}."
        settings = describe_change(key.config, self.config, fields)
        data = (key.data_path, key.preprocessing) != (self.data_path, self.preprocessing)
        if not settings and not data:
            return None
        what_changed = " and ".join(
            (["the pruning settings"] if settings else []) + (["the test data or its input scaling"] if data else [])
        )
        sentence = f"{what_changed} changed since this {what}" + (f": {settings}." if settings else ".")
        return sentence[0].upper() + sentence[1:]

    def is_current(self, result: ResultKey | EvaluationRecord | None) -> bool:
        return result is not None and self.why_stale(result) is None

    # -- derived numbers ------------------------------------------------------------------------
    def all_weights_sparsity(self, result: PruneResult | None = None) -> float:
        """Zeros among all the model's weights (prunable or not) under ``result``."""
        result = result or self.result
        if self.model is None or result is None or not self.model.total_parameters:
            return 0.0
        return (result.prunable_zeros + result.vector_entries + self.model.other_zeros) / self.model.total_parameters

    @property
    def evaluation_problem(self) -> str | None:
        """Why the open model cannot be evaluated on the chosen data at all, as far as is known before
        running it: on the default MNIST (or an MNIST folder) the model's shape says it up front
        (OpenedModel.evaluation_problem); other data says it once read (``load_data``). None without
        a model, when it can be, or when the chosen data has not been read yet."""
        if self.model is None:
            return None
        data = self.data
        if data is not None:
            return self.model.problem_with(data)
        if self.data_path is None or _names_mnist(self.data_path):
            return self.model.evaluation_problem
        return None

    @property
    def draw_problem(self) -> str | None:
        """Why a drawn 28x28 grey digit cannot be fed to the open model (its input is not 28x28 grey
        images with 10 classes, whatever the chosen data), or None."""
        if self.model is None:
            return None
        why = self.model.evaluation_problem
        return f"The pad draws 28x28 grey digits. {why}" if why else None

    @property
    def data(self) -> Dataset | None:
        """The test data of the current source as read for the open model, or None when not read yet."""
        if self.model is None:
            return None
        return self._data.get((self.data_path, self.model.data_fit, False))

    @property
    def data_to_read(self) -> bool:
        """Whether the chosen data must be read before the window can say what it is and whether the
        model can be evaluated on it: a model is open, the data is not read yet, and it is not MNIST
        (whose fit the model's shape says up front)."""
        if self.model is None or self.data is not None or self.data_path is None or _names_mnist(self.data_path):
            return False
        return not self.model.loaded.weights_only

    def load_data(self, task: TaskState | None = None, *, need_training: bool = False) -> Dataset:
        """Read the chosen data for the open model (decoded at its size, cut to its vocabulary), once
        per source; an image folder is decoded once and kept. May run on a worker thread."""
        if self.model is None:
            raise RuntimeError("no model is open")
        task = task or quiet()
        source, fit = self.data_path, self.model.data_fit
        key = (source, fit, need_training)
        if key not in self._data:
            task.progress(0.0, "Reading the data" if source else "Loading MNIST")
            data = load_data(source, need_training=need_training, fit=fit, task=task)
            self._data[key] = data
            if need_training and (source, fit, False) not in self._data:
                self._data[(source, fit, False)] = data
        return self._data[key]

    def baseline(self) -> EvaluationRecord | None:
        return self._baselines.get(self._evaluator_key) if self._evaluator_key else None

    # -- TensorFlow jobs (each holds the one TensorFlow job lock) -------------------------------
    def evaluator(self, task: TaskState | None = None) -> Evaluator:
        """Build (once per model/data/preprocessing) the evaluator; loads MNIST if needed."""
        return self._evaluator_for_now(task)[0]

    def _evaluator_for_now(self, task: TaskState | None = None) -> tuple[Evaluator, tuple]:
        """The evaluator and the (model serial, data path, preprocessing) it was built for, read once:
        the GUI thread may change the data settings meanwhile."""
        task = task or quiet()
        with tensorflow_job():
            key = (self.model_serial, self.data_path, self.preprocessing)
            if self._evaluator is None or self._evaluator_key != key:
                if self.model is None:
                    raise RuntimeError("no model is open")
                if problem := self.evaluation_problem:  # said before MNIST is looked for: no data would help
                    raise EvaluationUnavailable(problem)
                _serial, data_path, preprocessing = key
                data = self.load_data(task.sub(0.0, 0.1))
                if problem := self.model.problem_with(data):
                    raise EvaluationUnavailable(problem)
                task.progress(0.1, "Compiling the forward pass")
                self._evaluator = self.model.evaluator_on(data, preprocessing, task.sub(0.1, 1.0))
                self._evaluator_key = key
            return self._evaluator, key

    def evaluate(
        self, config: PruningConfig | None = None, task: TaskState | None = None, with_baseline: bool = True
    ) -> tuple[EvaluationRecord, EvaluationRecord | None]:
        """Evaluate ``config`` (default: the current one) and, once, the unpruned baseline.

        Writes the pruned kernels into the model for the duration and restores the originals after.
        Returns (record, baseline record or None); each carries the ResultKey it was computed for.
        """
        task = task or quiet()
        config = config or self.config
        with tensorflow_job():
            if self.model is None:
                raise RuntimeError("no model is open")
            evaluator, built_for = self._evaluator_for_now(task.sub(0.0, 0.2))
            pruner = self.model.pruner
            baseline = self._baselines.get(built_for)
            if config.criterion == "taylor":
                self.taylor(task.sub(0.0, 0.2))
            if with_baseline and baseline is None:
                unpruned = config.unpruned()
                pruner.restore()
                baseline = self._record(
                    unpruned,
                    pruner.prune(unpruned),
                    evaluator,
                    built_for,
                    task.sub(0.2, 1.0) if config.prunes_nothing else task.sub(0.2, 0.4),
                    unpruned=True,  # the evaluator's reference pass, made on the original weights
                )
                self._baselines[built_for] = baseline
                if config.prunes_nothing:
                    return baseline, baseline
            result = pruner.prune(config)
            with pruner.applied(result):
                record = self._record(
                    config, result, evaluator, built_for, task.sub(0.4 if with_baseline else 0.2, 1.0)
                )
            return record, baseline

    @property
    def taylor_ready(self) -> bool:
        """Whether the model's Taylor scores are for the current data and input scaling."""
        return self.model is not None and self._taylor_key == (self.model_serial, self.data_path, self.preprocessing)

    def taylor(self, task: TaskState | None = None) -> TaylorScores:
        """The Taylor scores of the open model on the current data's training images, computed once
        per model, data source and input scaling, and handed to the model's Pruner."""
        task = task or quiet()
        with tensorflow_job():
            if self.model is None:
                raise RuntimeError("no model is open")
            key = (self.model_serial, self.data_path, self.preprocessing)
            if self._taylor_key != key or self.model.pruner.taylor is None:
                task.progress(0.0, "Loading the training data")
                data = self.load_data(task.sub(0.0, 0.05), need_training=True)
                scores = taylor_scores(self.model, data, preprocessing=self.preprocessing, task=task.sub(0.05, 1.0))
                self.model.pruner.set_taylor_scores(scores)
                self._taylor_key = key
            return self.model.pruner.taylor

    def predict_images(self, images, configs, task: TaskState | None = None) -> list:
        """Class probabilities of a few uint8 (n, 28, 28) images under each of ``configs``.

        One (n, 10) array per config; a config with k = 0 runs on the original weights. The
        pruned kernels are written for each config in turn and the originals restored after.
        """
        task = task or quiet()
        with tensorflow_job():
            if self.model is None:
                raise RuntimeError("no model is open")
            evaluator = self.evaluator(task.sub(0.0, 0.1))
            pruner = self.model.pruner
            out = []
            for i, config in enumerate(configs):
                task.progress(0.1 + 0.9 * i / max(len(configs), 1), f"k = {config.k:g}%")
                with pruner.applied(pruner.prune(config)):
                    out.append(evaluator.probabilities(images))
            return out

    def _record(
        self,
        config: PruningConfig,
        result: PruneResult,
        evaluator: Evaluator,
        built_for: tuple,
        task: TaskState,
        unpruned: bool = False,
    ) -> EvaluationRecord:
        evaluation = evaluator.run(task, label=config.describe(), unpruned=unpruned)
        model, data_path, preprocessing = built_for
        return EvaluationRecord(
            key=ResultKey(model, config, data_path, preprocessing),
            config=config,
            result=evaluation,
            sparsity=result.included_sparsity(),
            sparsity_all=self.all_weights_sparsity(result),
            data_source=evaluator.data.source,
            train_description=evaluator.data.train_description,
            data_description=evaluator.data.description,
        )


def _names_mnist(source: str) -> bool:
    """Whether ``source`` is MNIST without reading it: the name mnist, or a folder of IDX files."""
    from prune_viz.core.data import is_idx_folder

    path = Path(source).expanduser()
    if not path.exists():
        return source.lower() == "mnist"
    return path.is_dir() and is_idx_folder(path) and "fashion" not in path.resolve().name.lower()
