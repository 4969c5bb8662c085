"""Lesson files (``.pvlesson``): a prepared demonstration, saved as small JSON.

A lesson names its model (by path, relative to the lesson's folder when it can be,
with the model's SHA-256), the pruning settings (every field of ``PruningConfig``: method, k, scope,
criterion, unit mode, seed, the N:M and block patterns, the ks per layer), the data and its scaling, the
panels to show, drawings for the drawing pad, and an optional list of k steps a
presenter walks through. A model whose hash differs from the saved one opens with
a warning, not a refusal: a teacher may have retrained it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from prune_viz.core.errors import UserError
from prune_viz.core.files import write_text
from prune_viz.core.inputs import PREPROCESSING
from prune_viz.core.patterns import PatternError, block_text, check_block, check_nm, nm_text
from prune_viz.core.pruning import METHODS, PruningConfig, PruningError, parse_k

SUFFIX = ".pvlesson"
FORMAT = "prune-viz lesson"
VERSION = 1
PANELS = ("draw", "flips", "filters", "activations", "spectrum", "experiments")


class LessonError(UserError, ValueError):
    """The lesson file cannot be used; the message is one sentence for the user."""


@dataclass(frozen=True)
class LessonStep:
    k: float
    note: str = ""  # what the presenter says before revealing the result
    method: str | None = None  # None: keep the method of the step before
    nm: tuple[int, int] | None = None  # the N:M of method "nm" from this step on; None: keep the one before
    block: tuple[int, int] | None = None  # the block of method "block" from this step on; None: keep it

    def as_dict(self) -> dict:
        """The step in the lesson file: k, note and method, and its patterns when it names them."""
        fields = {"k": self.k, "note": self.note, "method": self.method}
        if self.nm is not None:
            fields["nm"] = nm_text(self.nm)
        if self.block is not None:
            fields["block"] = block_text(self.block)
        return fields


@dataclass
class Lesson:
    """A lesson; its pruning settings are one ``PruningConfig`` (``config``, written by its ``as_dict``
    and read by ``from_dict``), the layers it prunes apart (``included``: None is the model's default)."""

    model: str  # path as written in the file: relative to the lesson's folder, or absolute
    model_sha256: str
    config: PruningConfig = field(default_factory=PruningConfig)  # its ``included`` is not used: see below
    included: list[str] | None = None  # None: the model's default (every layer but the output)
    data: str | None = None  # a path, or keras:NAME (data_reference); None: prune-viz's usual MNIST search
    preprocessing: str = "auto"
    panels: list[str] = field(default_factory=list)
    drawings: list[list[list[list[float]]]] = field(default_factory=list)  # drawings > strokes > [x, y]
    steps: list[LessonStep] = field(default_factory=list)
    title: str = ""

    def __post_init__(self):
        if self.config.included:  # one place says which layers: ``included``
            self.config = replace(self.config, included=frozenset())

    def model_path(self, lesson_path: str | os.PathLike) -> Path:
        """The model's path, resolved against the lesson file's folder."""
        path = Path(self.model).expanduser()
        return path if path.is_absolute() else Path(os.path.normpath(Path(lesson_path).resolve().parent / path))

    def data_path(self, lesson_path: str | os.PathLike) -> str | None:
        """The data source: a path resolved against the lesson file's folder, or a Keras data set name
        (``cifar10``) as it is; None: prune-viz's usual MNIST search."""
        if not self.data:
            return None
        if self.data.startswith(KERAS_PREFIX):
            return self.data[len(KERAS_PREFIX) :]
        path = Path(self.data).expanduser()
        return str(path if path.is_absolute() else os.path.normpath(Path(lesson_path).resolve().parent / path))

    def model_warning(self, lesson_path: str | os.PathLike) -> str | None:
        """One sentence if the model file is not the one the lesson was saved with, else None."""
        path = self.model_path(lesson_path)
        if not path.exists():
            return None  # opening it will say that it is missing
        if model_sha256(path) != self.model_sha256:
            return (
                f"{path.name} is not the file this lesson was saved with (its contents changed), "
                "so its numbers may differ from the lesson's."
            )
        return None

    def to_json(self) -> str:
        """The file: the settings as flat fields (``PruningConfig.as_dict``, every one of them: older
        files, with only some, still read), then the rest."""
        data = {"format": FORMAT, "version": VERSION, "model": self.model, "model_sha256": self.model_sha256}
        data.update(self.config.as_dict(complete=True))
        rest = asdict(self)
        for name in ("model", "model_sha256", "config", "steps"):
            rest.pop(name)
        data.update(rest)
        data["steps"] = [step.as_dict() for step in self.steps]
        return json.dumps(data, indent=2) + "\n"


def model_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a model file, or of every file (with its relative name) of a SavedModel folder."""
    path = Path(path)
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


KERAS_PREFIX = "keras:"  # a lesson's data that is a Keras data set name, not a path: "keras:cifar10"


def data_reference(source: str, lesson_path: str | os.PathLike) -> str:
    """How a lesson records its data ``source`` (core.data.load_data's): a Keras data set name as
    ``keras:NAME``, a path relative to the lesson's folder (``relative_reference``)."""
    from prune_viz.core.data_keras import KERAS_DATASETS

    if source.lower() in KERAS_DATASETS and not Path(source).expanduser().exists():
        return KERAS_PREFIX + source.lower()
    return relative_reference(source, lesson_path)


def relative_reference(target: str | os.PathLike, lesson_path: str | os.PathLike) -> str:
    """``target`` relative to the lesson's folder when it lies on the same drive, else absolute."""
    target = Path(target).resolve()
    folder = Path(lesson_path).resolve().parent
    try:
        return os.path.relpath(target, folder)
    except ValueError:
        return str(target)


def parse_lesson(text: str, name: str = "the lesson") -> Lesson:
    """A Lesson from a .pvlesson file's text, checked field by field."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise LessonError(f"{name} is not a prune-viz lesson (not valid JSON).") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise LessonError(f"{name} is not a prune-viz lesson.")
    if not isinstance(data.get("version"), int) or data["version"] > VERSION:
        raise LessonError(f"{name} was written by a newer prune-viz (lesson format {data.get('version')}).")
    model, sha = data.get("model"), data.get("model_sha256")
    if not isinstance(model, str) or not model or not isinstance(sha, str):
        raise LessonError(f"{name} does not say which model it uses.")
    try:
        config = PruningConfig.from_dict(data)  # the fields it lacks (an older lesson's) take their defaults
        steps = [_step(step) for step in data.get("steps") or []]
    except (PruningError, TypeError) as exc:
        raise LessonError(f"{name} has settings prune-viz does not know ({exc}).") from exc
    included = data.get("included")
    if included is not None and not (isinstance(included, list) and all(isinstance(n, str) for n in included)):
        raise LessonError(f"{name}: 'included' must be a list of layer names.")
    preprocessing = data.get("preprocessing", "auto")
    if preprocessing not in PREPROCESSING:
        raise LessonError(f"{name}: unknown input scaling {preprocessing!r}.")
    panels = [p for p in data.get("panels") or [] if p in PANELS]
    return Lesson(
        model=model,
        model_sha256=sha,
        config=config,
        included=included,
        data=data.get("data") or None,
        preprocessing=preprocessing,
        panels=panels,
        drawings=_drawings(data.get("drawings"), name),
        steps=steps,
        title=str(data.get("title", "")),
    )


def _step(raw) -> LessonStep:
    if isinstance(raw, dict):
        method = raw.get("method") or None
        if method is not None and method not in METHODS:
            raise PruningError(f"unknown method {method!r} in a step")
        try:
            nm = check_nm(raw["nm"]) if raw.get("nm") is not None else None
            block = check_block(raw["block"]) if raw.get("block") is not None else None
        except PatternError as exc:
            raise PruningError(str(exc)) from None
        return LessonStep(parse_k(raw.get("k")), str(raw.get("note", "")), method, nm, block)
    return LessonStep(parse_k(raw))


def _drawings(raw, name: str) -> list:
    drawings = []
    for drawing in raw or []:
        try:
            strokes = [[[float(x), float(y)] for x, y in stroke] for stroke in drawing]
        except (TypeError, ValueError) as exc:
            raise LessonError(f"{name} has a drawing that is not a list of strokes of [x, y] points.") from exc
        drawings.append(strokes)
    return drawings


def read_lesson(path: str | os.PathLike) -> Lesson:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LessonError(f"Cannot read {path.name}: {getattr(exc, 'strerror', None) or exc}.") from exc
    return parse_lesson(text, path.name)


def save_lesson(lesson: Lesson, path: str | os.PathLike, *, force: bool = False, protect=()) -> Path:
    """Write ``lesson`` as JSON through core.files (atomically; never over ``protect``, e.g. the
    opened model; an existing file only with ``force``)."""
    return write_text(path, lesson.to_json(), force=force, protect=protect)


def is_lesson_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is meant as a lesson: its suffix, or a JSON file that says it is one."""
    path = Path(path).expanduser()
    if path.suffix.lower() == SUFFIX:
        return True
    if not path.is_file():
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(256).lstrip()
    except OSError:
        return False
    return head.startswith(b"{") and f'"format": "{FORMAT}"'.encode() in head
