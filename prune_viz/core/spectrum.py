"""Each prunable tensor's spectrum: singular values, the eigenvalue spectral density (ESD) of W^T W and
its power-law fit, for the original matrix and the pruned one at any k. No data is needed.

Definitions (WeightWatcher's, https://github.com/CalculatedContent/WeightWatcher, where it has one):

- **The matrices** (``view``). A Dense kernel, and any tensor that is not a convolution kernel, is one
  matrix: its matrix view (``PrunableLayer.as_matrix``, the matrix the heatmap shows and the pruner
  prunes). A convolution kernel is cut as WeightWatcher cuts a Conv2D kernel (its ``conv2D_Wmats``, the
  default ``pool=True``): one matrix per kernel position, W[i, j] of in x out (kh*kw of them), whose
  eigenvalues are pooled into one ESD that is fitted once (its ``combined_eigenvalues``); the norms are
  of that pooled ESD too. Here the same cut holds for Conv1D and Conv3D (k and kd*kh*kw positions;
  WeightWatcher takes a Conv1D kernel as one array, its cut being for Conv2D, and knows no Conv3D), for the transposed
  convolutions (positions of filters x in, as Keras stores them) and for a depthwise kernel (positions
  of in x multiplier, as WeightWatcher cuts a DepthwiseConv2D or a SeparableConv2D's depthwise kernel,
  whose class names hold "conv2d"; with a multiplier of 1 each position has a single eigenvalue, so
  such a layer has few and is flagged). A kernel with one position (1x1, a separable's pointwise
  kernel) is its matrix. Pruning zeroes entries of the matrix view, so the pruned slices are the
  slices of the pruned kernel.
- **Eigenvalues**: of X = W^T W / N for each matrix W (N x M, N the larger dimension): the squared
  singular values over N (WeightWatcher up to 0.6 with its Keras default ``normalize``; later
  releases leave out the 1/N, and scale a convolution's slices by a constant, ``conv2d_norm``).
  alpha, D and the stable rank do not change with that scale; xmin and the norms scale with it.
  They are computed as the eigenvalues of the smaller Gram matrix, accumulated in float64 from row
  blocks of the pruned matrix (no full-size copy), so the singular values are their square roots.
- **Zero eigenvalues** (rank lost, e.g. to removed units) are those at or below ``ZERO_TOLERANCE``
  times the largest of their matrix (a singular value below 1e-6 of the largest: the float32 weights'
  round-off; a dead unit's 1e-5 is kept); they are counted (``rank_loss``) and left out of the fit, as
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
- ``spectral_norm`` is ||W||_2, the largest singular value (of any slice, for a convolution);
  WeightWatcher's column of that name is lambda_max, the largest eigenvalue of its pooled ESD, here
  ``lambda_max``. ``stable_rank`` is sum(eigenvalues) / lambda_max over the pooled ESD (WeightWatcher's,
  with any scale): ||W||_F^2 / ||W||_2^2 for a matrix, the kernel's squared norm over its largest
  slice's squared spectral norm for a convolution.
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
VIEW_MATRIX = "matrix"
VIEW_PER_POSITION = "per kernel position (kh*kw slices of in x out)"
CONVOLUTIONS = frozenset(
    {"Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"}
)  # kernels (*positions, in, out), or (*positions, filters, in) transposed; the matrix view's rows are positions x in
DEPTHWISE = frozenset(
    {"DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D depthwise", "SeparableConv2D depthwise"}
)  # kernels (*positions, in, multiplier); the matrix view's rows are positions


@dataclass(frozen=True)
class KernelSlicing:
    """How a convolution's matrix view is cut into WeightWatcher's matrices, one per kernel position:
    ``positions`` blocks of ``rows_each`` consecutive rows, each reshaped to ``shape`` (the kernel's last two
    axes)."""

    positions: int
    rows_each: int
    shape: tuple[int, int]


def kernel_slicing(layer: PrunableLayer) -> KernelSlicing | None:
    """The per-position cut of a convolution kernel, or None for a tensor that is one matrix (a Dense
    kernel, anything not a convolution, a kernel of one position)."""
    shape = layer.shape
    if len(shape) < 3:
        return None
    positions = int(np.prod(shape[:-2], dtype=np.int64))
    slice_shape = (int(shape[-2]), int(shape[-1]))
    if positions <= 1:
        return None
    if layer.kind in CONVOLUTIONS and layer.rows == positions * slice_shape[0]:
        return KernelSlicing(positions, slice_shape[0], slice_shape)
    if layer.kind in DEPTHWISE and layer.rows == positions:
        return KernelSlicing(positions, 1, slice_shape)
    return None


def view_words(layer: PrunableLayer) -> str:
    """Which matrices a tensor's spectrum is of, short: "1600 x 64" (its matrix) or "9 x (32 x 64)" (kernel
    positions x one position's in x out)."""
    slicing = kernel_slicing(layer)
    if slicing is None:
        return f"{layer.rows} x {layer.columns}"
    return f"{slicing.positions} x ({slicing.shape[0]} x {slicing.shape[1]})"


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
    eigenvalues: np.ndarray = field(repr=False)  # of W^T W / N, ascending, min(N, M) per matrix, pooled
    fit: PowerLawFit
    spectral_norm: float  # ||W||_2: the largest singular value (of any slice)
    stable_rank: float  # sum(eigenvalues) / lambda_max (0 for an all-zero matrix)
    rank_loss: int  # eigenvalues that are zero (ZERO_TOLERANCE)
    sparsity: float  # share of the matrix's entries that are zero
    problem: str = ""  # why there is no spectrum (NaN or infinite weights), else ""
    slices: int = 1  # matrices whose eigenvalues are pooled: 1, or a convolution's kernel positions
    slice_shape: tuple[int, int] | None = None  # one kernel position's matrix (None: the matrix view)

    @property
    def view(self) -> str:
        """VIEW_MATRIX, or VIEW_PER_POSITION for a convolution cut per kernel position."""
        return VIEW_MATRIX if self.slice_shape is None else VIEW_PER_POSITION

    @property
    def view_words(self) -> str:
        """As ``view_words(layer)``: "1600 x 64" or "9 x (32 x 64)"."""
        if self.slice_shape is None:
            return f"{self.shape[0]} x {self.shape[1]}"
        return f"{self.slices} x ({self.slice_shape[0]} x {self.slice_shape[1]})"

    @property
    def n(self) -> int:
        """N: the larger dimension of each matrix (a slice, for a convolution), the eigenvalues' normaliser."""
        return max(self.shape if self.slice_shape is None else self.slice_shape)

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
            "view": self.view,
            "matrix": list(self.shape),
            "slices": self.slices,
            "slice": list(self.slice_shape or self.shape),
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
        return _non_finite(name, (rows, columns), sparsity)
    eigenvalues = np.clip(np.linalg.eigvalsh(gram), 0.0, None)[None, :] / n if m else np.zeros((1, 0))
    return _spectrum(name, (rows, columns), eigenvalues, n, sparsity)


