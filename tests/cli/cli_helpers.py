"""Running prune-viz as a user runs it, and what a user error must look like."""

from __future__ import annotations

import csv

from prune_viz.cli import main


def run(capsys, *argv):
    """main(argv) -> (exit code, stdout, stderr); argparse's own errors exit through SystemExit."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prune-viz"), err
    for fragment in fragments:
        assert fragment in lines[0]


def csv_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
