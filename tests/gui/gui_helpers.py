"""Helpers shared by the GUI tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

WAIT_MS = 120_000  # generous: a worker may share 2 cores with the rest of the suite


def job_threads(timeout_ms: int = WAIT_MS) -> list[str]:
    """The names of the job threads still running after waiting up to ``timeout_ms`` for them: after
    a job reported, its worker only has its last signals to emit."""
    from prune_viz.gui.workers import running_job_threads

    return [thread.name for thread in running_job_threads(timeout_ms / 1000)]


def tile_pixels(tiles, slot: int):
    """The RGB pixels of the ``slot``-th tile a UnitTileGrid draws, read from its image."""
    import numpy as np

    from prune_viz.gui.views.tiles import GAP, SIDE

    columns = int(np.ceil(np.sqrt(len(tiles.shown_units))))
    row, column = divmod(slot, columns)
    y, x = row * (SIDE + GAP), column * (SIDE + GAP)
    return tiles.image.image[y : y + SIDE, x : x + SIDE]


def image_pixels(image):
    """The RGB pixels of a QImage, as an (h, w, 3) uint8 array (a copy: the QImage owns its buffer)."""
    import numpy as np
    from PySide6.QtGui import QImage

    image = image.convertToFormat(QImage.Format.Format_RGB888)
    assert not image.isNull()
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    raw = np.frombuffer(image.constBits(), np.uint8, count=stride * height).reshape(height, stride)
    return raw[:, : width * 3].reshape(height, width, 3).copy()


def screenshot_pixels(path):
    """The RGB pixels of a PNG the window wrote (``--screenshot``), as an (h, w, 3) uint8 array."""
    from PySide6.QtGui import QImage

    return image_pixels(QImage(str(path)))


def colour_count(pixels, rgb, tolerance: int = 6) -> int:
    """How many of ``pixels`` are ``rgb`` within ``tolerance`` on each channel."""
    import numpy as np

    return int(np.sum(np.all(np.abs(pixels.astype(int) - np.array(rgb)) <= tolerance, axis=2)))
