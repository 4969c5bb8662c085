"""``prune-viz [MODEL] [options]``: start the desktop app, or render one window image and exit.

Start-up order: the window is shown and painted first, then the model opens in
a worker (which imports TensorFlow), so the window appears in about a second.
Set PRUNE_VIZ_TIMING=1 to print the seconds from process start to first paint
and to model ready on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from prune_viz.core.inputs import PREPROCESSING
from prune_viz.core.pruning import CRITERIA, METHODS, SCOPES, UNIT_MODES, PruningError, parse_k

SCREENSHOT_SETTLE_MS = 300  # let the last layout and repaint happen before grabbing


def _k_arg(text: str) -> float:
    try:
        return parse_k(text)
    except PruningError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _size_arg(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 1280x720") from None
    if width < 640 or height < 400:
        raise argparse.ArgumentTypeError(f"{text} is too small: at least 640x400")
    return width, height


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prune-viz",
        description="A desktop lab for neural-network pruning. Subcommands (inspect, evaluate, ...) "
                    "run headless; see prune-viz --help.",
    )
    parser.add_argument("model", nargs="?", help="a .keras/.h5 file, a SavedModel folder or a .pvlesson "
                                                 "lesson, opened as saved (default: the bundled demo model)")
    parser.add_argument("--method", choices=METHODS, help="weight or unit pruning")
    parser.add_argument("--k", type=_k_arg, help="percent to prune, 0-100")
    parser.add_argument("--scope", choices=SCOPES, help="layerwise or global threshold")
    parser.add_argument("--criterion", choices=CRITERIA, help="what ranks the weights and units")
    parser.add_argument("--unit-mode", choices=UNIT_MODES, help="kernel column only, or remove (also bias and BN)")
    parser.add_argument("--seed", type=int, help="seed of the random criterion")
    parser.add_argument("--evaluate", action="store_true", help="evaluate once the model is open")
    parser.add_argument("--screenshot", metavar="OUT.png",
                        help="save an image of the window once ready (after --evaluate's result) and exit")
    parser.add_argument("--panel", choices=("draw", "flips"),
                        help="open with a classroom-lab panel showing: draw (a digit pad) or flips (which digits "
                             "break first; its scan starts once the model is open)")
    parser.add_argument("--presenter", action="store_true", help="presenter mode: large text")
    parser.add_argument("--high-contrast", action="store_true", help="high-contrast colours in every view")
    parser.add_argument("--size", type=_size_arg, metavar="WxH",
                        help="window size in pixels, e.g. 1280x720 (also the size of --screenshot's image)")
    parser.add_argument("--data", metavar="PATH", help="MNIST as an IDX folder or an .npz")
    parser.add_argument("--preprocess", choices=PREPROCESSING, default="auto",
                        help="input scaling (default: auto, chosen on a sample)")
    return parser


def _process_age() -> float:
    """Seconds since this process started (Linux /proc; falls back to time since import)."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / ticks
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _IMPORTED_AT


_IMPORTED_AT = time.perf_counter()


def run_app(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    timing = os.environ.get("PRUNE_VIZ_TIMING") == "1"

    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from prune_viz.assets import asset, demo_model_path
    from prune_viz.core.session import Session
    from prune_viz.gui import recent_qt
    from prune_viz.gui.heatmap_qt import HIGH_CONTRAST
    from prune_viz.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "prune-viz"])
    app.setApplicationName("prune-viz")
    app.setOrganizationName("prune-viz")
    app.setDesktopFileName("io.github.pruneviz.PruneViz")  # the .desktop file name (Wayland app_id)
    icon = asset("prune-viz.svg") or asset("prune-viz-256.png")
    if icon is not None:
        app.setWindowIcon(QIcon(str(icon)))
    settings = recent_qt.default_settings()
    data_path = args.data or recent_qt.remembered_data_path(settings)
    session = Session(data_path=data_path, preprocessing=args.preprocess)
    window = MainWindow(session, settings)
    if not args.screenshot:  # screenshots keep the default layout and look, so they look the same everywhere
        window.restore_layout()
        window.restore_view()
    if args.size:
        window.set_size(*args.size)
    if args.presenter:
        window.set_presenter_mode(True)
    if args.high_contrast:
        window.set_colormap(HIGH_CONTRAST)
    if args.panel:
        window.lab.show_panel(args.panel)

    model = args.model or demo_model_path()
    config = {key: value for key, value in
              (("method", args.method), ("k", args.k), ("scope", args.scope), ("criterion", args.criterion),
               ("unit_mode", args.unit_mode), ("seed", args.seed)) if value is not None}
    exit_code = {"value": 0}

    def fail(message: str) -> None:
        print(f"prune-viz: error: {message}", file=sys.stderr)
        exit_code["value"] = 2
        app.exit(2)

    def save_and_quit() -> None:
        if window.save_screenshot(args.screenshot):
            print(f"Saved {args.screenshot}", file=sys.stderr)
            app.exit(0)
        else:
            fail(f"could not write {args.screenshot}")

    scanning = args.panel == "flips"  # the screenshot waits for the flip scan, which runs after any evaluation

    def when_ready() -> None:
        if timing:
            print(f"model ready after {_process_age():.3f} s ({Path(model).name})", file=sys.stderr)
        if args.evaluate:
            window.controller.request()
        if scanning:
            job = window.lab.flips.run()
            if args.screenshot:
                from prune_viz.gui.errors_qt import error_text

                job.failed.connect(lambda exc: fail(error_text(exc, "scan k = 0..100")[0]))
        elif args.screenshot and not args.evaluate:
            QTimer.singleShot(SCREENSHOT_SETTLE_MS, save_and_quit)

    window.model_opened.connect(lambda _opened: when_ready())
    window.lessons.warned.connect(lambda text: print(f"prune-viz: warning: {text}", file=sys.stderr))
    if args.screenshot:
        from prune_viz.gui.errors_qt import error_text

        window.open_failed.connect(lambda exc: fail(error_text(exc, f"open {model}")[0]))
        window.controller.failed.connect(lambda exc: fail(error_text(exc, "evaluate the model")[0]))
        settled = window.lab.flips.scanned if scanning else window.controller.shown
        settled.connect(lambda _value: QTimer.singleShot(SCREENSHOT_SETTLE_MS, save_and_quit))
        if model is None:
            fail("--screenshot needs a MODEL (no bundled demo model was found)")
            return 2

    class FirstPaint(QObject):
        """Opens the model only after the window's first paint, so TensorFlow never delays it."""

        def __init__(self):
            super().__init__()
            self.done = False

        def eventFilter(self, obj, event):
            if not self.done and event.type() == QEvent.Type.Paint:
                self.done = True
                QTimer.singleShot(0, after_first_paint)
            return False

    def after_first_paint() -> None:
        if timing:
            print(f"first paint after {_process_age():.3f} s", file=sys.stderr)
        if model is not None:
            window.open_path(model, **config)

    painted = FirstPaint()
    window.installEventFilter(painted)
    window.show()
    code = app.exec()
    window.removeEventFilter(painted)
    window.close()
    return exit_code["value"] if exit_code["value"] else code


def main() -> int:  # python -m prune_viz.gui.app
    return run_app()


if __name__ == "__main__":
    sys.exit(main())
