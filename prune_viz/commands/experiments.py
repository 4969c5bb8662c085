"""``prune-viz train | sweep | export | finetune``: the experiment commands, thin shells over the core.

Every output file is written through a temp file in its folder and ``os.replace``,
and an existing file is only replaced with ``--force``.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from prune_viz import cli
from prune_viz.core.pruning import METHODS, SCOPES, PruningConfig
from prune_viz.core.tasks import Cancelled

# -- argument parsers ---------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise cli.argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise cli.argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise cli.argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not value > 0:
        raise cli.argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def register(sub) -> None:
    from prune_viz.core.architectures import ARCHITECTURES
    from prune_viz.core.sweep import DEFAULT_KS

    p = sub.add_parser("train", help="train fc-1000, LeNet-300-100 or LeNet-5 on MNIST")
    p.add_argument("--arch", choices=ARCHITECTURES, required=True)
    p.add_argument("--epochs", type=_positive_int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=_positive_int, default=128)
    p.add_argument("--learning-rate", type=_positive_float, default=1e-3, help="Adam learning rate")
    p.add_argument("--l2", type=float, default=0.0, metavar="PENALTY",
                   help="L2 penalty on kernels, e.g. 1e-3 (default 0: none)")
    p.add_argument("--validation-fraction", type=float, default=0.1,
                   help="share of the training images held out to pick the best epoch")
    p.add_argument("--data", metavar="PATH", help="MNIST folder of IDX files or .npz")
    p.add_argument("--out", required=True, help="the .keras file to write")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("sweep", help="accuracy and loss across k, for one model or several (one per seed)")
    p.add_argument("models", nargs="+", metavar="MODEL", help="one model, or one per seed for mean and std")
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS),
                   help="weight and/or unit (default: both)")
    p.add_argument("--ks", nargs="+", type=cli._k_arg, default=list(DEFAULT_KS),
                   help=f"percentages to prune (default: {' '.join(str(k) for k in DEFAULT_KS)})")
    p.add_argument("--scope", nargs="+", choices=SCOPES, default=["layer"],
                   help="layer, global, or both (ignored with --per-layer)")
    p.add_argument("--per-layer", action="store_true", help="sensitivity: prune one layer at a time")
    p.add_argument("--include-output", action="store_true", help="also prune the output layer")
    p.add_argument("--csv", metavar="OUT.csv", help="one row per (model, method, scope, layer, k)")
    p.add_argument("--plot", metavar="OUT.png", help="accuracy and loss curves")
    p.add_argument("--force", action="store_true", help="overwrite --csv/--plot if they exist")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    cli.add_data_args(p)

    p = sub.add_parser("export", help="write a pruned model (zeros in place, or --compact) and its size/speed")
    p.add_argument("model")
    cli.add_pruning_args(p)
    p.add_argument("--out", required=True, help="the .keras file to write")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--compact", action="store_true",
                   help="remove dead units physically (Dense/Conv chains) instead of keeping zeros")
    p.add_argument("--repeats", type=_positive_int, default=5, help="timed passes over the test set (median)")
    p.add_argument("--no-report", action="store_true", help="only write the file; skip sizes and timing")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    cli.add_data_args(p)

    p = sub.add_parser("finetune", help="retrain a pruned model with its masks fixed")
    p.add_argument("model")
    cli.add_pruning_args(p)
    p.add_argument("--epochs", type=_positive_int, default=3)
    p.add_argument("--batch-size", type=_positive_int, default=128)
    p.add_argument("--learning-rate", type=_positive_float, default=1e-4, help="Adam learning rate")
    p.add_argument("--seed", type=int, default=None,
                   help="shuffling and validation split (default: the model's training seed, else 0)")
    p.add_argument("--out", required=True, help="the .keras file to write")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    cli.add_data_args(p)


if register not in cli._EXTRA_PARSERS:
    cli._EXTRA_PARSERS.append(register)


def _user_errors(fn):
    """Turn the experiment modules' own one-sentence errors into cli.UsageError (exit 2)."""

    @functools.wraps(fn)
    def wrapper(args):
        from prune_viz.core.export import ExportError
        from prune_viz.core.finetune import FinetuneError
        from prune_viz.core.training import TrainingError

        try:
            return fn(args)
        except (ExportError, FinetuneError, TrainingError) as exc:
            raise cli.UsageError(str(exc)) from exc

    return wrapper


