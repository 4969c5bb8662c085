"""Allocate: after a per-layer sensitivity scan, the ks per layer that reach a target sparsity with the
least predicted loss (core.budget), checked by measuring them against one k for every layer, applied as
the layers' own ks and drawn as bars; and a comparison with one k for every layer at several targets
(the table, CSV and PNG of ``prune-viz budget``). Both run as jobs: they scan and evaluate on the part
of the data that chooses the ks and measure on the other part (core.budget_data)."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from prune_viz.core.budget import CHOSEN_ALLOCATED, CHOSEN_BLEND, CHOSEN_UNIFORM, DEFAULT_TARGETS
from prune_viz.core.budget_data import BudgetCache
from prune_viz.core.pruning import PruningError, parse_k
from prune_viz.gui.errors import show_error
from prune_viz.gui.experiments.base import (
    SENSITIVITY_KIND,
    JobStrip,
    ask_save_path,
    number_item,
    opened_model_paths,
    results_table,
    save_result,
)
from prune_viz.gui.views.budget_chart import AllocationChart
from prune_viz.gui.views.colours import MUTED

CHART_MIN_HEIGHT = 200
OFFERED = {CHOSEN_ALLOCATED: "the allocation", CHOSEN_BLEND: "a blend", CHOSEN_UNIFORM: "one k"}
ALLOCATE_KIND = "allocate"


def budget_headers(scale=None) -> list[str]:
    """The comparison table's columns, the scores in the units of ``scale`` (a ScoreScale; None: accuracy)."""
    unit = " %" if scale is None or scale.percent else ""
    return ["target %", f"uniform{unit}", f"allocated{unit}", f"predicted{unit}", "sparsity %", "chosen"]


def parse_targets(text: str) -> list[float]:
    """'50 70, 90' (percent) -> [0.5, 0.7, 0.9]; PruningError naming the first bad entry."""
    parts = [p for p in re.split(r"[\s,;]+", text.strip()) if p]
    if not parts:
        raise PruningError("Give at least one target sparsity (percent), e.g. 50 90.")
    return [parse_k(p.rstrip("%")) / 100.0 for p in parts]


