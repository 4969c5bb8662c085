"""Each prunable tensor's spectrum: singular values, the eigenvalue spectral density (ESD) of W^T W and
its power-law fit, for the original matrix and the pruned one at any k. No data is needed.

Definitions (WeightWatcher's, https://github.com/CalculatedContent/WeightWatcher, where it has one):

- **The matrix** is the tensor's matrix view (``PrunableLayer.as_matrix``: the matrix the heatmap
  shows and the pruner prunes). A convolution kernel is its (kh*kw*in, filters) matrix, one matrix per
  layer. WeightWatcher slices a Conv2D kernel per kernel position instead (kh*kw matrices of in x out,
  their eigenvalues pooled), so a convolution's alpha here is not WeightWatcher's for it; a Dense
  kernel's is. The matrix view is kept because it is the one the pruning acts on, and it is one
  definition for every layer kind.
- **Eigenvalues**: of X = W^T W / N, where W is N x M with N the larger dimension: the squared
  singular values over N (WeightWatcher up to 0.6 with its Keras default ``normalize``; later
  releases leave out the 1/N). alpha and D do not change with that scale; xmin scales with it.
  They are computed as the eigenvalues of the smaller Gram matrix, accumulated in float64 from row
  blocks of the pruned matrix (no full-size copy), so the singular values are their square roots.
- **Zero eigenvalues** (rank lost, e.g. to removed units) are those at or below ``ZERO_TOLERANCE``
  times the largest (a singular value below 1e-6 of the largest: the float32 weights' round-off; a
  dead unit's 1e-5 is kept); they are counted (``rank_loss``) and left out of the fit, as
  WeightWatcher leaves out those below its threshold (an absolute 1e-5, here a relative one, since
  the scale is the matrix's own).
- **The power-law fit** (WeightWatcher's own fit, its default since 0.7, the continuous power law of
  Clauset, Shalizi and Newman that the ``powerlaw`` package fits): for each candidate xmin (every
  nonzero eigenvalue but the largest), alpha = 1 + n / sum(ln(x_i / xmin)) over the n eigenvalues
  >= xmin (the maximum-likelihood estimate), and the Kolmogorov-Smirnov distance D = max |1 -
  (x_i / xmin)^(1 - alpha) - i / n| between the fitted and the empirical distribution of those
  eigenvalues (D = 1 when alpha <= 1). The fit is the xmin with the smallest D: ``alpha``, ``xmin``,
  ``ks_distance`` (WeightWatcher's D), ``tail`` (its num_pl_spikes, n) and ``sigma`` = (alpha - 1) /
  sqrt(n).
- ``spectral_norm`` is ||W||_2, the largest singular value (WeightWatcher's column of that name is
  lambda_max, the largest eigenvalue, here ``lambda_max``); ``stable_rank`` is ||W||_F^2 / ||W||_2^2 =
  sum(eigenvalues) / lambda_max (WeightWatcher's, with any scale).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from prune_viz.core.layers import PrunableLayer
from prune_viz.core.plan import LayerPlan
from prune_viz.core.tasks import TaskState, quiet

ZERO_TOLERANCE = 1e-12  # an eigenvalue at or below this share of the largest is zero (rank lost)
FEW_EIGENVALUES = 50  # WeightWatcher's min_evals: with fewer, alpha says little (still computed, and flagged)
GRAM_BLOCK_ELEMENTS = 1 << 21  # float64 entries per block of the matrix (16 MB)
FIT_BLOCK_ELEMENTS = 1 << 21  # (candidate xmin, eigenvalue) pairs per block of the KS distances
SCAN_KS = (0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0)


@dataclass(frozen=True)
class PowerLawFit:
    """A power law fitted to the tail of an ESD: alpha, xmin, the KS distance D, how many eigenvalues
    the tail has, and sigma (NaN everywhere when there were fewer than two nonzero eigenvalues)."""

    alpha: float = math.nan
    xmin: float = math.nan
    ks_distance: float = math.nan
    tail: int = 0
    sigma: float = math.nan

    @property
    def fitted(self) -> bool:
        return not math.isnan(self.alpha)


def fit_power_law(eigenvalues: np.ndarray) -> PowerLawFit:
    """WeightWatcher's power-law fit of ``eigenvalues`` (positive; zeros must be left out first)."""
    x = np.sort(np.asarray(eigenvalues, np.float64).ravel())
    x = x[x > 0]
    n = len(x)
    if n < 2:
        return PowerLawFit()
    logs = np.log(x)
    candidates = n - 1  # every value but the largest is a candidate xmin
    tails = n - np.arange(candidates)  # eigenvalues >= each candidate
    suffix = np.cumsum(logs[::-1])[::-1]  # sum of logs from i to the end
    spread = suffix[:candidates] - tails * logs[:candidates]
    with np.errstate(divide="ignore", invalid="ignore"):
        alphas = np.where(spread > 0, 1.0 + tails / np.where(spread > 0, spread, 1.0), np.inf)
    distances = np.ones(candidates)
    positions = np.arange(n)
    step = max(1, FIT_BLOCK_ELEMENTS // n)
    for start in range(0, candidates, step):
        rows = np.arange(start, min(candidates, start + step))
        valid = np.isfinite(alphas[rows]) & (alphas[rows] > 1)
        if not valid.any():
            continue
        rows = rows[valid]
        alpha = alphas[rows][:, None]
        tail = tails[rows][:, None]
        after = positions[None, :] - rows[:, None]  # j - i: the empirical CDF's count below x_j
        inside = after >= 0
        # (x_j / xmin)^(1 - alpha); j < i (outside the tail) would overflow, and is masked out anyway
        fitted = 1.0 - np.exp(np.minimum((logs[None, :] - logs[rows][:, None]) * (1.0 - alpha), 0.0))
        gap = np.where(inside, np.abs(fitted - np.where(inside, after, 0) / tail), 0.0)
        distances[rows] = gap.max(axis=1)
    best = int(np.argmin(distances))
    alpha = float(alphas[best])
    return PowerLawFit(
        alpha=alpha,
        xmin=float(x[best]),
        ks_distance=float(distances[best]),
        tail=int(tails[best]),
        sigma=float((alpha - 1.0) / math.sqrt(tails[best])),
    )


@dataclass(frozen=True, eq=False)
class LayerSpectrum:
    """One tensor's spectrum (of its original matrix, or pruned by a plan); equal only to itself."""

    name: str
    shape: tuple[int, int]  # the matrix view's (rows, columns)
    eigenvalues: np.ndarray = field(repr=False)  # of W^T W / N, ascending, min(rows, columns) of them
    fit: PowerLawFit
    spectral_norm: float  # ||W||_2: the largest singular value
    stable_rank: float  # ||W||_F^2 / ||W||_2^2 (0 for an all-zero matrix)
    rank_loss: int  # eigenvalues that are zero (ZERO_TOLERANCE)
    sparsity: float  # share of the matrix's entries that are zero
    problem: str = ""  # why there is no spectrum (NaN or infinite weights), else ""

    @property
    def n(self) -> int:
        """N: the matrix's larger dimension, the eigenvalues' normaliser."""
        return max(self.shape)

    @property
    def singular_values(self) -> np.ndarray:
        """The matrix's singular values, largest first."""
        return np.sqrt(self.eigenvalues[::-1] * self.n)

    @property
    def nonzero(self) -> np.ndarray:
        """The eigenvalues the fit reads: the nonzero ones, ascending."""
        return self.eigenvalues[self.rank_loss :]

    @property
    def lambda_max(self) -> float:
        return float(self.eigenvalues[-1]) if len(self.eigenvalues) else 0.0

    @property
    def few(self) -> bool:
        """Fewer nonzero eigenvalues than WeightWatcher analyses (alpha says little)."""
        return len(self.nonzero) < FEW_EIGENVALUES

    def as_dict(self) -> dict:
        """JSON-ready: NaN (no fit) is None."""

        def number(value: float, digits: int = 6):
            return None if value is None or not math.isfinite(value) else round(float(value), digits)

        return {
            "name": self.name,
            "matrix": list(self.shape),
            "eigenvalues": len(self.eigenvalues),
            "alpha": number(self.fit.alpha, 4),
            "xmin": number(self.fit.xmin, 8),
            "ks_distance": number(self.fit.ks_distance, 4),
            "tail": self.fit.tail,
            "spectral_norm": number(self.spectral_norm, 6),
            "stable_rank": number(self.stable_rank, 4),
            "lambda_max": number(self.lambda_max, 8),
            "rank_loss": self.rank_loss,
            "sparsity": round(self.sparsity, 6),
            "few_eigenvalues": self.few,
            "problem": self.problem or None,
        }


def matrix_spectrum(
    name: str, matrix: np.ndarray, kept: Callable[[slice, slice], np.ndarray] | None = None
) -> LayerSpectrum:
    """The spectrum of ``matrix`` (rows, columns), with the entries where ``kept(rows, cols)`` is False
    zeroed (a plan's ``kept`` on the matrix's windows); read in blocks, never copied whole."""
    matrix = np.asarray(matrix)
    rows, columns = matrix.shape
    tall = rows >= columns
    n, m = (rows, columns) if tall else (columns, rows)
    gram = np.zeros((m, m), np.float64)
    zeros = 0
    step = max(1, GRAM_BLOCK_ELEMENTS // max(m, 1))
    for start in range(0, n, step):
        window = slice(start, min(n, start + step))
        block = np.array(matrix[window] if tall else matrix[:, window].T, np.float64)
        if kept is not None:
            mask = kept(window, slice(None)) if tall else kept(slice(None), window).T
            block[~mask] = 0.0
        zeros += block.size - int(np.count_nonzero(block))
        gram += block.T @ block
    sparsity = zeros / matrix.size if matrix.size else 0.0
    if not np.isfinite(gram).all():
        empty = np.zeros(0)
        return LayerSpectrum(name, (rows, columns), empty, PowerLawFit(), math.nan, math.nan, 0, sparsity, NON_FINITE)
    eigenvalues = np.clip(np.linalg.eigvalsh(gram), 0.0, None) / n if m else np.zeros(0)
    top = float(eigenvalues[-1]) if m else 0.0
    rank_loss = int(np.count_nonzero(eigenvalues <= top * ZERO_TOLERANCE)) if top > 0 else m
    eigenvalues[:rank_loss] = 0.0
    return LayerSpectrum(
        name=name,
        shape=(rows, columns),
        eigenvalues=eigenvalues,
        fit=fit_power_law(eigenvalues[rank_loss:]),
        spectral_norm=math.sqrt(top * n),
        stable_rank=float(eigenvalues.sum() / top) if top > 0 else 0.0,
        rank_loss=rank_loss,
        sparsity=sparsity,
    )


NON_FINITE = "Its weights include NaN or infinite values, which have no spectrum."


def layer_spectrum(layer: PrunableLayer, plan: LayerPlan | None = None) -> LayerSpectrum:
    """The spectrum of ``layer``'s original matrix, or pruned by ``plan`` (from a PruneResult's plans)."""
    matrix = layer.as_matrix(layer.original)
    kept = None if plan is None else (lambda rows, cols: plan.kept(matrix, rows, cols))
    return matrix_spectrum(layer.name, matrix, kept)


class SpectrumCache:
    """Spectra already computed, by (model, scores version, tensor, config); None as the config is the
    original matrix. Filled by jobs on worker threads and read on the GUI thread (a lock), the oldest
    forgotten past ``limit``."""

    def __init__(self, limit: int = 512):
        self.limit = limit
        self._items: OrderedDict[tuple, LayerSpectrum] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> LayerSpectrum | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple, spectrum: LayerSpectrum) -> None:
        with self._lock:
            self._items[key] = spectrum
            self._items.move_to_end(key)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def spectrum_key(model: int, version: int, name: str, config) -> tuple:
    """The cache key of a tensor's spectrum under ``config`` (None: its original matrix)."""
    return (model, version, name, config)


def spectra_at(
    opened,
    result,
    names: Sequence[str] | None = None,
    task: TaskState | None = None,
    cache: SpectrumCache | None = None,
    model_key: int = 0,
    on_layer: Callable[[LayerSpectrum, LayerSpectrum], None] | None = None,
) -> list[tuple[LayerSpectrum, LayerSpectrum]]:
    """(original, pruned) spectra of the tensors ``names`` (default: every one) of an OpenedModel under
    a PruneResult; a tensor the result does not prune has its original as its pruned spectrum.
    ``on_layer`` gets each pair as it is done; ``cache`` keeps and gives them."""
    task = task or quiet()
    by_name = {layer.name: layer for layer in opened.layers}
    chosen = [by_name[name] for name in (names if names is not None else by_name)]
    version = opened.pruner.scores_version
    pairs = []
    for i, layer in enumerate(chosen):
        task.progress(i / max(1, len(chosen)), f"Spectrum of {layer.name}")
        key = spectrum_key(model_key, version, layer.name, None)
        original = _cached(cache, key, lambda layer=layer: layer_spectrum(layer))
        plan = result.plans.get(layer.name)
        if plan is None or plan.pruned == 0:
            pruned = original
        else:
            key = spectrum_key(model_key, version, layer.name, result.config)
            pruned = _cached(cache, key, lambda layer=layer, plan=plan: layer_spectrum(layer, plan))
        pairs.append((original, pruned))
        if on_layer is not None:
            on_layer(original, pruned)
    task.progress(1.0, "Spectra done")
    return pairs


def _cached(cache: SpectrumCache | None, key: tuple, compute: Callable[[], LayerSpectrum]) -> LayerSpectrum:
    if cache is None:
        return compute()
    found = cache.get(key)
    if found is None:
        found = compute()
        cache.put(key, found)
    return found


@dataclass(frozen=True)
class ScanPoint:
    """One k of an alpha scan: each tensor's spectrum there."""

    k: float
    spectra: dict[str, LayerSpectrum]


def alpha_scan(
    opened,
    config,
    ks: Iterable[float] = SCAN_KS,
    names: Sequence[str] | None = None,
    task: TaskState | None = None,
    cache: SpectrumCache | None = None,
    model_key: int = 0,
    on_point: Callable[[ScanPoint], None] | None = None,
) -> list[ScanPoint]:
    """The spectra of the tensors ``names`` (default: the config's included ones) at every k of ``ks``
    under ``config`` otherwise, from the original weights; ``on_point`` gets each k as it is done."""
    task = task or quiet()
    ks = list(ks)
    if names is None:
        names = [layer.name for layer in opened.layers if layer.name in config.included]
    points = []
    for i, k in enumerate(ks):
        sub = task.sub(i / len(ks), (i + 1) / len(ks))
        sub.progress(0.0, f"Spectra at k = {k:g}%")
        result = opened.pruner.prune(config.with_k(k))
        pairs = spectra_at(opened, result, names, sub, cache, model_key)
        point = ScanPoint(k, {pruned.name: pruned for _original, pruned in pairs})
        points.append(point)
        if on_point is not None:
            on_point(point)
    task.progress(1.0, "Scan done")
    return points
