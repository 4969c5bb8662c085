"""The house rules, checked on the code: the import-linter contracts in pyproject.toml hold, and no
two prune_viz modules import each other, directly or round a loop, counting imports inside
functions (a lazy import hides a cycle; it does not break it)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def import_cycles(package: str) -> list[list[str]]:
    """The strongly connected components of more than one module in ``package``'s import graph."""
    graph = grimp.build_graph(package, cache_dir=None)
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's algorithm
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in edges[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return cycles


def test_no_module_of_prune_viz_is_in_an_import_cycle():
    assert import_cycles("prune_viz") == []


def test_the_cycle_finder_sees_a_cycle_hidden_behind_an_import_inside_a_function(tmp_path, monkeypatch):
    package = tmp_path / "tangled"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "window.py").write_text("from tangled.commands import write_csv\n")
    (package / "commands.py").write_text(
        textwrap.dedent("""
        def write_csv():
            from tangled.window import nothing  # lazy, but still a cycle
    """)
    )
    (package / "leaf.py").write_text("import tangled.window\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("tangled") == [["tangled.commands", "tangled.window"]]


def test_the_import_linter_contracts_are_kept():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's prune_viz, not an installed one
    lint_imports = Path(sys.executable).with_name("lint-imports")
    command = [str(lint_imports)] if lint_imports.exists() else ["lint-imports"]
    result = subprocess.run([*command, "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout
