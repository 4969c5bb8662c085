"""Render prune_viz/data/icons/prune-viz.svg to the hicolor PNG sizes (prune-viz-SIZE.png beside it).

Run after editing the SVG:  python packaging/render_icons.py
Uses Qt's own SVG renderer, so it needs nothing beyond the app's dependencies.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ICON_NAME = "prune-viz"
SIZES = (16, 32, 48, 64, 128, 256, 512)
ICONS = Path(__file__).resolve().parent.parent / "prune_viz" / "data" / "icons"


def render(svg: Path, out_dir: Path, sizes=SIZES) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (keeps Qt alive)
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"cannot read {svg}")
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(0)  # transparent outside the rounded tile
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        path = out_dir / f"{ICON_NAME}-{size}.png"
        if not image.save(str(path)):
            raise SystemExit(f"cannot write {path}")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in render(ICONS / f"{ICON_NAME}.svg", ICONS):
        print(path.relative_to(ICONS.parents[2]), path.stat().st_size, "bytes")
