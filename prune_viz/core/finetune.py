"""Fine-tune a pruned model with its masks fixed: surviving weights train, pruned ones stay exactly zero.

The mask is a Keras variable constraint on each pruned kernel. Keras's optimizer
applies constraints right after every gradient update, inside the same compiled
step, so whatever Adam's moment estimates say, a pruned weight is zero at every
forward pass and at the end. The user's model is not touched: training runs on a clone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from prune_viz.core.data import Dataset
from prune_viz.core.errors import UserError
from prune_viz.core.pruning import PruningConfig
from prune_viz.core.tasks import TaskState, quiet, tensorflow_job
from prune_viz.core.training import DEFAULT_BATCH_SIZE, FitResult, fit_keeping_best, inference_copy

DEFAULT_FINETUNE_LEARNING_RATE = 1e-4


class FinetuneError(UserError):
    """The model cannot be fine-tuned; the message is one sentence."""


@dataclass
class FinetuneResult:
    model: Any  # keras.Model: the fine-tuned clone, pruned weights exactly zero
    config: PruningConfig
    accuracy_before: float  # pruned, before fine-tuning
    loss_before: float
    accuracy_after: float
    loss_after: float
    unpruned_accuracy: float
    fit: FitResult
    pruned_weights: int  # weights held at zero by the masks
    preprocessing: str
    metadata: dict = field(default_factory=dict)


def finetune_problem(data: Dataset | None, task: str | None = None) -> str | None:
    """Why fine-tuning cannot run on ``data`` (one sentence), or None: it trains a classifier with one
    output on labelled training samples. ``task``: the model's task on the data when it is known (an
    evaluation said it). The bundled MNIST test set has no training images but they are found or
    downloaded when fine-tuning starts; None for data not read yet."""
    if data is None:
        return None
    if not data.has_labels:
        return f"Fine-tuning needs labels, and {data.name} has none."
    if not data.has_training_split and not data.is_mnist:
        return f"Fine-tuning needs a training split, and {data.name} has none."
    if task is not None and task != "classification":
        return f"Fine-tuning trains classifiers with one output; on {data.name} this model's task is {task}."
    return None


def _mask_constraint(mask: np.ndarray):
    """A keras.constraints.Constraint holding a kernel at w * mask.

    Keras 3.12 accepts only Constraint instances as a variable's constraint. It is
    removed again before the model is returned, so it is never saved with the model.
    """
    import keras

    class MaskConstraint(keras.constraints.Constraint):
        def __init__(self):
            self.mask = keras.ops.convert_to_tensor(mask.astype(np.float32))

        def __call__(self, w):
            return w * self.mask

    return MaskConstraint()


@tensorflow_job()
def finetune(
    opened,
    config: PruningConfig,
    data: Dataset,
    *,
    epochs: int,
    batch_size: int = DEFAULT_BATCH_SIZE,
    learning_rate: float = DEFAULT_FINETUNE_LEARNING_RATE,
    seed: int | None = None,
    validation_fraction: float = 0.1,
    preprocessing: str = "auto",
    task: TaskState | None = None,
) -> FinetuneResult:
    """Prune ``opened`` with ``config``, retrain the surviving weights on ``data``'s training images,
    scaled one batch at a time (the split is never converted whole).

    The opened model only briefly holds the masked kernels (to measure and clone them), so call
    it from the TF job thread; training itself runs on the clone. ``seed`` defaults to the
    model's training seed, so a prune-viz-trained model keeps its own validation images held out.
    """
    import keras

    from prune_viz.core.data import MissingData
    from prune_viz.core.evaluation import Evaluator
    from prune_viz.core.inputs import conform
    from prune_viz.core.io import LoadedModel
    from prune_viz.core.metrics import class_labels

    task = task or quiet()
    if opened.loaded.keras_model is None:
        raise FinetuneError("Only Keras models can be fine-tuned, not a bare SavedModel.")
    if epochs < 1:
        raise FinetuneError(f"epochs must be at least 1, not {epochs}.")
    if seed is None:
        recorded = opened.loaded.metadata.get("seed")
        seed = recorded if isinstance(recorded, int) else 0
    pruner = opened.pruner
    if problem := finetune_problem(data):
        raise MissingData(problem)
    if not data.has_training_split:  # MNIST without its training images
        raise MissingData(f"Fine-tuning needs MNIST training images, and {data.name} has none.")
    task.progress(0.0, "Preparing the test set")
    evaluator = opened.evaluator_on(data, preprocessing)
    if problem := finetune_problem(data, evaluator.task):
        raise FinetuneError(problem)
    unpruned = evaluator.run(task.sub(0.0, 0.04), unpruned=True)
    result = pruner.prune(config)
    masks = {name: np.asarray(mask.numpy(), bool) for name, mask in result.masks.items()}
    with pruner.applied(result):
        before = evaluator.run(task.sub(0.04, 0.08))
        keras.utils.set_random_seed(seed)
        try:
            clone = keras.models.clone_model(opened.loaded.keras_model)
        except Exception as exc:
            raise FinetuneError(f"The model cannot be cloned for fine-tuning ({type(exc).__name__}).") from exc
        clone.set_weights(opened.loaded.keras_model.get_weights())
    in_clone = _clone_variables(opened.loaded.keras_model, clone)
    kernels = {layer.name: in_clone[id(layer.source)] for layer in opened.layers if layer.name in masks}
    previous = {}
    for name, mask in masks.items():
        kernel = kernels[name]
        previous[name] = kernel.constraint
        kernel.constraint = _mask_constraint(mask)
    # unit mode "remove": a removed unit's bias and BN channel stay zero too
    vectors = _unit_vector_variables(in_clone, opened, result)
    held = [(variable, variable.constraint) for variable, _kept in vectors]
    for variable, kept in vectors:
        variable.constraint = _mask_constraint(kept)
    x = conform(data.x_train, evaluator.layout)  # token sequences padded; images stay uint8, scaled batch by batch
    y = class_labels(data.y_train)
    try:
        fit = fit_keeping_best(
            clone,
            x,
            y,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            validation_fraction=validation_fraction,
            learning_rate=learning_rate,
            from_logits=not evaluator.outputs_are_probabilities,
            task=task.sub(0.08, 0.92),
            label="Fine-tuning",
            feed=evaluator.feed,
        )
    finally:
        for name, constraint in previous.items():
            kernels[name].constraint = constraint
        for variable, constraint in held:
            variable.constraint = constraint
    resurrected = sum(int(np.count_nonzero(np.asarray(kernels[n].numpy())[~m])) for n, m in masks.items())
    resurrected += sum(int(np.count_nonzero(np.asarray(variable.numpy())[kept == 0])) for variable, kept in vectors)
    if resurrected:
        raise RuntimeError(f"{resurrected} pruned weights became non-zero during fine-tuning")
    task.progress(0.93, "Testing the fine-tuned model")
    after = Evaluator(
        LoadedModel(path=Path(opened.loaded.path.name), format="fine-tuned", keras_model=clone),
        data,
        evaluator.preprocessing,
    ).run(task.sub(0.93, 1.0), unpruned=True)  # the clone as it is: its reference pass is its result
    pruned_weights = sum(int((~m).sum()) for m in masks.values())
    metadata = _metadata(
        opened,
        result,
        data,
        evaluator.preprocessing,
        epochs,
        batch_size,
        learning_rate,
        seed,
        fit,
        unpruned.accuracy,
        before.accuracy,
        after.accuracy,
        after.loss,
    )
    return FinetuneResult(
        inference_copy(clone),
        config,
        before.accuracy,
        before.loss,
        after.accuracy,
        after.loss,
        unpruned.accuracy,
        fit,
        pruned_weights,
        evaluator.preprocessing,
        metadata,
    )


def _clone_variables(model, clone) -> dict:
    """id(a variable of ``model``) -> the clone's variable in its place (a clone lists its weights
    in the same order)."""
    return {id(original): copy for original, copy in zip(model.weights, clone.weights, strict=True)}


def _unit_vector_variables(in_clone: dict, opened, result):
    """(variable of the clone, float mask) for the bias and BN gamma/beta of every tensor whose units
    ``result`` removes, so fine-tuning cannot bring a removed unit back through them."""
    pairs = []
    for layer in opened.layers:
        removed = result.removed_units(layer.name)
        if removed is None or not removed.any():
            continue
        for vector in layer.unit_vectors:
            pairs.append((in_clone[id(vector.source)], (~vector.removed_entries(removed)).astype(np.float32)))
    return pairs


def _metadata(
    opened,
    result,
    data: Dataset,
    preprocessing: str,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    fit: FitResult,
    unpruned: float,
    before: float,
    after: float,
    after_loss: float,
) -> dict:
    from prune_viz.core.export import export_metadata
    from prune_viz.core.provenance import fine_tuned

    base = dict(opened.loaded.metadata)
    metadata = export_metadata(opened, result, compacted=False)
    metadata["derived_from"] = fine_tuned(metadata["derived_from"], epochs, learning_rate)
    base_trained_on = base.get("trained_on", "unknown data")
    metadata.update(
        {
            "trained_on": f"{base_trained_on}; fine-tuned on {data.train_description}",
            "fine_tune": {
                "trained_on": data.train_description,
                "trained_on_full_training_set": data.is_full_training_set,
                "data_source": data.source,
                "data": data.description,
                "epochs": epochs,
                "batch_size": batch_size,
                "optimizer": f"Adam (learning rate {learning_rate:g})",
                "learning_rate": learning_rate,
                "seed": seed,
                "preprocessing": preprocessing,
                "train_images": fit.train_images,
                "validation_images": fit.validation_images,
                "best_epoch": fit.best_epoch,
                "validation_accuracy": round(fit.validation_accuracy, 6),
                "masks_fixed": True,
            },
            "unpruned_test_accuracy": round(unpruned, 6),
            "pruned_test_accuracy_before_fine_tuning": round(before, 6),
            "test_accuracy": round(after, 6),
            "test_loss": round(after_loss, 6),
            "test_images": int(len(data.x_test)),
        }
    )
    return metadata