# -- shared helpers -----------------------------------------------------------------------------


def _check_output(path: str | None, force: bool, suffix: str, inputs=()) -> Path | None:
    """Fail before any long work if an output cannot be written."""
    if path is None:
        return None
    out = Path(path).expanduser()
    if out.suffix.lower() != suffix:
        raise cli.UsageError(f"{out.name} should end in {suffix}.")
    for source in inputs:
        if Path(source).expanduser().resolve() == out.resolve():
            raise cli.UsageError(f"Refusing to write over the input model {out}; choose another output.")
    if out.exists() and not force:
        raise cli.UsageError(f"{out} already exists; pass --force to overwrite it.")
    if not out.parent.is_dir():
        raise cli.UsageError(f"The folder {out.parent} does not exist.")
    return out


def _atomic_write(path: Path, write) -> None:
    """``write(temp_path)`` then rename over ``path``."""
    from prune_viz.core.export import new_file_mode

    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, new_file_mode(path))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _load_data(path: str | None):
    from prune_viz.core.data import load_mnist

    return load_mnist(path)


def _open(model_path: str, task):
    from prune_viz.core.session import open_model

    return open_model(model_path, task)


def _config(args, opened) -> PruningConfig:
    included = set(opened.default_included)
    if args.include_output:
        included = {layer.name for layer in opened.layers}
    if not included:
        raise cli.UsageError("The model's only prunable layer is its output layer; pass --include-output to prune it.")
    return PruningConfig(args.method, args.k, args.scope, frozenset(included))


def _mb(n: int) -> str:
    return f"{n / 1e6:.3f} MB"


# -- train --------------------------------------------------------------------------------------


@cli.subcommand("train")
@_user_errors
def cmd_train(args) -> int:
    from prune_viz.core.export import save_model_atomically
    from prune_viz.core.training import TrainConfig, train

    config = TrainConfig(args.arch, args.epochs, args.seed, args.batch_size, args.learning_rate,
                         args.validation_fraction, args.l2)
    out = _check_output(args.out, args.force, ".keras")
    data = _load_data(args.data)
    task = cli.progress_printer()
    result = train(config, data, task)
    task.finish()
    save_model_atomically(result.model, out, result.metadata, force=args.force)
    meta = result.metadata
    if args.json:
        print(json.dumps({"out": str(out), "bytes": out.stat().st_size, "metadata": meta,
                          "history": result.fit.history}, indent=2))
        return 0
    print(f"Architecture: {config.arch} ({result.model.count_params():,} parameters)")
    print(f"Trained on:   {meta['trained_on']} from {meta['data_source']}")
    print(f"              {meta['train_images']:,} for training, {meta['validation_images']:,} held out for validation")
    l2 = f", L2 penalty {config.l2:g}" if config.l2 else ""
    print(f"Settings:     {config.epochs} epochs, seed {config.seed}, batch {config.batch_size}, {meta['optimizer']}{l2}")
    print(f"Best epoch:   {result.fit.best_epoch} (validation accuracy {result.fit.validation_accuracy * 100:.2f}%)")
    print(f"Test:         {result.test_accuracy * 100:.2f}% on {meta['test_images']:,} test images, loss {result.test_loss:.4f}")
    print(f"Wrote:        {out} ({_mb(out.stat().st_size)})")
    print(f"\n(training {result.fit.seconds:.1f} s)")
    return 0


# -- sweep --------------------------------------------------------------------------------------


def write_csv(path: Path, rows: list[dict], fields) -> None:
    """Rows as CSV, written atomically (the app's sweep panel saves through this too)."""
    def write(tmp: Path):
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(fields))
            writer.writeheader()
            for row in rows:
                writer.writerow({k: _csv_value(row[k]) for k in fields})

    _atomic_write(path, write)


