"""Compare the current pruning (side A) with side B: another setting of this model, or another checkpoint.

The comparison (core.compare) runs as a job: it opens B's checkpoint if one is chosen,
prunes and evaluates both sides and compares their masks. The panel shows the
selected layer of A and B as heatmaps whose zoom and pan move together, a difference
view (kept/pruned disagreement for two settings, delta-w for two checkpoints), a
per-layer table (sparsity A, sparsity B, Jaccard of the kept sets), both scores (the
task's: accuracy, R², agreement with the unpruned model on data without labels) with per-class
bars named after the data's classes, and a gallery of the test samples the two sides classify
differently, shown as the data holds them (grey or colour images; other data by index).
Both sides run on the session's data (Session.load_data), read for the open model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from prune_viz.core.errors import UserError
from prune_viz.core.metric_words import headline, result_scale
from prune_viz.gui.binding import bind
from prune_viz.gui.experiments.base import (
    COMPARE_KIND,
    JobStrip,
    number_item,
    results_table,
    text_item,
)
from prune_viz.gui.views.colours import (
    DIVERGING,
    HIGH_CONTRAST,
    HIGH_CONTRAST_THEME,
    MUTED,
    Theme,
    symmetric_level,
)
from prune_viz.gui.views.heatmap import MatrixView
from prune_viz.gui.views.heatmap_data import display_limit, strides
from prune_viz.gui.views.pictures import (
    new_plot_widget,
    outside_legend,
    point_size,
    style_plot,
)
from prune_viz.gui.views.sample_images import picture_pixmap
from prune_viz.gui.window_keys import give_window_shortcuts

GALLERY_LIMIT = 200  # thumbnails drawn; the count above the gallery says how many differ in all
THUMBNAIL = 56
BAR_COLOURS = ("#1f77b4", "#ff7f0e")  # A, B
SCOPE_LABELS = {"layer": "layerwise", "global": "global"}


class ComparePanel(QWidget):
    kind = COMPARE_KIND

    def __init__(self, session, jobs, parent: QWidget | None = None):
        from prune_viz.core.pruning import CRITERIA, METHODS

        super().__init__(parent)
        self.session = session
        self.comparison = None
        self.pictures = None  # the test samples as pictures, for the gallery (None: not images)
        self.key = None  # the ResultKey of side A when the comparison ran
        self._checkpoint = None  # (path, mtime, OpenedModel) of the last checkpoint opened for side B

        # -- choosing side B
        self.a_label = QLabel()
        self.a_label.setWordWrap(True)
        self.this_model = QRadioButton("this model")
        self.this_model.setChecked(True)
        self.checkpoint = QRadioButton("another checkpoint:")
        sources = QButtonGroup(self)
        sources.addButton(self.this_model)
        sources.addButton(self.checkpoint)
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("a .keras file of the same architecture (e.g. after fine-tuning)")
        self.browse = QPushButton("Browse...")
        self.criterion = QComboBox()
        self.criterion.addItems(CRITERIA)
        self.method = QComboBox()
        self.method.addItems(METHODS)
        self.k = QDoubleSpinBox()
        self.k.setRange(0.0, 100.0)
        self.k.setDecimals(1)
        self.k.setSuffix(" %")
        give_window_shortcuts(self.k)
        self.scope = QComboBox()
        for scope, label in SCOPE_LABELS.items():
            self.scope.addItem(label, scope)
        source = QHBoxLayout()
        source.addWidget(self.this_model)
        source.addWidget(self.checkpoint)
        source.addWidget(self.path_edit, 1)
        source.addWidget(self.browse)
        setting = QHBoxLayout()
        for label, widget in (
            ("criterion", self.criterion),
            ("method", self.method),
            ("k", self.k),
            ("scope", self.scope),
        ):
            setting.addWidget(QLabel(label))
            setting.addWidget(widget)
        setting.addStretch(1)
        form = QFormLayout()
        form.addRow("Side A:", self.a_label)
        form.addRow("Side B:", source)
        form.addRow("B's pruning:", setting)
        self.strip = JobStrip(jobs, "Compare")
        self.stale_label = QLabel()
        self.stale_label.setWordWrap(True)

        # -- results
        self.layer = QComboBox()
        self.view_a, self.view_b, self.view_difference = MatrixView(), MatrixView(), MatrixView()
        for view in (self.view_b, self.view_difference):  # zoom and pan move all three together
            view.plot.getViewBox().setXLink(self.view_a.plot.getViewBox())
            view.plot.getViewBox().setYLink(self.view_a.plot.getViewBox())
        heatmaps = QSplitter(Qt.Orientation.Horizontal)
        for view in (self.view_a, self.view_b, self.view_difference):
            heatmaps.addWidget(view)
        self.table = results_table(["layer", "sparsity A", "sparsity B", "Jaccard (kept)"])
        self.accuracy_label = QLabel("-")
        self.accuracy_label.setWordWrap(True)
        self.accuracy_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.digits = new_plot_widget()
        outside_legend(self.digits.getPlotItem())  # under the axis: never over the bars near 100%
        style_plot(self.digits.getPlotItem(), "class", "accuracy (%)")
        self.digits.setYRange(0, 100)
        self.gallery_label = QLabel()
        self.gallery = QListWidget()
        self.gallery.setViewMode(QListView.ViewMode.IconMode)
        self.gallery.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
        self.gallery.setResizeMode(QListView.ResizeMode.Adjust)
        self.gallery.setMovement(QListView.Movement.Static)
        self.gallery.setUniformItemSizes(True)

        layer_row = QHBoxLayout()
        layer_row.addWidget(QLabel("Layer:"))
        layer_row.addWidget(self.layer)
        layer_row.addStretch(1)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(layer_row)
        top_layout.addWidget(heatmaps, 1)
        numbers = QWidget()
        numbers_layout = QVBoxLayout(numbers)
        numbers_layout.setContentsMargins(0, 0, 0, 0)
        numbers_layout.addWidget(self.table, 1)
        gallery = QWidget()
        gallery_layout = QVBoxLayout(gallery)
        gallery_layout.setContentsMargins(0, 0, 0, 0)
        gallery_layout.addWidget(self.gallery_label)
        gallery_layout.addWidget(self.gallery, 1)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(numbers)
        bottom.addWidget(self.digits)
        bottom.addWidget(gallery)
        results = QSplitter(Qt.Orientation.Vertical)
        results.addWidget(top)
        results.addWidget(bottom)
        results.setStretchFactor(0, 3)
        results.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(form)
        layout.addWidget(self.strip)
        layout.addWidget(self.stale_label)
        layout.addWidget(self.accuracy_label)  # full width: both scores and what was measured, never squeezed
        layout.addWidget(results, 1)

        self.strip.run_button.clicked.connect(self.run)
        self.browse.clicked.connect(self.choose_checkpoint)
        self.path_edit.textEdited.connect(lambda _text: self.checkpoint.setChecked(True))
        self.layer.currentTextChanged.connect(self.show_layer)
        self.table.cellClicked.connect(lambda row, _col: self.layer.setCurrentIndex(row))
        bind(self, session.model_changed, self._on_model_changed)
        bind(self, session.config_changed, self._on_config_changed)
        bind(self, session.data_changed, self._show_staleness)
        self._on_model_changed(session.model)

    # -- side B ---------------------------------------------------------------------------------
    def set_side_b(
        self,
        method: str,
        k: float,
        scope: str = "layer",
        criterion: str = "magnitude",
        checkpoint: str | Path | None = None,
    ) -> None:
        """Choose side B as the controls do (a checkpoint path, or None for this model)."""
        self.criterion.setCurrentText(criterion)
        self.method.setCurrentText(method)
        self.k.setValue(k)
        self.scope.setCurrentIndex(self.scope.findData(scope))
        self.path_edit.setText("" if checkpoint is None else str(checkpoint))
        (self.checkpoint if checkpoint is not None else self.this_model).setChecked(True)

    def set_theme(self, theme: Theme) -> None:
        """Chart colours (light, or high contrast) for the per-class comparison, and the window's colour
        map for the three heatmaps."""
        self.digits.setBackground(theme.background)
        style_plot(self.digits.getPlotItem(), "class", "accuracy (%)", point_size(self), theme)
        for view in (self.view_a, self.view_b, self.view_difference):
            view.set_colormap(HIGH_CONTRAST if theme is HIGH_CONTRAST_THEME else DIVERGING)

    def choose_checkpoint(self) -> None:
        start = str(Path(self.session.model.loaded.path).parent) if self.session.model is not None else ""
        path, _ = QFileDialog.getOpenFileName(
            self, "Side B: a checkpoint of the same architecture", start, "Keras model (*.keras *.h5);;All files (*)"
        )
        if path:
            self.path_edit.setText(path)
            self.checkpoint.setChecked(True)

    def _config_b(self, config_a):
        from dataclasses import replace

        # from A's config, so the included layers, unit mode and random seed carry over
        return replace(
            config_a,
            method=self.method.currentText(),
            k=self.k.value(),
            scope=self.scope.currentData(),
            criterion=self.criterion.currentText(),
        )

    # -- running ----------------------------------------------------------------------------------
    def run(self):
        """Compare the current settings with side B in a job; returns the Job (None when it cannot start)."""
        from prune_viz.core.compare import compare
        from prune_viz.core.flips import sample_pictures
        from prune_viz.core.session import open_model

        session = self.session
        if session.model is None or self.strip.busy or self.strip.unavailable is not None:
            return None
        opened, config_a = session.model, session.config
        try:
            config_b = self._config_b(config_a)
        except UserError as exc:
            self.strip.message.setText(str(exc))
            return None
        path = Path(self.path_edit.text()).expanduser() if self.checkpoint.isChecked() else None
        if self.checkpoint.isChecked() and not self.path_edit.text().strip():
            self.strip.message.setText("Choose a checkpoint file for side B, or compare with this model.")
            return None
        cached = self._checkpoint
        preprocessing, options = session.preprocessing, session.open_options
        key = session.result_key(config_a)

        def job(task):
            opened_b = opened
            if path is not None:
                mtime = path.stat().st_mtime
                if cached is not None and cached[:2] == (path, mtime):
                    opened_b = cached[2]
                else:
                    opened_b = open_model(path, task.sub(0.0, 0.3), options)
            data = session.load_data(task.sub(0.3, 0.35))  # the session's data, as read for the open model
            comparison = compare(
                opened, config_a, opened_b, config_b, data, preprocessing=preprocessing, task=task.sub(0.3, 1.0)
            )
            fit = opened.data_fit
            pictures = sample_pictures(data, fit.image_size, fit.channels)  # None: not images (rows, tokens)
            return comparison, (None if path is None else (path, mtime, opened_b)), pictures

        return self.strip.start(
            job,
            self.kind,
            "Comparing",
            lambda value, k=key: self.show_comparison(*value, k),
            "compare the two prunings",
        )

    def show_comparison(self, comparison, checkpoint, pictures, key) -> None:
        """``pictures``: the test samples as pictures (core.flips.sample_pictures), None when they are not."""
        if comparison.a.opened is not self.session.model:
            return  # another model was opened while it ran
        if checkpoint is not None:
            self._checkpoint = checkpoint
        self.comparison, self.key, self.pictures = comparison, key, pictures
        a, b = comparison.a, comparison.b
        self.strip.message.setText(f"Compared in {a.evaluation.seconds + b.evaluation.seconds:.2f} s of evaluation.")
        self.table.setRowCount(len(comparison.layers))
        for row, layer in enumerate(comparison.layers):
            self.table.setItem(row, 0, text_item(layer.name))
            self.table.setItem(row, 1, number_item(f"{layer.sparsity_a * 100:.2f}%"))
            self.table.setItem(row, 2, number_item(f"{layer.sparsity_b * 100:.2f}%"))
            self.table.setItem(row, 3, number_item(f"{layer.jaccard:.4f}"))
        differing = len(comparison.differing)
        total = len(comparison.images) if comparison.images is not None else len(comparison.labels)
        result = a.evaluation
        measured = f"{result.score_name} ({result.task}) on {comparison.data}" if comparison.data else result.score_name
        answers = (
            f"{differing:,} of {total:,} test {'images' if pictures is not None else 'samples'} are predicted "
            "differently."
            if a.evaluation.predicted is not None
            else f"The model gives no class answers ({result.task}), so no sample is compared by its answer."
        )
        self.accuracy_label.setText(
            f"Measured: {measured}<br>"
            f"A: <b>{headline(a.evaluation)}</b> ({describe_side(a)})<br>"
            f"B: <b>{headline(b.evaluation)}</b> ({describe_side(b)})<br>{answers}"
        )
        self._show_digits(comparison)
        self._show_gallery(comparison)
        current = self.layer.currentText()
        self.layer.blockSignals(True)
        self.layer.clear()
        self.layer.addItems([layer.name for layer in comparison.layers])
        self.layer.blockSignals(False)
        names = [layer.name for layer in comparison.layers]
        self.layer.setCurrentIndex(names.index(current) if current in names else 0)
        self.show_layer(self.layer.currentText())
        self._show_staleness()

    def show_layer(self, name: str) -> None:
        comparison = self.comparison
        if comparison is None or not name:
            return
        a, b = comparison.a, comparison.b
        matrix_a, matrix_b = a.matrix(name), b.matrix(name)
        rs, cs = strides(matrix_a.shape, display_limit())
        window = (slice(None, None, rs), slice(None, None, cs))
        level = symmetric_level(matrix_a)  # one colour scale for both sides
        shape = f"{matrix_a.shape[0]} x {matrix_a.shape[1]}"
        self.view_a.show_matrix(f"A: {name}", f"{shape}, {a.config.describe()}", matrix_a, a.kept(name, *window), level)
        self.view_b.show_matrix(f"B: {name}", f"{shape}, {b.config.describe()}", matrix_b, b.kept(name, *window), level)
        difference = comparison.difference(name)
        if comparison.same_model:
            title, what, level = "A vs B", "red: kept by A only, blue: kept by B only, white: the same", 1.0
            bar = "kept by A - kept by B"
        else:
            title, what, bar = "delta-w", "B's weights minus A's, pruned ones as 0 (red: B larger)", "delta-w"
            level = symmetric_level(difference) if np.any(difference) else 1.0
        self.view_difference.show_matrix(title, what, difference, None, level)
        # the view's own title and colour bar speak of weights and their percentile
        self.view_difference.title.setText(f"<b>{title}</b> &nbsp;{shape}, {what}")
        self.view_difference.colorbar.getAxis("left").setLabel(bar)  # where ColorBarItem puts its label

    def _show_digits(self, comparison) -> None:
        """Per-class accuracy of A and B, the classes named as the data names them; a classifier's only."""
        plot = self.digits.getPlotItem()
        plot.clear()
        plot.setTitle("")
        result = comparison.a.evaluation
        classes = len(result.per_class_accuracy)
        if not classes or result.task not in ("classification", "binary"):
            plot.setTitle(f"no per-class accuracy: the model's task here is {result.task}", size="9pt")
            self.digits.getAxis("bottom").setTicks(None)
            return
        names = result.class_names or tuple(str(c) for c in range(classes))
        every = max(1, -(-classes // 20))  # at most about 20 labels under the bars
        self.digits.getAxis("bottom").setTicks(
            [[(c, str(names[c]) if c < len(names) else str(c)) for c in range(0, classes, every)]]
        )
        positions = np.arange(classes)
        for offset, colour, side, name in (
            (-0.2, BAR_COLOURS[0], comparison.a, "A"),
            (0.2, BAR_COLOURS[1], comparison.b, "B"),
        ):
            heights = np.nan_to_num(side.evaluation.per_class_accuracy) * 100
            bars = pg.BarGraphItem(x=positions + offset, height=heights, width=0.4, brush=colour, pen=None, name=name)
            plot.addItem(bars)
        scale = result_scale(result)
        if scale.chance is not None:  # guessing among the data's classes
            plot.addItem(pg.InfiniteLine(pos=scale.shown(scale.chance), angle=0, pen=pg.mkPen(MUTED, dash=[2, 4])))
        self.digits.setXRange(-0.7, classes - 0.3, padding=0)
        self.digits.setYRange(0, 118)  # room above the bars for the legend

    def _show_gallery(self, comparison) -> None:
        self.gallery.clear()
        shown = comparison.differing[:GALLERY_LIMIT]
        more = "" if len(shown) == len(comparison.differing) else f" (the first {len(shown)} shown)"
        result = comparison.a.evaluation
        truth = "the true class" if result.agreement is None else "the unpruned model's class"
        self.gallery_label.setText(
            f"{len(comparison.differing):,} test {'images' if self.pictures is not None else 'samples'} predicted "
            f"differently{more}; "
            f"the caption is A's class / B's class, {truth} in brackets"
        )
        predicted_a, predicted_b = comparison.a.evaluation.predicted, comparison.b.evaluation.predicted
        names = result.class_names or ()

        def name(c) -> str:
            return str(names[int(c)]) if 0 <= int(c) < len(names) else str(int(c))

        for index in shown:
            icon = QIcon(picture_pixmap(self.pictures[index], THUMBNAIL)) if self.pictures is not None else None
            a, b, true = name(predicted_a[index]), name(predicted_b[index]), name(comparison.labels[index])
            text = f"{a} / {b} ({true})"
            item = QListWidgetItem(icon, text) if icon is not None else QListWidgetItem(f"#{index}: {text}")
            item.setToolTip(f"test sample {index}: {truth} {true}, A predicts {a}, B predicts {b}")
            self.gallery.addItem(item)

    # -- session ---------------------------------------------------------------------------------
    def _on_model_changed(self, _opened) -> None:
        self.comparison = self.key = None
        self._checkpoint = None
        self.table.setRowCount(0)
        self.layer.clear()
        self.gallery.clear()
        self.gallery_label.setText("")
        self.accuracy_label.setText("-")
        self.digits.getPlotItem().clear()
        for view in (self.view_a, self.view_b, self.view_difference):
            view.clear()
        self.strip.message.setText("")
        self._on_config_changed(self.session.config)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._on_config_changed(self.session.config)  # the data may have been read since (its problem known)

    def _on_config_changed(self, config) -> None:
        has_model = self.session.model is not None
        self.strip.set_unavailable(self.session.evaluation_problem)  # (the session's rule: model and data)
        self.strip.run_button.setEnabled(has_model and not self.strip.busy and self.strip.unavailable is None)
        self.a_label.setText(
            f"{config.describe()} on {self.session.model.loaded.name} (the current settings)" if has_model else "-"
        )
        self._show_staleness()

    def _show_staleness(self) -> None:
        why = self.session.why_stale(self.key, "comparison") if self.key is not None else None
        self.stale_label.setText(f"<span style='color:{MUTED}'>{why}</span>" if why else "")


def describe_side(side) -> str:
    return f"{side.config.describe()} on {side.model_name}"
