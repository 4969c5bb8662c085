"""The classic classroom picture: each first-layer unit's 784 incoming weights as a 28x28 tile.

Only meaningful for the first prunable layer of a model fed by MNIST images whose units
each see the whole image (a Dense layer after flattening 28x28). Colours are computed
once per layer; a new k only swaps pruned pixels and pruned tiles in a small RGB image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from prune_viz.core.inputs import layer_seeing_pixels, pixel_rows_problem
from prune_viz.core.pruning import PruneResult
from prune_viz.gui.binding import bind
from prune_viz.gui.views.colours import (
    DIVERGING,
    MUTED,
    ColormapSpec,
    colour_indices,
    weight_level,
)
from prune_viz.gui.views.pictures import (
    PRUNED_LEGEND,
    WhenVisible,
    caption_label,
    swatch,
)

SIDE = 28
GAP = 2
TILE_CAPS = (36, 64, 100, 144, 256)
DEFAULT_CAP = 100
ORDERS = {
    "index": "by unit index",
    "strongest": "strongest first (L2 norm)",
    "weakest": "weakest first (L2 norm)",
}
# The heatmaps' colours (the same map, level and quantisation, colours.colour_indices, and the same
# pruned colour), so a weight looks the same in both pictures.
# A pruned unit's tile is all pruned weights, so it is drawn in the one pruned colour, like a
# pruned weight anywhere else.


@dataclass
class TileLayer:
    """Colours for one layer's units, computed once."""

    name: str
    weights: np.ndarray  # (784, units)
    norms: np.ndarray  # (units,)
    saturation: float
    colours: np.ndarray  # (units, 28, 28, 3) uint8

    @property
    def units(self) -> int:
        return int(self.weights.shape[1])


def background_rgb(spec: ColormapSpec) -> tuple[int, int, int]:
    colour = pg.mkColor(spec.background)
    return colour.red(), colour.green(), colour.blue()


def prepare_layer(
    name: str, matrix: np.ndarray, norms: np.ndarray, level: float, spec: ColormapSpec = DIVERGING
) -> TileLayer:
    """``matrix`` is the (784, units) original kernel, ``norms`` its units' L2 norms (``Pruner.unit_norms``),
    ``level`` its colours' +-level (weight_level)."""
    weights = np.asarray(matrix, dtype=np.float32)
    colours = spec.indexed_lut()[colour_indices(weights.T, level)].reshape(-1, SIDE, SIDE, 3)
    return TileLayer(name, weights, norms, level, colours)


