"""Keras picks its reader by a file's extension: the same file seen under the name it needs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def view_with_suffix(path: Path, link: Path) -> Path:
    """Keras picks its reader by extension: a symlink (or copy) of ``path`` under the right name."""
    try:
        os.symlink(path.resolve(), link)
    except OSError:
        shutil.copyfile(path, link)
    return link
