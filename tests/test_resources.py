"""The shipped files (demo checkpoint, lessons, icons, MNIST test set, reference curves) are package
data found through importlib.resources: from the checkout, and from a zip import, where they must
be copied out as real files in the same layout."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import prune_viz
from prune_viz import resources

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(prune_viz.__file__).parent


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_file_under_data_is_declared_package_data():
    """What a wheel ships is what pyproject's package-data globs match (setuptools globs them)."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]["prune_viz"]
    shipped = {path for pattern in patterns for path in PACKAGE.glob(pattern) if path.is_file()}
    on_disk = {path for path in (PACKAGE / "data").rglob("*") if path.is_file()}
    assert on_disk - shipped == set()
    assert resources.demo_model_path() in shipped and resources.example_lesson_path() in shipped


def test_the_shipped_files_are_found_inside_the_package():
    data = PACKAGE / "data"
    assert resources.data_folder() == data
    assert resources.demo_model_path() == data / resources.DEMO_MODEL
    assert zipfile.is_zipfile(resources.demo_model_path())  # a .keras file is a zip
    lesson = json.loads(resources.example_lesson_path().read_text(encoding="utf-8"))
    assert lesson["model_sha256"] == _sha256(resources.demo_model_path())
    assert resources.icon_path("prune-viz.svg").read_text(encoding="utf-8").startswith("<svg")
    assert resources.icon_path("prune-viz-256.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert resources.icon_path("prune-viz-1000.png") is None
    test_set = resources.mnist_test_set_folder()
    assert {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"} <= {p.name for p in test_set.iterdir()}
    assert resources.reference_curves_csv().is_file()
    assert resources.resource_path("no-such-file.keras") is None


# Run with the zip first on sys.path and the checkout nowhere on it. prune_viz.core.lesson resolves
# the lesson's "../demo-lenet-300-100.keras" as the window does.
ZIP_CHECK = """
import hashlib, json, sys
from importlib.resources import files
from pathlib import Path
import prune_viz
from prune_viz import resources
from prune_viz.core.data import load_bundled_test_set
from prune_viz.core.lesson import read_lesson
assert prune_viz.__file__.startswith(sys.argv[1]), prune_viz.__file__
assert not isinstance(files("prune_viz"), Path)  # a zipfile.Path: the data is not on disk
lesson_path = resources.example_lesson_path()
demo = read_lesson(lesson_path).model_path(lesson_path)
print(json.dumps({
    "folder": str(resources.data_folder()),
    "demo_sha256": hashlib.sha256(resources.demo_model_path().read_bytes()).hexdigest(),
    "lesson_demo": str(demo.resolve()), "demo": str(resources.demo_model_path().resolve()),
    "warning": read_lesson(lesson_path).model_warning(lesson_path),
    "icon": resources.icon_path("prune-viz-256.png").stat().st_size,
    "test_images": len(load_bundled_test_set().x_test),
}))
"""


def test_a_zip_import_reads_the_shipped_files_as_real_files(tmp_path):
    archive = tmp_path / "prune_viz.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in PACKAGE.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                out.write(path, path.relative_to(PACKAGE.parent).as_posix())
    env = {"PYTHONPATH": str(archive), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", ZIP_CHECK, str(archive)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["demo_sha256"] == _sha256(resources.demo_model_path())
    assert found["lesson_demo"] == found["demo"] and found["warning"] is None
    assert found["icon"] == resources.icon_path("prune-viz-256.png").stat().st_size
    assert found["test_images"] == 10_000
    assert not Path(found["folder"]).exists()  # the copy is removed when the process exits
