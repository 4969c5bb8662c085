"""Fixtures shared by the CLI tests."""

from window_runs import run_window  # noqa: F401 (a fixture: prune-viz's window command in this process)
