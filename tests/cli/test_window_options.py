"""``prune-viz [MODEL] [options]``: the window's options are parsed once, in cli.window, listed by
``prune-viz --help``, and reach the window."""

from __future__ import annotations

import re
import struct
from pathlib import Path

from prune_viz.cli.window import build_parser, window_options
from prune_viz.core.pruning import PruningConfig
from prune_viz.gui.shell.app import WindowOptions

from cli_helpers import run


def png_size(path) -> tuple[int, int]:
    header = Path(path).read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_help_lists_every_window_option_and_says_no_command_opens_the_window(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "With no COMMAND, prune-viz opens the window: on MODEL if given, else on the bundled demo model." in (
        " ".join(out.split())
    )
    window_flags = set(re.findall(r"--[a-z-]+", build_parser().format_usage())) - {"--help"}
    assert {
        "--method",
        "--k",
        "--seed",
        "--presenter",
        "--high-contrast",
        "--size",
        "--screenshot",
        "--panel",
        "--evaluate",
        "--data",
        "--preprocess",
    } <= window_flags
    listed = set(re.findall(r"--[a-z-]+", out.split("the window (no COMMAND)")[1]))
    assert window_flags <= listed
    for command in ("inspect", "evaluate", "sweep", "export", "finetune"):
        assert re.search(rf"^\s+{command}\s", out, re.MULTILINE)


def test_evaluate_help_names_the_bundled_test_set_as_its_last_data(capsys):
    code, out, _ = run(capsys, "evaluate", "--help")
    words = " ".join(out.split())
    assert code == 0
    assert "then the Keras cache, then the MNIST test set bundled with prune-viz" in words


def test_subcommands_keep_the_cores_pruning_defaults():
    args = build_parser().parse_args([])
    assert (args.method, args.k, args.scope, args.criterion, args.unit_mode, args.criterion_seed) == (None,) * 6
    from prune_viz.cli.parser import build_parser as build_command_parser

    evaluate = build_command_parser().parse_args(["evaluate", "m.keras"])
    core = PruningConfig()
    assert (
        evaluate.method,
        evaluate.k,
        evaluate.scope,
        evaluate.criterion,
        evaluate.unit_mode,
        evaluate.criterion_seed,
    ) == (core.method, core.k, core.scope, core.criterion, core.unit_mode, core.seed)


def test_parsed_options_become_the_windows_options():
    args = build_parser().parse_args(
        [
            "lenet.keras",
            "--method",
            "unit",
            "--k",
            "37.5",
            "--criterion",
            "random",
            "--seed",
            "4",
            "--presenter",
            "--size",
            "1024x640",
            "--panel",
            "flips",
        ]
    )
    options = window_options(args)
    assert options == WindowOptions(
        model="lenet.keras",
        method="unit",
        k=37.5,
        criterion="random",
        seed=4,
        presenter=True,
        size=(1024, 640),
        panel="flips",
    )
    assert options.pruning() == {"method": "unit", "k": 37.5, "criterion": "random", "seed": 4}
    assert window_options(build_parser().parse_args([])) == WindowOptions()


def test_a_negative_seed_is_refused_in_one_line(tmp_path, run_window):
    done = run_window("--seed", "-3", "--screenshot", tmp_path / "x.png")
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert errors == ["prune-viz: error: argument --seed/--criterion-seed: must be 0 or more, not -3"]
    assert not (tmp_path / "x.png").exists()


def test_the_window_size_given_on_the_command_line_reaches_the_window(tmp_path, run_window):
    out = tmp_path / "demo.png"
    done = run_window("--size", "1280x720", "--screenshot", out)
    assert done.returncode == 0, done.stderr[-2000:]
    assert png_size(out) == (1280, 720)
