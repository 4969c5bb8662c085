"""Where a derived model came from: the source file (name and SHA-256) and the pruning that made it.

Export and fine-tune write this as the ``derived_from`` entry of the new model's prune_viz.json
metadata; ``describe_derivation`` turns it into the line ``prune-viz inspect`` and the window show.
"""

from __future__ import annotations

from pathlib import Path

from prune_viz.core.lesson import model_sha256
from prune_viz.core.pruning import PruningConfig, describe_layer_k

SHORT_HASH = 12


def derivation(source: str | Path, config: PruningConfig) -> dict:
    """The ``derived_from`` metadata of a model made from the file ``source`` by ``config``."""
    source = Path(source)
    return {
        "source_model": source.name,
        "source_model_sha256": model_sha256(source),
        **config.as_dict(),  # method, k, scope, criterion, unit mode; the pattern, seed and ks per layer if used
        "included_layers": sorted(config.included),
    }


def fine_tuned(entry: dict, epochs: int, learning_rate: float) -> dict:
    """``entry`` (a ``derivation``) for the pruned model then fine-tuned ``epochs`` at ``learning_rate``."""
    return {**entry, "fine_tuned": True, "epochs": epochs, "learning_rate": learning_rate}


def describe_derivation(metadata: dict) -> str | None:
    """E.g. 'demo.keras (sha256 1f0c2d3e4a5b...), unit pruning, k=50%, layerwise, magnitude criterion,
    unit mode kernel; fine-tuned 3 epochs at learning rate 0.0001'; None for a model prune-viz did not derive."""
    entry = metadata.get("derived_from")
    if not isinstance(entry, dict) or "source_model" not in entry:
        return None
    sha = str(entry.get("source_model_sha256", ""))
    parts = [f"{entry['source_model']}" + (f" (sha256 {sha[:SHORT_HASH]}\u2026)" if sha else "")]
    if entry.get("method") == "nm" and "nm" in entry:
        parts.append(f"{entry['nm']} (N:M) pruning")
    elif entry.get("method") == "block" and "block" in entry:
        parts.append(f"{entry['block']} block pruning")
    elif "method" in entry:
        parts.append(f"{entry['method']} pruning")
    if "k" in entry and entry.get("method") != "nm":
        parts.append(f"k={float(entry['k']):g}%")
    if "scope" in entry:
        parts.append("layerwise" if entry["scope"] == "layer" else f"{entry['scope']} scope")
    if "criterion" in entry:
        parts.append(f"{entry['criterion']} criterion")
    if entry.get("method") == "unit" and "unit_mode" in entry:
        parts.append(f"unit mode {entry['unit_mode']}")
    if isinstance(entry.get("layer_k"), dict) and entry["layer_k"]:
        parts.append(describe_layer_k({str(name): float(k) for name, k in entry["layer_k"].items()}))
    text = ", ".join(parts)
    if entry.get("fine_tuned"):
        epochs = entry.get("epochs")
        text += f"; fine-tuned {epochs} epoch{'s' if epochs != 1 else ''}"
        if entry.get("learning_rate") is not None:
            text += f" at learning rate {float(entry['learning_rate']):g}"
    return text
