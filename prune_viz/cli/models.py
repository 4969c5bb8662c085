"""Opening the model a subcommand names and turning its pruning options into a PruningConfig."""

from __future__ import annotations

from prune_viz.cli.arguments import open_options, pruning_fields
from prune_viz.cli.errors import UsageError
from prune_viz.core.pruning import PruningConfig
from prune_viz.core.tasks import TaskState

OUTPUT_LAYER_ONLY = "The model's only prunable layer is its output layer; pass --include-output to prune it."


def open_model(model_path: str, task: TaskState, args=None):
    """``model_path`` opened for pruning, with the --custom-objects and --allow-lambda of ``args``."""
    from prune_viz.core.session import open_model as open_for_pruning

    return open_for_pruning(model_path, task, open_options(args))


def open_session(args, task: TaskState):
    """A Session on ``args.model``, configured from the pruning options the command has."""
    from prune_viz.core.session import Session

    session = Session(data_path=getattr(args, "data", None), preprocessing=getattr(args, "preprocess", "auto"))
    session.set_model(open_model(args.model, task, args))
    included = set(session.model.default_included)
    if getattr(args, "include_output", False):
        included = {layer.name for layer in session.model.layers}
    if (
        not included and session.model.layers and (getattr(args, "k", 0.0) or getattr(args, "method", "") == "nm")
    ):  # inspecting or k=0 prunes nothing
        raise UsageError(OUTPUT_LAYER_ONLY)
    fields = pruning_fields(args) if hasattr(args, "unit_mode") else {}
    if fields.get("criterion") == "taylor" and (
        getattr(args, "k", None) != 0 or fields.get("method") == "nm"
    ):  # flips has no --k: it scans all
        session.taylor(task)  # the masks need the scores; computed once, from the training images
    session.configure(included=included, **fields)
    return session


def pruning_config(args, opened, task: TaskState | None = None) -> PruningConfig:
    """The config the options give; for the Taylor criterion, its scores are computed first (from
    the training images of --data) and handed to the model's Pruner."""
    included = set(opened.default_included)
    if args.include_output:
        included = {layer.name for layer in opened.layers}
    if not included and opened.layers:
        raise UsageError(OUTPUT_LAYER_ONLY)
    config = PruningConfig(included=frozenset(included), **pruning_fields(args))
    if config.criterion == "taylor" and not config.prunes_nothing:
        import sys

        from prune_viz.core.criteria import taylor_scores

        data = load_data(getattr(args, "data", None), need_training=True, opened=opened)
        scores = taylor_scores(opened, data, preprocessing=getattr(args, "preprocess", "auto"), task=task)
        opened.pruner.set_taylor_scores(scores)
        print(f"prune-viz: {scores.description}", file=sys.stderr)
    return config


def load_data(source: str | None, *, need_training: bool = False, opened=None):
    """The data --data names (core.data.load_data), shaped for ``opened`` (an OpenedModel) when given."""
    from prune_viz.core.data import load_data as load

    return load(source, need_training=need_training, fit=opened.data_fit if opened is not None else None)


def layer_rows(session) -> list[dict]:
    """One JSON-ready row per prunable layer, with its sparsity under the session's pruning."""
    result = session.result
    rows = []
    for layer in session.model.layers:
        stats = result.layer(layer.name)
        rows.append(
            {
                "name": layer.name,
                "kind": layer.kind,
                "shape": list(layer.shape),
                "params": layer.size,
                "units": layer.units,
                "included": layer.name in session.config.included,
                "output_layer": layer.is_output,
                "sparsity": round(stats.sparsity, 6),
                "pruned_units": stats.pruned_units,
            }
        )
        if stats.valid_nm is not None:  # N:M pruning: whether the pruned tensor is valid N:M, and its padding
            rows[-1].update(valid_nm=stats.valid_nm, nm_padding=stats.pattern_note or None)
    return rows
