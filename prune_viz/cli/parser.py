"""The ``prune-viz`` argument parser, built from the subcommand modules; its --help also lists the
window's options (cli.window), which run with no subcommand."""

from __future__ import annotations

import argparse
import importlib

from prune_viz.cli import window
from prune_viz.cli.arguments import OneLineErrorParser
from prune_viz.cli.command_names import COMMAND_NAMES

# name -> module with add_parser(subparsers) and run(args) -> exit code; in --help order
COMMANDS = {name: importlib.import_module(f"prune_viz.cli.{name}") for name in COMMAND_NAMES}

USAGE = "%(prog)s [-h] [--version] COMMAND ...\n       %(prog)s [MODEL] [window options]"


class CommandParser(OneLineErrorParser):
    """The subcommands' parser; its help ends with the window's options."""

    def format_help(self) -> str:
        return f"{super().format_help()}\n{window.options_help()}"


def build_parser() -> argparse.ArgumentParser:
    from prune_viz import __version__

    parser = CommandParser(
        prog="prune-viz",
        usage=USAGE,
        description=f"A desktop lab for neural-network pruning. {window.DESCRIPTION} A COMMAND runs headless.",
    )
    parser.add_argument("--version", action="version", version=f"prune-viz {__version__}")
    subparsers = parser.add_subparsers(
        dest="command", title="commands", metavar="COMMAND", prog="prune-viz", parser_class=OneLineErrorParser
    )
    for module in COMMANDS.values():
        module.add_parser(subparsers)
    return parser