def sliced_spectrum(
    name: str,
    matrix: np.ndarray,
    slicing: KernelSlicing,
    kept: Callable[[slice, slice], np.ndarray] | None = None,
) -> LayerSpectrum:
    """The pooled spectrum of a convolution's per-position matrices, cut from its matrix view by
    ``slicing``, with the entries where ``kept(rows, cols)`` is False zeroed; read a block of positions at a
    time. Each position's eigenvalues are of its W^T W / N (N its larger dimension)."""
    matrix = np.asarray(matrix)
    rows, columns = matrix.shape
    a, b = slicing.shape
    n = max(a, b)
    per_block = max(1, GRAM_BLOCK_ELEMENTS // max(1, slicing.rows_each * columns))
    parts, zeros = [], 0
    for start in range(0, slicing.positions, per_block):
        stop = min(slicing.positions, start + per_block)
        window = slice(start * slicing.rows_each, stop * slicing.rows_each)
        block = np.array(matrix[window], np.float64)
        if kept is not None:
            block[~kept(window, slice(None))] = 0.0
        zeros += block.size - int(np.count_nonzero(block))
        cut = block.reshape(stop - start, a, b)
        gram = cut.transpose(0, 2, 1) @ cut if a >= b else cut @ cut.transpose(0, 2, 1)
        if not np.isfinite(gram).all():
            return _non_finite(name, (rows, columns), zeros / matrix.size, slicing)
        parts.append(np.clip(np.linalg.eigvalsh(gram), 0.0, None) / n)
    return _spectrum(name, (rows, columns), np.concatenate(parts), n, zeros / matrix.size, slicing)


def _non_finite(name, shape, sparsity, slicing: KernelSlicing | None = None) -> LayerSpectrum:
    slices, slice_shape = (1, None) if slicing is None else (slicing.positions, slicing.shape)
    empty = np.zeros(0)
    return LayerSpectrum(
        name, shape, empty, PowerLawFit(), math.nan, math.nan, 0, sparsity, NON_FINITE, slices, slice_shape
    )


def _spectrum(
    name: str,
    shape: tuple[int, int],
    per_matrix: np.ndarray,
    n: int,
    sparsity: float,
    slicing: KernelSlicing | None = None,
) -> LayerSpectrum:
    """The spectrum from each matrix's eigenvalues (a row each, ascending): zeros counted per matrix,
    then pooled and fitted once."""
    per_matrix = np.array(per_matrix, np.float64)
    tops = per_matrix.max(axis=1, keepdims=True) if per_matrix.size else np.zeros((len(per_matrix), 1))
    zero = per_matrix <= tops * ZERO_TOLERANCE  # an all-zero matrix's eigenvalues are all zero
    per_matrix[zero] = 0.0
    rank_loss = int(np.count_nonzero(zero))
    eigenvalues = np.sort(per_matrix.ravel())
    top = float(eigenvalues[-1]) if eigenvalues.size else 0.0
    slices, slice_shape = (1, None) if slicing is None else (slicing.positions, slicing.shape)
    return LayerSpectrum(
        name=name,
        shape=shape,
        eigenvalues=eigenvalues,
        fit=fit_power_law(eigenvalues[rank_loss:]),
        spectral_norm=math.sqrt(top * n),
        stable_rank=float(eigenvalues.sum() / top) if top > 0 else 0.0,
        rank_loss=rank_loss,
        sparsity=sparsity,
        slices=slices,
        slice_shape=slice_shape,
    )


NON_FINITE = "Its weights include NaN or infinite values, which have no spectrum."


def layer_spectrum(layer: PrunableLayer, plan: LayerPlan | None = None) -> LayerSpectrum:
    """The spectrum of ``layer``'s original tensor, or pruned by ``plan`` (from a PruneResult's plans): of its
    matrix view, or of its kernel positions for a convolution (``kernel_slicing``)."""
    matrix = layer.as_matrix(layer.original)
    kept = None if plan is None else (lambda rows, cols: plan.kept(matrix, rows, cols))
    slicing = kernel_slicing(layer)
    if slicing is None:
        return matrix_spectrum(layer.name, matrix, kept)
    return sliced_spectrum(layer.name, matrix, slicing, kept)


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