def _csv_value(value):
    return f"{value:.6g}" if isinstance(value, float) else value


def summary_path(csv_path: Path) -> Path:
    return csv_path.with_name(csv_path.stem + ".summary.csv")


@cli.subcommand("sweep")
@_user_errors
def cmd_sweep(args) -> int:
    from prune_viz.core.session import Session
    from prune_viz.core.sweep import CSV_FIELDS, SUMMARY_FIELDS, check_grid, run_sweep, summarise, sweep_configs

    methods, ks = check_grid(args.methods, args.ks)
    csv_path = _check_output(args.csv, args.force, ".csv", args.models)
    if csv_path is not None and len(args.models) > 1:
        _check_output(str(summary_path(csv_path)), args.force, ".csv", args.models)
    plot_path = _check_output(args.plot, args.force, ".png", args.models)
    scopes = ["layer"] if args.per_layer else list(dict.fromkeys(args.scope))
    for model in args.models:
        if not Path(model).expanduser().exists():
            raise cli.UsageError(f"{model} does not exist.")
    names = [Path(model).name for model in args.models]
    labels = [name if names.count(name) == 1 else model for name, model in zip(names, args.models)]
    task = cli.progress_printer()
    points, planned = [], None
    start = time.perf_counter()
    interrupted = False
    try:
        for m, model_path in enumerate(args.models):
            share = task.sub(m / len(args.models), (m + 1) / len(args.models))
            opened = _open(model_path, share.sub(0.0, 0.1))
            layout = [(layer.name, layer.shape) for layer in opened.layers]
            if m == 0:
                first_layout = layout
            elif layout != first_layout:  # a mean over different networks would mean nothing
                raise cli.UsageError(f"{Path(model_path).name} has different prunable layers from "
                                     f"{Path(args.models[0]).name}; sweep several models only when they are "
                                     "one architecture trained with different seeds.")
            session = Session(data_path=args.data, preprocessing=args.preprocess)
            session.set_model(opened)
            included = (opened.default_included if not args.include_output
                        else {layer.name for layer in opened.layers})
            if not included:
                raise cli.UsageError(f"{Path(model_path).name}: the only prunable layer is the output layer; "
                                     "pass --include-output to prune it.")
            session.configure(included=included)
            per_scope = [sweep_configs(session, methods, ks, scope, args.per_layer) for scope in scopes]
            if planned is None:
                planned = sum(len(p) for p in per_scope) * len(args.models)
            def keep(point, label=labels[m]):
                point.model = label  # the file name, or the path when two models share a name
                points.append(point)

            for s, scope in enumerate(scopes):
                run_sweep(session, methods, ks, scope,
                          share.sub(0.1 + 0.9 * s / len(scopes), 0.1 + 0.9 * (s + 1) / len(scopes)), keep,
                          per_layer=args.per_layer)
    except (KeyboardInterrupt, Cancelled):
        interrupted = True
    task.finish()
    summary = summarise(points)
    multi = len({p.model for p in points}) > 1
    if csv_path is not None and points:
        write_csv(csv_path, [p.as_row() for p in points], CSV_FIELDS)
        if multi:
            write_csv(summary_path(csv_path), [s.as_row() for s in summary], SUMMARY_FIELDS)
    if plot_path is not None and points:
        write_sweep_plot(plot_path, summary, per_layer=args.per_layer,
                         title=_plot_title(points))
    seconds = time.perf_counter() - start
    if interrupted:
        written = f"; wrote them to {csv_path}" if csv_path is not None and points else ""
        print(f"prune-viz: interrupted after {len(points)} of {planned or '?'} points{written}", file=sys.stderr)
    if args.json:
        print(json.dumps({"complete": not interrupted, "points": [p.as_row() for p in points],
                          "summary": [s.as_row() for s in summary], "csv": str(csv_path) if csv_path else None,
                          "plot": str(plot_path) if plot_path else None, "seconds": round(seconds, 2)}, indent=2))
    else:
        _print_summary(summary, multi)
        outputs = [str(p) for p in (csv_path, summary_path(csv_path) if csv_path and multi else None, plot_path) if p]
        if outputs and points:
            print(f"\nWrote {', '.join(outputs)}")
        print(f"({len(points)} points, {seconds:.1f} s)")
    return 130 if interrupted else 0