def tile_grid(tiles: np.ndarray, columns: int, gap_colour=(255, 255, 255)) -> np.ndarray:
    """(n, 28, 28, 3) tiles -> one (rows*30-2, columns*30-2, 3) image, row-major, gaps between."""
    n = len(tiles)
    rows = max(1, -(-n // columns))
    padded = np.empty((rows * columns, SIDE + GAP, SIDE + GAP, 3), dtype=np.uint8)
    padded[:] = gap_colour
    padded[:n, :SIDE, :SIDE] = tiles
    grid = padded.reshape(rows, columns, SIDE + GAP, SIDE + GAP, 3).transpose(0, 2, 1, 3, 4)
    grid = grid.reshape(rows * (SIDE + GAP), columns * (SIDE + GAP), 3)
    return np.ascontiguousarray(grid[:-GAP, :-GAP])


def tile_layer_problem(opened, name: str) -> str | None:
    """Why ``name`` cannot be drawn as 28x28 tiles (its matrix rows are not pixels), or None if it can."""
    problem = pixel_rows_problem(opened.layers, opened.loaded.input_shape, name)
    first = opened.layers[0].name
    if problem is None or name == first or all(layer.name != name for layer in opened.layers):
        return problem
    pixel_layer = layer_seeing_pixels(opened.layers, opened.loaded.input_shape)
    where = (
        f"Select {first} to see its tiles."
        if pixel_layer == first
        else f"This model's first layer, {first}, cannot be drawn as tiles either."
    )
    return f"{problem} {where}"


class UnitTileGrid(QtWidgets.QWidget):
    """First-layer units as 28x28 weight images, pruned weights and pruned units marked."""

    def __init__(self, session, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.spec: ColormapSpec = DIVERGING
        self._layer_name: str | None = None
        self._prepared: TileLayer | None = None
        self.shown_units = np.zeros(0, dtype=np.int64)  # unit indices, in tile order
        self.greyed_units = np.zeros(0, dtype=np.int64)  # the shown units whose every weight is pruned
        self._columns = 1
        self._when_visible = WhenVisible(self, self._redraw)

        self.caption = caption_label(self)
        self.order_box = QtWidgets.QComboBox(self)
        for key, text in ORDERS.items():
            self.order_box.addItem(text, key)
        self.order_box.setToolTip("Which units get the first tiles")
        self.cap_box = QtWidgets.QComboBox(self)
        for cap in TILE_CAPS:
            self.cap_box.addItem(f"up to {cap} tiles", cap)
        self.cap_box.setCurrentIndex(TILE_CAPS.index(DEFAULT_CAP))
        for box in (self.order_box, self.cap_box):  # narrow docks and large fonts: shorten, never widen
            box.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(3)
        self.order_box.currentIndexChanged.connect(self._redraw)
        self.cap_box.currentIndexChanged.connect(self._redraw)
        self.controls = QtWidgets.QWidget(self)
        controls = QtWidgets.QHBoxLayout(self.controls)
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(QtWidgets.QLabel("Order:", self.controls))
        controls.addWidget(self.order_box)
        controls.addWidget(self.cap_box)
        controls.addStretch(1)

        self.view_widget = pg.GraphicsLayoutWidget(self)
        self.view_widget.setBackground(self.spec.background)
        self.view_widget.setMinimumSize(200, 200)
        self.view = self.view_widget.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.view.setMenuEnabled(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.view_widget.scene().sigMouseMoved.connect(self._on_mouse_moved)

        self.message = QtWidgets.QLabel(self)
        self.message.setWordWrap(True)
        self.message.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.message.setStyleSheet(f"color: {MUTED}; padding: 16px;")
        self.stack = QtWidgets.QStackedWidget(self)
        self.stack.addWidget(self.view_widget)
        self.stack.addWidget(self.message)

        self.legend = caption_label(self)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.caption)
        layout.addWidget(self.controls)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.legend)

        bind(self, session.model_changed, self._on_model_changed)
        bind(self, session.pruning_changed, self._on_pruning_changed)
        self._on_model_changed(session.model)

    # -- public ---------------------------------------------------------------------------------
    @property
    def layer_name(self) -> str | None:
        return self._layer_name

    @property
    def applies(self) -> bool:
        """True when the selected layer is drawn as tiles (otherwise a message says why not)."""
        return self._prepared is not None

    def set_layer(self, name: str | None) -> None:
        if name != self._layer_name:  # the same layer is redrawn by the signals that change it
            self._layer_name = name
            self._prepare()
            self._redraw()

    def set_order(self, key: str) -> None:
        self.order_box.setCurrentIndex(list(ORDERS).index(key))

    def set_colormap(self, spec: ColormapSpec) -> None:
        """Follow the heatmaps' colour map (e.g. the high-contrast one for projectors)."""
        self.spec = spec
        self.view_widget.setBackground(spec.background)
        self._prepared = None
        self._prepare()
        self._redraw()

    def set_tile_cap(self, cap: int) -> None:
        self.cap_box.setCurrentIndex(TILE_CAPS.index(cap))

    # -- session --------------------------------------------------------------------------------
    def _on_model_changed(self, opened) -> None:
        names = [layer.name for layer in opened.layers] if opened is not None else []
        if self._layer_name not in names:
            self._layer_name = names[0] if names else None
        self._prepared = None
        self._prepare()
        self._redraw()

    def _on_pruning_changed(self, _result: PruneResult) -> None:
        self._when_visible.request()  # a hidden tab catches up when it is shown

    # -- drawing --------------------------------------------------------------------------------
    def _prepare(self) -> None:
        opened = self.session.model
        self._problem = (
            "No model open."
            if opened is None
            else ("No layer selected." if self._layer_name is None else tile_layer_problem(opened, self._layer_name))
        )
        if self._problem is not None:
            self._prepared = None
            return
        if self._prepared is None or self._prepared.name != self._layer_name:
            layer = opened.layers[0]
            self._prepared = prepare_layer(
                layer.name,
                layer.as_matrix(layer.original),
                opened.pruner.unit_norms(layer.name),
                weight_level(opened, layer.name),
                self.spec,
            )

    def _order(self, prepared: TileLayer) -> np.ndarray:
        key = self.order_box.currentData()
        if key == "strongest":
            return np.argsort(-prepared.norms, kind="stable")
        if key == "weakest":
            return np.argsort(prepared.norms, kind="stable")
        return np.arange(prepared.units)

    def _redraw(self, *_args) -> None:
        prepared = self._prepared
        if prepared is None:
            self.shown_units = np.zeros(0, dtype=np.int64)
            self.greyed_units = np.zeros(0, dtype=np.int64)
            self.image.clear()
            self.message.setText(self._problem or "")
            self.caption.setText("<b>Unit tiles</b>")
            self.stack.setCurrentWidget(self.message)
            self.controls.setVisible(False)
            self.legend.setVisible(False)
            return
        self.stack.setCurrentWidget(self.view_widget)
        self.controls.setVisible(True)
        self.legend.setVisible(True)
        shown = self._order(prepared)[: int(self.cap_box.currentData())]
        result = self.session.result
        plan = result.plans.get(prepared.name) if result is not None else None
        tiles = prepared.colours[shown].copy()
        greyed = np.zeros(0, dtype=np.int64)
        if plan is not None:
            kept = plan.kept(prepared.weights)[:, shown].T.reshape(len(shown), SIDE, SIDE)
            tiles[~kept] = self.spec.pruned
            dead = ~kept.any(axis=(1, 2))  # drawn all in the pruned colour by the line above
            greyed = shown[dead]
        self.shown_units, self.greyed_units = shown, greyed
        self._columns = max(1, int(np.ceil(np.sqrt(len(shown)))))
        self.image.setImage(
            tile_grid(tiles, self._columns, background_rgb(self.spec)), autoLevels=False, levels=(0, 255)
        )
        self.view.autoRange(padding=0.01)

        total = prepared.units
        which = f"all {total}" if len(shown) == total else f"{len(shown)} of {total}"
        pruned_note = f"; {len(greyed)} of the shown units pruned (grey)" if len(greyed) else ""
        self.caption.setText(
            f"<b>{prepared.name}</b>: each tile is one unit's 784 incoming weights as a 28×28 image "
            f"({which} units, {ORDERS[self.order_box.currentData()]}{pruned_note})."
        )
        self.legend.setText(f"{legend(self.spec)} &nbsp; colour saturates at ±{prepared.saturation:.3g}")

    def _on_mouse_moved(self, scene_pos) -> None:
        """Tooltip naming the unit under the mouse, its norm and how many of its weights remain."""
        prepared = self._prepared
        if prepared is None or not len(self.shown_units):
            return
        point = self.view.mapSceneToView(scene_pos)
        column, row = int(point.x() // (SIDE + GAP)), int(point.y() // (SIDE + GAP))
        slot = row * self._columns + column
        inside = 0 <= column < self._columns and point.x() >= 0 and point.y() >= 0
        if not inside or slot >= len(self.shown_units):
            self.view_widget.setToolTip("")
            return
        unit = int(self.shown_units[slot])
        result = self.session.result
        plan = result.plans.get(prepared.name) if result is not None else None
        kept = (
            SIDE * SIDE
            if plan is None
            else int(np.count_nonzero(plan.kept(prepared.weights, cols=slice(unit, unit + 1))))
        )
        state = "pruned unit" if kept == 0 else f"{kept} of 784 weights kept"
        self.view_widget.setToolTip(f"unit {unit}: L2 norm {prepared.norms[unit]:.3g}, {state}")


def legend(spec: ColormapSpec) -> str:
    lut = spec.lut()
    return " &nbsp; ".join([swatch(lut[-1], "positive"), swatch(lut[0], "negative"), PRUNED_LEGEND])
