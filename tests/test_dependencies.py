"""Every runtime dependency declared in pyproject.toml is imported somewhere in prune_viz."""

from __future__ import annotations

import ast
import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imported_top_level_modules() -> set[str]:
    modules = set()
    for path in (ROOT / "prune_viz").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_declared_dependency_is_imported():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    distributions = {_normalise(re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0]) for spec in declared}
    imported_by = {}
    for module, dists in packages_distributions().items():
        for dist in dists:
            imported_by.setdefault(_normalise(dist), set()).add(module)
    used = _imported_top_level_modules()
    unused = sorted(d for d in distributions if not imported_by.get(d, set()) & used)
    assert unused == [], f"declared in pyproject.toml but never imported by prune_viz: {unused}"
