"""Size and speed of the current pruning: the numbers ``prune-viz export --compact`` prints.

File sizes (dense .keras with zeros, its gzip, CSR arrays, compacted .keras) and the
median latency of a pass over the test set, measured by core.export.size_and_speed
in a job. The compacted model is shown for unit pruning only: weight pruning zeros
single weights, so every matrix keeps its shape and there is nothing to remove.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from prune_viz.gui.binding import bind
from prune_viz.gui.experiments.base import (
    SIZE_SPEED_KIND,
    JobStrip,
    megabytes,
    number_item,
    results_table,
    text_item,
)
from prune_viz.gui.views.colours import MUTED
from prune_viz.gui.window_keys import give_window_shortcuts

COMPACTED_ROW = "compacted .keras (dead units removed)"
WEIGHT_PRUNING_NOTE = (
    "<b>Compaction:</b> offered for unit pruning only. Weight pruning zeros single weights "
    "scattered over each matrix, so the matrices keep their shapes; compacting would remove only "
    "the units that happen to lose every weight ({dead}). Choose unit pruning to remove whole "
    "units by design."
)


class SizeSpeedPanel(QWidget):
    kind = SIZE_SPEED_KIND

    def __init__(self, session, jobs, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.report = None
        self.report_key = None  # what the report was measured for (Session.result_key)
        self.repeats = QSpinBox()
        self.repeats.setRange(1, 50)
        self.repeats.setValue(5)
        give_window_shortcuts(self.repeats)
        self.repeats.setToolTip("Timed passes over the test set; the median is shown")
        self.config_label = QLabel()
        self.config_label.setWordWrap(True)
        self.strip = JobStrip(jobs, "Measure size and speed")
        self.table = results_table(["format", "size", "vs dense", "latency", "accuracy", "note"])
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.stale_note = QLabel()  # under the Run button, so the button never moves when it appears
        self.stale_note.setWordWrap(True)
        self.stale_note.setVisible(False)

        form = QFormLayout()
        form.addRow("Pruning:", self.config_label)
        repeats = QHBoxLayout()
        repeats.addWidget(self.repeats)
        repeats.addWidget(QLabel("timed passes over the test set (median)"), 1)
        form.addRow("Repeats:", repeats)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(form)
        layout.addWidget(self.strip)
        layout.addWidget(self.stale_note)
        self.table.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustToContents)
        layout.addWidget(self.table)
        layout.addWidget(self.summary)
        layout.addStretch(1)

        self.strip.run_button.clicked.connect(self.run)
        self.strip.busy_changed.connect(lambda _busy: self._refresh())
        bind(self, session.model_changed, self._on_model_changed)
        bind(self, session.config_changed, self._on_config_changed)
        bind(self, session.data_changed, self._refresh)
        self._on_model_changed(session.model)

    def run(self):
        """Measure the current settings in a job; returns the Job (None without a model)."""
        from prune_viz.core.data import DataError
        from prune_viz.core.export import size_and_speed

        session = self.session
        if session.model is None or self.strip.busy or self.strip.unavailable is not None:
            return None
        opened, config = session.model, session.config
        key = session.result_key(config)
        preprocessing, repeats = session.preprocessing, self.repeats.value()

        def job(task):
            try:
                data = session.load_data(task.sub(0.0, 0.05))  # the session's data, read for the open model
            except DataError:
                data = None  # sizes only; the report says there is no latency (and why, when data cannot feed it)
            return size_and_speed(
                opened, config, data, preprocessing=preprocessing, repeats=repeats, task=task.sub(0.05, 1.0)
            )

        return self.strip.start(
            job, self.kind, "Size and speed", lambda report: self.show_report(report, key), "measure size and speed"
        )

    # -- showing the report ----------------------------------------------------------------------
    def shown_rows(self, report) -> list:
        """The report's rows, without the compacted model unless the pruning removes units."""
        return [r for r in report.rows if report.config.method == "unit" or r.name != COMPACTED_ROW]

    def show_report(self, report, key=None) -> None:
        self.report = report
        self.report_key = key
        rows = self.shown_rows(report)
        dense = report.rows[0].bytes
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            latency = f"{row.latency_seconds * 1000:.1f} ms" if row.latency_seconds is not None else "-"
            measured = row.accuracy is not None and row.accuracy == row.accuracy  # NaN: not a classifier
            accuracy = f"{row.accuracy * 100:.2f}%" if measured else "-"
            items = [
                text_item(row.name),
                number_item(megabytes(row.bytes)),
                number_item(f"{row.bytes / dense * 100:.1f}%"),
                number_item(latency),
                number_item(accuracy),
                text_item(row.note),
            ]
            for column, item in enumerate(items):
                self.table.setItem(i, column, item)
        self.summary.setText("<br>".join(self.summary_lines(report)))
        timing = (
            f"latency: median of {report.repeats} passes over {report.test_images:,} test images"
            if report.test_images
            else report.latency_note
        )
        self.strip.message.setText(f"Measured for {report.config.describe()} ({timing}).")
        self._refresh()

    def summary_lines(self, report) -> list[str]:
        lines = [f"<b>Parameters:</b> {report.parameters:,} in all, {report.nonzero_parameters:,} non-zero"]
        coupling = report.coupling_sentence()
        if coupling is not None:
            lines.append(f"<b>Dead-unit coupling:</b> {coupling}")
        if report.config.method != "unit":
            lines.append(WEIGHT_PRUNING_NOTE.format(dead=self.dead_units_text(report)))
        else:
            lines.append("<b>Compaction:</b> " + report.compaction_sentence(arrow="\u2192"))
        return lines

    @staticmethod
    def dead_units_text(report) -> str:
        if report.compaction is None:
            return "none can be removed here"
        shrunk = [
            f"{layer.name} {layer.units_before}\u2192{layer.units_after}"
            for layer in report.compaction.layers
            if layer.units_before != layer.units_after
        ]
        return "here: " + ", ".join(shrunk) if shrunk else "here: none"

    # -- session ---------------------------------------------------------------------------------
    def _on_model_changed(self, opened) -> None:
        from prune_viz.core.export import model_problem

        self.report = None
        self.report_key = None
        self.table.setRowCount(0)
        self.summary.setText("")
        self.strip.message.setText("")
        self.strip.set_unavailable(model_problem(opened) if opened is not None else None)  # a weights-only model
        self._refresh()

    def _on_config_changed(self, _config) -> None:
        self._refresh()

    def _refresh(self) -> None:
        session = self.session
        self.strip.run_button.setEnabled(
            session.model is not None and not self.strip.busy and self.strip.unavailable is None
        )
        if session.model is None:
            self.config_label.setText("-")
            return
        self.config_label.setText(f"{session.config.describe()} (the current settings)")
        why = session.why_stale(self.report_key, "measurement")
        self.stale_note.setVisible(why is not None)
        if why is not None:
            self.stale_note.setText(
                f"<span style='color:{MUTED}'>{why} The numbers below are for "
                f"{self.report.config.describe()}; measure again for the current settings.</span>"
            )
