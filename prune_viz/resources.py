"""The files that ship inside the package, under prune_viz/data/: the demo checkpoint, the lessons,
the icons, the MNIST test set and the published reference curves.

They are found through importlib.resources, so a checkout, a wheel install and a PyInstaller
bundle all read them the same way. Keras, gzip and a lesson's relative model path need real
files in a real folder; when the package is imported from a zip, the data folder is copied out
once (and removed at exit).
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.abc import Traversable

DEMO_MODEL = "demo-lenet-300-100.keras"
# it names the demo model as "../demo-lenet-300-100.keras": the two keep this layout
EXAMPLE_LESSON = "lessons/first-pruning-class.pvlesson"
TEST_SET = "mnist"
REFERENCE_CURVES = "reference/forai_mnist_no_retraining.csv"


@functools.cache
def data_folder() -> Path:
    """prune_viz/data as a folder on disk."""
    data = files("prune_viz") / "data"
    if isinstance(data, Path):  # a checkout, an installed wheel, a PyInstaller bundle
        return data
    copy = Path(tempfile.mkdtemp(prefix="prune-viz-data-"))
    atexit.register(shutil.rmtree, copy, ignore_errors=True)
    _copy_tree(data, copy)
    return copy


def _copy_tree(source: Traversable, target: Path) -> None:
    for entry in source.iterdir():
        if entry.is_dir():
            (target / entry.name).mkdir()
            _copy_tree(entry, target / entry.name)
        else:
            (target / entry.name).write_bytes(entry.read_bytes())


def resource_path(relative: str) -> Path | None:
    """The shipped file or folder at ``relative`` (a '/'-separated path under prune_viz/data), or
    None if this installation left it out."""
    path = data_folder().joinpath(*relative.split("/"))
    return path if path.exists() else None


def demo_model_path() -> Path | None:
    return resource_path(DEMO_MODEL)


def example_lesson_path() -> Path | None:
    return resource_path(EXAMPLE_LESSON)


def icon_path(name: str) -> Path | None:
    """An icon by file name: "prune-viz.svg" or "prune-viz-SIZE.png" (SIZE 16 to 512)."""
    return resource_path(f"icons/{name}")


def mnist_test_set_folder() -> Path:
    """The 10,000-image MNIST test set's IDX files, with their attribution and SHA256SUMS."""
    return data_folder() / TEST_SET


def reference_curves_csv() -> Path:
    return data_folder().joinpath(*REFERENCE_CURVES.split("/"))
