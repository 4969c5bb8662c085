"""GUI benchmark: slider move to repainted heatmaps, and start-up to first paint and to model ready.

Runs offscreen (QT_QPA_PLATFORM=offscreen unless a platform is set). The slider
figure drives the real MainWindow in this process: k is set through the slider,
the session recomputes the masks and every view updates (signal handlers run
synchronously), then the whole window is rendered with ``grab()``. Start-up is
timed in fresh processes with the app's own PRUNE_VIZ_TIMING hook. Settings go
to a temporary folder, so the user's recent-files list is not touched.
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

from prune_viz.bench.core_bench import (
    FC1000,
    QUICK_MLP,
    QUICK_SCALE_LAYERS,
    SCALE_LAYERS,
    BenchReport,
    info,
    save_mlp,
)

HEARTBEAT_MS = 10  # the GUI thread's timer while a big model opens; a late tick is a frozen window


def _slider_ks(quick: bool) -> list[int]:
    return [10, 50, 90] if quick else [5, 20, 35, 50, 65, 80, 95, 60, 30, 10]


def _window(settings_dir: Path):
    """The app's main window at 1600x1000, shown, with settings in ``settings_dir``."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from prune_viz.core.session import Session
    from prune_viz.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(["prune-viz-bench"])
    settings = QSettings(str(settings_dir / "bench.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Session(), settings)
    window.resize(1600, 1000)
    window.show()
    app.processEvents()
    return app, window


def bench_slider_repaint(model_path: Path, settings_dir: Path, label: str, quick: bool) -> tuple[list, dict]:
    from prune_viz.core.session import open_model

    app, window = _window(settings_dir)
    window.set_opened_model(str(model_path), open_model(model_path))
    app.processEvents()
    window.grab()
    slider = window.controls.slider
    details = {}
    figures = []
    for method in ("weight", "unit"):
        window.session.configure(method=method, k=0.0)
        app.processEvents()
        window.grab()
        updated, painted, whole, shown_pruned = [], [], [], []
        for k in _slider_ks(quick):
            start = time.perf_counter()
            slider.setValue(k)  # -> Session.configure -> pruning_changed -> every view updates
            updated.append(time.perf_counter() - start)
            app.processEvents()
            window.heatmaps.grab()  # render the heatmaps (thumbnails + selected layer) as a repaint would
            painted.append(time.perf_counter() - start)
            window.grab()  # and the rest of the window (histogram, unit tiles, readouts)
            whole.append(time.perf_counter() - start)
            image = window.heatmaps.view.displayed_image()
            shown_pruned.append(round(float(np.mean(np.isnan(image))), 4) if image is not None else None)
        if window.session.config.k != float(_slider_ks(quick)[-1]):
            raise RuntimeError("the slider did not reach the session")
        median_ms = statistics.median(painted) * 1000
        details[method] = {
            "ks": _slider_ks(quick),
            "views_updated_ms": [round(s * 1000, 2) for s in updated],
            "heatmaps_painted_ms": [round(s * 1000, 2) for s in painted],
            "whole_window_painted_ms": [round(s * 1000, 2) for s in whole],
            "selected_heatmap_pruned_fraction": shown_pruned,
        }
        figures.append(info(f"gui.{label}.slider_repaint.{method}",
                               f"GUI {label}: slider to repainted heatmaps, {method}",
                               round(median_ms, 1), "ms",
                               f"median of {len(painted)}; all views updated in "
                               f"{statistics.median(updated) * 1000:.1f} ms, the rest is the paint"))
        figures.append(info(f"gui.{label}.slider_window.{method}", f"GUI {label}: slider to repainted window, {method}",
                            round(statistics.median(whole) * 1000, 1), "ms",
                            "whole 1600x1000 window rendered with grab()"))
    _dispose(app, window)
    return figures, details


def bench_scale_gui(model_path: Path, settings_dir: Path, quick: bool) -> tuple[list, dict]:
    """The big model opened as a user opens it (File > Open: a worker job), with a 10 ms timer on the
    GUI thread whose late ticks measure how long the window froze; then slider steps to repainted
    heatmaps, as for fc-1000."""
    from PySide6.QtCore import QEventLoop, QTimer

    app, window = _window(settings_dir)
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
    name = f"GUI scale {parameters / 1e6:.0f}M"
    figures = [
        info("gui.scale.open_stall", f"{name}: longest GUI freeze while opening", round(stall_ms, 1), "ms",
                f"{HEARTBEAT_MS} ms timer on the GUI thread; the model loads in a worker job"),
        info("gui.scale.open_s", f"{name}: File > Open to the model painted", round(shown_s, 2), "s",
             f"model ready after {opened_s:.2f} s, with a progress bar and Cancel"),
    ]
    slider = window.controls.slider
    details = {"open_seconds": round(opened_s, 3), "shown_seconds": round(shown_s, 3),
               "gui_gaps_over_50ms": [round(g, 1) for g in gaps if g > 50]}
    ks = [10, 50, 90] if quick else [10, 30, 50, 70, 90]
    for method in ("weight", "unit"):
        window.session.configure(method=method, k=0.0)
        app.processEvents()
        window.grab()
        painted = []
        for k in ks:
            t0 = time.perf_counter()
            slider.setValue(k)
            app.processEvents()
            window.heatmaps.grab()
            painted.append(time.perf_counter() - t0)
        if window.session.config.k != float(ks[-1]):
            raise RuntimeError("the slider did not reach the session")
        image = window.heatmaps.view.displayed_image()
        details[method] = {"ks": ks, "heatmaps_painted_ms": [round(t * 1000, 1) for t in painted],
                           "displayed_shape": None if image is None else list(image.shape)}
        figures.append(info(f"gui.scale.slider_repaint.{method}", f"{name}: slider to repainted heatmaps, {method}",
                               round(statistics.median(painted) * 1000, 1), "ms",
                               f"median of {len(ks)}; selected heatmap shown at "
                               f"{'x'.join(map(str, image.shape)) if image is not None else '?'} cells"))
    _dispose(app, window)
    outcome.clear()
    return figures, details


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


def bench_startup(model_path: Path, settings_dir: Path, runs: int) -> tuple[list, dict]:
    """Fresh ``python -m prune_viz MODEL --screenshot`` processes, timed by PRUNE_VIZ_TIMING."""
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PRUNE_VIZ_TIMING="1", QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
               XDG_CONFIG_HOME=str(settings_dir), TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    first, ready = [], []
    for i in range(runs):
        shot = settings_dir / f"startup-{i}.png"
        done = subprocess.run([sys.executable, "-m", "prune_viz", str(model_path), "--screenshot", str(shot)],
                              capture_output=True, text=True, env=env, timeout=300)
        paint, model = _FIRST_PAINT.search(done.stderr), _MODEL_READY.search(done.stderr)
        if done.returncode != 0 or not paint or not model:
            raise RuntimeError(f"start-up run failed ({done.returncode}): {done.stderr.strip()[-600:]}")
        first.append(float(paint.group(1)))
        ready.append(float(model.group(1)))
    first_s, ready_s = statistics.median(first), statistics.median(ready)
    figures = [
        info("gui.startup.first_paint", "GUI start-up: process start to first window paint", round(first_s, 3),
                "s", f"median of {runs} runs: {first}"),
        info("gui.startup.model_ready", "GUI start-up: process start to model open (TF loaded)", round(ready_s, 3),
             "s", f"median of {runs} runs: {ready}"),
    ]
    return figures, {"first_paint_s": first, "model_ready_s": ready}


def run_gui_bench(report: BenchReport, quick: bool = False) -> BenchReport:
    """Append the GUI figures to ``report`` (the core bench's), in the same run."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    label, widths = ("mlp-64-32", QUICK_MLP) if quick else ("fc-1000", FC1000)
    with tempfile.TemporaryDirectory(prefix="prune-viz-gui-bench-") as tmp:
        folder = Path(tmp)
        model_path = save_mlp(folder / f"{label}.keras", widths, False, label.replace("-", "_"))
        figures, details = bench_slider_repaint(model_path, folder, label, quick)
        report.figures += figures
        report.details["gui"] = {"slider": details}
        figures, details = bench_startup(model_path, folder, 1 if quick else 3)
        report.figures += figures
        report.details["gui"]["startup"] = details
        big = folder / "scale.keras"
        save_mlp(big, QUICK_SCALE_LAYERS if quick else SCALE_LAYERS, False, "scale")
        figures, details = bench_scale_gui(big, folder, quick)
        report.figures += figures
        report.details["gui"]["scale"] = details
    return report
