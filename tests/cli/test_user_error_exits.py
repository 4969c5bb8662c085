"""The command line tells a user's error from a bug by core.errors alone: any UserError (or OSError)
exits 2 with one line, whatever module raised it; anything else is not swallowed."""

from __future__ import annotations

import pytest

import prune_viz.cli.inspect
from prune_viz.core.data import MissingData
from prune_viz.core.errors import UserError

from cli_helpers import assert_one_line_error, run

MODEL = "model.keras"  # never read: the command's run is replaced by one that raises


def raising(exc: BaseException):
    def run_command(args) -> int:
        raise exc

    return run_command


def test_a_new_user_error_class_exits_2_with_one_line_without_being_listed(monkeypatch, capsys):
    class NewlyAddedError(UserError):
        pass

    monkeypatch.setattr(prune_viz.cli.inspect, "run", raising(NewlyAddedError("The frobnicator is not set.")))
    code, out, err = run(capsys, "inspect", MODEL)
    assert_one_line_error(code, err, "prune-viz: error: The frobnicator is not set.")
    assert out == "" and "Traceback" not in err


def test_missing_data_says_how_to_point_at_some(monkeypatch, capsys):
    monkeypatch.setattr(prune_viz.cli.inspect, "run", raising(MissingData("MNIST is not on this machine.")))
    code, _, err = run(capsys, "inspect", MODEL)
    assert_one_line_error(code, err, "MNIST is not on this machine.", "--data SOURCE", "PRUNE_VIZ_MNIST")


def test_an_os_error_exits_2_naming_the_file(monkeypatch, capsys):
    monkeypatch.setattr(
        prune_viz.cli.inspect, "run", raising(PermissionError(13, "Permission denied", "/read-only/out.csv"))
    )
    code, _, err = run(capsys, "inspect", MODEL)
    assert_one_line_error(code, err, "Permission denied: /read-only/out.csv")


def test_a_bug_is_not_passed_off_as_the_users_error(monkeypatch, capsys):
    monkeypatch.setattr(prune_viz.cli.inspect, "run", raising(RuntimeError("an index went out of range")))
    with pytest.raises(RuntimeError, match="out of range"):
        run(capsys, "inspect", MODEL)
