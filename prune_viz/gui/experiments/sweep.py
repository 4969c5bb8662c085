"""Sweep and per-layer sensitivity panels: run_sweep in a job, points plotted and tabled as they arrive.

The sweep prunes every included layer together (scope from the current setting)
and plots accuracy against sparsity; the sensitivity sweep prunes one layer at a
time and plots one accuracy-vs-k curve per layer. Both save CSV and PNG the way
``prune-viz sweep --csv --plot`` does.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from prune_viz.core.pruning import METHODS, PruningError, parse_k
from prune_viz.core.sweep import DEFAULT_KS
from prune_viz.gui.binding import bind
from prune_viz.gui.errors import show_error
from prune_viz.gui.experiments.base import (
    SENSITIVITY_KIND,
    SWEEP_KIND,
    JobStrip,
    ask_save_path,
    number_item,
    results_table,
    text_item,
)
from prune_viz.gui.views.accuracy_plot import AccuracySparsityPlot
from prune_viz.gui.views.colours import LIGHT, MUTED, Theme, qualitative_style
from prune_viz.gui.views.pictures import (
    fit_legend_columns,
    is_font_change,
    new_plot_widget,
    outside_legend,
    point_size,
    style_plot,
)


def parse_ks(text: str) -> list[float]:
    """'0 25, 50' -> [0.0, 25.0, 50.0]; PruningError naming the first bad entry."""
    parts = [p for p in re.split(r"[\s,;]+", text.strip()) if p]
    if not parts:
        raise PruningError("Give at least one k (percent pruned), e.g. 0 50 90.")
    return [parse_k(p.rstrip("%")) for p in parts]


class SweepPanel(QWidget):
    """Run sweep: every (method, k) over all included layers; accuracy vs sparsity drawn live."""

    point_added = Signal(object)  # SweepPoint, on the GUI thread
    cleared = Signal()  # a new sweep started; earlier points are gone
    kind = SWEEP_KIND
    per_layer = False
    depends_on = ("scope", "included")  # the pruning settings the points depend on (not k, not method)
    run_text = "Run sweep"
    label = "Sweep"  # names the running job
    doing = "run the sweep"

    def __init__(self, session, jobs, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.points: list = []
        self.planned = 0
        self.run_id = 0
        self.model_name = ""
        self.points_key = None  # what the points were computed for (Session.result_key)
        self.saved = False  # the points are in a CSV or PNG file

        self.method_boxes = {method: QCheckBox(f"{method} pruning") for method in METHODS}
        for box in self.method_boxes.values():
            box.setChecked(True)
        self.ks_edit = QLineEdit(" ".join(f"{k:g}" for k in DEFAULT_KS))
        self.ks_edit.setToolTip("Percent pruned, separated by spaces or commas")
        self.scope_label = QLabel()
        self.scope_label.setWordWrap(True)
        self.strip = JobStrip(jobs, self.run_text)
        self.save_csv_button = QPushButton("Save CSV...")
        self.save_png_button = QPushButton("Save plot PNG...")
        self.table = results_table(self.table_headers())
        self.plot_widget = self.make_plot()

        methods = QHBoxLayout()
        for box in self.method_boxes.values():
            methods.addWidget(box)
        methods.addStretch(1)
        form = QFormLayout()
        form.addRow("Methods:", methods)
        form.addRow("k (%):", self.ks_edit)
        form.addRow("Layers:", self.scope_label)
        saves = QHBoxLayout()
        saves.addWidget(self.save_csv_button)
        saves.addWidget(self.save_png_button)
        saves.addStretch(1)
        controls = QWidget()
        column = QVBoxLayout(controls)
        column.addLayout(form)
        column.addWidget(self.strip)
        column.addLayout(saves)
        column.addWidget(self.table, 1)
        # stacked: the panel is a tab in the side column or a window of its own, rarely wide
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(controls)
        splitter.addWidget(self.plot_widget)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([200, 700])  # the plot gets most of the height; the table scrolls
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

        self.strip.run_button.clicked.connect(self.run)
        self.save_csv_button.clicked.connect(self.choose_csv_path)
        self.save_png_button.clicked.connect(self.choose_png_path)
        self.strip.busy_changed.connect(lambda _busy: self._refresh_buttons())
        bind(self, session.model_changed, self._on_model_changed)
        bind(self, session.config_changed, self._on_config_changed)
        bind(self, session.data_changed, self._refresh_scope)
        self._on_model_changed(session.model)

    # -- the parts that differ between sweep and sensitivity -------------------------------------
    def table_headers(self) -> list[str]:
        # results first: the dock can be narrow
        return ["method", "k %", "accuracy %", "loss", "sparsity %", "all weights %"]

    def table_row(self, p) -> list:
        return [
            text_item(_method_text(p)),
            number_item(f"{p.k:g}"),
            number_item(f"{p.accuracy * 100:.2f}"),
            number_item(f"{p.loss:.4f}"),
            number_item(f"{p.sparsity_included * 100:.2f}"),
            number_item(f"{p.sparsity_all * 100:.2f}"),
        ]

    def make_plot(self) -> QWidget:
        self.accuracy_plot = AccuracySparsityPlot(self.session)
        return self.accuracy_plot

    def plot_point(self, point) -> None:
        self.accuracy_plot.add_sweep_point(point.method, point.scope, point.sparsity_included, point.accuracy)

    def clear_plot(self) -> None:
        self.accuracy_plot.clear_sweep()

    def scope(self) -> str:
        return self.session.config.scope

    def scope_text(self) -> str:
        config = self.session.config
        scope = "layerwise threshold" if config.scope == "layer" else "one global threshold"
        units = "; units removed with bias and BN channel" if config.unit_mode == "remove" else ""
        return (
            f"the {len(config.included)} included layer(s) together, {scope}, {config.criterion} scores"
            f"{units} (from the Pruning controls)"
        )

    # -- running ---------------------------------------------------------------------------------
    def selected_methods(self) -> list[str]:
        return [method for method, box in self.method_boxes.items() if box.isChecked()]

    def run(self):
        """Start a sweep of the chosen methods and ks; returns the Job (None if it cannot start)."""
        from prune_viz.core.sweep import check_grid, run_sweep, sweep_configs

        session = self.session
        if session.model is None or self.strip.busy:
            return None
        scope = self.scope()
        try:
            methods, ks = check_grid(self.selected_methods(), parse_ks(self.ks_edit.text()))
            plan = sweep_configs(session, methods, ks, scope, self.per_layer)
        except PruningError as exc:
            self.error_box = show_error(self, exc, self.doing)
            return None
        self.clear()
        self.points_key = session.result_key()
        self.planned = len(plan)
        self.run_id += 1
        self.model_name = Path(session.model.loaded.path).name
        run_id, per_layer = self.run_id, self.per_layer

        def job(task):  # each point is published as it is measured: a partial result
            return run_sweep(session, methods, ks, scope, task, task.publish, per_layer=per_layer)

        return self.strip.start(
            job,
            self.kind,
            self.label,
            self._on_done,
            self.doing,
            on_partial=lambda point: self._on_point(run_id, point),
        )

    def unsaved_result(self) -> str | None:
        """What closing would lose: these points, unless they were saved."""
        if not self.points or self.saved:
            return None
        return f"{self.label} of {self.model_name} ({len(self.points)} points, not saved as CSV or PNG)"

    def clear(self) -> None:
        self.points = []
        self.saved = False
        self.planned = 0
        self.table.setRowCount(0)
        self.clear_plot()
        self.cleared.emit()
        self._refresh_buttons()

    def _on_point(self, run_id: int, point) -> None:
        if run_id != self.run_id:
            return  # from a sweep of a model that is no longer open
        self.points.append(point)
        self.saved = False
        row = self.table.rowCount()
        self.table.insertRow(row)
        for column, item in enumerate(self.table_row(point)):
            self.table.setItem(row, column, item)
        self.table.scrollToBottom()
        self.plot_point(point)
        self.point_added.emit(point)
        self.strip.message.setText(f"{len(self.points)} of {self.planned} points")
        self._refresh_buttons()

    def _on_done(self, _points) -> None:
        self.strip.message.setText(f"Done: {len(self.points)} points on {self.model_name}.")

    # -- saving ------------------------------------------------------------------------------------
    def default_name(self, suffix: str) -> str:
        stem = Path(self.model_name).stem or "model"
        return f"{stem}-{'sensitivity' if self.per_layer else 'sweep'}{suffix}"

    def choose_csv_path(self) -> None:
        path = ask_save_path(self, "Save the points as CSV", self.default_name(".csv"), "CSV (*.csv)", ".csv")
        if path is not None:
            self.save_csv(path)

    def choose_png_path(self) -> None:
        path = ask_save_path(self, "Save the plot as PNG", self.default_name(".png"), "PNG image (*.png)", ".png")
        if path is not None:
            self.save_png(path)

    def save_csv(self, path) -> bool:
        """One row per point (the columns of prune-viz sweep --csv), written atomically."""
        from prune_viz.core.files import write_csv
        from prune_viz.core.sweep import CSV_FIELDS

        return self._save(
            lambda: write_csv(
                path, [p.as_row() for p in self.points], CSV_FIELDS, force=True, protect=self._protected()
            ),
            path,
        )

    def save_png(self, path) -> bool:
        """Accuracy (and loss) curves as prune-viz sweep --plot draws them, written atomically."""
        from prune_viz.core.sweep import summarise
        from prune_viz.gui.views.plots import write_sweep_plot

        return self._save(
            lambda: write_sweep_plot(
                path,
                summarise(self.points),
                per_layer=self.per_layer,
                title=self.model_name,
                force=True,
                protect=self._protected(),
            ),
            path,
        )

    def _protected(self) -> tuple:
        """The opened model: a save dialog may well be pointed at it."""
        return (self.session.model.loaded.path,) if self.session.model is not None else ()

    def _save(self, write, path) -> bool:
        if not self.points:
            return False
        try:
            write()
        except Exception as exc:
            self.error_box = show_error(self, exc, f"save {Path(path).name}")
            return False
        self.strip.message.setText(f"Saved {path}.")
        self.saved = True
        return True

    # -- session ---------------------------------------------------------------------------------
    def _on_model_changed(self, opened) -> None:
        self.run_id += 1  # points still queued from the old model are dropped
        self.clear()
        self.strip.message.setText("" if opened is not None else "Open a model to run experiments.")
        self.strip.set_unavailable(self.session.evaluation_problem)
        self._refresh_scope()

    def _on_config_changed(self, _config) -> None:
        self._refresh_scope()

    def _refresh_scope(self) -> None:
        text = self.scope_text() if self.session.model is not None else "-"
        why = self.session.why_stale(self.points_key, "sweep", self.depends_on) if self.points else None
        if why is not None:
            text += f"<br><span style='color:{MUTED}'>{why} Run it again for the current settings.</span>"
        self.scope_label.setText(text)

    def _refresh_buttons(self) -> None:
        has_model = self.session.model is not None
        self.strip.run_button.setEnabled(has_model and not self.strip.busy and self.strip.unavailable is None)
        for button in (self.save_csv_button, self.save_png_button):
            button.setEnabled(bool(self.points))


class SensitivityPanel(SweepPanel):
    """One layer pruned at a time (layerwise), across k: which layers tolerate pruning."""

    kind = SENSITIVITY_KIND
    per_layer = True
    depends_on = ("included",)  # always layerwise
    run_text = "Run sensitivity"
    label = "Sensitivity sweep"
    doing = "run the sensitivity sweep"

    def table_headers(self) -> list[str]:
        return ["layer", "method", "k %", "accuracy %", "loss", "layer sparsity %"]

    def table_row(self, p) -> list:
        return [
            text_item(p.layer),
            text_item(p.method),
            number_item(f"{p.k:g}"),
            number_item(f"{p.accuracy * 100:.2f}"),
            number_item(f"{p.loss:.4f}"),
            number_item(f"{p.sparsity_included * 100:.2f}"),
        ]

    def make_plot(self) -> QWidget:
        self._curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        self._curve_points: dict[tuple[str, str], list[tuple[float, float]]] = {}
        self.theme: Theme = LIGHT
        widget = new_plot_widget()
        self.sensitivity_widget = widget
        self.plot = widget.getPlotItem()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.disableAutoRange()  # fixed 0-100 axes, so curves compare across runs
        self.legend = outside_legend(self.plot, columns=2)
        self._apply_font()
        return widget

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.sensitivity_widget.setBackground(theme.background)
        self._apply_font()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if is_font_change(event) and hasattr(self, "legend"):  # presenter mode: pyqtgraph text follows by hand
            self._apply_font()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        fit_legend_columns(self.legend, self.sensitivity_widget.width())

    def _apply_font(self) -> None:
        points = point_size(self)
        style_plot(self.plot, "k (% of the layer pruned)", "test accuracy (%)", points, self.theme)
        self.plot.setTitle(
            "one layer pruned at a time; solid: weight, dashed: unit",
            color=self.theme.foreground,
            size=f"{points:.1f}pt",
        )
        self._fix_range()

    def _fix_range(self) -> None:
        self.plot.setRange(xRange=(0, 100), yRange=(0, 100), padding=0.02)

    def curve_data(self, layer: str, method: str) -> tuple[list[float], list[float]]:
        points = sorted(self._curve_points.get((layer, method), []))
        return [k for k, _ in points], [a for _, a in points]

    def plot_point(self, point) -> None:
        key = (point.layer, point.method)
        if key not in self._curves:
            layers = list(dict.fromkeys(layer for layer, _ in [*self._curves, key]))
            colour, marker = qualitative_style(layers.index(point.layer))  # one colour and marker per layer
            pen = pg.mkPen(colour, width=2.5)
            if point.method == "unit":
                pen.setDashPattern([4, 3])
            self._curves[key] = self.plot.plot(
                [],
                [],
                pen=pen,
                symbol=marker,
                symbolSize=10,
                symbolBrush=colour if point.method == "weight" else None,
                symbolPen=pg.mkPen(colour, width=2),
                name=f"{point.layer}, {point.method}",
            )
        self._curve_points.setdefault(key, []).append((point.k, 100.0 * point.accuracy))
        self._curves[key].setData(*self.curve_data(*key))
        self._fix_range()

    def clear_plot(self) -> None:
        for item in self._curves.values():
            self.plot.removeItem(item)
        self.legend.clear()
        self._curves.clear()
        self._curve_points.clear()

    def scope(self) -> str:
        return "layer"

    def scope_text(self) -> str:
        return f"each of the {len(self.session.config.included)} included layer(s) alone, the others unpruned"


def _method_text(point) -> str:
    """The method, and the criterion and unit mode when they are not the seed's."""
    extra = [point.criterion] if point.criterion != "magnitude" else []
    if point.unit_mode == "remove":
        extra.append("remove")
    return point.method + (f" ({', '.join(extra)})" if extra else "")
