"""GUI benchmark: slider move to repainted heatmaps, start-up to first paint, a big model's open,
each against a floor measured in the same run.

Runs offscreen (QT_QPA_PLATFORM=offscreen unless a platform is set). The slider
figure drives the real MainWindow in this process: k is set through the slider,
the session recomputes the masks and the views on screen update (signal handlers
run synchronously; hidden ones catch up when shown), Qt repaints, then the
heatmaps are rendered with ``grab()``. After each step a bare pyqtgraph window of
the heatmaps' size paints the same pictures the same way (the floor): each as a
bare window would take it, float values with NaN where pruned, the same levels
and colour table. The same steps are then taken while the Sweep experiment runs
in the background, against the idle figure. Start-up is timed in fresh processes
with the app's own PRUNE_VIZ_TIMING hook, each after a bare PySide6 window process
timed the same way. Settings go to a temporary folder, so the user's recent-files
list is not touched.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from prune_viz.bench.models import BIG_MODELS, FC1000, QUICK_MLP, save_mlp
from prune_viz.bench.report import BenchReport, info, vs_floor

HEARTBEAT_MS = 10  # the GUI thread's timer while a big model opens; a late tick is a frozen window


SLIDER_TARGET = 1.5  # x a bare pyqtgraph window painting the same images
FIRST_PAINT_TARGET = 1.5  # x a bare PySide6 window process
UNDER_LOAD_TARGET = 2.0  # x the idle figure of the same run
OPEN_STALL_TARGET = 2.0  # x a bare event loop's longest freeze while Keras loads the same file
BARE_PYQTGRAPH = "bare pyqtgraph window, same images and size"


def _slider_ks(quick: bool) -> list[int]:
    """The ks a slider figure steps through: twenty, so that its median (and its floor's) moves
    little with a few slow steps (ten left VGG-16's figure 1.36-1.55x its floor from run to run)."""
    return [10, 50, 90] if quick else [5, 20, 35, 50, 65, 80, 95, 60, 30, 10, 15, 45, 75, 90, 70, 40, 25, 55, 85, 100]


def _window(settings_dir: Path, data: str | None = None):
    """The app's main window at 1600x1000, shown, with settings in ``settings_dir``."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from prune_viz.core.session import Session
    from prune_viz.gui.shell.main_window import MainWindow

    app = QApplication.instance() or QApplication(["prune-viz-bench"])
    settings = QSettings(str(settings_dir / "bench.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Session(data_path=data), settings)
    window.resize(1600, 1000)
    window.show()
    app.processEvents()
    return app, window


class BareHeatmaps:
    """The floor of a repaint: a plain pyqtgraph window (no prune-viz code) of the heatmaps' size, a
    row of small ImageItems for the thumbnails above one PlotItem with an ImageItem for the selected
    matrix, painting arrays given to it with the same levels and lookup table, timed as the app is."""

    def __init__(self, size, thumbnails: int, thumbnail_pixels: int, lut: np.ndarray):
        import pyqtgraph as pg

        self.lut = lut
        self.widget = pg.GraphicsLayoutWidget()
        self.widget.resize(size)
        self.thumbnails = []
        for column in range(thumbnails):
            box = self.widget.addViewBox(row=0, col=column, invertY=True, enableMouse=False)
            box.setFixedWidth(thumbnail_pixels)
            box.setFixedHeight(thumbnail_pixels)
            item = pg.ImageItem(axisOrder="row-major")
            box.addItem(item)
            self.thumbnails.append((box, item))
        self.plot = self.widget.addPlot(row=1, col=0, colspan=max(1, thumbnails))
        self.plot.invertY(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.widget.show()
        self._fitted = False

    def paint(self, arrays) -> float:
        """Seconds to set ``arrays`` ((thumbnail images and levels), (selected image, level)), let
        Qt repaint and render the window with grab()."""
        from PySide6.QtWidgets import QApplication

        thumbnails, (selected, level) = arrays
        start = time.perf_counter()
        for (_box, item), (image, thumb_level) in zip(self.thumbnails, thumbnails):
            item.setImage(image, autoLevels=False, levels=(-thumb_level, thumb_level), lut=self.lut)
        self.image.setImage(selected, autoLevels=False, levels=(-level, level), lut=self.lut)
        if not self._fitted:
            for box, _item in self.thumbnails:
                box.autoRange(padding=0)
            self.plot.autoRange(padding=0)
            self._fitted = True
        QApplication.processEvents()
        self.widget.grab()
        return time.perf_counter() - start

    def close(self) -> None:
        self.widget.close()
        self.widget.deleteLater()


def heatmap_arrays(heatmaps):
    """What the heatmap views show now: each thumbnail's image and level, and the selected matrix
    as drawn (float, NaN = pruned) with its level."""
    thumbnails = [
        (thumb.image, heatmaps.levels[name])
        for name, thumb in heatmaps.strip.thumbnails.items()
        if thumb.image is not None
    ]
    view = heatmaps.view
    return thumbnails, (view.displayed_image(), view.level)


def _bare_heatmaps(window) -> BareHeatmaps:
    from prune_viz.gui.views.heatmap_data import THUMBNAIL_PIXELS

    heatmaps = window.heatmaps
    return BareHeatmaps(heatmaps.size(), len(heatmaps.strip.thumbnails), THUMBNAIL_PIXELS, heatmaps.spec.lut())


def _slider_steps(app, window, bare: BareHeatmaps, ks: list[int], whole_window: bool = True) -> dict:
    """Move the slider through ``ks``; after each app step the floor paints the same images (interleaved).
    Per step: views updated, heatmaps painted, whole window painted (s), the floor (s), the selected
    heatmap's pruned fraction, and whether a background job was running throughout."""
    slider = window.controls.slider
    steps = {
        "updated": [],
        "repainted": [],
        "painted": [],
        "whole": [],
        "floor": [],
        "pruned": [],
        "loaded": [],
        "left_over": [],
    }
    for k in ks:
        busy_before = window.jobs.busy
        start = time.perf_counter()
        slider.setValue(k)  # -> Session.configure -> pruning_changed -> every view updates
        steps["updated"].append(time.perf_counter() - start)
        app.processEvents()  # Qt repaints what changed on screen
        steps["repainted"].append(time.perf_counter() - start)
        window.heatmaps.grab()  # render the heatmaps (thumbnails + selected layer) as a repaint would
        steps["painted"].append(time.perf_counter() - start)
        if whole_window:
            window.grab()  # and the rest of the window (histogram, readouts)
            steps["whole"].append(time.perf_counter() - start)
        steps["loaded"].append(busy_before and window.jobs.busy)
        steps["left_over"].append(_finish_posted_work(app))  # not the floor's to pay
        arrays = heatmap_arrays(window.heatmaps)
        image = arrays[1][0]
        steps["pruned"].append(round(float(np.mean(np.isnan(image))), 4) if image is not None else None)
        steps["floor"].append(bare.paint(arrays))
    if window.session.config.k != float(ks[-1]):
        raise RuntimeError("the slider did not reach the session")
    return steps


def _finish_posted_work(app, idle_s: float = 0.0003, rounds: int = 50) -> float:
    """Seconds the event loop takes to run what a step left posted (a layout that asks its parent's,
    a second paint), until two turns in a row find next to nothing to do."""
    start = time.perf_counter()
    quiet = 0
    for _ in range(rounds):
        turn = time.perf_counter()
        app.processEvents()
        quiet = quiet + 1 if time.perf_counter() - turn < idle_s else 0
        if quiet == 2:
            break
    return time.perf_counter() - start


def _ms(seconds: list[float]) -> list[float]:
    return [round(s * 1000, 2) for s in seconds]


def _median_ms(seconds: list[float]) -> float:
    return round(statistics.median(seconds) * 1000, 2)


def _slider_figures(key: str, name: str, steps: dict) -> list:
    painted, floor, updated = _median_ms(steps["painted"]), _median_ms(steps["floor"]), _median_ms(steps["updated"])
    repaint = statistics.median(r - u for r, u in zip(steps["repainted"], steps["updated"])) * 1000
    grab = statistics.median(p - r for p, r in zip(steps["painted"], steps["repainted"])) * 1000
    left_over = _median_ms(steps["left_over"])
    return [
        vs_floor(
            key,
            name,
            painted,
            "ms",
            floor,
            BARE_PYQTGRAPH,
            SLIDER_TARGET,
            f"median of {len(steps['painted'])}, each step followed by the floor's; the views on screen "
            f"updated in {updated:.1f} ms, the rest ({painted - updated:.1f} ms) is the paint: Qt's repaint "
            f"of what changed {repaint:.1f} ms, the heatmaps' grab {grab:.1f} ms; then the event loop ran "
            f"{left_over:.1f} ms of what the step left posted before the floor was timed",
        )
    ]


def _keep_sweeping(window) -> None:
    """Run the Sweep experiment (its Run button's job, on the app's job queue) unless one runs."""
    if not window.jobs.busy:
        if window.experiments.sweep.run() is None:
            raise RuntimeError("the sweep did not start")


def bench_slider_repaint(
    model_path: Path,
    settings_dir: Path,
    label: str,
    quick: bool,
    data: str | None = None,
    scopes: tuple[str, ...] = ("layer",),
    under_load: bool = True,
    warm_up: bool = False,
) -> tuple[list, dict]:
    """Slider steps to repainted heatmaps against a bare pyqtgraph window (interleaved), per method and
    scope, and (``under_load``, which needs ``data`` the model evaluates) layerwise while the Sweep
    experiment runs in the background. Layerwise figures are keyed by method alone, others
    ``<method>_<scope>``. With ``warm_up``, the steps start once the window's slider warm-up for the
    settings is done, as the big models' do (a step that reads a big tensor's weights before it is
    computed on a thread, and the session takes its k later)."""
    from prune_viz.core.session import open_model

    app, window = _window(settings_dir, data)
    window.set_opened_model(str(model_path), open_model(model_path))
    app.processEvents()
    window.grab()
    bare = _bare_heatmaps(window)
    details: dict = {}
    figures = []
    for method in ("weight", "unit"):
        for scope in scopes:
            mode = method if scope == "layer" else f"{method}_{scope}"
            words = mode.replace("_", " ")
            idle = _repaint_figures(app, window, bare, label, quick, method, scope, mode, words, details, warm_up)
            figures += idle
            if under_load and scope == "layer":
                figures.append(_under_load_figure(app, window, bare, label, quick, method, idle[0].value, details))
    bare.close()
    _dispose(app, window)
    return figures, details


def _repaint_figures(app, window, bare, label, quick, method, scope, mode, words, details, warm_up=False) -> list:
    """The slider figures of one method and scope (idle), their steps recorded in ``details[mode]``."""
    window.session.configure(method=method, scope=scope, k=0.0)
    app.processEvents()
    window.grab()
    warm_up_s = _wait_for_warm_up(app, window) if warm_up else None
    steps = _slider_steps(app, window, bare, _slider_ks(quick))
    details[mode] = {
        "ks": _slider_ks(quick),
        "views_updated_ms": _ms(steps["updated"]),
        "repainted_ms": _ms(steps["repainted"]),
        "heatmaps_painted_ms": _ms(steps["painted"]),
        "floor_ms": _ms(steps["floor"]),
        "whole_window_painted_ms": _ms(steps["whole"]),
        "left_over_ms": _ms(steps["left_over"]),
        "selected_heatmap_pruned_fraction": steps["pruned"],
    }
    return (
        _slider_figures(
            f"gui.{label}.slider_repaint.{mode}", f"GUI {label}: slider to repainted heatmaps, {words}", steps
        )
        + [
            info(
                f"gui.{label}.slider_window.{mode}",
                f"GUI {label}: slider to repainted window, {words}",
                _median_ms(steps["whole"]),
                "ms",
                "whole 1600x1000 window rendered with grab()",
                floor=_median_ms(steps["floor"]),
                floor_name=BARE_PYQTGRAPH,
            )
        ]
        + _warm_up_figures(f"gui.{label}.warm_up_s.{mode}", f"GUI {label}: slider warm-up, {words}", warm_up_s)
    )


def _warm_up_figures(key: str, name: str, seconds: float | None) -> list:
    """The warm-up's time as an information figure ([] when none was needed)."""
    if seconds is None:
        return []
    return [
        info(
            key,
            name,
            round(seconds, 2),
            "s",
            "every whole-percent k's plans, computed on a background thread while the window is usable "
            "(steps before it compute their thresholds), started 0.3 s after the last settings change",
        )
    ]


def _under_load_figure(app, window, bare, label, quick, method, idle: float, details):
    """The layerwise steps of ``method`` again while the Sweep experiment evaluates in the background,
    against the ``idle`` figure (ms) of the same steps."""
    from PySide6.QtCore import QEventLoop, QTimer

    _keep_sweeping(window)
    loop = QEventLoop()
    QTimer.singleShot(300, loop.quit)  # the sweep is under way (its evaluator is being built)
    loop.exec()
    loaded: dict = {}
    ks = _slider_ks(quick)  # quick: three steps, enough for a median (a smoke run)
    for k in ks:
        _keep_sweeping(window)
        one = _slider_steps(app, window, bare, [k], whole_window=False)
        if one["loaded"][0]:
            for key, values in one.items():
                loaded.setdefault(key, []).extend(values)
    window.jobs.cancel_all()
    window.jobs.shutdown()
    app.processEvents()
    if not loaded:
        raise RuntimeError("no slider step ran while the sweep was running")
    under = _median_ms(loaded["painted"])
    details[method]["under_load"] = {
        "heatmaps_painted_ms": _ms(loaded["painted"]),
        "views_updated_ms": _ms(loaded["updated"]),
        "floor_ms": _ms(loaded["floor"]),
    }
    return vs_floor(
        f"gui.{label}.slider_under_load.{method}",
        f"GUI {label}: slider to repainted heatmaps while a sweep runs, {method}",
        under,
        "ms",
        idle,
        "the idle figure above",
        UNDER_LOAD_TARGET,
        f"median of {len(loaded['painted'])} steps taken while the Sweep experiment's job "
        f"ran; views updated in {_median_ms(loaded['updated']):.1f} ms; the bare window "
        f"took {_median_ms(loaded['floor']):.1f} ms meanwhile",
    )


def _settle(app, window, ms: int = 300) -> None:
    """Let a window just shown finish starting up before a figure is timed, as it has when a user
    chooses File > Open: the layouts its first paint asked for run, and it is rendered once (grab()
    delivers the resize events that widgets never shown, e.g. in a closed dock, have waited for since
    the window was built)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()
    window.grab()
    app.processEvents()


def _open_stall_floor(model_path: Path) -> float:
    """The longest freeze of a bare event loop (the same heartbeat) while keras.saving.load_model
    reads the same file in a plain thread: what loading costs a GUI thread through the GIL alone."""
    import threading

    import keras
    from PySide6.QtCore import QEventLoop, QTimer

    ticks: list[float] = []
    loop = QEventLoop()
    loaded: list = []
    thread = threading.Thread(target=lambda: loaded.append(keras.saving.load_model(model_path, compile=False)))

    def tick() -> None:
        ticks.append(time.perf_counter())
        if not thread.is_alive():
            loop.quit()

    heartbeat = QTimer()
    heartbeat.setInterval(HEARTBEAT_MS)
    heartbeat.timeout.connect(tick)
    start = time.perf_counter()
    heartbeat.start()
    thread.start()
    loop.exec()
    thread.join()
    ticks.append(time.perf_counter())
    heartbeat.stop()
    if not loaded:
        raise RuntimeError(f"keras.saving.load_model could not load {model_path}")
    loaded.clear()
    return float(np.diff([start, *ticks]).max() * 1000)


def bench_scale_gui(model_path: Path, settings_dir: Path, quick: bool, label: str = "scale") -> tuple[list, dict]:
    """The big model opened as a user opens it (File > Open: a worker job), with a 10 ms timer on the
    GUI thread whose late ticks measure how long the window froze; then slider steps to repainted
    heatmaps, each followed by a bare pyqtgraph window painting the same images. ``label`` names
    the model in the figures' keys (``gui.<label>.``), so other big models can be run the same way."""
    from PySide6.QtCore import QEventLoop, QTimer

    stall_floor = _open_stall_floor(model_path)
    app, window = _window(settings_dir)
    _settle(app, window)
    ticks: list[float] = []
    heartbeat = QTimer()
    heartbeat.setInterval(HEARTBEAT_MS)
    heartbeat.timeout.connect(lambda: ticks.append(time.perf_counter()))
    loop = QEventLoop()
    outcome: list = []
    window.model_opened.connect(lambda opened: (outcome.append(opened), loop.quit()))
    window.open_failed.connect(lambda exc: (outcome.append(exc), loop.quit()))
    start = time.perf_counter()
    heartbeat.start()
    window.open_path(model_path)
    QTimer.singleShot(0, lambda: ticks.append(time.perf_counter()))
    if not outcome:
        loop.exec()
    opened_s = time.perf_counter() - start
    window.grab()  # the first paint of the opened model is part of opening it
    ticks.append(time.perf_counter())
    heartbeat.stop()
    if not outcome or isinstance(outcome[0], BaseException):
        raise RuntimeError(f"the scale model did not open: {outcome[0] if outcome else 'no answer'}")
    gaps = np.diff([start, *ticks]) * 1000
    stall_ms = float(gaps.max())
    shown_s = ticks[-1] - start
    parameters = outcome[0].total_parameters
    name = f"GUI {label} {parameters / 1e6:.0f}M"
    figures = [
        vs_floor(
            f"gui.{label}.open_stall",
            f"{name}: longest GUI freeze while opening",
            round(stall_ms, 1),
            "ms",
            round(stall_floor, 1),
            "bare event loop while Keras loads the file in a thread",
            OPEN_STALL_TARGET,
            f"{HEARTBEAT_MS} ms timer on the GUI thread; the model loads in a worker job, then the views "
            "are built and painted on the GUI thread",
        ),
        info(
            f"gui.{label}.open_s",
            f"{name}: File > Open to the model painted",
            round(shown_s, 2),
            "s",
            f"model ready after {opened_s:.2f} s, with a progress bar and Cancel",
        ),
    ]
    details = {
        "open_seconds": round(opened_s, 3),
        "shown_seconds": round(shown_s, 3),
        "open_stall_floor_ms": round(stall_floor, 1),
        "gui_gaps_over_50ms": [round(g, 1) for g in gaps if g > 50],
    }
    bare = _bare_heatmaps(window)
    ks = _slider_ks(quick)  # the fc-1000 figure's steps
    for method in ("weight", "unit"):
        window.session.configure(method=method, k=0.0)
        app.processEvents()
        window.grab()
        figures += _warm_up_figures(
            f"gui.{label}.warm_up_s.{method}",
            f"{name}: slider warm-up after opening, {method}",
            _wait_for_warm_up(app, window),
        )
        steps = _slider_steps(app, window, bare, ks, whole_window=False)
        image = window.heatmaps.view.displayed_image()
        details[method] = {
            "ks": ks,
            "heatmaps_painted_ms": _ms(steps["painted"]),
            "views_updated_ms": _ms(steps["updated"]),
            "repainted_ms": _ms(steps["repainted"]),
            "floor_ms": _ms(steps["floor"]),
            "left_over_ms": _ms(steps["left_over"]),
            "displayed_shape": None if image is None else list(image.shape),
        }
        shape = "x".join(map(str, image.shape)) if image is not None else "?"
        figures += _slider_figures(
            f"gui.{label}.slider_repaint.{method}", f"{name}: slider to repainted heatmaps, {method}", steps
        )
        figures[-1].note += f"; selected heatmap shown at {shape} cells"
    bare.close()
    _dispose(app, window)
    outcome.clear()
    return figures, details


def _wait_for_warm_up(app, window, timeout_s: float = 300.0) -> float | None:
    """Seconds from now until the window's slider warm-up (due after a settings change) is done;
    None when none was needed."""
    warm_up = window.slider_warm_up
    ready: list = []

    def on_ready(config) -> None:
        ready.append(config)

    warm_up.ready.connect(on_ready)
    start = time.perf_counter()
    while warm_up.busy:
        if time.perf_counter() - start > timeout_s:
            raise RuntimeError("the slider warm-up did not end")
        app.processEvents()
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    warm_up.ready.disconnect(on_ready)
    return elapsed if ready else None


def _dispose(app, window) -> None:
    """Close the window and let go of its model, so the bench process does not keep it (and every
    later figure of this run is measured without it)."""
    from PySide6.QtCore import QEvent

    window.close()
    window.session.set_model(None)
    window.deleteLater()
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    app.processEvents()


_FIRST_PAINT = re.compile(r"first paint after ([0-9.]+) s")
_MODEL_READY = re.compile(r"model ready after ([0-9.]+) s")
_WINDOW_PAINTED = re.compile(r"main window painted after ([0-9.]+) s")

# The floor of start-up: a process that shows a bare QMainWindow of the app's size and reports its
# first paint as the app's PRUNE_VIZ_TIMING hook does (same process-age function, same event filter).
BARE_WINDOW_SCRIPT = """
import os, sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

{process_age}

_IMPORTED_AT = time.perf_counter()
app = QApplication(sys.argv[:1])
window = QMainWindow()
window.resize({width}, {height})


def after_first_paint():
    print(f"first paint after {{_process_age():.3f}} s", file=sys.stderr)
    app.quit()


class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            window.removeEventFilter(self)
            QTimer.singleShot(0, after_first_paint)
        return False


painted = FirstPaint()
window.installEventFilter(painted)
window.show()
app.exec()
"""


def bare_window_script() -> str:
    import inspect

    from prune_viz.gui.shell import app as gui_app
    from prune_viz.gui.shell.arrangement import DEFAULT_SIZE

    width, height = DEFAULT_SIZE
    return BARE_WINDOW_SCRIPT.format(process_age=inspect.getsource(gui_app._process_age), width=width, height=height)


def bench_startup(model_path: Path, settings_dir: Path, runs: int) -> tuple[list, dict]:
    """Fresh ``python -m prune_viz MODEL --screenshot`` processes, timed by PRUNE_VIZ_TIMING, each run
    after a fresh bare PySide6 window process (the floor), timed the same way."""
    root = str(Path(__file__).resolve().parents[2])
    env = dict(
        os.environ,
        PRUNE_VIZ_TIMING="1",
        QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
        XDG_CONFIG_HOME=str(settings_dir),
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    script = bare_window_script()
    first, window, ready, floor = [], [], [], []
    for i in range(runs):
        bare = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
        paint = _FIRST_PAINT.search(bare.stderr)
        if bare.returncode != 0 or not paint:
            raise RuntimeError(f"bare window run failed ({bare.returncode}): {bare.stderr.strip()[-600:]}")
        floor.append(float(paint.group(1)))
        shot = settings_dir / f"startup-{i}.png"
        done = subprocess.run(
            [sys.executable, "-m", "prune_viz", str(model_path), "--screenshot", str(shot)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        paint, model = _FIRST_PAINT.search(done.stderr), _MODEL_READY.search(done.stderr)
        painted = _WINDOW_PAINTED.search(done.stderr)
        if done.returncode != 0 or not paint or not model or not painted:
            raise RuntimeError(f"start-up run failed ({done.returncode}): {done.stderr.strip()[-600:]}")
        first.append(float(paint.group(1)))
        window.append(float(painted.group(1)))
        ready.append(float(model.group(1)))
    first_s, ready_s, floor_s = statistics.median(first), statistics.median(ready), statistics.median(floor)
    figures = [
        vs_floor(
            "gui.startup.first_paint",
            "GUI start-up: process start to first window paint",
            round(first_s, 3),
            "s",
            round(floor_s, 3),
            "bare PySide6 window process",
            FIRST_PAINT_TARGET,
            f"the start-up window (the icon); median of {runs} runs, each after a bare-window run: {first}; "
            f"floor runs: {floor}",
        ),
        info(
            "gui.startup.window_painted",
            "GUI start-up: process start to the main window painted",
            round(statistics.median(window), 3),
            "s",
            f"median of {runs} runs: {window}",
            floor=round(floor_s, 3),
            floor_name="bare PySide6 window process",
        ),
        info(
            "gui.startup.model_ready",
            "GUI start-up: process start to model open (TF loaded)",
            round(ready_s, 3),
            "s",
            f"median of {runs} runs: {ready}",
            floor=round(floor_s, 3),
            floor_name="bare PySide6 window process",
        ),
    ]
    return figures, {
        "first_paint_s": first,
        "window_painted_s": window,
        "model_ready_s": ready,
        "bare_window_first_paint_s": floor,
    }


def run_gui_bench(report: BenchReport, quick: bool = False) -> BenchReport:
    """Append the GUI figures to ``report`` (the core bench's), in the same run."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    label, widths = ("mlp-64-32", QUICK_MLP) if quick else ("fc-1000", FC1000)
    with tempfile.TemporaryDirectory(prefix="prune-viz-gui-bench-") as tmp:
        folder = Path(tmp)
        model_path = save_mlp(folder / f"{label}.keras", widths, False, label.replace("-", "_"))
        figures, details = bench_slider_repaint(model_path, folder, label, quick, report.options.get("data"))
        report.figures += figures
        report.details.setdefault("gui", {})["slider"] = details
        figures, details = bench_startup(model_path, folder, 1 if quick else 3)
        report.figures += figures
        report.details["gui"]["startup"] = details
        for big, save_model in BIG_MODELS.items():  # the 120M MLP and VGG-16, as a user opens them
            path = save_model(folder / f"{big}.keras", quick)
            figures, details = bench_scale_gui(path, folder, quick, big)
            report.figures += figures
            report.details["gui"][big] = details
            path.unlink()
    return report
