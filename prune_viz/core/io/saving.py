"""Saving a model as a .keras archive that carries prune-viz's metadata."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

from prune_viz.core.files import WriteRefused, write_atomically
from prune_viz.core.io.metadata import METADATA_ZIP_NAME


def save_keras_with_metadata(
    model, path: str | os.PathLike, metadata: dict, *, force: bool = False, protect: tuple = ()
) -> Path:
    """Save ``model`` as a .keras archive carrying ``metadata`` as an extra zip member.

    Written atomically by core.files: never over a ``protect``-ed file (the opened model),
    never over an existing file unless ``force``.
    """
    path = Path(path).expanduser()
    if path.suffix != ".keras":
        raise WriteRefused(f"The output file must end in .keras (got {path.name}).")

    def write(temporary: Path) -> None:
        model.save(temporary)
        with zipfile.ZipFile(temporary, "a") as archive:
            archive.writestr(METADATA_ZIP_NAME, json.dumps(metadata, indent=2, sort_keys=True))

    return write_atomically(path, write, force=force, protect=protect)
