"""Which test digits break first: a scan of k = 0..100 that keeps every image's prediction.

One evaluation per k, all from the original weights with one Evaluator (nothing
is rebuilt between points). An image's *breaking k* is the smallest k of the
scan at which its prediction is wrong (0 when it is wrong unpruned); an image
that is right at every k never breaks. Predictions can recover at a higher k,
so the breaking k is the first failure, not a boundary.

A pattern without a k (N:M) has nothing to scan: its ``FlipSet`` is two evaluations, unpruned and
under the pattern, and says which images it breaks (right unpruned, wrong under 2:4) and which it
fixes. ``run_flips`` gives the one or the other for any settings; block pruning has a k and is scanned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from prune_viz.core.pruning import PruningConfig, PruningError
from prune_viz.core.tasks import TaskState, quiet, tensorflow_job

SCAN_KS = tuple(float(k) for k in range(101))
GROUPS = ("broken", "wrong", "never", "all")  # FlipScan.group


SET_GROUPS = ("broken", "fixed", "wrong", "never", "all")  # FlipSet.group


class _Answers:
    """What follows from the class answers of each point (a k, or unpruned and a pattern) for each
    sample, shared by ``FlipScan`` and ``FlipSet``: they hold ``predicted`` (points, n), ``labels``,
    ``class_names`` and ``against``."""

    @property
    def num_classes(self) -> int:
        found = int(max(self.labels.max(initial=0), self.predicted.max(initial=0))) + 1
        return max(len(self.class_names) if self.class_names else 0, found)

    @cached_property
    def wrong(self) -> np.ndarray:
        """(points, n) bool: the image is misclassified at that point."""
        return self.predicted != self.labels[None, :]

    def class_name(self, index: int) -> str:
        """The data's name for class ``index`` ("cat", "T-shirt/top"), else its number."""
        names = self.class_names
        return names[index] if names and 0 <= index < len(names) else str(int(index))

    @property
    def right_means(self) -> str:
        """What counts as right, in words: against the labels, or the unpruned model's answer."""
        return "agrees with the unpruned model" if self.against == "unpruned" else "matches the label"

    def describe_break(self, index: int) -> str:
        """``break_words`` on one line: "cat -> dog at k = 37%", "cat -> dog unpruned", "cat never breaks"."""
        return " ".join(self.break_words(index))

    def accuracy(self) -> np.ndarray:
        """(points,) overall accuracy at each point."""
        return 1.0 - self.wrong.mean(axis=1)

    def per_digit_accuracy(self) -> np.ndarray:
        """(points, classes) accuracy of each true class at each point (NaN for a class with no image)."""
        right = ~self.wrong
        out = np.full((len(self.predicted), self.num_classes), np.nan)
        for digit in range(self.num_classes):
            members = self.labels == digit
            if members.any():
                out[:, digit] = right[:, members].mean(axis=1)
        return out

    def confusion(self, index: int) -> np.ndarray:
        """(classes, classes) confusion matrix at point ``index``: rows true classes, columns predictions."""
        matrix = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)
        np.add.at(matrix, (self.labels, self.predicted[index]), 1)
        return matrix

    def _common_dict(self) -> dict:
        per_digit = self.per_digit_accuracy()
        return {
            **{key: value for key, value in self.config.as_dict().items() if key != "k"},  # spanned, or unused
            "included": sorted(self.config.included),
            "data_source": self.data_source,
            "class_names": list(self.class_names) if self.class_names else None,
            "right_means": self.right_means,
            "accuracy": [round(float(a), 6) for a in self.accuracy()],
            "per_digit_accuracy": {
                str(d): [None if np.isnan(a) else round(float(a), 6) for a in per_digit[:, d]]
                for d in range(self.num_classes)
            },
        }


