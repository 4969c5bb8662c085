"""``prune-viz train``: train fc-1000, LeNet-300-100 or LeNet-5 on MNIST and save it with its metadata."""

from __future__ import annotations

import json

from prune_viz.cli.arguments import (
    add_data_arg,
    add_json_arg,
    add_model_output_args,
    checked_output,
    positive_float,
    positive_int,
    seed_value,
)
from prune_viz.cli.models import load_data
from prune_viz.cli.terminal import megabytes, progress_printer

NAME = "train"


def add_parser(subparsers) -> None:
    from prune_viz.core.architectures import ARCHITECTURES

    p = subparsers.add_parser(NAME, help="train fc-1000, LeNet-300-100 or LeNet-5 on MNIST")
    p.add_argument("--arch", choices=ARCHITECTURES, required=True)
    p.add_argument("--epochs", type=positive_int, default=10)
    p.add_argument("--seed", type=seed_value, default=0)
    p.add_argument("--batch-size", type=positive_int, default=128)
    p.add_argument("--learning-rate", type=positive_float, default=1e-3, help="Adam learning rate")
    p.add_argument(
        "--l2", type=float, default=0.0, metavar="PENALTY", help="L2 penalty on kernels, e.g. 1e-3 (default 0: none)"
    )
    p.add_argument(
        "--validation-fraction",
        type=float,
        default=0.1,
        help="share of the training images held out to pick the best epoch",
    )
    add_data_arg(p, need_training=True)
    add_model_output_args(p)
    add_json_arg(p)


def run(args) -> int:
    from prune_viz.core.io import save_keras_with_metadata
    from prune_viz.core.training import TrainConfig, train

    config = TrainConfig(
        args.arch, args.epochs, args.seed, args.batch_size, args.learning_rate, args.validation_fraction, args.l2
    )
    out = checked_output(args.out, ".keras", force=args.force)
    data = load_data(args.data, need_training=True)
    task = progress_printer()
    result = train(config, data, task)
    task.finish()
    save_keras_with_metadata(result.model, out, result.metadata, force=args.force)
    meta = result.metadata
    if args.json:
        print(
            json.dumps(
                {"out": str(out), "bytes": out.stat().st_size, "metadata": meta, "history": result.fit.history},
                indent=2,
            )
        )
        return 0
    print(f"Architecture: {config.arch} ({result.model.count_params():,} parameters)")
    print(f"Trained on:   {meta['trained_on']} from {meta['data_source']}")
    print(f"              {meta['train_images']:,} for training, {meta['validation_images']:,} held out for validation")
    l2 = f", L2 penalty {config.l2:g}" if config.l2 else ""
    print(
        f"Settings:     {config.epochs} epochs, seed {config.seed}, batch {config.batch_size}, {meta['optimizer']}{l2}"
    )
    print(f"Best epoch:   {result.fit.best_epoch} (validation accuracy {result.fit.validation_accuracy * 100:.2f}%)")
    test_images = f"{meta['test_images']:,} test images"
    print(f"Test:         {result.test_accuracy * 100:.2f}% on {test_images}, loss {result.test_loss:.4f}")
    print(f"Wrote:        {out} ({megabytes(out.stat().st_size)})")
    print(f"\n(training {result.fit.seconds:.1f} s)")
    return 0
