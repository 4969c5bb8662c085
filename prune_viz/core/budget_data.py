"""A budget's two parts of the data: one to choose the ks on (the sensitivity scan, and the measured
check of the allocation against one k for every layer), one to report the chosen ks on, so the
numbers reported are not the ones the choice was fitted to.

The choice uses the data's training split when it has one (at most as many samples as the test set,
the first ones); otherwise the test set is cut in two, the first half choosing and the second
reporting. ``BudgetData`` holds an Evaluator on each (built once, with the input scaling the
session's evaluator chose) and says in words which is which; ``BudgetCache`` keeps them and the
scans on the choosing part between a window's Allocate and its comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from prune_viz.core.pruning import PruningConfig
from prune_viz.core.sweep import SweepPoint, sweep_configs
from prune_viz.core.tasks import TaskState, quiet


@dataclass
class BudgetData:
    """An Evaluator to choose on and one to report on, and what each part of the data is."""

    choose: object  # core.evaluation.Evaluator
    report: object
    chosen_on: str  # "the MNIST 5,000-image training subset", "the first half of the test set (5,000 samples)"
    reported_on: str
    key: tuple  # (model serial, data path, preprocessing) they were built for


@dataclass
class BudgetCache:
    """What a budget reuses between runs on one model and data: the two Evaluators and the scans."""

    data: BudgetData | None = None
    scans: dict[tuple, list] = field(default_factory=dict)

    def clear(self) -> None:
        self.data, self.scans = None, {}


def _cut(y, start: int, stop: int):
    if y is None:
        return None
    return tuple(part[start:stop] for part in y) if isinstance(y, tuple) else y[start:stop]


def budget_data(session, task: TaskState | None = None, cache: BudgetCache | None = None) -> BudgetData:
    """The two parts of the session's data for a budget (see the module), built once per cache."""
    task = task or quiet()
    evaluator = session.evaluator(task.sub(0.0, 0.3))  # the whole test set, and the input scaling it chose
    key = (session.model_serial, session.data_path, session.preprocessing)
    if cache is not None and cache.data is not None and cache.data.key == key:
        return cache.data
    data = session.load_data(task.sub(0.3, 0.4), need_training=True)
    n_test = len(data.x_test)
    if data.has_training_split:
        n = min(len(data.x_train), n_test)
        choose = replace(data, x_test=data.x_train[:n], y_test=_cut(data.y_train, 0, n))
        report, reported_on = evaluator, f"the test set ({n_test:,} samples)"
        chosen_on = "the " + data.train_description + (f" (its first {n:,})" if n < len(data.x_train) else "")
    else:
        if n_test < 2:
            from prune_viz.core.pruning import PruningError

            raise PruningError("A budget needs at least two test samples: one part chooses, the other reports.")
        half = n_test // 2
        choose = replace(data, x_test=data.x_test[:half], y_test=_cut(data.y_test, 0, half))
        second = replace(data, x_test=data.x_test[half:], y_test=_cut(data.y_test, half, n_test))
        chosen_on = f"the first half of the test set ({half:,} samples)"
        reported_on = f"the second half of the test set ({n_test - half:,} samples)"
        report = session.model.evaluator_on(second, evaluator.preprocessing, task.sub(0.4, 0.7))
    choosing = session.model.evaluator_on(choose, evaluator.preprocessing, task.sub(0.7, 1.0))
    found = BudgetData(choosing, report, chosen_on, reported_on, key)
    if cache is not None:
        cache.data, cache.scans = found, {}
    return found


def measure(session, evaluator, config: PruningConfig, task: TaskState | None = None):
    """(EvaluationResult, sparsity of the included layers) of ``config`` on ``evaluator``; the model is
    left unpruned. Call under the TensorFlow job lock."""
    pruner = session.model.pruner
    result = pruner.prune(config)
    with pruner.applied(result):
        evaluation = evaluator.run(task or quiet(), label=config.describe())
    return evaluation, result.included_sparsity()


def choice_scan(
    session,
    evaluator,
    base: PruningConfig,
    ks,
    task: TaskState | None = None,
    cache: BudgetCache | None = None,
) -> list[SweepPoint]:
    """The per-layer sensitivity scan of ``base``'s method and criterion at ``ks``, on ``evaluator``
    (the choosing part): one SweepPoint per (layer, k); kept in ``cache``."""
    task = task or quiet()
    ks = tuple(float(k) for k in ks)
    key = (base.method, base.criterion, base.unit_mode, base.seed, base.included, ks)
    if cache is not None and key in cache.scans:
        return cache.scans[key]
    plan = sweep_configs(session, (base.method,), ks, "layer", per_layer=True, criteria=(base.criterion,))
    name = session.model.loaded.path.name
    points = []
    for i, (layer, config) in enumerate(plan):
        config = replace(config, unit_mode=base.unit_mode, seed=base.seed)
        task.progress(i / len(plan), f"sensitivity of {layer} at k = {config.k:g}%")
        evaluation, sparsity = measure(session, evaluator, config, task.sub(i / len(plan), (i + 1) / len(plan)))
        points.append(
            SweepPoint(
                name,
                None,
                config.method,
                "layer",
                layer,
                config.k,
                sparsity,
                float("nan"),
                evaluation.accuracy,
                evaluation.loss,
                evaluation.seconds,
                criterion=config.criterion,
                score=evaluation.score,
                score_name=evaluation.score_name,
                task=evaluation.task,
            )
        )
    if cache is not None:
        cache.scans[key] = points
    return points