@dataclass(frozen=True)
class FlipScan(_Answers):
    """The predictions of a scan and what follows from them (computed once per scan, when asked)."""

    config: PruningConfig  # method, scope and layers of the scan; its k is not used
    ks: tuple[float, ...]
    predicted: np.ndarray  # (len(ks), n): the class predicted for each image at each k
    labels: np.ndarray  # (n,) true classes (without labels: the unpruned model's answers)
    data_source: str
    class_names: tuple[str, ...] | None = None
    against: str = "labels"  # what counts as right: the labels, or "unpruned" (the data has none)

    def point_words(self, index: int) -> str:
        """The scan's point ``index`` in words: "k = 37%"."""
        return f"k = {self.ks[index]:g}%"

    @cached_property
    def first_wrong(self) -> np.ndarray:
        """(n,) the index into ``ks`` of each sample's breaking k (0 for one that never breaks: see
        ``breaking_k``)."""
        return np.argmax(self.wrong, axis=0)

    @cached_property
    def breaking_prediction(self) -> np.ndarray:
        """(n,) the class each sample is taken for at its breaking k; -1 for one that never breaks."""
        wrong = self.wrong
        taken = self.predicted[self.first_wrong, np.arange(wrong.shape[1])].astype(np.int64)
        return np.where(wrong.any(axis=0), taken, -1)

    def break_words(self, index: int) -> tuple[str, str]:
        """Sample ``index`` in two short parts: ("cat -> dog", "at k = 37%"), its class (without labels
        the unpruned model's answer) and what it is taken for at its breaking k, then when;
        ("cat -> dog", "unpruned") for one wrong at k = 0; ("cat", "never breaks")."""
        was = self.class_name(int(self.labels[index]))
        b = self.breaking_k[index]
        if np.isnan(b):
            return was, "never breaks"
        now = self.class_name(int(self.breaking_prediction[index]))
        return f"{was} -> {now}", (f"at k = {b:g}%" if b > 0 else "unpruned")

    @cached_property
    def breaking_k(self) -> np.ndarray:
        """(n,) float: the first k of the scan at which each image is wrong; NaN if it never is."""
        ks = np.asarray(self.ks, dtype=float)
        return np.where(self.wrong.any(axis=0), ks[self.first_wrong], np.nan)

    def group(self, name: str) -> np.ndarray:
        """(n,) bool: the images of one of GROUPS. ``broken``: right unpruned, wrong at some k > 0
        (what pruning broke); ``wrong``: already wrong unpruned (k = 0); ``never``: right at every k."""
        breaking = self.breaking_k
        if name == "broken":
            return breaking > 0  # NaN compares False
        if name == "wrong":
            return breaking == 0
        if name == "never":
            return np.isnan(breaking)
        if name == "all":
            return np.ones(len(breaking), dtype=bool)
        raise ValueError(f"group must be one of {', '.join(GROUPS)}, not {name!r}")

    def order(self, group: str = "all") -> np.ndarray:
        """Image indices of ``group`` by breaking k, earliest first; those that never break last (stable)."""
        breaking = self.breaking_k
        order = np.argsort(np.where(np.isnan(breaking), np.inf, breaking), kind="stable")
        return order if group == "all" else order[self.group(group)[order]]

    def as_dict(self) -> dict:
        """The JSON shape of ``prune-viz flips --json``."""
        return {
            **self._common_dict(),
            "ks": [float(k) for k in self.ks],
            "breaking_k": [None if np.isnan(b) else float(b) for b in self.breaking_k],
        }


