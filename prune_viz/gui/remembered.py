"""Recently opened models, the last data path, the last folder saved to and the custom objects file
models are opened with, remembered in QSettings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

MAX_RECENT = 10
RECENT_KEY = "recent/models"
DATA_KEY = "data/path"
SAVE_FOLDER_KEY = "files/save_folder"
CUSTOM_OBJECTS_KEY = "open/custom_objects"


def default_settings() -> QSettings:
    return QSettings("prune-viz", "prune-viz")


def recent_models(settings: QSettings) -> list[str]:
    value = settings.value(RECENT_KEY, [])
    if isinstance(value, str):  # QSettings returns a lone string for a one-item list
        value = [value]
    return [str(p) for p in (value or []) if Path(str(p)).exists()]


def remember_model(settings: QSettings, path: str) -> list[str]:
    path = str(Path(path).resolve())
    paths = [path] + [p for p in recent_models(settings) if p != path]
    settings.setValue(RECENT_KEY, paths[:MAX_RECENT])
    settings.sync()
    return paths[:MAX_RECENT]


def remembered_data_path(settings: QSettings) -> str | None:
    value = settings.value(DATA_KEY, "")
    return str(value) if value and Path(str(value)).exists() else None


def remember_data_path(settings: QSettings, path: str) -> None:
    settings.setValue(DATA_KEY, str(Path(path).resolve()))
    settings.sync()


def window_settings(widget) -> QSettings | None:
    """The settings of the window holding ``widget`` (the main window's own, so tests can give it a
    temporary file), or None outside such a window."""
    settings = getattr(widget.window(), "settings", None) if widget is not None else None
    return settings if isinstance(settings, QSettings) else None


def save_folder(settings: QSettings | None) -> str:
    """Where a save dialog starts: the last folder saved to, else the home folder (never the folder
    of the opened checkpoint, which may be read-only or shared)."""
    value = settings.value(SAVE_FOLDER_KEY, "") if settings is not None else ""
    return str(value) if value and Path(str(value)).is_dir() else str(Path.home())


def remember_save_folder(settings: QSettings | None, path: str | Path) -> None:
    if settings is not None:
        settings.setValue(SAVE_FOLDER_KEY, str(Path(path).resolve().parent))
        settings.sync()


def remembered_custom_objects(settings: QSettings) -> str | None:
    """The custom objects file (.py) models are opened with, if one was chosen and still exists."""
    value = settings.value(CUSTOM_OBJECTS_KEY, "")
    return str(value) if value and Path(str(value)).is_file() else None


def remember_custom_objects(settings: QSettings, path: str | None) -> None:
    """Remember ``path`` as the custom objects file, or forget it (None)."""
    if path:
        settings.setValue(CUSTOM_OBJECTS_KEY, str(Path(path).resolve()))
    else:
        settings.remove(CUSTOM_OBJECTS_KEY)
    settings.sync()
