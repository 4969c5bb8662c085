"""``prune-viz finetune``: retrain a pruned model with its masks fixed and save it."""

from __future__ import annotations

import json

from prune_viz.cli.arguments import (
    add_data_args,
    add_json_arg,
    add_model_output_args,
    add_open_args,
    add_pruning_args,
    checked_output,
    positive_float,
    positive_int,
    seed_value,
)
from prune_viz.cli.models import load_data, open_model, pruning_config
from prune_viz.cli.terminal import megabytes, progress_printer

NAME = "finetune"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(NAME, help="retrain a pruned model with its masks fixed")
    p.add_argument("model")
    add_open_args(p)
    add_pruning_args(p, seed_flag=False)  # --seed is the training seed here; --criterion-seed is random's
    p.add_argument("--epochs", type=positive_int, default=3)
    p.add_argument("--batch-size", type=positive_int, default=128)
    p.add_argument("--learning-rate", type=positive_float, default=1e-4, help="Adam learning rate")
    p.add_argument(
        "--seed",
        type=seed_value,
        default=None,
        help="shuffling and validation split (default: the model's training seed, else 0)",
    )
    add_model_output_args(p)
    add_json_arg(p)
    add_data_args(p, need_training=True)


def run(args) -> int:
    from prune_viz.core.finetune import finetune
    from prune_viz.core.io import save_keras_with_metadata

    out = checked_output(args.out, ".keras", force=args.force, inputs=[args.model])
    task = progress_printer()
    opened = open_model(args.model, task.sub(0.0, 0.08), args)
    data = load_data(args.data, need_training=True, opened=opened)
    config = pruning_config(args, opened, task.sub(0.08, 0.1))
    result = finetune(
        opened,
        config,
        data,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
        preprocessing=args.preprocess,
        task=task.sub(0.1, 1.0),
    )
    task.finish()
    save_keras_with_metadata(result.model, out, result.metadata, force=args.force, protect=(opened.loaded.path,))
    tune = result.metadata["fine_tune"]
    if args.json:
        print(
            json.dumps(
                {
                    "model": str(opened.loaded.path),
                    "out": str(out),
                    **config.as_dict(),
                    "epochs": args.epochs,
                    "unpruned_accuracy": result.unpruned_accuracy,
                    "accuracy_before": result.accuracy_before,
                    "accuracy_after": result.accuracy_after,
                    "loss_before": result.loss_before,
                    "loss_after": result.loss_after,
                    "pruned_weights": result.pruned_weights,
                    "fine_tune": tune,
                    "seconds": round(result.fit.seconds, 2),
                },
                indent=2,
            )
        )
        return 0
    print(f"Model:        {opened.loaded.path}")
    print(
        f"Pruning:      {config.describe()}, {len(config.included)} layer(s); "
        f"{result.pruned_weights:,} weights held at exactly zero"
    )
    print(
        f"Fine-tuned:   {args.epochs} epochs on {tune['trained_on']} ({tune['train_images']:,} images, "
        f"{tune['validation_images']:,} held out; best epoch {tune['best_epoch']}), {tune['optimizer']}"
    )
    print(
        f"Accuracy:     unpruned {result.unpruned_accuracy * 100:.2f}%, pruned {result.accuracy_before * 100:.2f}%, "
        f"after fine-tuning {result.accuracy_after * 100:.2f}% ({len(data.x_test):,} test images)"
    )
    print(f"Wrote:        {out} ({megabytes(out.stat().st_size)})")
    print(f"\n(fine-tuning {result.fit.seconds:.1f} s)")
    return 0