@dataclass(frozen=True)
class FlipSet(_Answers):
    """What a fixed pattern (N:M, which has no k to scan) does to each sample: its answer unpruned and
    under the pattern. Groups (``SET_GROUPS``): ``broken`` right unpruned and wrong under the pattern,
    ``fixed`` the other way, ``wrong`` wrong either way, ``never`` right either way, ``all``."""

    config: PruningConfig  # the pattern's settings
    predicted: np.ndarray  # (2, n): each sample's class unpruned (row 0) and under the pattern (row 1)
    labels: np.ndarray  # (n,) true classes (without labels: the unpruned model's answers)
    data_source: str
    class_names: tuple[str, ...] | None = None
    against: str = "labels"  # what counts as right: the labels, or "unpruned" (the data has none)

    @property
    def pattern(self) -> str:
        """The pattern in words, "2:4"."""
        return self.config.pattern

    def point_words(self, index: int) -> str:
        """Point 0 is "unpruned", point 1 "under 2:4"."""
        return "unpruned" if index == 0 else f"under {self.pattern}"

    def group(self, name: str) -> np.ndarray:
        """(n,) bool: the samples of one of SET_GROUPS."""
        before, after = ~self.wrong[0], ~self.wrong[1]
        groups = {
            "broken": before & ~after,
            "fixed": ~before & after,
            "wrong": ~before & ~after,
            "never": before & after,
            "all": np.ones(len(before), dtype=bool),
        }
        if name not in groups:
            raise ValueError(f"group must be one of {', '.join(SET_GROUPS)}, not {name!r}")
        return groups[name]

    def order(self, group: str = "all") -> np.ndarray:
        """Sample indices of ``group``: for all, the broken first, then the fixed, the wrong either way and
        those right either way, each in test-set order."""
        rank = np.select([self.group(name) for name in SET_GROUPS[:4]], range(4), 4)
        order = np.argsort(rank, kind="stable")
        return order if group == "all" else order[self.group(group)[order]]

    def break_words(self, index: int) -> tuple[str, str]:
        """Sample ``index`` in two short parts, its answers then what changed: ("7 -> 1", "right -> wrong
        under 2:4"), ("1 -> 7", "wrong -> right under 2:4") for one it fixes (the unpruned answer, then
        the true class), ("7 -> 1", "wrong either way") (the class, then its answer under the pattern),
        ("7", "right either way")."""
        label = self.class_name(int(self.labels[index]))
        before, after = (self.class_name(int(p)) for p in self.predicted[:, index])
        right_before, right_after = (not wrong for wrong in self.wrong[:, index])
        if right_before and right_after:
            return label, "right either way"
        if right_before:
            return f"{label} -> {after}", f"right -> wrong under {self.pattern}"
        if right_after:
            return f"{before} -> {label}", f"wrong -> right under {self.pattern}"
        return f"{label} -> {after}", "wrong either way"

    def counts(self) -> dict[str, int]:
        """How many samples each group holds."""
        return {name: int(self.group(name).sum()) for name in SET_GROUPS}

    def as_dict(self) -> dict:
        """The JSON shape of ``prune-viz flips --method nm --json``: the accuracy and per-class accuracy
        unpruned and under the pattern (``points``), each group's size, and the samples it broke and fixed."""
        return {
            **self._common_dict(),
            "points": ["unpruned", self.pattern],
            "counts": self.counts(),
            "broken": [int(i) for i in np.flatnonzero(self.group("broken"))],
            "fixed": [int(i) for i in np.flatnonzero(self.group("fixed"))],
        }


def sample_pictures(data, image_size: tuple[int, int] | None = None, channels: int | None = None) -> np.ndarray | None:
    """The test samples of ``data`` (a Dataset) as pictures: uint8 (n, h, w) grey or (n, h, w, c) with
    c 3 (colour) or 4, or None when they are not images (vectors, token sequences). Flat pixels (a CSV
    of images) take the model's ``image_size`` and ``channels`` when they fit, else a square grey side."""
    x = data.x_test
    if data.kind != "images" or x.dtype == object or len(x) == 0:
        return None
    x = np.asarray(x)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim == 2:  # flat pixels
        width = x.shape[1]
        if image_size and int(np.prod(image_size)) * (channels or 1) == width:
            shape = tuple(image_size) + ((channels,) if channels and channels > 1 else ())
        elif round(np.sqrt(width)) ** 2 == width:
            shape = (round(np.sqrt(width)),) * 2
        else:
            return None
        x = x.reshape((len(x),) + shape)
    if x.ndim == 3 or (x.ndim == 4 and x.shape[-1] in (3, 4)):
        return x if x.dtype == np.uint8 else np.clip(x, 0, 255).astype(np.uint8)
    return None


@dataclass(frozen=True)
class ImageScan:
    """One image's predictions along the scan (a drawn digit or a single test image)."""

    ks: tuple[float, ...]
    probabilities: np.ndarray  # (len(ks), 10)
    label: int | None  # the true class when known (a test image); None for a drawing

    @property
    def predicted(self) -> np.ndarray:
        return np.argmax(self.probabilities, axis=1)

    @property
    def reference(self) -> int:
        """What counts as right: the true class, or for a drawing the unpruned model's answer."""
        return int(self.label) if self.label is not None else int(self.predicted[0])

    @property
    def flip_k(self) -> float | None:
        """The first k at which the prediction is not the reference; None if it never flips.

        For a test image this is its breaking k, as in ``FlipScan.breaking_k``."""
        wrong = np.flatnonzero(self.predicted != self.reference)
        return float(self.ks[wrong[0]]) if len(wrong) else None


