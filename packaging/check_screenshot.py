"""Check that a smoke-test screenshot shows a rendered window, and say how long it took.

    python packaging/check_screenshot.py SHOT.png [--started EPOCH_SECONDS]

Exits 1 if the PNG is missing, tiny, or (nearly) one flat colour, which is what a window
that never painted looks like.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter

MIN_SIDE = 320  # the main window is far larger; anything smaller is not the app
MIN_COLOURS = 16  # a painted window with text and a heatmap has hundreds
MAX_DOMINANT_SHARE = 0.97  # one colour covering nearly everything = blank


def pixel_stats(path: str) -> tuple[int, int, int, float]:
    from PySide6.QtGui import QImage

    image = QImage(path)
    if image.isNull():
        raise SystemExit(f"{path}: not a readable image")
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    width, height = image.width(), image.height()
    data = bytes(image.constBits())[: image.sizeInBytes()]
    stride = image.bytesPerLine()
    counts = Counter(
        data[row * stride + col * 4 : row * stride + col * 4 + 3]
        for row in range(0, height, 2)
        for col in range(0, width, 2)
    )
    dominant_share = counts.most_common(1)[0][1] / sum(counts.values())
    return width, height, len(counts), dominant_share


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("screenshot")
    parser.add_argument("--started", type=float, help="epoch seconds when the app was launched")
    args = parser.parse_args()
    if not os.path.isfile(args.screenshot):
        print(f"FAIL: no screenshot at {args.screenshot}")
        return 1
    width, height, colours, dominant = pixel_stats(args.screenshot)
    print(f"screenshot {width}x{height}, {colours} colours, most common colour {dominant:.1%} of pixels")
    if args.started is not None:
        written = os.path.getmtime(args.screenshot) - args.started
        print(f"launch to screenshot written: {written:.1f} s")
    if min(width, height) < MIN_SIDE or colours < MIN_COLOURS or dominant > MAX_DOMINANT_SHARE:
        print("FAIL: the screenshot looks blank")
        return 1
    print("OK: the window rendered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
