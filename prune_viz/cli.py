"""Command line: ``prune-viz [MODEL]`` opens the app; subcommands run the headless core.

Errors the user can fix (bad file, bad k, missing data) exit with code 2 and one
line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from prune_viz.core.data import DataError
from prune_viz.core.inputs import PREPROCESSING, EvaluationUnavailable
from prune_viz.core.model_io import ModelLoadError
from prune_viz.core.pruning import METHODS, SCOPES, PruningError, parse_k
from prune_viz.core.tasks import Cancelled, TaskState

SUBCOMMANDS = {}


class UsageError(Exception):
    """A user error that argparse did not catch; exit code 2."""


USER_ERRORS = (ModelLoadError, DataError, PruningError, EvaluationUnavailable, UsageError, OSError)


def subcommand(name: str):
    def register(fn):
        SUBCOMMANDS[name] = fn
        return fn

    return register


def _k_arg(text: str) -> float:
    try:
        return parse_k(text)
    except PruningError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_pruning_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", choices=METHODS, default="weight", help="weight or unit pruning")
    parser.add_argument("--k", type=_k_arg, default=0.0, help="percent to prune, 0-100")
    parser.add_argument("--scope", choices=SCOPES, default="layer", help="layerwise or global threshold")
    parser.add_argument("--include-output", action="store_true", help="also prune the output layer")


def add_data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", metavar="PATH",
                        help="MNIST as a folder of IDX files or an .npz (default: $PRUNE_VIZ_MNIST, "
                             "then the Keras cache, then a download)")
    parser.add_argument("--preprocess", choices=PREPROCESSING, default="auto",
                        help="input scaling (default: auto, chosen on a sample)")


def build_parser() -> argparse.ArgumentParser:
    from prune_viz import __version__

    parser = _Parser(prog="prune-viz", description="A desktop lab for neural-network pruning.")
    parser.add_argument("--version", action="version", version=f"prune-viz {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    p = sub.add_parser("inspect", help="format, input shape and prunable layers of a model")
    p.add_argument("model")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("evaluate", help="MNIST accuracy of a model, optionally pruned")
    p.add_argument("model")
    add_pruning_args(p)
    add_data_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")

    for register in _EXTRA_PARSERS:
        register(sub)
    return parser


# Other modules (experiments, bench) add their subcommands here.
_EXTRA_PARSERS: list = []


def progress_printer(stream=None) -> TaskState:
    """A TaskState that draws a one-line progress bar on stderr when it is a terminal."""
    stream = stream or sys.stderr
    interactive = stream.isatty()
    last = {"text": ""}

    def show(fraction: float, message: str) -> None:
        if not interactive:
            return
        width = 30
        filled = int(fraction * width)
        text = f"\r[{'#' * filled}{'.' * (width - filled)}] {fraction * 100:5.1f}% {message[:40]:<40}"
        if text != last["text"]:
            stream.write(text)
            stream.flush()
            last["text"] = text

    state = TaskState(on_progress=show)
    state.finish = lambda: interactive and (stream.write("\r" + " " * 80 + "\r"), stream.flush())
    return state


def open_session(args, task: TaskState):
    from prune_viz.core.session import Session, open_model

    session = Session(data_path=getattr(args, "data", None),
                      preprocessing=getattr(args, "preprocess", "auto"))
    session.set_model(open_model(args.model, task))
    included = set(session.model.default_included)
    if getattr(args, "include_output", False):
        included = {layer.name for layer in session.model.layers}
    if not included and session.model.layers and getattr(args, "k", 0.0):  # inspecting or k=0 prunes nothing
        raise UsageError("The model's only prunable layer is its output layer; pass --include-output to prune it.")
    session.configure(method=getattr(args, "method", "weight"), k=getattr(args, "k", 0.0),
                      scope=getattr(args, "scope", "layer"), included=included)
    return session


def _layer_rows(session) -> list[dict]:
    result = session.result
    rows = []
    for layer in session.model.layers:
        stats = result.layer(layer.name)
        rows.append({
            "name": layer.name,
            "kind": layer.kind,
            "shape": list(layer.shape),
            "params": layer.size,
            "units": layer.units,
            "included": layer.name in session.config.included,
            "output_layer": layer.is_output,
            "sparsity": round(stats.sparsity, 6),
            "pruned_units": stats.pruned_units,
        })
    return rows


@subcommand("inspect")
def cmd_inspect(args) -> int:
    task = progress_printer()
    start = time.perf_counter()
    session = open_session(args, task)
    task.finish()
    loaded = session.model.loaded
    info = {
        "model": str(loaded.path),
        "format": loaded.format,
        "input_shape": [d for d in (loaded.input_shape or ())],
        "total_parameters": session.model.total_parameters,
        "prunable_parameters": session.result.prunable_size,
        "sparsity_prunable": round(session.result.prunable_sparsity, 6),
        "sparsity_all_weights": round(session.all_weights_sparsity(), 6),
        "layers": _layer_rows(session),
        "metadata": loaded.metadata,
        "notes": loaded.notes,
        "seconds": round(time.perf_counter() - start, 3),
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"Model:        {info['model']}")
    print(f"Format:       {info['format']}")
    for note in loaded.notes:
        print(f"Warning:      {note}")
    print(f"Input shape:  {tuple(loaded.input_shape) if loaded.input_shape else 'unknown'}")
    print(f"Parameters:   {info['total_parameters']:,} in all, {info['prunable_parameters']:,} in prunable kernels")
    print(f"Sparsity:     {info['sparsity_prunable'] * 100:.2f}% of prunable weights are zero, "
          f"{info['sparsity_all_weights'] * 100:.2f}% of all weights")
    if loaded.metadata:
        trained_on = loaded.metadata.get("trained_on")
        if trained_on:
            print(f"Trained on:   {trained_on}")
        if "test_accuracy" in loaded.metadata:
            print(f"Recorded test accuracy: {loaded.metadata['test_accuracy']:.4f}")
    print()
    header = f"{'layer':<28} {'kind':<7} {'shape':<20} {'params':>10} {'sparsity':>9}  note"
    print(header)
    print("-" * len(header))
    for row in info["layers"]:
        note = "output layer, excluded by default" if row["output_layer"] else ""
        print(f"{row['name']:<28} {row['kind']:<7} {'x'.join(map(str, row['shape'])):<20} "
              f"{row['params']:>10,} {row['sparsity'] * 100:>8.2f}%  {note}")
    if not info["layers"]:
        print("(no prunable layers: no Dense or Conv1D/Conv2D kernels)")
    print(f"\n({info['seconds']:.2f} s)")
    return 0


@subcommand("evaluate")
def cmd_evaluate(args) -> int:
    task = progress_printer()
    start = time.perf_counter()
    session = open_session(args, task.sub(0.0, 0.3))
    load_seconds = time.perf_counter() - start
    record, baseline = session.evaluate(task=task.sub(0.3, 1.0), with_baseline=True)
    task.finish()
    result = record.result
    out = {
        "model": str(session.model.loaded.path),
        "method": record.config.method,
        "k": record.config.k,
        "scope": record.config.scope,
        "included_layers": sorted(record.config.included),
        "accuracy": result.accuracy,
        "loss": result.loss,
        "correct": result.correct,
        "total": result.total,
        "unpruned_accuracy": baseline.result.accuracy if baseline else None,
        "sparsity_included": round(record.sparsity, 6),
        "sparsity_prunable": round(session.result.prunable_sparsity, 6),
        "sparsity_all_weights": round(session.all_weights_sparsity(), 6),
        "sparsity_per_layer": {row["name"]: row["sparsity"] for row in _layer_rows(session)},
        "per_class_accuracy": [round(float(a), 6) for a in result.per_class_accuracy],
        "preprocessing": result.preprocessing,
        "preprocessing_requested": session.preprocessing,
        "data": record.data_source,
        "model_trained_on": session.model.loaded.metadata.get("trained_on"),
        "notes": session.model.loaded.notes,
        "seconds": {"load": round(load_seconds, 3), "evaluate": round(result.seconds, 4),
                    "total": round(time.perf_counter() - start, 3)},
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    from prune_viz.core.inputs import PREPROCESSING_LABELS

    print(f"Model:        {out['model']}")
    for note in session.model.loaded.notes:
        print(f"Warning:      {note}")
    if out["model_trained_on"]:
        print(f"Trained on:   {out['model_trained_on']}")
    print(f"Pruning:      {record.config.describe()}, {len(record.config.included)} layer(s)")
    print(f"Sparsity:     {out['sparsity_included'] * 100:.2f}% of the pruned layers, "
          f"{out['sparsity_all_weights'] * 100:.2f}% of all weights")
    print(f"Test data:    {out['data']} ({result.total:,} test images)")
    chosen = PREPROCESSING_LABELS[result.preprocessing]
    auto = " (chosen automatically)" if session.preprocessing == "auto" else ""
    print(f"Input:        {chosen}{auto}")
    print(f"Accuracy:     {result.accuracy * 100:.2f}%  ({result.correct:,}/{result.total:,})")
    if baseline is not None and record.config.k:
        delta = (result.accuracy - baseline.result.accuracy) * 100
        print(f"Unpruned:     {baseline.result.accuracy * 100:.2f}%  (change {delta:+.2f} points)")
    print(f"Loss:         {result.loss:.4f}")
    print("Per class:    " + "  ".join(f"{d}:{a * 100:.1f}" for d, a in enumerate(result.per_class_accuracy)))
    print(f"\n(load {load_seconds:.2f} s, one evaluation pass {result.seconds:.3f} s)")
    return 0


# Names that mean a headless subcommand; anything else (a model path, GUI options) opens the app.
COMMAND_NAMES = ("inspect", "evaluate", "train", "sweep", "export", "finetune", "bench")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's C++ banner is noise on a terminal
    if not argv or argv[0] not in COMMAND_NAMES + ("-h", "--help", "--version"):
        from prune_viz.gui.app import run_app

        return run_app(argv)
    _load_extra_commands()
    args = build_parser().parse_args(argv)
    if args.command not in SUBCOMMANDS:
        print(f"prune-viz: error: the {args.command} command is not available in this build", file=sys.stderr)
        return 2
    try:
        from prune_viz.core.tf_runtime import import_tensorflow

        import_tensorflow()  # every command needs it; import it before anything can log
        return SUBCOMMANDS[args.command](args)
    except BrokenPipeError:  # e.g. `prune-viz inspect M | head`: the reader left, which is fine
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not fail too
        return 141
    except USER_ERRORS as exc:
        if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | PermissionError):
            message = f"{exc.strerror or exc} ({exc.filename})" if exc.filename else str(exc)
        elif isinstance(exc, OSError):
            message = f"{exc.strerror}: {exc.filename}"
        else:
            message = str(exc)
        print(f"prune-viz: error: {message}", file=sys.stderr)
        return 2
    except (Cancelled, KeyboardInterrupt):
        print("prune-viz: cancelled", file=sys.stderr)
        return 130


def _load_extra_commands() -> None:
    """Import the modules that register more subcommands (kept out of the GUI's start-up path)."""
    import importlib

    for module in ("prune_viz.commands.experiments", "prune_viz.commands.bench"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module.startswith(exc.name):
                raise
