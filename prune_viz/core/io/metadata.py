"""Where prune-viz keeps its own metadata in the files it writes, and the reading of JSON found in them."""

from __future__ import annotations

import json

METADATA_ZIP_NAME = "prune_viz.json"  # extra member of a .keras zip; Keras ignores it
METADATA_H5_ATTR = "prune_viz"


def parse_json_object(raw) -> dict:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
