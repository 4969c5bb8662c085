"""The ``prune-viz`` argument parser, built from the subcommand modules."""

from __future__ import annotations

import argparse
import importlib

from prune_viz.cli.arguments import OneLineErrorParser
from prune_viz.cli.command_names import COMMAND_NAMES

# name -> module with add_parser(subparsers) and run(args) -> exit code; in --help order
COMMANDS = {name: importlib.import_module(f"prune_viz.cli.{name}") for name in COMMAND_NAMES}


def build_parser() -> argparse.ArgumentParser:
    from prune_viz import __version__

    parser = OneLineErrorParser(prog="prune-viz", description="A desktop lab for neural-network pruning.")
    parser.add_argument("--version", action="version", version=f"prune-viz {__version__}")
    subparsers = parser.add_subparsers(dest="command", parser_class=OneLineErrorParser)
    for module in COMMANDS.values():
        module.add_parser(subparsers)
    return parser