def scan_image(
    session,
    image: np.ndarray,
    config: PruningConfig | None = None,
    label: int | None = None,
    ks: Sequence[float] = SCAN_KS,
    task: TaskState | None = None,
) -> ImageScan:
    """One uint8 28x28 image forwarded at every k of ``ks`` (prune, apply, one forward each)."""
    base = config or session.config
    configs = [replace(base, k=k) for k in ks]
    probabilities = session.predict_images(np.asarray(image)[None], configs, task)
    return ImageScan(tuple(float(k) for k in ks), np.stack([p[0] for p in probabilities]), label)


@tensorflow_job()
def run_flip_scan(
    session,
    config: PruningConfig | None = None,
    ks: Sequence[float] = SCAN_KS,
    task: TaskState | None = None,
    on_point: Callable[[int, np.ndarray], None] | None = None,
) -> FlipScan:
    """Evaluate ``config`` (default: the session's) at every k of ``ks``, keeping each prediction.

    Runs in the TF job thread; the model is left unpruned. ``on_point(i, predicted)`` is called
    after each k, so a view can fill in as the scan runs.
    """
    base = config or session.config
    if not base.uses_k:
        raise PruningError(
            f"{base.pattern} (N:M) pruning is one fixed pattern, not a k to scan: run_flips gives its flip set."
        )
    configs = [base.with_k(k) for k in ks]
    predicted, labels, source, names, against = _evaluate_points(
        session, configs, [f"k = {k:g}%" for k in ks], task, on_point
    )
    return FlipScan(base.with_k(0.0), tuple(float(k) for k in ks), predicted, labels, source, names, against)


@tensorflow_job()
def run_flip_set(
    session,
    config: PruningConfig | None = None,
    task: TaskState | None = None,
    on_point: Callable[[int, np.ndarray], None] | None = None,
) -> FlipSet:
    """Evaluate ``config`` (a pattern without a k: N:M) and the unpruned model, keeping each answer.
    Runs in the TF job thread; the model is left unpruned."""
    base = config or session.config
    predicted, labels, source, names, against = _evaluate_points(
        session, [base.unpruned(), base], ["unpruned", f"under {base.pattern}"], task, on_point
    )
    return FlipSet(base, predicted, labels, source, names, against)


def run_flips(
    session,
    config: PruningConfig | None = None,
    task: TaskState | None = None,
    on_point: Callable[[int, np.ndarray], None] | None = None,
) -> FlipScan | FlipSet:
    """What pruning by ``config`` breaks: a scan of k = 0..100 for a method with a k (weight, unit,
    block), the flip set of a pattern without one (N:M)."""
    base = config or session.config
    if base.uses_k:
        return run_flip_scan(session, base, task=task, on_point=on_point)
    return run_flip_set(session, base, task=task, on_point=on_point)


def _evaluate_points(session, configs, words, task, on_point):
    """Each config evaluated in turn: (predicted (points, n), labels, data source, class names, against)."""
    task = task or quiet()
    if session.model is None:
        raise RuntimeError("no model is open")
    rows, labels, source, names, against = [], None, "", None, "labels"
    for i, (point, word) in enumerate(zip(configs, words)):
        fraction = i / len(configs)
        task.progress(fraction, word)
        record, _ = session.evaluate(point, task.sub(fraction, (i + 1) / len(configs)), with_baseline=False)
        if record.result.predicted is None:
            from prune_viz.core.evaluation import FlipsUnavailable

            raise FlipsUnavailable(
                f"Which samples break first needs class answers; this model's task on the data is {record.result.task}."
            )
        rows.append(record.result.predicted)
        if labels is None:
            evaluator = session.evaluator()
            labels, against = flip_labels(evaluator)
            source, names = record.data_source, evaluator.data.class_names
        if on_point is not None:
            on_point(i, record.result.predicted)
    task.progress(1.0, "Done")
    return np.stack(rows), labels, source, names, against


def flip_labels(evaluator) -> tuple[np.ndarray, str]:
    """What a prediction is right against: the labels of the first class-like output, or without
    labels the unpruned model's answers."""
    from prune_viz.core.metrics import class_labels

    for head, y in zip(evaluator.heads, evaluator.head_labels):
        if head.task in ("classification", "binary") and y is not None:
            y = np.asarray(y)
            return class_labels(y.reshape(-1) if head.task == "binary" else y), "labels"
    return evaluator.reference.predicted.astype(np.int64), "unpruned"
