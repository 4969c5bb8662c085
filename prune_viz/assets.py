"""Where the bundled files (demo checkpoint, icons) are: the checkout's assets/ or an install's share/."""

from __future__ import annotations

import sys
from pathlib import Path

DEMO_MODEL_NAME = "demo-lenet-300-100.keras"


def assets_dir() -> Path | None:
    candidates = [
        Path(__file__).resolve().parent.parent / "assets",  # source checkout / editable install
        Path(sys.prefix) / "share" / "prune-viz",  # pip install . (data-files)
    ]
    if getattr(sys, "frozen", False) and hasattr(sys, "_MEIPASS"):
        candidates.append(Path(sys._MEIPASS) / "assets")  # PyInstaller bundle
    for folder in candidates:
        if folder.is_dir():
            return folder
    return None


def asset(name: str) -> Path | None:
    folder = assets_dir()
    if folder is None:
        return None
    path = folder / name
    return path if path.exists() else None


def demo_model_path() -> Path | None:
    return asset(DEMO_MODEL_NAME)
