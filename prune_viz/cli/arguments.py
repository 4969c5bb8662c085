"""The argument parser and the options the subcommands and the window share (pruning, data, outputs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from prune_viz.core.criteria import LAMP_NOTE
from prune_viz.core.data import SOURCES_HELP, search_order
from prune_viz.core.inputs import PREPROCESSING
from prune_viz.core.patterns import PatternError, block_text, nm_text, parse_block, parse_nm
from prune_viz.core.pruning import CRITERIA, METHODS, SCOPES, UNIT_MODES, PruningConfig, PruningError, parse_k

SUBCOMMAND_PRUNING = PruningConfig()  # what a subcommand prunes with when an option is not given


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


def nm_value(text: str) -> tuple[int, int]:
    """An N:M pattern like 2:4, checked as the core checks it."""
    try:
        return parse_nm(text)
    except PatternError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def block_value(text: str) -> tuple[int, int]:
    """A block like 4x4 or 1x8 (rows x columns of the matrix view), checked as the core checks it."""
    try:
        return parse_block(text)
    except PatternError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def layer_k_value(text: str) -> tuple[str, float]:
    """NAME=K: a prunable tensor pruned at its own k."""
    name, sep, k = text.rpartition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=K, e.g. fc1=80, not {text!r}")
    return name, k_value(k)


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
    """A seed: a whole number, 0 or more (NumPy's generators refuse negative seeds)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def add_pruning_args(parser: argparse.ArgumentParser, *, seed_flag: bool = True) -> None:
    add_pruning_choice_args(parser, SUBCOMMAND_PRUNING, seed_flag=seed_flag)
    add_include_output_arg(parser)


def add_pruning_choice_args(parser, defaults: PruningConfig | None, *, seed_flag: bool = True) -> None:
    """--method, --k, --scope, --criterion, --unit-mode and the random criterion's seed. With ``defaults``
    None an option not given is None, so the window keeps what a lesson or the opened model says."""
    parser.add_argument(
        "--method",
        choices=METHODS,
        **_default("weight, unit, nm (N of every M inputs kept: --nm) or block (--block) pruning", defaults, "method"),
    )
    parser.add_argument("--k", type=k_value, **_default("percent to prune, 0-100 (not used by nm)", defaults, "k"))
    add_pattern_args(parser, defaults)
    add_layer_k_arg(parser)
    parser.add_argument("--scope", choices=SCOPES, **_default("layerwise or global threshold", defaults, "scope"))
    parser.add_argument(
        "--criterion",
        choices=CRITERIA,
        **_default(
            "what ranks the weights and units; taylor reads the training split of the data (MNIST's training "
            f"images by default, downloaded if not found). {LAMP_NOTE}",
            defaults,
            "criterion",
        ),
    )
    add_unit_mode_args(parser, defaults, seed_flag=seed_flag)


def add_pattern_args(parser, defaults: PruningConfig | None = SUBCOMMAND_PRUNING) -> None:
    """--nm N:M and --block RxC: the patterns of --method nm and --method block."""
    for flag, value_type, metavar, text, field, shown in (
        ("--nm", nm_value, "N:M", "--method nm keeps the N highest of every M consecutive inputs", "nm", nm_text),
        (
            "--block",
            block_value,
            "RxC",
            "--method block prunes the k%% of RxC blocks (e.g. 4x4, 1x8) with the smallest L2 norm",
            "block",
            block_text,
        ),
    ):
        if defaults is None:
            parser.add_argument(flag, type=value_type, metavar=metavar, default=None, help=text)
        else:
            value = getattr(defaults, field)
            parser.add_argument(
                flag, type=value_type, metavar=metavar, default=value, help=f"{text} (default: {shown(value)})"
            )


def add_layer_k_arg(parser, what: str = "--k") -> None:
    parser.add_argument(
        "--layer-k",
        action="append",
        type=layer_k_value,
        metavar="NAME=K",
        help=f"prune the tensor NAME at its own k instead of {what} (repeatable); with global scope it is "
        "pruned alone and the others share the global threshold",
    )


def add_unit_mode_args(parser, defaults: PruningConfig | None = SUBCOMMAND_PRUNING, *, seed_flag: bool = True) -> None:
    """--unit-mode, and the random criterion's seed (--seed unless the command has its own --seed)."""
    parser.add_argument(
        "--unit-mode",
        choices=UNIT_MODES,
        **_default(
            "kernel: zero a pruned unit's kernel column; remove: also its bias and the "
            "channel of a BatchNormalization right after it",
            defaults,
            "unit_mode",
        ),
    )
    flags = ("--seed", "--criterion-seed") if seed_flag else ("--criterion-seed",)
    parser.add_argument(
        *flags,
        dest="criterion_seed",
        type=seed_value,
        metavar="SEED",
        **_default("seed of the random criterion", defaults, "seed"),
    )


def _default(help_text: str, defaults: PruningConfig | None, field: str) -> dict:
    """add_argument's default and help for one PruningConfig field: None, and no note, without ``defaults``."""
    if defaults is None:
        return {"default": None, "help": help_text}
    value = getattr(defaults, field)
    shown = f"{value:g}" if isinstance(value, float) else value
    return {"default": value, "help": f"{help_text} (default: {shown})"}


def pruning_fields(args) -> dict:
    """The PruningConfig fields the pruning options give."""
    fields = {"unit_mode": args.unit_mode, "seed": args.criterion_seed}
    for name in ("method", "k", "scope", "criterion"):
        if hasattr(args, name):
            fields[name] = getattr(args, name)
    for name in ("nm", "block"):  # None (the window: not given) keeps what the session has
        if getattr(args, name, None) is not None:
            fields[name] = getattr(args, name)
    if getattr(args, "layer_k", None):
        fields["layer_k"] = dict(args.layer_k)
    return fields


def add_open_args(parser) -> None:
    """--custom-objects and --allow-lambda: how a model Keras cannot rebuild on its own is opened."""
    parser.add_argument(
        "--custom-objects",
        metavar="FILE.py",
        help="a Python file defining the model's custom Keras classes and functions: it is imported (so its "
        "code runs) and its classes rebuild the whole model; without it such a model opens from its weights only",
    )
    parser.add_argument(
        "--allow-lambda",
        action="store_true",
        help="let Lambda layers run the Python code saved in the model file (Keras's safe mode off); "
        "only for files you trust",
    )


def open_options(args):
    """The core's OpenOptions from --custom-objects and --allow-lambda (defaults where a parser has neither)."""
    from prune_viz.core.io.open_options import OpenOptions

    custom = getattr(args, "custom_objects", None)
    return OpenOptions(Path(custom).expanduser() if custom else None, bool(getattr(args, "allow_lambda", False)))


def add_include_output_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--include-output", action="store_true", help="also prune the output layer (each head of a multi-output model)"
    )


def add_data_arg(parser: argparse.ArgumentParser, *, looked_at_first: str = "", need_training: bool = False) -> None:
    """--data; ``looked_at_first`` names where data is looked for before load_mnist's order,
    ``need_training`` says the command reads the training images (which the bundled test set lacks)."""
    first = f"{looked_at_first}, then " if looked_at_first else ""
    parser.add_argument(
        "--data",
        metavar="SOURCE",
        help=f"the data: {SOURCES_HELP} (default: MNIST from {first}{search_order(need_training)})",
    )


def add_data_args(parser: argparse.ArgumentParser, *, looked_at_first: str = "", need_training: bool = False) -> None:
    """--data (``add_data_arg``) and --preprocess."""
    add_data_arg(parser, looked_at_first=looked_at_first, need_training=need_training)
    parser.add_argument(
        "--preprocess", choices=PREPROCESSING, default="auto", help="input scaling (default: auto, chosen on a sample)"
    )


def add_model_output_args(parser: argparse.ArgumentParser, help_text: str = "the .keras file to write") -> None:
    parser.add_argument("--out", required=True, help=help_text)
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