def _plot_title(points) -> str:
    names = sorted({p.model for p in points})
    if len(names) == 1:
        return names[0]
    return f"mean ± std over {len(names)} models"


def _print_summary(summary, multi: bool) -> None:
    groups: dict[tuple, list] = {}
    for s in summary:
        groups.setdefault((s.method, s.scope, s.layer), []).append(s)
    for (method, scope, layer), rows in groups.items():
        scope_text = "layerwise" if scope == "layer" else "global"
        target = f"layer {layer} alone" if layer else "all included layers"
        print(f"\n{method} pruning, {scope_text}, {target}"
              + (f" (mean ± std over {rows[0].models} models)" if multi else ""))
        print(f"{'k %':>6} {'sparsity':>9} {'all wts':>8} {'accuracy %':>16} {'loss':>14}")
        for s in rows:
            acc = f"{s.accuracy_mean * 100:.2f}" + (f" ± {s.accuracy_std * 100:.2f}" if multi else "")
            loss = f"{s.loss_mean:.4f}" + (f" ± {s.loss_std:.4f}" if multi else "")
            print(f"{s.k:>6g} {s.sparsity_included_mean * 100:>8.2f}% {s.sparsity_all_mean * 100:>7.2f}% "
                  f"{acc:>16} {loss:>14}")


_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
            "#7f7f7f", "#bcbd22")


def _ensure_qt_app():
    """A Qt application for offscreen drawing: the running one, else an offscreen one."""
    from PySide6.QtGui import QGuiApplication

    if QGuiApplication.instance() is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg

    return pg.mkQApp()


def write_sweep_plot(path: Path, summary, *, per_layer: bool, title: str) -> None:
    """Accuracy (and loss) against k as a PNG, drawn offscreen with pyqtgraph (no matplotlib needed)."""
    import numpy as np
    import pyqtgraph as pg
    from pyqtgraph.exporters import ImageExporter

    app = _ensure_qt_app()
    groups: dict[tuple, list] = {}
    for s in summary:
        groups.setdefault((s.method, s.scope, s.layer), []).append(s)
    if per_layer:  # one panel per method, one curve per layer
        panels = [(f"{method} pruning, one layer at a time", "accuracy",
                   [(key, rows) for key, rows in groups.items() if key[0] == method])
                  for method in dict.fromkeys(key[0] for key in groups)]
    else:  # accuracy and loss, one curve per (method, scope)
        panels = [("accuracy", "accuracy", list(groups.items())), ("loss", "loss", list(groups.items()))]
    widget = pg.GraphicsLayoutWidget()
    widget.setBackground("w")
    width, height = 600 * len(panels), 520
    widget.resize(width, height)
    widget.addLabel(title, col=0, colspan=len(panels), color="k", size="12pt")
    widget.nextRow()
    for panel_title, quantity, curves in panels:
        plot = widget.addPlot(title=f"<span style='color:#000'>{panel_title}</span>")
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.setLabel("bottom", "k (% pruned)", color="k")
        plot.setLabel("left", "test accuracy (%)" if quantity == "accuracy" else "test loss (cross-entropy)",
                      color="k")
        for axis in ("left", "bottom"):
            plot.getAxis(axis).enableAutoSIPrefix(False)
            plot.getAxis(axis).setTextPen("k")
            plot.getAxis(axis).setPen("k")
        legend = plot.addLegend(offset=(10, -10) if quantity == "accuracy" else (10, 10), labelTextColor="k")
        legend.setBrush(pg.mkBrush(255, 255, 255, 220))
        for i, ((method, scope, layer), rows) in enumerate(curves):
            color = _PALETTE[i % len(_PALETTE)]
            style = pg.QtCore.Qt.PenStyle.DashLine if scope == "global" else pg.QtCore.Qt.PenStyle.SolidLine
            pen = pg.mkPen(color, width=2, style=style)
            scale = 100.0 if quantity == "accuracy" else 1.0
            x = np.array([r.k for r in rows])
            y = np.array([getattr(r, f"{quantity}_mean") for r in rows]) * scale
            err = np.array([getattr(r, f"{quantity}_std") for r in rows]) * scale
            label = layer if per_layer else f"{method}, {'layerwise' if scope == 'layer' else 'global'}"
            plot.plot(x, y, pen=pen, symbol="o", symbolSize=6, symbolBrush=color, symbolPen=color, name=label)
            if np.any(err > 0):
                plot.addItem(pg.ErrorBarItem(x=x, y=y, height=2 * err, beam=1.2, pen=pg.mkPen(color, width=1)))
        plot.setXRange(0, 100, padding=0.02)
        if quantity == "accuracy":
            plot.setYRange(0, 100, padding=0.02)
    # never shown, so lay the scene out at the export size by hand
    widget.ci.setGeometry(pg.QtCore.QRectF(0, 0, width, height))
    app.processEvents()
    exporter = ImageExporter(widget.scene())
    exporter.parameters()["width"] = width

    def export(tmp: Path) -> None:
        exporter.export(str(tmp))
        if not tmp.stat().st_size:
            raise OSError(f"Qt wrote an empty image for {path}")

    _atomic_write(path, export)
    widget.close()


