"""prune_viz.core must stay usable without Qt: no module in it imports a Qt binding."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import prune_viz.core

QT_MODULES = ("PySide6", "PySide2", "PyQt5", "PyQt6", "shiboken6", "qtpy", "pyqtgraph", "superqt", "pytestqt")
CORE_DIR = Path(prune_viz.core.__file__).parent


def _imported_names(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_no_core_module_names_a_qt_import():
    offenders = [
        f"{path.relative_to(CORE_DIR)}: {name}"
        for path in sorted(CORE_DIR.rglob("*.py"))
        for name in _imported_names(path)
        if name.split(".")[0] in QT_MODULES
    ]
    assert offenders == []


def test_importing_every_core_module_loads_no_qt():
    modules = sorted(
        ".".join(("prune_viz", "core", *p.relative_to(CORE_DIR).with_suffix("").parts))
        for p in CORE_DIR.rglob("*.py")
        if p.stem != "__init__"
    )  # subpackages' modules too
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == ""
