"""The argument parser and the options the subcommands share (model pruning, data, outputs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from prune_viz.core.inputs import PREPROCESSING
from prune_viz.core.pruning import CRITERIA, METHODS, SCOPES, UNIT_MODES, PruningError, parse_k


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2 (no usage block)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def k_value(text: str) -> float:
    """A percentage to prune, checked as the core checks it."""
    try:
        return parse_k(text)
    except PruningError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def seed_value(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def add_pruning_args(parser: argparse.ArgumentParser, *, seed_flag: bool = True) -> None:
    parser.add_argument("--method", choices=METHODS, default="weight", help="weight or unit pruning")
    parser.add_argument("--k", type=k_value, default=0.0, help="percent to prune, 0-100")
    parser.add_argument("--scope", choices=SCOPES, default="layer", help="layerwise or global threshold")
    parser.add_argument("--criterion", choices=CRITERIA, default="magnitude",
                        help="what ranks the weights and units (default: magnitude)")
    add_unit_mode_args(parser, seed_flag=seed_flag)
    add_include_output_arg(parser)


def add_unit_mode_args(parser: argparse.ArgumentParser, *, seed_flag: bool = True) -> None:
    """--unit-mode, and the random criterion's seed (--seed unless the command has its own --seed)."""
    parser.add_argument("--unit-mode", choices=UNIT_MODES, default="kernel",
                        help="kernel: zero a pruned unit's kernel column (default); remove: also its bias "
                             "and the channel of a BatchNormalization right after it")
    flags = ("--seed", "--criterion-seed") if seed_flag else ("--criterion-seed",)
    parser.add_argument(*flags, dest="criterion_seed", type=seed_value, default=0,
                        help="seed of the random criterion (default: 0)")


def pruning_fields(args) -> dict:
    """The PruningConfig fields the pruning options give."""
    fields = {"unit_mode": args.unit_mode, "seed": args.criterion_seed}
    for name in ("method", "k", "scope", "criterion"):
        if hasattr(args, name):
            fields[name] = getattr(args, name)
    return fields


def add_include_output_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--include-output", action="store_true", help="also prune the output layer")


def add_data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", metavar="PATH",
                        help="MNIST as a folder of IDX files or an .npz (default: $PRUNE_VIZ_MNIST, "
                             "then the Keras cache, then a download)")
    parser.add_argument("--preprocess", choices=PREPROCESSING, default="auto",
                        help="input scaling (default: auto, chosen on a sample)")


def add_model_output_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="the .keras file to write")
    add_force_arg(parser, "overwrite --out if it exists")


def add_force_arg(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--force", action="store_true", help=help_text)


def add_json_arg(parser: argparse.ArgumentParser, help_text: str = "print one JSON object") -> None:
    parser.add_argument("--json", action="store_true", help=help_text)


def checked_output(path: str | None, suffix: str, *, force: bool, inputs=()) -> Path | None:
    """``path`` as a Path, checked before any long work: its suffix, and that it may be written."""
    from prune_viz.cli.errors import UsageError
    from prune_viz.core.files import check_writable

    if path is None:
        return None
    out = Path(path).expanduser()
    if out.suffix.lower() != suffix:
        raise UsageError(f"{out.name} should end in {suffix}.")
    return check_writable(out, force=force, protect=inputs)
