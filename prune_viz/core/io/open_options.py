"""How a model is opened: the user's own Python file of custom Keras classes (``--custom-objects``),
and whether Lambda layers may run their code (``--allow-lambda``; Keras's safe mode stays on
otherwise)."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass
from pathlib import Path

from prune_viz.core.errors import UserError, clipped_words


class CustomObjectsError(UserError):
    """The custom objects file cannot be used; the message is one sentence."""


@dataclass(frozen=True)
class OpenOptions:
    custom_objects: Path | None = None  # a .py file whose Keras classes and functions rebuild the model
    allow_lambda: bool = False  # Lambda layers run the Python code saved in the model file

    @property
    def safe_mode(self) -> bool:
        return not self.allow_lambda

    def objects(self) -> dict:
        """{name: class or function} of the custom objects file ({} without one), for Keras's
        ``custom_objects``; the file is imported once per content."""
        return {} if self.custom_objects is None else custom_objects_of(self.custom_objects)


def custom_objects_of(path: str | Path) -> dict:
    """The Keras classes (layers, models, initializers, regularizers, constraints, losses, metrics)
    and the functions defined in the Python file ``path``, by class name and by the name Keras
    registered them under ("package>Name"). Importing the file runs it, as the user asked."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CustomObjectsError(f"The custom objects file {path} does not exist.")
    if path.suffix != ".py":
        raise CustomObjectsError(f"The custom objects file {path.name} is not a Python file (.py).")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return dict(_import_objects(str(path.resolve()), digest))


_imported: dict[tuple[str, str], dict] = {}


def _import_objects(path: str, digest: str) -> dict:
    key = (path, digest)
    if key not in _imported:
        _imported[key] = _objects_in(_import_file(Path(path), f"prune_viz_custom_objects_{digest}"))
    return _imported[key]


def _import_file(path: Path, module_name: str):
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise CustomObjectsError(f"{path.name} cannot be imported as a Python module.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look their module up here
    folder = str(path.parent)
    sys.path.insert(0, folder)  # so that it can import the modules beside it
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(module_name, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise CustomObjectsError(
            f"Importing the custom objects file {path.name} failed ({type(exc).__name__}: {clipped_words(exc, 120)})."
        ) from exc
    finally:
        try:
            sys.path.remove(folder)
        except ValueError:
            pass
    return module


def _objects_in(module) -> dict:
    import keras

    bases = tuple(
        base
        for base in (
            keras.layers.Layer,
            keras.Model,
            keras.initializers.Initializer,
            keras.regularizers.Regularizer,
            keras.constraints.Constraint,
            keras.losses.Loss,
            keras.metrics.Metric,
            keras.optimizers.schedules.LearningRateSchedule,
        )
        if isinstance(base, type)
    )
    found = {}
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        keras_class = (
            inspect.isclass(value)
            and issubclass(value, bases)
            and not value.__module__.startswith(("keras.", "tf_keras.", "tensorflow."))
        )
        own_function = inspect.isfunction(value) and value.__module__ == module.__name__
        if not (keras_class or own_function):
            continue
        found[name] = value
        found.setdefault(value.__name__, value)
        registered = keras.saving.get_registered_name(value)
        if registered and registered != value.__name__:
            found[registered] = value
    return found
