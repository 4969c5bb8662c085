"""pyproject.toml's metadata agrees with the package, the README and the desktop files."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import prune_viz

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
APP_ID = "io.github.pruneviz.PruneViz"


def supported_minors() -> list[int]:
    """The 3.x minor versions requires-python allows, from its ">=3.A,<3.B" form."""
    match = re.fullmatch(r">=3\.(\d+),<3\.(\d+)", PROJECT["requires-python"].replace(" ", ""))
    assert match, f"requires-python {PROJECT['requires-python']!r} is not '>=3.A,<3.B'"
    return list(range(int(match[1]), int(match[2])))


def test_the_version_is_written_once_in_the_package():
    assert "version" not in PROJECT and "version" in PROJECT["dynamic"]
    assert SETUPTOOLS["dynamic"]["version"] == {"attr": "prune_viz.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", prune_viz.__version__)


def test_python_classifiers_and_readme_state_the_requires_python_range():
    minors = supported_minors()
    stated = sorted(
        int(c.rsplit(".", 1)[1])
        for c in PROJECT["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    )
    assert stated == minors
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"Python 3.{minors[0]}-3.{minors[-1]}" in readme


def test_project_urls_are_on_the_github_owner_the_app_id_names():
    owner = APP_ID.split(".")[2]
    assert PROJECT["urls"], "no [project.urls]"
    for name, url in PROJECT["urls"].items():
        assert url.startswith(f"https://github.com/{owner}/{PROJECT['name']}"), name
