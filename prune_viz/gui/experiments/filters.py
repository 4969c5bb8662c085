"""Filters as pictures: a convolution layer's filters as a grid of small images that follow the k slider.

The first layer of an RGB model in colour; deeper layers one input channel at a time or as the norm over
their input channels. Pruned weights are grey (checks of grey in a colour filter), from the session's
current result. Hovering a filter says its unit's norm, share of zeros and score. The pictures are made in
a ``filters`` job (views/filter_data.py): a k step queues one and returns; the latest k wins.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QSpinBox, QVBoxLayout, QWidget

from prune_viz.gui.binding import bind
from prune_viz.gui.views.colours import DIVERGING, HIGH_CONTRAST, HIGH_CONTRAST_THEME, Theme, background_rgb
from prune_viz.gui.views.filter_data import (
    MODE_NAMES,
    FilterPicture,
    default_mode,
    filter_picture,
    filter_tensors,
    filters_of,
    why_no_filters,
)
from prune_viz.gui.views.pictures import caption_label
from prune_viz.gui.views.tile_grid import TileGrid, room_left
from prune_viz.gui.workers import Job, JobQueue

FILTERS_KIND = "filters"


class FiltersPage(QWidget):
    """A layer chooser, how to draw its filters, the grid, and what the hovered filter is."""

    shown = Signal()  # a picture for the current settings is on screen, or why there is none

    def __init__(self, session, jobs: JobQueue, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.jobs = jobs
        self.spec = DIVERGING
        self.picture: FilterPicture | None = None
        self.job: Job | None = None
        self._behind = False  # the settings changed while the page was hidden
        self.enlarged = False  # shown alone (View > Enlarge): the filters as large as the window takes

        self.layer_box = QComboBox()
        self.layer_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.mode_box = QComboBox()
        self.mode_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.channel_box = QSpinBox()
        self.channel_box.setPrefix("input channel ")
        self.message = caption_label(self)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.grid = TileGrid(self)
        self.readout = QLabel(" ")
        self.readout.setWordWrap(True)
        self.readout.setAccessibleName("filter under the mouse")
        self.legend = caption_label(self)

        self.layer_label, self.show_label = QLabel("Layer"), QLabel("Show")
        choices = QHBoxLayout()
        choices.addWidget(self.layer_label)
        choices.addWidget(self.layer_box)
        choices.addWidget(self.show_label)
        choices.addWidget(self.mode_box)
        choices.addWidget(self.channel_box)
        choices.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(choices)
        layout.addWidget(self.message)
        layout.addWidget(self.readout)
        layout.addWidget(self.grid)
        layout.addWidget(self.legend)
        layout.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

        self.layer_box.currentIndexChanged.connect(self._on_layer_chosen)
        self.mode_box.currentIndexChanged.connect(self._on_mode_chosen)
        self.channel_box.valueChanged.connect(lambda _v: self.request())
        self.grid.hovered.connect(self._on_hovered)
        bind(self, session.model_changed, self._on_model_changed)
        bind(self, session.pruning_changed, self._on_pruning_changed)
        self._on_model_changed(session.model)

    # -- choices ---------------------------------------------------------------------------------
    @property
    def tensor_name(self) -> str | None:
        return self.layer_box.currentData()

    @property
    def mode(self) -> str:
        return self.mode_box.currentData() or "norm"

    def choose_layer(self, name: str) -> None:
        index = self.layer_box.findData(name)
        if index >= 0:
            self.layer_box.setCurrentIndex(index)

    def choose_mode(self, mode: str, channel: int = 0) -> None:
        self.channel_box.blockSignals(True)
        self.channel_box.setValue(channel)
        self.channel_box.blockSignals(False)
        index = self.mode_box.findData(mode)
        if index >= 0 and index != self.mode_box.currentIndex():
            self.mode_box.setCurrentIndex(index)
        else:
            self._on_mode_chosen()

    def is_settled(self) -> bool:
        """Whether the page shows what it will for the current settings (a picture, or why there is none)."""
        return self.tensor_name is None or (self.picture is not None and self.picture.key == self.current_key())

    def _tensor(self):
        model = self.session.model
        name = self.tensor_name
        return next((t for t in model.layers if t.name == name), None) if model is not None and name else None

    def _on_model_changed(self, opened) -> None:
        self.picture = None
        self.grid.set_tiles(None)
        self.readout.setText(" ")
        tensors = filter_tensors(opened)
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        for tensor in tensors:
            count = len(filters_of(tensor, tensor.original))
            self.layer_box.addItem(f"{tensor.name} ({tensor.kind}, {count} filters)", tensor.name)
        self.layer_box.blockSignals(False)
        for widget in (self.layer_label, self.layer_box, self.show_label, self.mode_box, self.channel_box):
            widget.setVisible(bool(tensors))
        self.legend.setVisible(bool(tensors))
        if not tensors:
            self.message.setText(f"<b>Filters</b>: {why_no_filters(opened)}")
            self.shown.emit()
            return
        self._on_layer_chosen()

    def _on_layer_chosen(self, *_args) -> None:
        tensor = self._tensor()
        if tensor is None:
            return
        channels = filters_of(tensor, tensor.original).shape[-1]
        self.mode_box.blockSignals(True)
        self.mode_box.clear()
        for mode in ("colour", "norm", "channel"):
            if mode != "colour" or channels == 3:
                self.mode_box.addItem(MODE_NAMES[mode], mode)
        self.mode_box.setCurrentIndex(self.mode_box.findData(default_mode(tensor)))
        self.mode_box.blockSignals(False)
        self.channel_box.setRange(0, channels - 1)
        self._on_mode_chosen()

    def _on_mode_chosen(self, *_args) -> None:
        self.channel_box.setVisible(self.mode == "channel")
        self.request()

    def _on_pruning_changed(self, _result) -> None:
        self.request()

    # -- the job ---------------------------------------------------------------------------------
    def current_key(self) -> tuple:
        result = self.session.result
        return (
            self.session.model_serial,
            result.config if result is not None else None,
            self.tensor_name,
            self.mode,
            self.channel_box.value(),
            self.spec.key,
        )

    def request(self) -> Job | None:
        """Queue the ``filters`` job for the current layer, drawing and pruning; returns at once (a waiting
        job of an older k is replaced by this one)."""
        opened, name = self.session.model, self.tensor_name
        if opened is None or name is None:
            return None
        if not self.isVisible():
            self._behind = True
            return None
        key = self.current_key()
        if self.picture is not None and self.picture.key == key:
            return None
        result, mode, channel, spec = self.session.result, self.mode, self.channel_box.value(), self.spec
        background = background_rgb(self)
        job = Job(
            lambda _task: filter_picture(opened, name, result, mode, channel, spec, background, key), FILTERS_KIND, self
        )
        job.label = "Drawing the filters"
        job.succeeded.connect(self._on_picture)
        self.job = job
        self.jobs.submit(job)
        return job

    def _on_picture(self, picture: FilterPicture) -> None:
        if picture.key != self.current_key():  # an older k or drawing: a newer job is on its way
            return
        self.picture = picture
        self.grid.set_tiles(picture.tiles, _background_of(picture))
        tensor = self._tensor()
        count, pruned = picture.count, int(picture.pruned.sum())
        config = self.session.config
        h, w, c = picture.shape
        self.message.setText(
            f"<b>{picture.name}</b>: {count} filters of {h}x{w}x{c} ({tensor.kind if tensor else ''}), "
            f"{pruned} pruned whole at {config.describe()}."
        )
        drawn = MODE_NAMES[picture.mode]
        if picture.mode == "colour":
            drawn = "the weights on red, green, blue (zero is mid grey)"
        if picture.mode == "channel":
            drawn = f"input channel {picture.channel} of {c}"
        pruned_words = "grey" + (" checks" if picture.mode == "colour" else "")
        self.legend.setText(f"Drawn: {drawn}; pruned weights are {pruned_words}. Hover a filter for its unit.")
        self._fit_grid()
        self.shown.emit()

    def _on_hovered(self, index: int) -> None:
        picture = self.picture
        if picture is None or index < 0:
            return
        text = picture.describe(index, self.session.config.criterion)
        self.readout.setText(text)
        self.grid.setToolTip(text)

    # -- the window ------------------------------------------------------------------------------
    def set_enlarged(self, on: bool) -> None:
        """Shown alone in a window (View > Enlarge): the filters zoomed to fill it; else at their own size."""
        self.enlarged = on
        self._fit_grid()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_grid()

    def _fit_grid(self) -> None:
        others = [self.layer_box, self.message, self.readout, self.legend]
        self.grid.set_fill_height(room_left(self, others) if self.enlarged else None)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._behind:
            self._behind = False
            self.request()

    def set_theme(self, theme: Theme) -> None:
        """High contrast colours with the high contrast charts, as the heatmap."""
        self.spec = HIGH_CONTRAST if theme is HIGH_CONTRAST_THEME else DIVERGING
        self.request()


def _background_of(picture: FilterPicture) -> tuple[int, int, int]:
    """The gap colour the job drew (the tiles' last pixel), so the grid's empty cells match it."""
    value = int(picture.tiles[0, -1, -1])
    return (value >> 16) & 255, (value >> 8) & 255, value & 255
