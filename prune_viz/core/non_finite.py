"""Weights that are not numbers (NaN) or are infinite: the one rule of which they are, where a model
holds them, and what pruning does with them, in the sentences every front end shows.

A model opened with such weights keeps them: pruning ranks them by the order ``core.plan`` states
(NaN after every number, so also after +-inf). The load notes (which ``inspect`` and ``evaluate``
print as warnings), the window's warning, ``inspect --json`` and the evaluation's error all come from
here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

# what pruning does with them, said once (core.plan's order; criteria.lamp_scores keeps it for LAMP)
PRUNING_RULE = (
    "Pruning by magnitude or LAMP ranks NaN above every number and infinite values above every finite one, "
    "so these weights, and units holding them, are pruned last (random scores ignore the values)."
)


def is_non_finite(values) -> np.ndarray:
    """Which entries of an array of weights are not finite numbers (NaN, +inf, -inf): the one rule.
    Integer and boolean arrays have none."""
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.floating):
        return np.zeros(values.shape, bool)
    return ~np.isfinite(values)


def non_finite_entries(values) -> tuple[int, int]:
    """(NaN entries, infinite entries) of an array of weights (``is_non_finite``)."""
    values = np.asarray(values)
    bad = int(np.count_nonzero(is_non_finite(values)))
    if not bad:
        return 0, 0
    nan = int(np.count_nonzero(np.isnan(values)))
    return nan, bad - nan


@dataclass(frozen=True)
class NonFinite:
    """The NaN and infinite entries of one weight tensor (a model variable, or a prunable tensor)."""

    name: str  # "h1/kernel" for a variable, the tensor's name for a prunable tensor
    nan: int
    inf: int  # +inf and -inf
    size: int  # entries of the tensor

    @property
    def count(self) -> int:
        return self.nan + self.inf

    @property
    def layer(self) -> str:
        """The layer of a variable path: "h1/kernel:0" -> "h1"."""
        name = self.name.split(":")[0]
        return name.rsplit("/", 1)[0] if "/" in name else name

    def counts_text(self) -> str:
        """E.g. '1 NaN and 2 infinite of 24 entries'."""
        parts = ([f"{self.nan:,} NaN"] if self.nan else []) + ([f"{self.inf:,} infinite"] if self.inf else [])
        return f"{' and '.join(parts)} of {self.size:,} entries"

    def as_dict(self) -> dict:
        return {"name": self.name, "nan": self.nan, "inf": self.inf, "size": self.size}


def count_non_finite(name: str, blocks: Iterable) -> NonFinite | None:
    """The NaN and infinite entries of a tensor read as ``blocks`` (numpy arrays), or None if it has none."""
    nan = inf = size = 0
    for block in blocks:
        n, i = non_finite_entries(block)
        nan, inf, size = nan + n, inf + i, size + int(np.size(block))
    return NonFinite(name, nan, inf, size) if nan or inf else None


def by_layer(found: Iterable[NonFinite]) -> dict[str, int]:
    """{layer: NaN and infinite entries} of variables ("fc1/kernel:0" and "fc1/bias:0" -> "fc1")."""
    layers: dict[str, int] = {}
    for tensor in found:
        layers[tensor.layer] = layers.get(tensor.layer, 0) + tensor.count
    return layers


def non_finite_notes(found: list[NonFinite]) -> list[str]:
    """What a user is told about a model holding NaN or infinite weights: where they are, and what
    pruning does with them (two sentences; none for a model without any)."""
    if not found:
        return []
    where = "; ".join(f"{tensor.name}: {tensor.counts_text()}" for tensor in found)
    total = sum(tensor.count for tensor in found)
    return [
        f"The model holds {total:,} weight{'s' if total != 1 else ''} that {'are' if total != 1 else 'is'} "
        f"NaN or infinite ({where}).",
        PRUNING_RULE,
    ]
