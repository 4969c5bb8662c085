"""``prune-viz [MODEL] [options]``, with no subcommand: the window's options, parsed here and handed
to gui.shell.app.run_app as a WindowOptions (the gui imports no cli).

Importing this module imports nothing slow: the parser needs the core's choices (and so NumPy),
so run_app parses only once its start-up window is painted.
"""

from __future__ import annotations

import argparse

DESCRIPTION = "With no COMMAND, prune-viz opens the window: on MODEL if given, else on the bundled demo model."
UNSET_PRUNING = "A pruning option not given leaves a model unpruned and a lesson as it was saved."


def size_value(text: str) -> tuple[int, int]:
    """WIDTHxHEIGHT, at least 640x400."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 1280x720") from None
    if width < 640 or height < 400:
        raise argparse.ArgumentTypeError(f"{text} is too small: at least 640x400")
    return width, height


def add_window_args(parser) -> None:
    """MODEL and the window's options, on a parser or an argument group."""
    from prune_viz.cli.arguments import add_data_args, add_open_args, add_pruning_choice_args

    parser.add_argument(
        "model",
        nargs="?",
        metavar="MODEL",
        help="a .keras/.h5 file, a SavedModel folder or a .pvlesson lesson, opened as saved "
        "(default: the bundled demo model)",
    )
    add_open_args(parser)
    add_pruning_choice_args(parser, None)
    parser.add_argument("--evaluate", action="store_true", help="evaluate once the model is open")
    parser.add_argument(
        "--screenshot",
        metavar="OUT.png",
        help="save an image of the window once ready (after --evaluate's result) and exit",
    )
    parser.add_argument(
        "--panel",
        choices=("draw", "flips", "filters", "activations", "spectrum"),
        help="open with a classroom-lab panel showing: draw (a digit pad), flips (which digits "
        "break first; its scan starts once the model is open), filters (convolution filters as "
        "pictures), activations (each layer's activations for the first test item) or spectrum (each "
        "layer's eigenvalue spectrum and power-law alpha, pruned at k beside the original)",
    )
    parser.add_argument("--presenter", action="store_true", help="presenter mode: large text")
    parser.add_argument("--high-contrast", action="store_true", help="high-contrast colours in every view")
    parser.add_argument(
        "--size",
        type=size_value,
        metavar="WxH",
        help="window size in pixels, e.g. 1280x720 (also the size of --screenshot's image)",
    )
    add_data_args(parser, looked_at_first="the data last chosen in the window")


def build_parser() -> argparse.ArgumentParser:
    from prune_viz.cli.arguments import OneLineErrorParser

    parser = OneLineErrorParser(
        prog="prune-viz",
        description=f"{DESCRIPTION} {UNSET_PRUNING} Subcommands "
        "(inspect, evaluate, ...) run headless: see "
        "prune-viz --help.",
    )
    add_window_args(parser)
    return parser


def options_help() -> str:
    """MODEL and the window's options as one section of ``prune-viz --help``."""
    parser = argparse.ArgumentParser(prog="prune-viz", usage=argparse.SUPPRESS, add_help=False)
    add_window_args(parser.add_argument_group("the window (no COMMAND)", UNSET_PRUNING))
    return parser.format_help()


def window_options(args: argparse.Namespace):
    """The parsed options as gui.shell.app.WindowOptions (an option it has no field for fails here, at once)."""
    from prune_viz.gui.shell.app import WindowOptions

    given = vars(args).copy()
    given["seed"] = given.pop("criterion_seed")  # the subcommands' name for it; the window has one seed
    return WindowOptions(**given)


def run(argv: list[str]) -> int:
    from prune_viz.gui.shell.app import run_app

    if "-h" in argv or "--help" in argv:
        build_parser().parse_args(argv)  # prints the help and exits, with no window
    return run_app(lambda: window_options(build_parser().parse_args(argv)))