class AllocationBox(QWidget):
    """Target sparsity, Allocate (applies the ks as overrides), the bars, and uniform vs allocated at targets."""

    def __init__(self, session, jobs, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.scan: list = []
        self.scan_key = None  # what the scan was computed for (Session.result_key)
        self.allocation = None  # the BudgetRow of the last Allocate
        self.rows: list = []
        self.cache = BudgetCache()  # the two parts of the data and the scans on the choosing one
        self.target_spin = QDoubleSpinBox()
        self.target_spin.setRange(0.0, 100.0)
        self.target_spin.setDecimals(1)
        self.target_spin.setSuffix(" %")
        self.target_spin.setValue(90.0)
        self.target_spin.setToolTip("The overall sparsity of the included layers together")
        self.allocate_strip = JobStrip(jobs, "&Allocate")
        self.allocate_button = self.allocate_strip.run_button
        self.allocate_button.setToolTip(
            "The ks per layer that reach the target with the least loss the scan's curves predict, checked "
            "against one k for every layer on part of the data and measured on the rest, applied as the "
            "layers' own ks (the k column of the layer list)"
        )
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.chart = AllocationChart()
        self.chart.setMinimumHeight(CHART_MIN_HEIGHT)
        self.targets_edit = QLineEdit(" ".join(f"{t * 100:g}" for t in DEFAULT_TARGETS))
        self.targets_edit.setToolTip("Target sparsities in percent, separated by spaces or commas")
        self.strip = JobStrip(jobs, "Compare with uniform")
        self.table = results_table(budget_headers())
        self.table.setMinimumHeight(90)
        self.save_csv_button = QPushButton("Save CSV...")
        self.save_png_button = QPushButton("Save plot PNG...")

        row = QHBoxLayout()
        row.addWidget(QLabel("Target:"))
        row.addWidget(self.target_spin)
        row.addWidget(self.allocate_strip, 1)
        compare = QGridLayout()
        compare.setColumnStretch(1, 1)
        compare.addWidget(QLabel("Targets (%):"), 0, 0)
        compare.addWidget(self.targets_edit, 0, 1)
        saves = QHBoxLayout()
        saves.addWidget(self.save_csv_button)
        saves.addWidget(self.save_png_button)
        saves.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(QLabel("<b>Budget from sensitivity</b>"))
        layout.addLayout(row)
        layout.addWidget(self.message)
        layout.addWidget(self.chart, 1)
        layout.addLayout(compare)
        layout.addWidget(self.strip)
        layout.addLayout(saves)
        layout.addWidget(self.table)

        self.allocate_button.clicked.connect(self.allocate)
        self.strip.run_button.clicked.connect(self.compare)
        self.strip.busy_changed.connect(lambda _busy: self._refresh())
        self.allocate_strip.busy_changed.connect(lambda _busy: self._refresh())
        self.save_csv_button.clicked.connect(self.choose_csv_path)
        self.save_png_button.clicked.connect(self.choose_png_path)
        self.clear()

    # -- the scan ----------------------------------------------------------------------------------
    def set_scan(self, points, key) -> None:
        """A finished sensitivity scan's points and the ResultKey it was computed for."""
        self.scan, self.scan_key = list(points), key
        self.cache = BudgetCache()
        self.message.setText("Choose a target and Allocate: the scan's curves give each layer its k.")
        self._refresh()

    def clear(self) -> None:
        self.scan, self.scan_key, self.allocation, self.rows = [], None, None, []
        self.cache = BudgetCache()
        self.table.setRowCount(0)
        self.chart.show_allocation({}, None)
        self.message.setText(f"<span style='color:{MUTED}'>Run the sensitivity scan first.</span>")
        self._refresh()

    def _refresh(self) -> None:
        ready = bool(self.scan)
        self.allocate_button.setEnabled(ready and not self.allocate_strip.busy)
        self.strip.run_button.setEnabled(ready and not self.strip.busy)
        self.save_csv_button.setEnabled(bool(self.rows))
        self.save_png_button.setEnabled(bool(self.rows))

    def _scan_method(self) -> str:
        methods = list(dict.fromkeys(point.method for point in self.scan))
        return self.session.config.method if self.session.config.method in methods else methods[0]

    def _scan_ks(self, method: str) -> list[float]:
        """The ks of the tab's scan, which the scan on the choosing part repeats (0: the unpruned score)."""
        return sorted({0.0, *(float(p.k) for p in self.scan if p.method == method)})

    def _check_current(self) -> None:
        why = self.session.why_stale(self.scan_key, "sensitivity scan", ("included",))
        if why is not None:
            raise PruningError(f"{why} Run the sensitivity scan again.")

    # -- Allocate ----------------------------------------------------------------------------------
    def allocate(self):
        """Allocate ks for the target as a job: scan on the choosing part of the data (once), allocate
        from the curves, check against one k there, measure both on the other part; the offer is applied
        when it ends. Returns the Job (None when it cannot start: a message box says why)."""
        from prune_viz.core.budget import compare_at_targets

        if not self.scan or self.session.model is None or self.allocate_strip.busy:
            return None
        target = self.target_spin.value() / 100.0
        method = self._scan_method()
        try:
            self._check_current()
        except PruningError as exc:
            self.error_box = show_error(self, exc, "allocate the ks")
            return None
        session, cache, ks, key = self.session, self.cache, self._scan_ks(method), self.scan_key

        def job(task):
            return compare_at_targets(session, [target], task, scan_ks=ks, method=method, cache=cache)[0]

        return self.allocate_strip.start(
            job,
            ALLOCATE_KIND,
            f"Allocate at {target * 100:g}%",
            lambda row: self._on_allocated(row, key),
            "allocate the ks",
            cancelled_text=lambda: "Allocate cancelled: nothing applied.",
        )

    def _on_allocated(self, row, key) -> None:
        if key != self.scan_key or self.session.why_stale(key, "sensitivity scan", ("included",)) is not None:
            self.allocate_strip.message.setText("The scan or the data changed while allocating: nothing applied.")
            return
        self.allocation = row
        scale = row.scale
        self.session.configure(method=row.method, k=row.target * 100.0, layer_k=row.layer_k)
        offered = OFFERED[row.chosen]
        title = f"{row.target * 100:g}% overall, {row.method} pruning: {offered}"  # short: never widens the chart
        self.chart.show_allocation(row.layer_k, row.target * 100.0, title)
        gain = scale.shown(row.allocated_score) - scale.shown(row.uniform_score)
        unit = " points" if scale.percent else ""
        self.allocate_strip.message.setText(f"Applied {offered}.")
        self.message.setText(
            f"{row.why} Applied as the layers' own ks (bars; dashed: one k for every layer). "
            f"On {row.reported_on}: {scale.name} {scale.text(row.allocated_score)} against "
            f"{scale.text(row.uniform_score)} with one k ({gain:+.2f}{unit}). "
            f"<span style='color:{MUTED}'>ks chosen on {row.chosen_on}.</span>"
        )

    # -- uniform vs allocated at several targets -----------------------------------------------------
    def compare(self):
        """Measure uniform against allocated at the targets, as a job; returns the Job (None if it cannot start)."""
        from prune_viz.core.budget import compare_at_targets

        if not self.scan or self.session.model is None or self.strip.busy:
            return None
        try:
            self._check_current()
            targets = parse_targets(self.targets_edit.text())
        except PruningError as exc:
            self.error_box = show_error(self, exc, "compare uniform with allocated")
            return None
        session, method = self.session, self._scan_method()
        self.rows = []
        self.table.setRowCount(0)
        self._refresh()

        ks, cache = self._scan_ks(method), self.cache

        def job(task):
            return compare_at_targets(session, targets, task, task.publish, scan_ks=ks, method=method, cache=cache)

        return self.strip.start(
            job,
            SENSITIVITY_KIND,
            "Uniform vs allocated",
            self._on_done,
            "compare uniform with allocated",
            on_partial=self._on_row,
        )

    def _on_row(self, row) -> None:
        self.rows.append(row)
        scale = row.scale
        if len(self.rows) == 1:
            self.table.setHorizontalHeaderLabels(budget_headers(scale))
        n = self.table.rowCount()
        self.table.insertRow(n)
        chosen = f"blend {row.blend:g}" if row.chosen == "blend" else row.chosen
        for column, text in enumerate(
            (
                f"{row.target * 100:g}",
                scale.column(row.uniform_score),
                scale.column(row.allocated_score),
                scale.column(row.predicted_score),
                f"{row.allocated_sparsity * 100:.2f}",
                chosen,
            )
        ):
            self.table.setItem(n, column, number_item(text))
        self._refresh()

    def _on_done(self, rows) -> None:
        worse = [r for r in rows if r.allocated_score < r.uniform_score]
        where = f" ks chosen on {rows[0].chosen_on}, measured on {rows[0].reported_on}." if rows else ""
        self.strip.message.setText(
            f"Done: {len(rows)} targets."
            + (
                f" Allocated is below uniform at {', '.join(f'{r.target * 100:g}%' for r in worse)}: it beat "
                "uniform where the ks were chosen, not where they were measured."
                if worse
                else " Allocated is at least as good as uniform at each."
            )
            + where
        )
        self._refresh()

    # -- saving ----------------------------------------------------------------------------------------
    def _stem(self) -> str:
        model = self.session.model
        return Path(model.loaded.path).stem if model is not None else "model"

    def choose_csv_path(self) -> None:
        path = ask_save_path(
            self, "Save uniform vs allocated as CSV", f"{self._stem()}-budget.csv", "CSV (*.csv)", ".csv"
        )
        if path is not None:
            self.save_csv(path)

    def choose_png_path(self) -> None:
        path = ask_save_path(self, "Save the plot as PNG", f"{self._stem()}-budget.png", "PNG image (*.png)", ".png")
        if path is not None:
            self.save_png(path)

    def _protected(self) -> tuple:
        return opened_model_paths(self.session)

    def save_csv(self, path) -> bool:
        from prune_viz.core.budget import BUDGET_CSV_FIELDS
        from prune_viz.core.files import write_csv

        return self._save(
            lambda: write_csv(
                path, [r.as_row() for r in self.rows], BUDGET_CSV_FIELDS, force=True, protect=self._protected()
            ),
            path,
        )

    def save_png(self, path) -> bool:
        from prune_viz.gui.views.budget_chart import write_budget_plot

        return self._save(lambda: write_budget_plot(path, self.rows, force=True, protect=self._protected()), path)

    def _save(self, write, path) -> bool:
        return bool(self.rows) and save_result(self, write, path)
