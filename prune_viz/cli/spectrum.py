"""``prune-viz spectrum MODEL [--method ... --k K]``: each prunable tensor's spectrum (power-law alpha of
its eigenvalue spectral density, xmin, KS distance, spectral norm, stable rank) at k, beside the
original's; each row says its view (the matrix, or a convolution's kernel positions, as WeightWatcher
cuts it). Needs no data, so a weights-only checkpoint works too."""

from __future__ import annotations

import json
import math
import time

from prune_viz.cli.arguments import add_json_arg, add_open_args, add_pruning_args
from prune_viz.cli.models import open_session
from prune_viz.cli.terminal import progress_printer

NAME = "spectrum"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        NAME,
        help="each tensor's eigenvalue spectrum: power-law alpha (as WeightWatcher fits it), xmin, KS distance, "
        "spectral norm and stable rank, pruned at k beside the original; needs no data",
    )
    p.add_argument("model")
    add_open_args(p)
    add_json_arg(p)
    pruning = p.add_argument_group("pruning (the spectra are of the matrices pruned at k; default k = 0)")
    add_pruning_args(pruning)


def run(args) -> int:
    from prune_viz.core.spectrum import VIEW_PER_POSITION, spectra_at

    task = progress_printer()
    start = time.perf_counter()
    session = open_session(args, task)
    pairs = spectra_at(session.model, session.result, task=task)
    task.finish()
    pruned_any = args.k != 0
    layers = []
    for original, pruned in pairs:
        row = pruned.as_dict()
        if pruned_any:
            row["original"] = original.as_dict()
        layers.append(row)
    info = {
        "model": str(session.model.loaded.path),
        "pruning": session.config.as_dict(),
        "layers": layers,
        "seconds": round(time.perf_counter() - start, 3),
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"Model:    {info['model']}")
    print(f"Pruning:  {session.config.describe()}")
    print()
    header = (
        f"{'tensor':<30} {'view':>18} {'alpha':>7} {'orig':>7} {'xmin':>10} {'D':>6} "
        f"{'||W||2':>9} {'stable r':>9} {'rank loss':>9} {'sparsity':>9}"
    )
    print(header)
    print("-" * len(header))
    flagged = False
    for original, pruned in pairs:
        mark = "*" if pruned.few else ""
        flagged = flagged or pruned.few
        print(
            f"{pruned.name + mark:<30} {pruned.view_words:>18} {_number(pruned.fit.alpha, 3):>7} "
            f"{_number(original.fit.alpha, 3):>7} {_number(pruned.fit.xmin, 4, 'g'):>10} "
            f"{_number(pruned.fit.ks_distance, 3):>6} {_number(pruned.spectral_norm, 3):>9} "
            f"{_number(pruned.stable_rank, 2):>9} {pruned.rank_loss:>9} {pruned.sparsity * 100:>8.1f}%"
        )
        if pruned.problem:
            print(f"  {pruned.problem}")
    if not pairs:
        print("(no prunable tensors: the model has no trainable weights of rank 2 or more)")
    print()
    print(
        "alpha: the power-law exponent of the eigenvalues of W^T W / N (its tail from xmin), fitted as WeightWatcher "
        "fits it; D: the fit's Kolmogorov-Smirnov distance; orig: alpha of the unpruned matrix."
    )
    if any(pruned.view == VIEW_PER_POSITION for _original, pruned in pairs):
        print(
            "view: a convolution's spectrum is of its kernel positions, as WeightWatcher cuts it: P x (in x out) is "
            "P matrices of in x out, their eigenvalues pooled into one ESD; rows x columns: the tensor's matrix view."
        )
    if flagged:
        print("*: fewer than 50 nonzero eigenvalues (WeightWatcher skips such layers): its alpha says little.")
    print(f"({info['seconds']:.2f} s)")
    return 0


def _number(value: float, digits: int, style: str = "f") -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.{digits}{style}}"
