"""Recently opened models and the last data path, remembered in QSettings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

MAX_RECENT = 10
RECENT_KEY = "recent/models"
DATA_KEY = "data/path"


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
