"""The one error a failed load raises, and the one-sentence wording of what went wrong."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prune_viz.core.errors import UserError, clipped_words


class ModelLoadError(UserError):
    """The model could not be opened; ``str(error)`` is one sentence for the user."""

    def __init__(self, message: str):
        super().__init__(one_line(message))


def one_line(text: str) -> str:
    """``text`` on one printable line: names taken from damaged files may hold newlines or escapes."""
    return "".join(c if c.isprintable() else "?" for c in " ".join(str(text).split()))


def short_reason(exc: BaseException, limit: int = 160) -> str:
    return clipped_words(exc, limit) or type(exc).__name__


def explain_load_failure(path: Path, exc: BaseException) -> str:
    """One sentence for a Keras/TensorFlow failure: the known causes by name, else the error's gist."""

    # Classify by the error raised last: after a failed Keras 2 conversion retry, the chain
    # also holds the first attempt's error, which is not the one that matters.
    text = " ".join(str(exc).split())
    custom = re.search(r"Could not locate (?:class|function) '([^']+)'", text) or re.search(
        r"Unknown (?:layer|object|activation|initializer|regularizer|constraint)"
        r"(?: type)?: '?([\w.>]+)'?",
        text,
    )
    if custom:
        name = custom.group(1).rsplit(">", 1)[-1]
        if not _is_keras_class(name):
            return (
                f"{path.name} uses a custom class, {name}, that is not part of Keras; give the Python file that "
                "defines it with --custom-objects FILE.py."
            )
    if "JSONDecodeError" in text or any(isinstance(e, json.JSONDecodeError) for e in _chain(exc)):
        return f"{path.name} is damaged: its model configuration is not valid JSON."
    if "synchronously" in text:  # h5py's wording for a broken HDF5 structure
        return f"{path.name} is damaged: its HDF5 weights cannot be read ({short_reason(exc, 100)})."
    if "Lambda" in text and "safe_mode" in text:
        return (
            f"{path.name} contains a Lambda layer (arbitrary Python code), which prune-viz runs only when "
            "asked with --allow-lambda."
        )
    shapes = re.search(r"variable\.shape=(\([^)]*\)), Received: value\.shape=(\([^)]*\))", text)
    if shapes or weights_do_not_fit(text):
        detail = ""
        if shapes:
            detail = f" (a kernel of shape {shapes.group(1)} was given weights of shape {shapes.group(2)})"
        return f"{path.name}: its weights do not fit its architecture{detail}."
    if custom or re.search(
        r"could not be deserialized|Error when deserializing|not a valid Keras configuration"
        r"|Could not locate",
        text,
    ):
        gist = text.rsplit("Exception encountered:", 1)[-1] if "Exception encountered:" in text else text
        return (
            f"{path.name}: Keras could not rebuild the model from its saved configuration "
            f"({short_reason(ValueError(gist), 120)})."
        )
    if isinstance(exc, (KeyError, AttributeError, TypeError, IndexError)):  # a config of the wrong shape
        return (
            f"{path.name}: Keras could not rebuild the model from its saved configuration "
            f"({type(exc).__name__}: {short_reason(exc, 100)})."
        )
    return _one_sentence(path, exc)


def _chain(exc: BaseException) -> list[BaseException]:
    found = []
    while exc is not None and len(found) < 10:
        found.append(exc)
        exc = exc.__cause__ or exc.__context__
    return found


def _is_keras_class(name: str) -> bool:
    import keras

    return name in ("Functional", "Sequential", "Model") or hasattr(keras.layers, name)


def _one_sentence(path: Path, exc: BaseException) -> str:
    return f"Cannot open {path.name}: {type(exc).__name__}: {clipped_words(exc)}"


def weights_do_not_fit(text: str) -> bool:
    """Whether a load failure says the model was rebuilt and its stored weights do not fit it."""
    return bool(re.search(r"variable\.shape=.*Received: value\.shape=", text)) or (
        "could not be loaded" in text or "Shape mismatch" in text
    )