# -- export -------------------------------------------------------------------------------------


def report_dict(report) -> dict:
    """A JSON-ready view of a SizeSpeedReport."""
    coupling = report.coupling
    compaction = report.compaction
    return {
        "formats": [{"name": r.name, "bytes": r.bytes, "latency_seconds": r.latency_seconds,
                     "accuracy": r.accuracy, "note": r.note} for r in report.rows],
        "parameters": report.parameters,
        "nonzero_parameters": report.nonzero_parameters,
        "dead_unit_coupling": None if coupling is None else {
            "dead_inputs": coupling.dead_inputs, "useless_weights": coupling.useless_weights,
            "layers": [vars(row) for row in coupling.layers]},
        "compaction": None if compaction is None else {
            "parameters_before": compaction.parameters_before, "parameters_after": compaction.parameters_after,
            "layers": [{"name": c.name, "units_before": c.units_before, "units_after": c.units_after,
                        "kernel_shape_before": list(c.kernel_shape_before),
                        "kernel_shape_after": list(c.kernel_shape_after)} for c in compaction.layers]},
        "compaction_error": report.compaction_error,
        "max_output_difference": report.max_output_difference,
        "test_images": report.test_images,
        "repeats": report.repeats,
        "latency_note": report.latency_note,
    }


def print_report(report) -> None:
    dense = report.rows[0].bytes
    if report.test_images:
        print(f"Size and speed (latency: median of {report.repeats} passes over {report.test_images:,} test images)")
    else:
        print(f"Size ({report.latency_note})")
    print(f"{'format':<46} {'size':>12} {'vs dense':>9} {'latency':>10} {'accuracy':>9}")
    for row in report.rows:
        latency = f"{row.latency_seconds * 1000:.1f} ms" if row.latency_seconds is not None else "-"
        accuracy = f"{row.accuracy * 100:.2f}%" if row.accuracy is not None else "-"
        print(f"{row.name:<46} {_mb(row.bytes):>12} {row.bytes / dense * 100:>8.1f}% {latency:>10} {accuracy:>9}")
    print(f"Parameters:   {report.parameters:,} in all, {report.nonzero_parameters:,} non-zero")
    coupling = report.coupling_sentence()
    if coupling is not None:
        print(f"Dead units:   {coupling}")
    print(f"Compaction:   {report.compaction_sentence()}")


