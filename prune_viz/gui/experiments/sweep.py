"""Sweep and per-layer sensitivity panels: run_sweep in a job, points plotted and tabled as they arrive.

The sweep prunes every included layer together (scope from the current setting)
and plots the task's score against sparsity, one curve per (method, criterion): criteria
ticked side by side compare as ``prune-viz sweep --criteria`` does. The sensitivity
sweep prunes one layer at a time and plots one score-vs-k curve per layer. The score is
the one each point carries (accuracy %, R², top-1 agreement % ...: core.metric_words.ScoreScale),
and so are the axes, the table's columns and the chance line. Both save CSV and PNG the way
``prune-viz sweep --csv --plot`` does (core.sweep.csv_table: the same columns).

Layout: the settings and the table in a column beside the plot where the panel is
wide (a dock under the heatmap at 1920x1080), above it where it is narrow; the plot
never gets less than PLOT_MIN_SIZE (the page scrolls, or the dock makes room: dock.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QBoxLayout,
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from prune_viz.core.criteria import LAMP_NOTE
from prune_viz.core.metric_words import ScoreScale, score_scale
from prune_viz.core.pruning import CRITERIA, METHODS, PruningError, parse_k
from prune_viz.core.sweep import DEFAULT_KS
from prune_viz.gui.binding import bind
from prune_viz.gui.errors import show_error
from prune_viz.gui.experiments.base import (
    SENSITIVITY_KIND,
    SWEEP_KIND,
    JobStrip,
    ask_save_path,
    number_item,
    opened_model_paths,
    results_table,
    save_result,
    text_item,
)
from prune_viz.gui.experiments.budget import AllocationBox
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
from prune_viz.gui.views.plots import score_range

# the least size of the plot (caption, axes and a data area of about 320 x 200 px at the normal font; its
# legend's rows add to it), so it is never squeezed to a strip; and of the results table (a few rows)
PLOT_MIN_SIZE = (390, 330)
TABLE_MIN_HEIGHT = 110
PROGRESS_MIN_WIDTH = 60
LEGEND_ROW_PADDING = 8  # a legend row: a line of text and this
CONTROLS_MAX_CHARS = 62  # the settings column beside the plot: wide enough that its lines seldom wrap
QWIDGETSIZE_MAX = 16_777_215
CRITERION_NAMES = {"magnitude": "magnitude", "random": "random", "lamp": "LAMP", "taylor": "Taylor"}


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
    needs_changed = Signal()  # its least height changed (the LAMP note shown or hidden, another font)
    kind = SWEEP_KIND
    per_layer = False
    with_criteria = True  # criteria side by side
    depends_on = ("scope", "included", "layer_k")  # the pruning settings the points depend on (not k, not method)
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
        self._watching = False  # the scroll area's viewport holding the panel is watched (showEvent)
        self.saved = False  # the points are in a CSV or PNG file
        self.scale: ScoreScale = score_scale("classification", "accuracy")  # the score the points carry

        # N:M has no k to sweep; blocks sweep their k when ticked (at the Pruning controls' block size)
        self.method_boxes = {method: QCheckBox(method) for method in METHODS if method != "nm"}
        for method, box in self.method_boxes.items():
            box.setChecked(method in ("weight", "unit"))
        # criteria side by side (the sweep only; a sensitivity sweep scores by the Pruning controls' one)
        self.criterion_boxes = {criterion: QCheckBox(CRITERION_NAMES[criterion]) for criterion in CRITERIA}
        self.criterion_boxes[session.config.criterion].setChecked(True)
        self._followed = session.config.criterion  # the boxes follow the Pruning controls until changed
        self.lamp_note = QLabel(f"<span style='color:{MUTED}'>{LAMP_NOTE}</span>")  # when LAMP meets magnitude
        self.lamp_note.setWordWrap(True)
        self.lamp_note.hide()
        self.ks_edit = QLineEdit(" ".join(f"{k:g}" for k in DEFAULT_KS))
        self.ks_edit.setToolTip("Percent pruned, separated by spaces or commas")
        self.scope_label = QLabel()
        self.scope_label.setWordWrap(True)
        self.strip = JobStrip(jobs, self.run_text)
        self.strip.progress.setMinimumWidth(PROGRESS_MIN_WIDTH)  # the settings column stays narrow beside the plot
        self.save_csv_button = QPushButton("Save CSV...")
        self.save_png_button = QPushButton("Save plot PNG...")
        self.table = results_table(self.table_headers())
        self.table.setMinimumHeight(TABLE_MIN_HEIGHT)
        self.plot_widget = self.make_plot()
        self.plot_widget.setMinimumSize(*PLOT_MIN_SIZE)
        self.plot_widget.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

        methods = QHBoxLayout()
        for box in self.method_boxes.values():
            methods.addWidget(box)
        methods.addStretch(1)
        # a grid, not a QFormLayout: a form's height for a width comes out short (its rows then overlap)
        form = QGridLayout()
        form.setColumnStretch(1, 1)
        form.addWidget(QLabel("Methods:"), 0, 0)
        form.addLayout(methods, 0, 1)
        if self.with_criteria:
            criteria = QGridLayout()  # two a row: the settings column stays narrow enough to sit beside the plot
            for i, box in enumerate(self.criterion_boxes.values()):
                criteria.addWidget(box, i // 2, i % 2)
            criteria.setColumnStretch(2, 1)
            form.addWidget(QLabel("Criteria:"), 1, 0, Qt.AlignmentFlag.AlignTop)
            form.addLayout(criteria, 1, 1)
        form.addWidget(QLabel("k (%):"), 2, 0)
        form.addWidget(self.ks_edit, 2, 1)
        saves = QHBoxLayout()
        saves.addWidget(self.save_csv_button)
        saves.addWidget(self.save_png_button)
        saves.addStretch(1)
        self.controls = QWidget()
        column = QVBoxLayout(self.controls)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(form)
        column.addWidget(self.scope_label)
        column.addWidget(self.strip)
        column.addLayout(saves)
        column.addWidget(self.table, 1)
        # beside the plot where the panel is wide, above it where it is narrow (resizeEvent)
        self.plot_column = QWidget()  # the LAMP note takes its lines from the plot's share, not the settings'
        plot_column = QVBoxLayout(self.plot_column)
        plot_column.setContentsMargins(0, 0, 0, 0)
        plot_column.addWidget(self.lamp_note)
        plot_column.addWidget(self.plot_widget, 1)
        # beside the plot where the panel is wide, above it where it is narrow (_arrange)
        self.body = QBoxLayout(QBoxLayout.Direction.TopToBottom, self)
        self.body.setContentsMargins(4, 4, 4, 4)
        self.body.addWidget(self.controls, 2)  # up to its maximum width (_arrange)
        self.body.addWidget(self.plot_column, 3)

        self.strip.run_button.clicked.connect(self.run)
        self.save_csv_button.clicked.connect(self.choose_csv_path)
        self.save_png_button.clicked.connect(self.choose_png_path)
        self.strip.busy_changed.connect(lambda _busy: self._refresh_buttons())
        for box in self.criterion_boxes.values():
            box.toggled.connect(self._on_criteria_ticked)
        bind(self, session.model_changed, self._on_model_changed)
        bind(self, session.config_changed, self._on_config_changed)
        bind(self, session.data_changed, self._refresh_availability)
        bind(self, session.data_changed, self._refresh_scope)
        self._on_model_changed(session.model)

    # -- the parts that differ between sweep and sensitivity -------------------------------------
    def table_headers(self) -> list[str]:
        # results first: the dock can be narrow
        return ["method", "k %", self.scale.axis, self.scale.loss_column, "sparsity %", "all weights %"]

    def table_row(self, p) -> list:
        return [
            text_item(_method_text(p)),
            number_item(f"{p.k:g}"),
            number_item(self.scale.column(p.score)),
            number_item(f"{p.loss:.4f}"),
            number_item(f"{p.sparsity_included * 100:.2f}"),
            number_item(f"{p.sparsity_all * 100:.2f}"),
        ]

    def make_plot(self) -> QWidget:
        self.accuracy_plot = AccuracySparsityPlot(self.session)
        self.accuracy_plot.legend_changed.connect(self._fit_plot_to_legend)
        return self.accuracy_plot

    def _fit_plot_to_legend(self) -> None:
        """The legend sits under the data: each row of it adds to the plot's least height, so a sweep's
        curves never squeeze the data area below its usable size."""
        row = self.fontMetrics().height() + LEGEND_ROW_PADDING
        height = PLOT_MIN_SIZE[1] + self.accuracy_plot.legend_rows * row
        if self.plot_widget.minimumHeight() != height:
            self.plot_widget.setMinimumHeight(height)
            self.plot_column.layout().invalidate()  # the sizes asked next are the new ones, not cached ones
            self.plot_column.updateGeometry()
            self.body.invalidate()
            self.needs_changed.emit()

    def plot_point(self, point) -> None:
        self.accuracy_plot.add_point(point)

    def clear_plot(self) -> None:
        self.accuracy_plot.clear_sweep()

    def scope(self) -> str:
        return self.session.config.scope

    def scope_text(self) -> str:
        config = self.session.config
        scope = "layerwise threshold" if config.scope == "layer" else "one global threshold"
        units = "; units removed with bias and BN channel" if config.unit_mode == "remove" else ""
        return f"the {len(config.included)} included layer(s) together, {scope}{units} (from the Pruning controls)"

    # -- layout ------------------------------------------------------------------------------------
    def wide_width(self) -> int:
        """The least width at which the settings go beside the plot rather than above it."""
        margins = self.body.contentsMargins()
        return (
            self.controls.minimumSizeHint().width()
            + self.plot_widget.minimumWidth()
            + max(self.body.spacing(), 0)
            + margins.left()
            + margins.right()
        )

    @property
    def side_by_side(self) -> bool:
        return self.body.direction() == QBoxLayout.Direction.LeftToRight

    def least_height(self, width: int) -> int:
        """The height at ``width`` that shows the settings whole, a few table rows and a usable plot without
        scrolling (a dock or window made for this panel asks); the layout is the one it has at that width."""
        self._arrange(width)
        least = self.minimumSizeHint().height()
        if self.body.hasHeightForWidth():  # wrapped text: taller when narrower; a scroll area asks for this
            least = max(least, self.heightForWidth(width))
        return least

    def available_width(self) -> int:
        """The width the panel may take: in a scroll area, its viewport's (the panel itself is never
        narrower than its least width there, which side by side is the wide width)."""
        parent = self.parentWidget()
        in_scroll_area = parent is not None and isinstance(parent.parentWidget(), QAbstractScrollArea)
        return parent.width() if in_scroll_area else self.width()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._arrange(self.available_width())

    def showEvent(self, event) -> None:
        super().showEvent(event)
        parent = self.parentWidget()
        if parent is not None and isinstance(parent.parentWidget(), QAbstractScrollArea) and not self._watching:
            parent.installEventFilter(self)  # its viewport: narrower than the panel, the panel rearranges
            self._watching = True
        self._arrange(self.available_width())
        self._refresh_availability()  # the data may have been read since: whether the model can run on it

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Resize and watched is self.parentWidget():
            self._arrange(self.available_width())
        return False

    def _arrange(self, width: int) -> None:
        """Settings beside the plot (in a column of at most CONTROLS_MAX_CHARS) when ``width`` allows."""
        wide = width >= self.wide_width()
        limit = self.fontMetrics().averageCharWidth() * CONTROLS_MAX_CHARS if wide else QWIDGETSIZE_MAX
        if self.controls.maximumWidth() != limit:  # (and when the font changes: presenter mode)
            self.controls.setMaximumWidth(limit)
        if wide != self.side_by_side:
            self.body.setDirection(QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom)

    # -- running ---------------------------------------------------------------------------------
    def selected_methods(self) -> list[str]:
        return [method for method, box in self.method_boxes.items() if box.isChecked()]

    def selected_criteria(self) -> list[str]:
        """The criteria ticked (the sweep's), or the Pruning controls' one (the sensitivity sweep's)."""
        if not self.with_criteria:
            return [self.session.config.criterion]
        return [criterion for criterion, box in self.criterion_boxes.items() if box.isChecked()]

    def _on_criteria_ticked(self, _on: bool = False) -> None:
        chosen = set(self.selected_criteria())
        # layerwise LAMP is magnitude: said where both are chosen, before their curves lie on each other
        shown = self.with_criteria and {"lamp", "magnitude"} <= chosen
        if shown != self.lamp_note.isVisibleTo(self):
            self.lamp_note.setVisible(shown)
            self.needs_changed.emit()

    def run(self):
        """Start a sweep of the chosen methods and ks; returns the Job (None if it cannot start)."""
        from prune_viz.core.sweep import check_grid, run_sweep, sweep_configs

        session = self.session
        if session.model is None or self.strip.busy:
            return None
        scope = self.scope()
        try:
            methods, ks = check_grid(self.selected_methods(), parse_ks(self.ks_edit.text()))
            criteria = tuple(self.selected_criteria())
            if not criteria:
                raise PruningError("Tick at least one criterion.")
            plan = sweep_configs(session, methods, ks, scope, self.per_layer, criteria)
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
            return run_sweep(session, methods, ks, scope, task, task.publish, per_layer=per_layer, criteria=criteria)

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
        self.set_scale(score_scale(point.task, point.score_metric, point.classes))
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

    def set_scale(self, scale: ScoreScale) -> None:
        """The score the points carry: the table's columns (and the plot's axis) are named after it."""
        if scale != self.scale:
            self.scale = scale
            self.table.setHorizontalHeaderLabels(self.table_headers())
            self.table.horizontalHeaderItem(3).setToolTip(scale.loss_name)

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
        """One row per point (the columns of prune-viz sweep --csv: the score's named after its metric),
        written atomically."""
        from prune_viz.core.files import write_csv
        from prune_viz.core.sweep import csv_table

        def write():
            fields, rows = csv_table(self.points)
            write_csv(path, rows, fields, force=True, protect=self._protected())

        return self._save(write, path)

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
        return opened_model_paths(self.session)

    def _save(self, write, path) -> bool:
        if not self.points or not save_result(self, write, path):
            return False
        self.saved = True
        return True

    # -- session ---------------------------------------------------------------------------------
    def _on_model_changed(self, opened) -> None:
        self.run_id += 1  # points still queued from the old model are dropped
        self.clear()
        self.strip.message.setText("" if opened is not None else "Open a model to run experiments.")
        self._refresh_availability()
        self._refresh_scope()

    def _refresh_availability(self) -> None:
        """Run is off, saying why, while the model cannot be evaluated on the chosen data (the session's rule)."""
        self.strip.set_unavailable(self.session.evaluation_problem)
        self._refresh_buttons()

    def _on_config_changed(self, config) -> None:
        if config.criterion != self._followed:  # follow the Pruning controls' criterion, unless ticked otherwise
            if self.selected_criteria() == [self._followed]:
                for criterion, box in self.criterion_boxes.items():
                    box.setChecked(criterion == config.criterion)
            self._followed = config.criterion
        self._refresh_scope()

    def _refresh_scope(self) -> None:
        text = "<b>Layers:</b> " + (self.scope_text() if self.session.model is not None else "-")
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
    with_criteria = False  # its curves are per layer: one criterion, the Pruning controls'

    depends_on = ("included",)  # always layerwise
    run_text = "Run sensitivity"
    label = "Sensitivity sweep"
    doing = "run the sensitivity sweep"

    def __init__(self, session, jobs, parent: QWidget | None = None):
        super().__init__(session, jobs, parent)
        self.allocation = AllocationBox(session, jobs)  # Allocate: ks per layer from the finished scan
        self.controls.layout().addWidget(self.allocation, 2)
        self.cleared.connect(self.allocation.clear)

    def _on_done(self, points) -> None:
        super()._on_done(points)
        self.allocation.set_scan(self.points, self.points_key)

    def table_headers(self) -> list[str]:
        return ["layer", "method", "k %", self.scale.axis, self.scale.loss_column, "layer sparsity %"]

    def set_scale(self, scale: ScoreScale) -> None:
        changed = scale != self.scale
        super().set_scale(scale)
        if changed:
            self._apply_font()
            for key in self._curves:
                self._curves[key].setData(*self.curve_data(*key))
        self._show_chance()

    def table_row(self, p) -> list:
        return [
            text_item(p.layer),
            text_item(p.method),
            number_item(f"{p.k:g}"),
            number_item(self.scale.column(p.score)),
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
        self.plot.disableAutoRange()  # fixed 0-100 axes (or up to 1 for R²), so curves compare across runs
        self.legend = outside_legend(self.plot, columns=2)
        self.chance_line = pg.InfiniteLine(
            angle=0,
            movable=False,
            pen=pg.mkPen(MUTED, width=1, dash=[2, 4]),
            label="",
            labelOpts={"position": 0.97, "color": MUTED, "anchors": [(1, 1), (1, 1)]},
        )
        self.chance_line.setVisible(False)
        self.plot.addItem(self.chance_line, ignoreBounds=True)
        self._apply_font()
        return widget

    def _show_chance(self) -> None:
        """A classifier's chance level (1 / the data's classes); none for regression or agreement."""
        chance = self.scale.chance
        self.chance_line.setVisible(chance is not None)
        if chance is not None:
            self.chance_line.setValue(self.scale.shown(chance))
            self.chance_line.label.setFormat(self.scale.chance_text)

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
        style_plot(self.plot, "k (% of the layer pruned)", self.scale.axis, points, self.theme)
        self.plot.setTitle(
            "one layer pruned at a time; solid: weight, dashed: unit",
            color=self.theme.foreground,
            size=f"{points:.1f}pt",
        )
        self._fix_range()

    def _fix_range(self) -> None:
        scores = [score for points in self._curve_points.values() for _k, score in points]
        low, high = score_range(self.scale, [self.scale.shown(score) for score in scores])
        self.plot.setRange(xRange=(0, 100), yRange=(low, high), padding=0.02)

    def curve_data(self, layer: str, method: str) -> tuple[list[float], list[float]]:
        """(k, score on the axis's scale) of a layer's curve, sorted by k."""
        points = sorted(self._curve_points.get((layer, method), []))
        return [k for k, _ in points], [self.scale.shown(score) for _, score in points]

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
        self._curve_points.setdefault(key, []).append((point.k, point.score))
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
        config = self.session.config
        return (
            f"each of the {len(config.included)} included layer(s) alone, the others unpruned; "
            f"{config.criterion} scores (from the Pruning controls)"
        )


def _method_text(point) -> str:
    """The method, and the criterion and unit mode when they are not the seed's."""
    extra = [point.criterion] if point.criterion != "magnitude" else []
    if point.unit_mode == "remove":
        extra.append("remove")
    return point.method + (f" ({', '.join(extra)})" if extra else "")
