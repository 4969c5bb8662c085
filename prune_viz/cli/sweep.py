"""``prune-viz sweep``: accuracy and loss across k, for one model or several (one per seed)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from prune_viz.cli.arguments import (
    add_data_args,
    add_force_arg,
    add_include_output_arg,
    add_json_arg,
    add_layer_k_arg,
    add_open_args,
    add_pattern_args,
    add_unit_mode_args,
    checked_output,
    k_value,
)
from prune_viz.cli.errors import UsageError
from prune_viz.cli.models import open_model
from prune_viz.cli.terminal import progress_printer
from prune_viz.core.criteria import LAMP_NOTE
from prune_viz.core.pruning import CRITERIA, METHODS, SCOPES
from prune_viz.core.tasks import Cancelled

NAME = "sweep"


def add_parser(subparsers) -> None:
    from prune_viz.core.sweep import DEFAULT_KS

    p = subparsers.add_parser(NAME, help="accuracy and loss across k, for one model or several (one per seed)")
    p.add_argument("models", nargs="+", metavar="MODEL", help="one model, or one per seed for mean and std")
    add_open_args(p)
    p.add_argument(
        "--methods",
        nargs="+",
        choices=[m for m in METHODS if m != "nm"],
        default=["weight", "unit"],
        help="weight, unit and/or block (--block) (default: weight unit)",
    )
    p.add_argument(
        "--ks",
        nargs="+",
        type=k_value,
        default=list(DEFAULT_KS),
        help=f"percentages to prune (default: {' '.join(str(k) for k in DEFAULT_KS)})",
    )
    p.add_argument(
        "--scope",
        nargs="+",
        choices=SCOPES,
        default=["layer"],
        help="layer, global, or both (ignored with --per-layer)",
    )
    add_layer_k_arg(p, "--ks (ignored with --per-layer)")
    p.add_argument("--per-layer", action="store_true", help="sensitivity: prune one layer at a time")
    p.add_argument(
        "--criteria",
        "--criterion",
        nargs="+",
        choices=CRITERIA,
        default=["magnitude"],
        help=f"what ranks the weights and units; several compare them in one plot and CSV. {LAMP_NOTE}",
    )
    add_unit_mode_args(p)
    add_pattern_args(p)
    add_include_output_arg(p)
    p.add_argument("--csv", metavar="OUT.csv", help="one row per (model, method, criterion, scope, layer, k)")
    p.add_argument("--plot", metavar="OUT.png", help="accuracy and loss curves")
    add_force_arg(p, "overwrite --csv/--plot if they exist")
    add_json_arg(p)
    add_data_args(p)


def summary_path(csv_path: Path) -> Path:
    return csv_path.with_name(csv_path.stem + ".summary.csv")


def run(args) -> int:
    from prune_viz.core.files import write_csv
    from prune_viz.core.session import Session
    from prune_viz.core.sweep import (
        check_criteria,
        check_grid,
        csv_table,
        run_sweep,
        summarise,
        summary_csv_table,
        sweep_configs,
    )

    methods, ks = check_grid(args.methods, args.ks)
    criteria = check_criteria(args.criteria)
    csv_path = checked_output(args.csv, ".csv", force=args.force, inputs=args.models)
    if csv_path is not None and len(args.models) > 1:
        checked_output(str(summary_path(csv_path)), ".csv", force=args.force, inputs=args.models)
    plot_path = checked_output(args.plot, ".png", force=args.force, inputs=args.models)
    scopes = ["layer"] if args.per_layer else list(dict.fromkeys(args.scope))
    for model in args.models:
        if not Path(model).expanduser().exists():
            raise UsageError(f"{model} does not exist.")
    names = [Path(model).name for model in args.models]
    labels = [name if names.count(name) == 1 else model for name, model in zip(names, args.models)]
    task = progress_printer()
    points, planned = [], None
    start = time.perf_counter()
    interrupted = False
    try:
        for m, model_path in enumerate(args.models):
            share = task.sub(m / len(args.models), (m + 1) / len(args.models))
            opened = open_model(model_path, share.sub(0.0, 0.1), args)
            layout = [(layer.name, layer.shape) for layer in opened.layers]
            if m == 0:
                first_layout = layout
            elif layout != first_layout:  # a mean over different networks would mean nothing
                raise UsageError(
                    f"{Path(model_path).name} has different prunable layers from "
                    f"{Path(args.models[0]).name}; sweep several models only when they are "
                    "one architecture trained with different seeds."
                )
            session = Session(data_path=args.data, preprocessing=args.preprocess)
            session.set_model(opened)
            included = opened.default_included if not args.include_output else {layer.name for layer in opened.layers}
            if not included:
                raise UsageError(
                    f"{Path(model_path).name}: the only prunable layer is the output layer; "
                    "pass --include-output to prune it."
                )
            session.configure(
                included=included,
                unit_mode=args.unit_mode,
                seed=args.criterion_seed,
                block=args.block,
                layer_k=dict(args.layer_k or ()),
            )
            if "taylor" in criteria:
                print(f"prune-viz: {session.taylor(share.sub(0.1, 0.2)).description}", file=sys.stderr)
            per_scope = [sweep_configs(session, methods, ks, scope, args.per_layer, criteria) for scope in scopes]
            if planned is None:
                planned = sum(len(p) for p in per_scope) * len(args.models)

            def keep(point, label=labels[m]):
                point.model = label  # the file name, or the path when two models share a name
                points.append(point)

            for s, scope in enumerate(scopes):
                run_sweep(
                    session,
                    methods,
                    ks,
                    scope,
                    share.sub(0.2 + 0.8 * s / len(scopes), 0.2 + 0.8 * (s + 1) / len(scopes)),
                    keep,
                    per_layer=args.per_layer,
                    criteria=criteria,
                )
    except (KeyboardInterrupt, Cancelled):
        interrupted = True
    task.finish()
    summary = summarise(points)
    multi = len({p.model for p in points}) > 1
    if csv_path is not None and points:
        fields, rows = csv_table(points)
        write_csv(csv_path, rows, fields, force=args.force, protect=args.models)
        if multi:
            fields, rows = summary_csv_table(summary)
            write_csv(summary_path(csv_path), rows, fields, force=args.force, protect=args.models)
    if plot_path is not None and points:
        from prune_viz.gui.views.plots import write_sweep_plot

        write_sweep_plot(
            plot_path,
            summary,
            per_layer=args.per_layer,
            title=plot_title(points),
            force=args.force,
            protect=args.models,
        )
    seconds = time.perf_counter() - start
    if interrupted:
        written = f"; wrote them to {csv_path}" if csv_path is not None and points else ""
        print(f"prune-viz: interrupted after {len(points)} of {planned or '?'} points{written}", file=sys.stderr)
    if args.json:
        print(
            json.dumps(
                {
                    "complete": not interrupted,
                    "points": [p.as_row() for p in points],
                    "summary": [s.as_row() for s in summary],
                    "csv": str(csv_path) if csv_path else None,
                    "plot": str(plot_path) if plot_path else None,
                    "seconds": round(seconds, 2),
                },
                indent=2,
            )
        )
    else:
        print_summary(summary, multi)
        outputs = [str(p) for p in (csv_path, summary_path(csv_path) if csv_path and multi else None, plot_path) if p]
        if outputs and points:
            print(f"\nWrote {', '.join(outputs)}")
        print(f"({len(points)} points, {seconds:.1f} s)")
    return 130 if interrupted else 0


def plot_title(points) -> str:
    names = sorted({p.model for p in points})
    if len(names) == 1:
        return names[0]
    return f"mean ± std over {len(names)} models"


def print_summary(summary, multi: bool) -> None:
    from prune_viz.core.metric_words import score_scale

    groups: dict[tuple, list] = {}
    for s in summary:
        groups.setdefault((s.method, s.scope, s.layer, s.criterion, s.unit_mode), []).append(s)
    for (method, scope, layer, criterion, unit_mode), rows in groups.items():
        scope_text = "layerwise" if scope == "layer" else "global"
        target = f"layer {layer} alone" if layer else "all included layers"
        units = {"kernel": ", unit kernel columns zeroed", "remove": ", units removed with bias and BN channel"}
        print(
            f"\n{method} pruning, {criterion} scores{units.get(unit_mode, '')}, {scope_text}, {target}"
            + (f" (mean ± std over {rows[0].models} models)" if multi else "")
        )
        scale = score_scale(rows[0].task, rows[0].score_metric)  # accuracy %, R², top-1 agreement % ...
        loss_title = "MSE" if scale.loss_name.startswith("MSE") else "loss"
        print(f"{'k %':>6} {'sparsity':>9} {'all wts':>8} {scale.axis:>18} {loss_title:>14}")
        for s in rows:
            acc = scale.column(s.score_mean) + (f" ± {scale.column(s.score_std)}" if multi else "")
            loss = f"{s.loss_mean:.4f}" + (f" ± {s.loss_std:.4f}" if multi else "")
            print(
                f"{s.k:>6g} {s.sparsity_included_mean * 100:>8.2f}% {s.sparsity_all_mean * 100:>7.2f}% "
                f"{acc:>18} {loss:>14}"
            )
