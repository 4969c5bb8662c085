"""Exact evaluation over the whole test set, with the metric that fits the model (``core.metrics``).

The forward pass is one ``tf.function`` traced once per input layout (fixed batch shape, the last
batch padded), not ``model.predict``; it reads the model's variables, so pruned kernels written by
``Pruner.apply`` take effect without retracing. Each of the model's outputs comes back flattened to
(batch, numbers).

An Evaluator is built on the original weights: it chooses the input scaling ("auto"), keeps the
unpruned outputs as the *reference* (what agreement is measured against when the data has no
labels, and what the unpruned baseline is), and says what looks wrong about the data
(``data_warnings``: e.g. unpruned accuracy near chance). Inputs small enough are converted to
tensors once; inputs too large to hold twice in memory are scaled batch by batch from the raw data.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace

import numpy as np

from prune_viz.core.data import Dataset
from prune_viz.core.errors import clipped_words
from prune_viz.core.inputs import (
    IMAGE_CANDIDATES,
    MNIST_CANDIDATES,
    NUM_CLASSES,
    PREPROCESSING,
    EvaluationUnavailable,
    InputLayout,
    arrange,
    channel_stats,
    class_count_problem,
    conform,
    embedding_vocabulary,
    layout_for_data,
    preprocess,
    wrong_class_count,
)
from prune_viz.core.io import LoadedModel
from prune_viz.core.metrics import (
    SCORE_NAMES,
    Head,
    LabelMismatch,
    classification,
    head_metrics,
    head_task,
    public,
)
from prune_viz.core.metrics import score as task_score
from prune_viz.core.output_pictures import OutputStrip, output_strip, picture_shape
from prune_viz.core.tasks import TaskState, quiet

DEFAULT_BATCH = 2500  # quiet machine, `prune-viz bench`: fc-1000 107 vs 113 ms at 1000, LeNet-300-100 22.8 vs 26.1 ms
# A small model runs the whole test set as one batch (LeNet-300-100: 19 vs 23 ms at 2500): it takes a
# few tens of ms, so progress and Cancel lose nothing, and its activations stay small.
SMALL_MODEL_PARAMETERS = 1_000_000
SMALL_MODEL_ACTIVATIONS = 4096  # floats per image over all layer outputs
AUTO_SAMPLE = 1000
MEMORY_BUDGET: int | None = None  # bytes the scaled inputs may take twice; None: the memory free now
CHANCE_MARGIN = 0.2  # accuracy within this share of the way from chance to 100% is "near chance"


class FlipsUnavailable(EvaluationUnavailable):
    """The model gives no class answers on this data (regression), so no sample can flip; one sentence."""


@dataclass
class EvaluationResult:
    accuracy: float  # classification and binary; NaN for other tasks (see ``score``)
    loss: float
    correct: int
    total: int
    per_class_accuracy: np.ndarray  # (classes,)
    confusion: np.ndarray  # (classes, classes) rows = true label, columns = predicted
    preprocessing: str  # the mode actually used
    seconds: float = 0.0
    label: str = ""  # free text, e.g. the pruning config it was computed for
    extra: dict = field(default_factory=dict)
    predicted: np.ndarray | None = None  # (n,): the class predicted for each test sample
    task: str = "classification"  # core.metrics.TASKS
    metrics: dict = field(default_factory=dict)  # JSON-ready numbers; per output for multi-output
    warnings: list = field(default_factory=list)  # sentences: what looks wrong about the data
    score: float = float("nan")  # the task's one higher-is-better number (1.0 perfect)
    score_name: str = "accuracy"
    class_names: tuple | None = None
    agreement: dict | None = None  # without labels: agreement with the unpruned model
    scaling_evidence: dict = field(default_factory=dict)  # how "auto" chose the input scaling
    output_strip: OutputStrip | None = None  # a picture output by agreement: first samples, unpruned and now

    def as_dict(self) -> dict:
        return {
            "accuracy": self.accuracy,
            "loss": self.loss,
            "correct": self.correct,
            "total": self.total,
            "per_class_accuracy": [round(float(a), 6) for a in self.per_class_accuracy],
            "preprocessing": self.preprocessing,
            "seconds": round(self.seconds, 4),
            "task": self.task,
            "metrics": self.metrics,
            "score": None if np.isnan(self.score) else round(self.score, 6),
            "score_name": self.score_name,
            "warnings": list(self.warnings),
        }


def default_batch_size(loaded: LoadedModel, images: int) -> int:
    """All ``images`` in one batch for a small Keras model, else DEFAULT_BATCH."""
    model = loaded.keras_model
    if model is None:
        return DEFAULT_BATCH
    try:
        parameters = sum(int(np.prod(w.shape)) for w in model.weights)
        activations = sum(int(np.prod(layer.output.shape[1:])) for layer in model.layers)
    except Exception:  # a layer without a symbolic output (subclassed models): no estimate
        return DEFAULT_BATCH
    if parameters <= SMALL_MODEL_PARAMETERS and activations <= SMALL_MODEL_ACTIVATIONS:
        return max(DEFAULT_BATCH, images)
    return DEFAULT_BATCH


def memory_budget() -> int:
    """Bytes free for the scaled inputs (held twice: numpy and tensors)."""
    if MEMORY_BUDGET is not None:
        return MEMORY_BUDGET
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**31


def _head_names(loaded: LoadedModel, count: int) -> list[str]:
    names = list(getattr(loaded.keras_model, "output_names", None) or []) if loaded.keras_model is not None else []
    return names if len(names) == count else [f"output {i}" if count > 1 else "output" for i in range(count)]


def _output_shapes(loaded: LoadedModel, count: int) -> list[tuple]:
    """The per-sample shape of each output as the model declares it ((10,), (28, 28, 1) ...); () unknown."""
    try:
        outputs = list(loaded.keras_model.outputs) if loaded.keras_model is not None else []
    except Exception:  # a subclassed model never built
        outputs = []
    if len(outputs) != count:
        return [()] * count
    return [tuple(output.shape[1:]) for output in outputs]


class Evaluator:
    """Evaluates one model on one test set; build it once (on the original weights), call ``run``
    per pruning state."""

    def __init__(
        self,
        loaded: LoadedModel,
        data: Dataset,
        preprocessing: str = "auto",
        batch_size: int | None = None,
        task: TaskState | None = None,
    ):
        import tensorflow as tf

        if preprocessing not in PREPROCESSING:
            raise ValueError(f"preprocessing must be one of {', '.join(PREPROCESSING)}")
        task = task or quiet()
        self._tf = tf
        self.loaded = loaded
        self.data = data
        self.layout: InputLayout = layout_for_data(loaded.input_shape, data, embedding_vocabulary(loaded))
        self.raw = conform(data.x_test, self.layout)
        self.is_images = data.kind == "images"
        batch_size = batch_size or default_batch_size(loaded, len(self.raw))
        self.batch_size = self.layout.fixed_batch or min(batch_size, len(self.raw))
        self._stats = None
        self._forward = self._compile()
        self._check_outputs()
        self.requested_preprocessing = preprocessing
        self.scaling_evidence: dict = {}
        if not self.is_images:
            self.preprocessing = "none"
            self.scaling_evidence = {"reason": f"{data.name} is not images, so it is fed as it is"}
        elif preprocessing == "auto":
            self.preprocessing = self._choose_preprocessing()
        else:
            self.preprocessing = preprocessing
        sample_bytes = int(np.prod(self.layout.feature_shape)) * 4
        self.streaming = 2 * sample_bytes * len(self.raw) > memory_budget()
        self._inputs = None if self.streaming else self.feed(self.raw)
        # converted to tensors once: on a small model the per-run conversion was a quarter of the time
        self._input_batches = None if self.streaming else [(tf.constant(c), n) for c, n in self._batches(self._inputs)]
        self._forward_few = None  # traced on the first ``probabilities`` call
        self.reference_outputs = None
        started = time.perf_counter()
        self.reference_outputs = self._outputs(task)
        self.reference = self._summarise(self.reference_outputs, time.perf_counter() - started, "unpruned")
        self.data_warnings = self._warnings(self.reference)
        self.reference.warnings = list(self.data_warnings)

    # -- inputs -----------------------------------------------------------------------------------
    def feed(self, raw: np.ndarray) -> np.ndarray:
        """Raw samples of the data (as ``data.x_test`` holds them) as this model is fed them."""
        return self._feed_mode(conform(raw, self.layout), self.preprocessing)

    def _feed_mode(self, raw: np.ndarray, mode: str) -> np.ndarray:
        stats = self._standard_stats() if mode == "standard" else None
        return arrange(preprocess(raw, mode, stats) if self.is_images else raw, self.layout)

    def _standard_stats(self):
        if self._stats is None:
            source = self.data.x_train if self.data.has_training_split else self.data.x_test
            self._stats = channel_stats(source)
        return self._stats

    @property
    def outputs_are_probabilities(self) -> bool:
        return self.heads[0].probabilities

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """(n, classes) class probabilities of a few raw samples (e.g. uint8 28x28 images), scaled like the test set.

        A separate forward pass with a free batch size (padded to the model's fixed one if it has
        one), so one drawn digit does not pay for a whole test-set batch.
        """
        tf = self._tf
        images = np.asarray(images)
        if self.is_images:
            images = images.astype(np.uint8).reshape((-1,) + self.raw.shape[1:])
        x = self.feed(images)
        n = len(x)
        if self.layout.fixed_batch:
            x = np.concatenate([x, np.zeros((self.layout.fixed_batch - n,) + x.shape[1:], x.dtype)])
        if self._forward_few is None:
            model = self.loaded
            spec = tf.TensorSpec((self.layout.fixed_batch,) + self.layout.feature_shape, self.layout.dtype)

            @tf.function(input_signature=[spec])
            def forward_few(batch):
                out = tf.nest.flatten(model(batch))[0]
                return tf.reshape(tf.cast(out, tf.float32), (tf.shape(batch)[0], -1))

            self._forward_few = forward_few
        scores = self._forward_few(tf.constant(x)).numpy()[:n].astype(np.float64)
        if scores.shape[1] == 1:  # one sigmoid: the two classes' probabilities
            p = scores[:, 0] if self.outputs_are_probabilities else 1 / (1 + np.exp(-scores[:, 0]))
            return np.stack([1 - p, p], axis=1)
        return as_probabilities(scores, self.outputs_are_probabilities)

    def _compile(self):
        tf = self._tf
        model = self.loaded
        spec = tf.TensorSpec((self.batch_size,) + self.layout.feature_shape, self.layout.dtype)

        @tf.function(input_signature=[spec], reduce_retracing=True)
        def forward(x):
            return tuple(tf.reshape(tf.cast(o, tf.float32), (tf.shape(x)[0], -1)) for o in tf.nest.flatten(model(x)))

        return forward

    def _batches(self, x: np.ndarray):
        """Yield (padded batch, real count) with every batch exactly batch_size long."""
        b = self.batch_size
        for start in range(0, len(x), b):
            chunk = x[start : start + b]
            n = len(chunk)
            if n < b:
                chunk = np.concatenate([chunk, np.zeros((b - n,) + chunk.shape[1:], chunk.dtype)])
            yield chunk, n

    def _streamed_batches(self):
        """Scaled batches made from the raw data one at a time (data too large to hold scaled)."""
        for chunk, n in self._batches(self.raw):
            yield self._tf.constant(self._feed_mode(chunk, self.preprocessing)), n

    def _predict(self, x: np.ndarray, task: TaskState) -> list[np.ndarray]:
        return self._predict_batches(self._batches(x), len(x), task)

    def _predict_batches(self, batches, total: int, task: TaskState) -> list[np.ndarray]:
        outputs = []
        done = 0
        what = "images" if self.is_images else "samples"
        for chunk, n in batches:
            task.check()
            outputs.append([o.numpy()[:n] for o in self._forward(chunk)])
            done += n
            task.progress(done / total, f"{done:,} / {total:,} {what}")
        return [np.concatenate(parts) for parts in zip(*outputs)]

    def _outputs(self, task: TaskState) -> list[np.ndarray]:
        batches = self._streamed_batches() if self.streaming else self._input_batches
        return self._predict_batches(batches, len(self.raw), task)

    # -- what the outputs are ---------------------------------------------------------------------
    def _head_labels(self, count: int) -> list:
        y = self.data.y_test
        if y is None:
            return [None] * count
        heads = list(y) if isinstance(y, tuple) else [y]
        if len(heads) != count:
            raise LabelMismatch(
                f"The model has {count} outputs but {self.data.name} has labels for {len(heads)}; "
                f"give one label array per output (y_test_0, y_test_1, ...)."
            )
        return heads

    def _check_outputs(self) -> None:
        sample = self._feed_mode(self.raw[: self.batch_size], "scale")
        what = "MNIST-shaped input" if self.data.is_mnist else f"{self.data.name}"
        try:
            outputs = [o.numpy() for o in self._forward(sample[: self.batch_size])]
        except Exception as exc:
            raise EvaluationUnavailable(
                f"The model could not run on {what} ({type(exc).__name__}: {clipped_words(exc, 160)})."
            ) from exc
        if not all(np.all(np.isfinite(out)) for out in outputs):
            broken = self.loaded.non_finite_weights()
            if broken:
                where = ", ".join(f"{layer}: {count:,}" for layer, count in broken.items())
                raise EvaluationUnavailable(
                    f"The model's outputs are not numbers because it has NaN or infinite weights ({where}), "
                    "so its accuracy cannot be measured."
                )
        if self.data.is_mnist and (len(outputs) != 1 or outputs[0].shape[1] != NUM_CLASSES):
            width = sum(o.shape[1] for o in outputs)
            raise EvaluationUnavailable(class_count_problem(width, self.data) or wrong_class_count(width))
        names = _head_names(self.loaded, len(outputs))
        labels = self._head_labels(len(outputs))
        self.heads: list[Head] = []
        shapes = _output_shapes(self.loaded, len(outputs))
        self.picture_output: tuple[int, tuple[int, ...]] | None = None  # (head, picture shape) of the strip
        for index, (name, out, y, shape) in enumerate(zip(names, outputs, labels, shapes)):
            head = head_task(name, out, y, self.data.name, class_scores=len(shape) <= 1)
            if head.task == "classification" and (problem := class_count_problem(head.width, self.data)):
                raise EvaluationUnavailable(problem)
            self.heads.append(head)
            picture = picture_shape(shape)
            if head.task == "agreement" and picture and self.picture_output is None and np.prod(picture) == head.width:
                self.picture_output = (index, picture)
        self.head_labels = labels
        self.task = self.heads[0].task if len(self.heads) == 1 else "multi-output"

    def _choose_preprocessing(self) -> str:
        """The mode with the lowest loss on a sample (cross-entropy for classes): accuracy alone cannot tell
        /255 from raw pixels for a ReLU net (argmax barely moves), the loss can. Without labels: the
        mode whose class scores are most confident (lowest mean entropy)."""
        n = min(AUTO_SAMPLE, len(self.raw))
        candidates = MNIST_CANDIDATES if self.data.is_mnist else IMAGE_CANDIDATES
        labelled = self.data.has_labels
        if not labelled and not any(h.width > 1 for h in self.heads):
            self.scaling_evidence = {"reason": "no labels and no class scores to judge by: the most common scaling"}
            return "scale"
        losses, accuracies = {}, {}
        for mode in candidates:  # ties keep the earlier, more common mode
            outputs = self._predict(self._feed_mode(self.raw[:n], mode), quiet())
            if labelled:
                loss, accuracy = 0.0, []
                for head, out, y in zip(self.heads, outputs, self.head_labels):
                    found = head_metrics(head, out, y[:n], None)
                    loss += found["loss"]
                    if "accuracy" in found:
                        accuracy.append(found["accuracy"])
                losses[mode] = loss
                if accuracy:
                    accuracies[mode] = float(np.mean(accuracy))
            else:
                probs = [as_probabilities(o, h.probabilities) for h, o in zip(self.heads, outputs) if h.width > 1]
                entropies = [np.mean(-np.sum(p * np.log(np.clip(p, 1e-12, 1)), axis=1)) for p in probs]
                losses[mode] = float(np.mean(entropies))
        finite = {m: v for m, v in losses.items() if np.isfinite(v)}
        best = min(finite, key=lambda m: (finite[m], candidates.index(m))) if finite else "scale"
        judged = "loss" if labelled else "mean entropy of the predictions (no labels)"
        self.scaling_evidence = {
            "chosen_by": f"lowest {judged} on the first {n:,} test samples, with the unpruned weights",
            "loss" if labelled else "entropy": {m: _rounded(v) for m, v in losses.items()},
            **({"accuracy": {m: _rounded(v) for m, v in accuracies.items()}} if accuracies else {}),
        }
        return best

    # -- results ----------------------------------------------------------------------------------
    def run(self, task: TaskState | None = None, label: str = "", *, unpruned: bool = False) -> EvaluationResult:
        """Evaluate the model as its variables are now. ``unpruned``: the caller vouches the weights
        are the originals, so the reference pass made when the evaluator was built is returned."""
        if unpruned:
            return replace(self.reference, label=label, warnings=list(self.data_warnings))
        task = task or quiet()
        start = time.perf_counter()
        outputs = self._outputs(task)
        seconds = time.perf_counter() - start
        return self._summarise(outputs, seconds, label)

    def _summarise(self, outputs: list[np.ndarray], seconds: float, label: str) -> EvaluationResult:
        references = self.reference_outputs or [None] * len(outputs)
        found = [
            head_metrics(head, out, y, ref if ref is not None else out)
            for head, out, y, ref in zip(self.heads, outputs, self.head_labels, references)
        ]
        first = found[0]
        single = len(found) == 1
        scores = [task_score(h.task, m) for h, m in zip(self.heads, found)]
        classes = first.get("per_class_accuracy")
        predicted = next((m["predicted"] for m in found if "predicted" in m), None)
        if predicted is not None:
            predicted = predicted.astype(np.uint8 if predicted.max(initial=0) < 256 else np.int32)
        metrics = public(first) if single else {h.name: public(m) for h, m in zip(self.heads, found)}
        agreement = None
        if not self.data.has_labels:
            agreement = metrics
        accuracy = first["accuracy"] if single and "accuracy" in first else float("nan")
        strip = None
        if self.picture_output is not None:
            index, shape = self.picture_output
            reference = references[index] if references[index] is not None else outputs[index]
            strip = output_strip(self.heads[index].name, outputs[index], reference, shape)
        return EvaluationResult(
            accuracy=accuracy,
            loss=float(sum(m["loss"] for m in found)),
            correct=int(first.get("correct", 0)) if single else 0,
            total=int(len(self.raw)),
            per_class_accuracy=classes if classes is not None and single else np.zeros(0),
            confusion=first["confusion"] if "confusion" in first and single else np.zeros((0, 0), np.int64),
            preprocessing=self.preprocessing,
            seconds=seconds,
            label=label,
            predicted=predicted,
            task=self.task,
            metrics=metrics,
            warnings=list(getattr(self, "data_warnings", [])),
            score=float(np.mean(scores)),
            score_name=SCORE_NAMES[self.task],
            class_names=self.data.class_names,
            agreement=agreement,
            scaling_evidence=self.scaling_evidence,
            output_strip=strip,
        )

    def _warnings(self, result: EvaluationResult) -> list[str]:
        """Sentences on what looks wrong about the data, from the unpruned model's results on it."""
        out = []
        name = self.data.name
        for head, y in zip(self.heads, self.head_labels):
            if head.task not in ("classification", "binary") or y is None:
                continue
            labels = np.asarray(y).reshape(len(y), -1)
            labels = np.argmax(labels, axis=1) if labels.shape[1] > 1 else labels[:, 0].astype(np.int64)
            counts = np.bincount(labels.astype(np.int64))
            chance = max(1.0 / max(np.count_nonzero(counts), 1), counts.max() / len(labels))
            accuracy = (
                result.accuracy
                if len(self.heads) == 1
                else result.metrics.get(head.name, {}).get("accuracy", float("nan"))
            )
            if accuracy is not None and accuracy <= chance + CHANCE_MARGIN * (1 - chance):
                out.append(
                    f"The unpruned model's accuracy on {name} is {accuracy * 100:.2f}%, near chance "
                    f"({chance * 100:.1f}%): the data may not be what the model was trained on, or its input "
                    "scaling may be wrong."
                )
            names = self.data.class_names
            if head.task == "classification" and names and len(names) != head.width:
                out.append(
                    f"{name} names {len(names)} classes but the model has {head.width} outputs; "
                    "its labels are read as output numbers."
                )
        if self.task == "regression" and result.metrics.get("r2") is not None and result.metrics["r2"] < 0:
            out.append(
                f"The unpruned model's R² on {name} is {result.metrics['r2']:.3f}, worse than always predicting "
                "the mean: the data may not be what the model was trained on."
            )
        return out

    def describe_scaling(self) -> str:
        """The input scaling used and why, in one line (core.metric_words.describe_scaling)."""
        from prune_viz.core.metric_words import describe_scaling

        return describe_scaling(self.preprocessing, self.scaling_evidence, self.requested_preprocessing)


def _rounded(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 6)


def as_probabilities(scores: np.ndarray, are_probabilities: bool) -> np.ndarray:
    """Rows that sum to 1: the model's own probabilities, or a softmax of its logits."""
    scores = np.asarray(scores, dtype=np.float64)
    if are_probabilities:
        probs = np.clip(scores, 0.0, None)
        return probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def summarise(
    scores: np.ndarray,
    labels: np.ndarray,
    are_probabilities: bool,
    preprocessing: str,
    seconds: float = 0.0,
    label: str = "",
) -> EvaluationResult:
    """Accuracy, loss, per-class accuracy and confusion matrix of a classifier from raw model outputs."""
    found = classification(scores, labels, are_probabilities)
    return EvaluationResult(
        accuracy=found["accuracy"],
        loss=found["loss"],
        correct=found["correct"],
        total=found["total"],
        per_class_accuracy=found["per_class_accuracy"],
        confusion=found["confusion"],
        preprocessing=preprocessing,
        seconds=seconds,
        label=label,
        predicted=found["predicted"].astype(np.uint8),
        metrics=public(found),
        score=found["accuracy"],
    )