@cli.subcommand("export")
@_user_errors
def cmd_export(args) -> int:
    from prune_viz.core.data import DataError
    from prune_viz.core.export import export_pruned, size_and_speed

    out = _check_output(args.out, args.force, ".keras", [args.model])
    task = cli.progress_printer()
    opened = _open(args.model, task.sub(0.0, 0.2))
    config = _config(args, opened)
    exported = export_pruned(opened, config, out, force=args.force, compact=args.compact, task=task.sub(0.2, 0.3))
    report = None
    if not args.no_report:
        try:
            data = _load_data(args.data)
        except DataError as exc:
            data = None
            print(f"prune-viz: no timing: {exc}", file=sys.stderr)
        report = size_and_speed(opened, config, data, preprocessing=args.preprocess, repeats=args.repeats,
                                task=task.sub(0.3, 1.0))
    task.finish()
    if args.json:
        print(json.dumps({"model": str(opened.loaded.path), "out": str(exported.path), "bytes": exported.bytes,
                          "method": config.method, "k": config.k, "scope": config.scope,
                          "included_layers": sorted(config.included), "compacted": exported.compacted,
                          "sparsity_included": round(exported.sparsity_included, 6),
                          "report": report_dict(report) if report else None}, indent=2))
        return 0
    print(f"Model:        {opened.loaded.path}")
    print(f"Pruning:      {config.describe()}, {len(config.included)} layer(s); "
          f"{exported.sparsity_included * 100:.2f}% of their weights are zero")
    kind = "compacted (dead units removed)" if exported.compacted else "dense, pruned weights stored as zeros"
    print(f"Wrote:        {exported.path} ({_mb(exported.bytes)}, {kind}); loads with keras.saving.load_model")
    if report is not None:
        print()
        print_report(report)
    return 0


# -- finetune -----------------------------------------------------------------------------------


@cli.subcommand("finetune")
@_user_errors
def cmd_finetune(args) -> int:
    from prune_viz.core.export import save_model_atomically
    from prune_viz.core.finetune import finetune

    out = _check_output(args.out, args.force, ".keras", [args.model])
    task = cli.progress_printer()
    data = _load_data(args.data)
    opened = _open(args.model, task.sub(0.0, 0.1))
    config = _config(args, opened)
    result = finetune(opened, config, data, epochs=args.epochs, batch_size=args.batch_size,
                      learning_rate=args.learning_rate, seed=args.seed, preprocessing=args.preprocess,
                      task=task.sub(0.1, 1.0))
    task.finish()
    save_model_atomically(result.model, out, result.metadata, force=args.force, protect=(opened.loaded.path,))
    tune = result.metadata["fine_tune"]
    if args.json:
        print(json.dumps({"model": str(opened.loaded.path), "out": str(out), "method": config.method,
                          "k": config.k, "scope": config.scope, "epochs": args.epochs,
                          "unpruned_accuracy": result.unpruned_accuracy,
                          "accuracy_before": result.accuracy_before, "accuracy_after": result.accuracy_after,
                          "loss_before": result.loss_before, "loss_after": result.loss_after,
                          "pruned_weights": result.pruned_weights, "fine_tune": tune,
                          "seconds": round(result.fit.seconds, 2)}, indent=2))
        return 0
    print(f"Model:        {opened.loaded.path}")
    print(f"Pruning:      {config.describe()}, {len(config.included)} layer(s); "
          f"{result.pruned_weights:,} weights held at exactly zero")
    print(f"Fine-tuned:   {args.epochs} epochs on {tune['trained_on']} ({tune['train_images']:,} images, "
          f"{tune['validation_images']:,} held out; best epoch {tune['best_epoch']}), {tune['optimizer']}")
    print(f"Accuracy:     unpruned {result.unpruned_accuracy * 100:.2f}%, pruned {result.accuracy_before * 100:.2f}%, "
          f"after fine-tuning {result.accuracy_after * 100:.2f}% ({len(data.x_test):,} test images)")
    print(f"Wrote:        {out} ({_mb(out.stat().st_size)})")
    print(f"\n(fine-tuning {result.fit.seconds:.1f} s)")
    return 0
