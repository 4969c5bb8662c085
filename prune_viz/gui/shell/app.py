"""``prune-viz [MODEL] [options]``: start the desktop app, or render one window image and exit.

Start-up order: a start-up window (the app's icon, frameless) is painted as soon
as Qt is loaded, before NumPy, pyqtgraph and the views are imported and
built; then the main window is shown and painted, and only then does the model open
in a worker (which imports TensorFlow). Set PRUNE_VIZ_TIMING=1 to print the seconds
from process start to the first paint, to the main window's paint and to model ready
on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

SCREENSHOT_SETTLE_MS = 300  # let the last layout and repaint happen before grabbing


def _k_arg(text: str) -> float:
    from prune_viz.core.pruning import PruningError, parse_k

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
    from prune_viz.core.inputs import PREPROCESSING
    from prune_viz.core.pruning import CRITERIA, METHODS, SCOPES, UNIT_MODES

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
    argv = list(sys.argv[1:] if argv is None else argv)
    timing = os.environ.get("PRUNE_VIZ_TIMING") == "1"
    if "-h" in argv or "--help" in argv:
        build_parser().parse_args(argv)  # prints the help and exits, with no window

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "prune-viz"])
    splash = _show_start_up_window(app, timing)
    try:
        return _run(argv, app, splash, timing)
    finally:
        splash.close()


class _PaintWatch:
    """Calls ``then`` once, after the first paint of the widgets it watches, and stops watching them
    then (a Python filter costs a call for every event the window gets, every repaint included)."""

    def __init__(self, then):
        from PySide6.QtCore import QEvent, QObject, QTimer

        outer = self

        class Filter(QObject):
            def eventFilter(self, obj, event):
                if not outer.done and event.type() == QEvent.Type.Paint:
                    outer.done = True
                    obj.removeEventFilter(self)
                    QTimer.singleShot(0, then)
                return False

        self.done = False
        self.filter = Filter()


def _show_start_up_window(app, timing: bool):
    """The app's icon in a frameless window, painted before anything slow is imported. (A plain
    label: QSplashScreen's first show loads the font database, which takes about a second.)"""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QPixmap
    from PySide6.QtWidgets import QLabel

    from prune_viz.assets import asset

    icon = asset("prune-viz-256.png")
    splash = QLabel()
    splash.setWindowFlags(Qt.WindowType.SplashScreen | Qt.WindowType.FramelessWindowHint)
    splash.setWindowTitle("Starting prune-viz")
    if icon is not None:
        splash.setPixmap(QPixmap(str(icon)))
    splash.adjustSize()
    screen = app.primaryScreen()
    if screen is not None:
        splash.move(screen.availableGeometry().center() - splash.rect().center())
    if timing:
        watch = _PaintWatch(lambda: print(f"first paint after {_process_age():.3f} s (start-up window)",
                                          file=sys.stderr))
        splash.installEventFilter(watch.filter)
        splash.watch = watch  # kept as long as the window
    splash.show()
    app.processEvents()  # the paint, and the timing print right after it
    app.processEvents()
    return splash


def _run(argv: list[str], app, splash, timing: bool) -> int:
    args = build_parser().parse_args(argv)

    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QIcon

    from prune_viz.assets import asset, demo_model_path
    from prune_viz.core.session import Session
    from prune_viz.gui import remembered
    from prune_viz.gui.shell.main_window import MainWindow
    from prune_viz.gui.views.colours import HIGH_CONTRAST

    app.setApplicationName("prune-viz")
    app.setOrganizationName("prune-viz")
    app.setDesktopFileName("io.github.pruneviz.PruneViz")  # the .desktop file name (Wayland app_id)
    icon = asset("prune-viz.svg") or asset("prune-viz-256.png")
    if icon is not None:
        app.setWindowIcon(QIcon(str(icon)))
    settings = remembered.default_settings()
    data_path = args.data or remembered.remembered_data_path(settings)
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
                from prune_viz.gui.errors import error_text

                job.failed.connect(lambda exc: fail(error_text(exc, "scan k = 0..100")[0]))
        elif args.screenshot and not args.evaluate:
            QTimer.singleShot(SCREENSHOT_SETTLE_MS, save_and_quit)

    window.model_opened.connect(lambda _opened: when_ready())
    window.lessons.warned.connect(lambda text: print(f"prune-viz: warning: {text}", file=sys.stderr))
    if args.screenshot:
        from prune_viz.gui.errors import error_text

        window.open_failed.connect(lambda exc: fail(error_text(exc, f"open {model}")[0]))
        window.controller.failed.connect(lambda exc: fail(error_text(exc, "evaluate the model")[0]))
        settled = window.lab.flips.scanned if scanning else window.controller.shown
        settled.connect(lambda _value: QTimer.singleShot(SCREENSHOT_SETTLE_MS, save_and_quit))
        if model is None:
            fail("--screenshot needs a MODEL (no bundled demo model was found)")
            return 2

    def after_first_paint() -> None:
        splash.close()
        if timing:
            print(f"main window painted after {_process_age():.3f} s", file=sys.stderr)
        if model is not None:  # TensorFlow is imported after the window shows, so it never delays it
            window.open_path(model, **config)

    painted = _PaintWatch(after_first_paint)
    window.installEventFilter(painted.filter)
    window.show()
    code = app.exec()
    window.close()
    return exit_code["value"] if exit_code["value"] else code


def main() -> int:  # python -m prune_viz.gui.shell.app
    return run_app()


if __name__ == "__main__":
    sys.exit(main())
