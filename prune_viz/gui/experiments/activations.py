"""Activations for a chosen input: each layer's units, unpruned and pruned, side by side.

The input is the test set's n-th item or what the drawing pad shows (a drawn digit, or a test image the
flip gallery or a confusion matrix sent to it). Convolutions give maps, dense layers bars, attention layers
their heads; a unit the pruning removes is framed grey, a unit dead under the pruning orange. The
activations are computed in an ``activations`` job (core/activations.py) and coloured there too: a k step
queues one and returns, the latest k wins and a result for an older one is dropped.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QSpinBox, QVBoxLayout, QWidget

from prune_viz.core.activations import Activations, Sample, activations_problem, compute_activations
from prune_viz.core.errors import UserError
from prune_viz.gui.binding import bind
from prune_viz.gui.errors import show_error
from prune_viz.gui.experiments.draw import image_pixmap
from prune_viz.gui.views.activation_tiles import RowTiles, row_tiles
from prune_viz.gui.views.colours import (
    DEAD,
    DEAD_NAME,
    DIVERGING,
    HIGH_CONTRAST,
    HIGH_CONTRAST_THEME,
    PRUNED,
    Theme,
    background_rgb,
)
from prune_viz.gui.views.pictures import caption_label
from prune_viz.gui.views.tile_grid import TileGrid, room_left
from prune_viz.gui.workers import Job, JobQueue

ACTIVATIONS_KIND = "activations"
SOURCES = {"item": "Test set item", "pad": "The drawing pad", "chosen": "The gallery's chosen image"}
PREVIEW_PIXELS = 84
PAD_COALESCE_MS = 120  # strokes on the pad within this interval share one job
COLUMN_GAP = 16  # pixels between the unpruned and the pruned column
ROW_MARGINS = 12  # pixels of a row's own margins and spacing


class ActivationRow(QWidget):
    """One layer: its caption, then the unpruned and the pruned units side by side."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.unpruned = TileGrid()
        self.pruned = TileGrid()
        self.tiles: RowTiles | None = None
        pair = QHBoxLayout()
        pair.setContentsMargins(0, 0, 0, 0)
        pair.setSpacing(COLUMN_GAP)
        pair.addWidget(self.unpruned, 1)
        pair.addWidget(self.pruned, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.addWidget(self.caption)
        layout.addLayout(pair)

    def show_tiles(self, tiles: RowTiles, background: tuple[int, int, int]) -> None:
        self.tiles = tiles
        for grid, pixels in ((self.unpruned, tiles.unpruned), (self.pruned, tiles.pruned)):
            grid.one_row = tiles.one_row
            grid.set_tiles(pixels, background)
        what = "heads" if tiles.kind == "heads" else "units"
        words = [f"<b>{tiles.label}</b>: {tiles.units} {what}"]
        if tiles.pruned_units:
            words.append(f"<span style='color:{PRUNED}'>{tiles.pruned_units} pruned</span>")
        if tiles.dead_units:
            words.append(f"<span style='color:{DEAD}'>{tiles.dead_units} dead under this pruning</span>")
        self.caption.setText(", ".join(words))


class ActivationsPage(QWidget):
    """The input chooser, its preview and the model's answer, and one ActivationRow per layer."""

    shown = Signal()  # activations for the current settings are on screen, or why there are none

    def __init__(self, session, jobs: JobQueue, parent: QWidget | None = None, pad=None):
        super().__init__(parent)
        self.session = session
        self.jobs = jobs
        self.pad = pad  # the lab's DrawingPad, if there is one
        self.spec = DIVERGING
        self.activations: Activations | None = None
        self.shown_key: tuple | None = None
        self.job: Job | None = None
        self._pad_generation = 0
        self._behind = False
        self.problem: str | None = None  # why nothing is shown, when that is said
        self.enlarged = False  # shown alone (View > Enlarge): the maps as large as the window takes

        self.source_box = QComboBox()
        for key, text in SOURCES.items():
            if key != "pad" or pad is not None:
                self.source_box.addItem(text, key)
        self.chosen: tuple[np.ndarray, object] | None = None  # (image, label) a gallery sent (take_image)
        self._chosen_generation = 0
        self.item_box = QSpinBox()
        self.item_box.setRange(0, 999_999)
        self.item_box.setPrefix("n = ")
        self.item_box.setAccessibleName("test set item")
        self.preview = QLabel()
        self.preview.setFixedSize(PREVIEW_PIXELS, PREVIEW_PIXELS)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption = caption_label(self)
        self.message = caption_label(self)
        self.unpruned_title = QLabel("<b>Unpruned</b>")
        self.pruned_title = QLabel("<b>Pruned</b>")
        self.legend = caption_label(self)
        self.legend.setText(
            f"Maps and heads coloured on one scale per layer; frames: <span style='color:{PRUNED}'>grey: "
            f"pruned unit</span>, <span style='color:{DEAD}'>{DEAD_NAME}</span>."
        )
        self.rows: list[ActivationRow] = []
        self.rows_layout = QVBoxLayout()
        self.rows_layout.setContentsMargins(0, 0, 0, 0)

        choices = QHBoxLayout()
        choices.addWidget(QLabel("Input"))
        choices.addWidget(self.source_box)
        choices.addWidget(self.item_box)
        choices.addStretch(1)
        top = QGridLayout()
        top.addLayout(choices, 0, 0)
        top.addWidget(self.caption, 1, 0)
        top.addWidget(self.message, 2, 0)
        top.addWidget(self.preview, 0, 1, 3, 1)
        top.setColumnStretch(0, 1)
        titles = QHBoxLayout()
        titles.setSpacing(COLUMN_GAP)
        titles.addWidget(self.unpruned_title, 1)
        titles.addWidget(self.pruned_title, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(titles)
        layout.addLayout(self.rows_layout)
        layout.addWidget(self.legend)
        layout.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

        self._pad_timer = QTimer(self)
        self._pad_timer.setSingleShot(True)
        self._pad_timer.setInterval(PAD_COALESCE_MS)
        self._pad_timer.timeout.connect(self.request)
        self.source_box.currentIndexChanged.connect(self._on_source_chosen)
        self.item_box.valueChanged.connect(self._on_item_chosen)
        if pad is not None:
            pad.changed.connect(self._on_pad_changed)
        bind(self, session.model_changed, self._on_model_changed)
        bind(self, session.pruning_changed, self._on_pruning_changed)
        bind(self, session.data_changed, self._on_data_changed)
        self._on_model_changed(session.model)

    # -- the input -------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        return self.source_box.currentData() or "item"

    def choose_item(self, index: int) -> None:
        """The test set's ``index``-th item as the input."""
        self.source_box.setCurrentIndex(self.source_box.findData("item"))
        self.item_box.setValue(index)
        self.request()

    def choose_pad(self) -> None:
        """What the drawing pad shows as the input."""
        index = self.source_box.findData("pad")
        if index >= 0:
            self.source_box.setCurrentIndex(index)
            self.request()

    def take_image(self, image: np.ndarray, label=None) -> None:
        """A test image chosen in a gallery (any size or colour): the input when "The gallery's chosen
        image" is the source."""
        self.chosen = (np.asarray(image), label)
        self._chosen_generation += 1
        if self.source == "chosen":
            self.problem = None
            self.request()

    def sample(self) -> Sample | None:
        if self.source == "chosen":
            if self.chosen is None:
                return None
            image, label = self.chosen
            return Sample(image=image, label=label, source="the gallery's chosen image")
        if self.source == "pad":
            if self.pad is None or self.pad.is_empty:
                return None
            return Sample(image=self.pad.digit(), label=self.pad.label, source="the drawing pad")
        n = self.item_box.value()
        return Sample(index=n, source=f"test item {n}")

    def _on_source_chosen(self, *_args) -> None:
        self.item_box.setVisible(self.source == "item")
        self.request()

    def _on_item_chosen(self, *_args) -> None:
        if self.source == "item":
            self.request()

    def _on_pad_changed(self) -> None:
        self._pad_generation += 1
        if self.source == "pad":
            self.problem = None  # not settled until the pad's input has been computed (or found empty)
            self._pad_timer.start()

    def is_settled(self) -> bool:
        """Whether the page shows what it will for the current settings (activations, or why there are none)."""
        return self.problem is not None or self.shown_key == self.current_key()

    # -- the job ---------------------------------------------------------------------------------
    def current_key(self) -> tuple:
        result = self.session.result
        sample = {
            "pad": ("pad", self._pad_generation),
            "chosen": ("chosen", self._chosen_generation),
        }.get(self.source, ("item", self.item_box.value()))
        config = result.config if result is not None else None
        data = (self.session.data_path, self.session.preprocessing)
        return (self.session.model_serial, config, sample, data, self.spec.key)

    def request(self) -> Job | None:
        """Queue the ``activations`` job for the chosen input and the current pruning; returns at once."""
        session = self.session
        if problem := activations_problem(session.model):
            self._show_problem(problem)
            return None
        if not self.isVisible():
            self._behind = True
            return None
        sample = self.sample()
        if sample is None:
            self._show_problem(
                "Click a test image in the flip gallery to see its activations here."
                if self.source == "chosen"
                else "Draw a digit on the pad, or send a test image to it, to see its activations here."
            )
            return None
        key = self.current_key()
        if key == self.shown_key:
            return None
        config, spec = session.config, self.spec
        background = background_rgb(self)

        def work(task):
            activations = compute_activations(session, sample, config, task)
            return key, activations, [row_tiles(row, spec, background) for row in activations.layers], background

        self.problem = None  # until the job says otherwise
        job = Job(work, ACTIVATIONS_KIND, self)
        job.label = "Computing the activations"
        job.succeeded.connect(self._on_activations)
        job.failed.connect(self._on_failed)
        self.job = job
        if self.activations is None:
            self.message.setText("Computing the activations...")
        self.jobs.submit(job)
        return job

    def _on_activations(self, value) -> None:
        key, activations, tiles, background = value
        if key != self.current_key():  # for an older k or input: the newer job is on its way
            return
        self.activations = activations
        self.shown_key = key
        self.problem = None
        self.message.setText(" ".join(activations.notes))  # nested models whose layers cannot be shown, and why
        self._show_rows(tiles, background)
        self._show_input(activations)
        self.shown.emit()

    def _on_failed(self, exc: BaseException) -> None:
        if isinstance(exc, UserError):  # the model and data cannot give activations: said, not a box
            self._show_problem(str(exc))
        else:
            self.error_box = show_error(self, exc, "compute the activations")

    # -- showing ---------------------------------------------------------------------------------
    def _show_problem(self, text: str) -> None:
        self.activations = None
        self.shown_key = None
        self.problem = text
        self.message.setText(f"<b>Activations</b>: {text}")
        self.caption.setText("")
        self._show_rows([], (255, 255, 255))
        self.preview.clear()
        self.shown.emit()

    def _show_rows(self, tiles: list[RowTiles], background) -> None:
        while len(self.rows) > len(tiles):
            row = self.rows.pop()
            self.rows_layout.removeWidget(row)
            row.deleteLater()
        while len(self.rows) < len(tiles):
            row = ActivationRow(self)
            self.rows.append(row)
            self.rows_layout.addWidget(row)
        for row, row_tiles_ in zip(self.rows, tiles, strict=True):
            row.show_tiles(row_tiles_, background)
        for title in (self.unpruned_title, self.pruned_title):
            title.setVisible(bool(tiles))
        self._fit_rows()

    def _show_input(self, activations: Activations) -> None:
        sample, config = activations.sample, activations.config
        self.pruned_title.setText(f"<b>Pruned</b> (k = {config.k:g}%)")
        self.pruned_title.setToolTip(config.describe())
        a, b = activations.prediction
        text = f"<b>{sample.describe().capitalize()}</b>, {config.describe()}"
        if sample.label is not None:
            text += f" (a test image of a {sample.label})"
        if a is not None:
            colour = DEAD if a != b else "inherit"
            text += f": unpruned the model says <b>{a}</b>, pruned <b style='color:{colour}'>{b}</b>."
        self.caption.setText(text)
        pixmap = _preview(activations.raw)
        if pixmap is None:
            self.preview.clear()
        else:
            self.preview.setPixmap(pixmap)

    # -- session and window ----------------------------------------------------------------------
    def _on_model_changed(self, opened) -> None:
        self.shown_key = None
        if problem := activations_problem(opened):
            self._show_problem(problem)
            return
        self.request()

    def _on_pruning_changed(self, _result) -> None:
        self.request()

    def _on_data_changed(self) -> None:
        self.shown_key = None
        self.request()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._behind:
            self._behind = False
            self.request()

    def set_theme(self, theme: Theme) -> None:
        self.spec = HIGH_CONTRAST if theme is HIGH_CONTRAST_THEME else DIVERGING
        self.request()

    def set_enlarged(self, on: bool) -> None:
        """Shown alone in a window (View > Enlarge): the maps zoomed to share its height; else at their own size."""
        self.enlarged = on
        self._fit_rows()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_rows()

    def _fit_rows(self) -> None:
        """Enlarged, each row of maps (convolutions, heads) gets an equal share of the height the captions, the
        bars and the input's preview leave; a deep model's rows stay at their own size (a share under one map)."""
        maps = [row for row in self.rows if row.tiles is not None and not row.tiles.one_row]
        share = None
        if self.enlarged and maps:
            bars = [row.unpruned for row in self.rows if row.tiles is not None and row.tiles.one_row]
            others = [self.preview, self.message, self.unpruned_title, self.legend, *bars]
            others += [row.caption for row in self.rows]
            share = (room_left(self, others) - ROW_MARGINS * len(self.rows)) // len(maps)
        for row in maps:
            for grid in (row.unpruned, row.pruned):
                grid.set_fill_height(share)


def _preview(raw: np.ndarray | None) -> QPixmap | None:
    """A picture of an image sample (grey or RGB, uint8 or scaled), else None."""
    if raw is None:
        return None
    image = np.asarray(raw)
    side = int(round(np.sqrt(image.size))) if image.ndim == 1 else 0
    if side and side * side == image.size:  # a flattened square image (MNIST fed as 784 numbers)
        image = image.reshape(side, side)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] != 3):
        return None
    if image.dtype != np.uint8:
        top = float(image.max()) or 1.0
        image = np.clip(image / top * 255, 0, 255).astype(np.uint8)
    scale = max(1, PREVIEW_PIXELS // max(image.shape[:2]))
    if image.ndim == 2:
        return image_pixmap(image, scale)
    h, w, _ = image.shape
    data = np.ascontiguousarray(image)
    qimage = QImage(data.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(qimage.scaled(w * scale, h * scale))
