"""``prune-viz compare MODEL [MODEL_B] --a SPEC --b SPEC``: two prunings side by side.

Two settings of one model, or (with MODEL_B) two checkpoints of the same architecture:
each side's accuracy, per-layer sparsity and mask overlap (Jaccard of the kept sets),
and the test images whose predicted class differs.
"""

from __future__ import annotations

import argparse
import json

from prune_viz.cli.arguments import add_data_args, add_include_output_arg, add_json_arg, add_open_args
from prune_viz.cli.errors import UsageError
from prune_viz.cli.models import OUTPUT_LAYER_ONLY, load_data, open_model
from prune_viz.cli.terminal import progress_printer
from prune_viz.core.compare import SPEC_FORMAT, method_fields, parse_spec
from prune_viz.core.metric_words import result_scale
from prune_viz.core.pruning import PruningConfig, PruningError

NAME = "compare"
SHOWN_INDICES = 20


def spec_value(text: str) -> tuple:
    try:
        return parse_spec(text)
    except PruningError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(NAME, help="two prunings side by side: two settings, or two checkpoints")
    p.add_argument("model")
    add_open_args(p)
    p.add_argument(
        "model_b",
        nargs="?",
        metavar="MODEL_B",
        help="a second checkpoint of the same architecture for side B (default: MODEL)",
    )
    p.add_argument(
        "--a",
        required=True,
        type=spec_value,
        metavar="SPEC",
        help=f"side A's pruning as {SPEC_FORMAT}, e.g. magnitude:weight:90, magnitude:nm2-4:0, magnitude:block4x4:50",
    )
    p.add_argument(
        "--b",
        required=True,
        type=spec_value,
        metavar="SPEC",
        help=f"side B's pruning as {SPEC_FORMAT}, e.g. random:unit:50:global",
    )
    add_include_output_arg(p)
    add_data_args(p)
    add_json_arg(p)


def _config(spec: tuple, opened, include_output: bool) -> PruningConfig:
    criterion, method, k, scope = spec
    included = {layer.name for layer in opened.layers} if include_output else set(opened.default_included)
    if not included and k:
        raise UsageError(OUTPUT_LAYER_ONLY)
    return PruningConfig(k=k, scope=scope, included=frozenset(included), criterion=criterion, **method_fields(method))


def run(args) -> int:
    from prune_viz.core.compare import compare

    task = progress_printer()
    opened_a = open_model(args.model, task.sub(0.0, 0.15), args)
    data = load_data(args.data, opened=opened_a)
    opened_b = open_model(args.model_b, task.sub(0.15, 0.3), args) if args.model_b else opened_a
    config_a = _config(args.a, opened_a, args.include_output)
    config_b = _config(args.b, opened_b, args.include_output)
    comparison = compare(
        opened_a, config_a, opened_b, config_b, data, preprocessing=args.preprocess, task=task.sub(0.3, 1.0)
    )
    task.finish()
    out = comparison.as_dict()
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    for key, side in (("A", comparison.a), ("B", comparison.b)):
        evaluation = side.evaluation
        scale = result_scale(evaluation)
        counted = f" ({evaluation.correct:,}/{evaluation.total:,})" if scale.metric == "accuracy" else ""
        print(
            f"{key}: {side.model_name}, {side.config.describe()}: {scale.name} {scale.text(evaluation.score)}"
            f"{counted}, {side.result.included_sparsity() * 100:.2f}% of the pruned layers zero"
        )
    per_class = list(zip(comparison.a.evaluation.per_class_accuracy, comparison.b.evaluation.per_class_accuracy))
    if per_class:
        names = list(comparison.a.evaluation.class_names or ()) or [str(i) for i in range(len(per_class))]
        print(
            "Per class:    "
            + "  ".join(f"{name}:{a * 100:.1f}/{b * 100:.1f}" for name, (a, b) in zip(names, per_class))
            + "  (A/B, %)"
        )
    print()
    header = f"{'layer':<28} {'sparsity A':>10} {'sparsity B':>10} {'Jaccard':>8}"
    print(header)
    print("-" * len(header))
    for layer in comparison.layers:
        print(f"{layer.name:<28} {layer.sparsity_a * 100:>9.2f}% {layer.sparsity_b * 100:>9.2f}% {layer.jaccard:>8.4f}")
    differing = out["differing"]
    shown = ", ".join(str(i) for i in differing[:SHOWN_INDICES]) + (", ..." if len(differing) > SHOWN_INDICES else "")
    print(
        f"\n{len(differing):,} of {out['test_images']:,} test images are predicted differently"
        + (f": {shown}" if differing else ".")
    )
    return 0
