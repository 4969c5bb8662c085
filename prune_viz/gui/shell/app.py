"""``prune-viz [MODEL] [options]`` (parsed by cli.window): start the desktop app, or render one window
image and exit.

Start-up order: a start-up window (the app's icon, frameless) is painted as soon
as Qt is loaded, before NumPy, pyqtgraph and the views are imported and
built; then the main window is shown and painted, and only then does the model open
in a worker (which imports TensorFlow). Set PRUNE_VIZ_TIMING=1 to print the seconds
from process start to the first paint, to the main window's paint and to model ready
on stderr.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

INSIDE_PANELS = ("filters", "activations")  # pages whose picture comes from a job of their own
SCREENSHOT_SETTLE_MS = 300  # let the last layout and repaint happen before grabbing


class WindowOptions(NamedTuple):  # not a dataclass: importing dataclasses would delay the first paint
    """What the window opens with: prune-viz's command line with no subcommand (cli.window parses it).
    A pruning option left None keeps what the opened model or lesson says."""

    model: str | None = None  # None: the bundled demo model
    method: str | None = None
    k: float | None = None
    scope: str | None = None
    criterion: str | None = None
    unit_mode: str | None = None
    seed: int | None = None  # of the random criterion
    nm: tuple[int, int] | None = None  # the N:M of method "nm"
    block: tuple[int, int] | None = None  # the block of method "block"
    layer_k: list | None = None  # (name, k) pairs of --layer-k
    evaluate: bool = False
    screenshot: str | None = None
    panel: str | None = None
    presenter: bool = False
    high_contrast: bool = False
    size: tuple[int, int] | None = None
    data: str | None = None
    preprocess: str = "auto"
    custom_objects: str | None = None  # for this run; File > Custom objects file... remembers one
    allow_lambda: bool = False

    def pruning(self) -> dict:
        """The pruning options given, as open_path's keyword arguments."""
        given = {
            "method": self.method,
            "k": self.k,
            "scope": self.scope,
            "criterion": self.criterion,
            "unit_mode": self.unit_mode,
            "seed": self.seed,
            "nm": self.nm,
            "block": self.block,
            "layer_k": dict(self.layer_k) if self.layer_k else None,
        }
        return {key: value for key, value in given.items() if value is not None}


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


def run_app(parse_options: Callable[[], WindowOptions]) -> int:
    """Show the start-up window, then call ``parse_options`` (parsing imports NumPy, so it waits until
    the first paint) and open the main window with what it returns."""
    timing = os.environ.get("PRUNE_VIZ_TIMING") == "1"

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "prune-viz"])
    splash = _show_start_up_window(app, timing)
    try:
        return _run(parse_options(), app, splash, timing)
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

    from prune_viz.resources import icon_path

    icon = icon_path("prune-viz-256.png")
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
        watch = _PaintWatch(
            lambda: print(f"first paint after {_process_age():.3f} s (start-up window)", file=sys.stderr)
        )
        splash.installEventFilter(watch.filter)
        splash.watch = watch  # kept as long as the window
    splash.show()
    app.processEvents()  # the paint, and the timing print right after it
    app.processEvents()
    return splash


def _run(args: WindowOptions, app, splash, timing: bool) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QIcon

    from prune_viz.core.inputs import EvaluationUnavailable
    from prune_viz.core.session import Session
    from prune_viz.gui import remembered
    from prune_viz.gui.errors import error_text
    from prune_viz.gui.shell.main_window import MainWindow
    from prune_viz.gui.views.colours import HIGH_CONTRAST
    from prune_viz.resources import demo_model_path, icon_path

    app.setApplicationName("prune-viz")
    app.setOrganizationName("prune-viz")
    app.setDesktopFileName("io.github.pruneviz.PruneViz")  # the .desktop file name (Wayland app_id)
    icon = icon_path("prune-viz.svg") or icon_path("prune-viz-256.png")
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
    if args.custom_objects or args.allow_lambda:
        custom = args.custom_objects or False  # False: keep the remembered file
        window.set_open_options(custom_objects=custom, allow_lambda=args.allow_lambda, remember=False)

    model = args.model or demo_model_path()
    config = args.pruning()
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

    def save_as_it_is(why: str) -> None:
        """No result will come (the model cannot be evaluated): say why and grab the window as it is."""
        print(f"prune-viz: warning: {why}", file=sys.stderr)
        QTimer.singleShot(SCREENSHOT_SETTLE_MS, window, save_and_quit)

    def failed_while(doing: str):
        def report(exc: BaseException) -> None:
            if isinstance(exc, EvaluationUnavailable):  # the model's nature, found by running it: still a picture
                save_as_it_is(str(exc))
            else:
                fail(error_text(exc, doing)[0])

        return report

    saved = {"done": False}
    scanning = args.panel == "flips"  # the screenshot waits for the flip scan, which runs after any evaluation
    spectra = args.panel == "spectrum"  # the screenshot waits for the spectra at the settings given

    def when_ready() -> None:
        if timing:
            print(f"model ready after {_process_age():.3f} s ({Path(model).name})", file=sys.stderr)
        if args.screenshot and (args.evaluate or scanning) and (why := session.evaluation_problem):
            save_as_it_is(why)  # known from the input shape: no evaluation is started
            return
        if args.evaluate:
            window.controller.request()
        if scanning:
            job = window.lab.flips.run()
            if args.screenshot:
                job.failed.connect(failed_while("scan k = 0..100"))
        elif spectra and args.screenshot:
            page, once = window.lab.spectrum, []

            def settled() -> None:
                if not once:
                    once.append(True)
                    QTimer.singleShot(SCREENSHOT_SETTLE_MS, window, save_and_quit)

            page.shown.connect(settled)
            page.refresh(at_once=True)
        elif args.screenshot and not args.evaluate:
            inside = window.lab.page(args.panel) if args.panel in INSIDE_PANELS else None
            if inside is not None and not inside.is_settled():  # its job is on its way: wait for its picture
                inside.shown.connect(lambda: QTimer.singleShot(SCREENSHOT_SETTLE_MS, window, save_and_quit_once))
            else:
                QTimer.singleShot(SCREENSHOT_SETTLE_MS, window, save_and_quit)

    def save_and_quit_once() -> None:
        if not saved["done"]:
            saved["done"] = True
            save_and_quit()

    window.model_opened.connect(lambda _opened: when_ready())
    window.lessons.warned.connect(lambda text: print(f"prune-viz: warning: {text}", file=sys.stderr))
    if args.screenshot:
        window.open_failed.connect(lambda exc: fail(error_text(exc, f"open {model}")[0]))
        window.controller.failed.connect(failed_while("evaluate the model"))
        settled = window.lab.flips.scanned if scanning else window.controller.shown
        settled.connect(lambda _value: QTimer.singleShot(SCREENSHOT_SETTLE_MS, window, save_and_quit))
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
    # nothing of this run may act later (a settle timer, a late result) when the caller runs another (tests do,
    # in one process): its timers have the window as context, and the window and its connections go
    window.deleteLater()
    return exit_code["value"] if exit_code["value"] else code
