"""Errors as a message box: one clear sentence, the technical details folded away, no traceback."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from prune_viz.core.data import MissingData
from prune_viz.core.errors import UserError, clipped_words

CHOOSE_DATA = "Choose a folder of MNIST IDX files or an .npz with the Data... button."


def error_text(exc: BaseException, doing: str) -> tuple[str, str]:
    """(one sentence for the user, details) for an exception raised while ``doing``."""
    if isinstance(exc, MissingData):
        sentence = f"{exc} {CHOOSE_DATA}"
    elif isinstance(exc, UserError):
        sentence = str(exc)
    elif isinstance(exc, OSError):
        sentence = f"Could not {doing}: {exc.strerror or exc}" + (f" ({exc.filename})." if exc.filename else ".")
    else:  # the error's own words: a bare class name tells a user nothing
        words = clipped_words(exc).rstrip(".")
        sentence = (
            f"Could not {doing}: {words}{'' if words.endswith('…') else '.'}"
            if words
            else f"Could not {doing}: something failed inside prune-viz (the details say where)."
        )
    details, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:  # the chain of causes, without tracebacks
        seen.add(id(current))
        details.append(f"{type(current).__name__}: {' '.join(str(current).split())}")
        current = current.__cause__ or current.__context__
    return sentence, "\n".join(details)


def show_error(parent: QWidget, exc: BaseException, doing: str, context: str = "") -> QMessageBox:
    """Open (without blocking) a warning box for ``exc``; ``context`` (e.g. the path) heads the
    folded details. Returns the box."""
    sentence, details = error_text(exc, doing)
    if context:
        details = f"{context}\n{details}"
    box = QMessageBox(QMessageBox.Icon.Warning, "prune-viz", sentence, QMessageBox.StandardButton.Ok, parent)
    box.setDetailedText(details)
    box.open()
    return box
