"""Which digits break first: the flip gallery.

For the current method and scope, a background scan of k = 0..100 (core/flips.py) gives
each test image's breaking k. The gallery shows a histogram of breaking points, the
images ordered by them as thumbnails (rendered only when scrolled into view), per-digit
accuracy along k, and a k scrubber that replays the confusion matrix along the scan.
Clicking a thumbnail sends that image to the drawing pad.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QAbstractListModel, QModelIndex, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QSlider,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from prune_viz.core.flips import run_flip_scan
from prune_viz.core.session import CONFIG_FIELDS
from prune_viz.gui.binding import bind
from prune_viz.gui.experiments.base import JobStrip
from prune_viz.gui.experiments.draw import image_pixmap
from prune_viz.gui.views.colours import FOREGROUND, KEPT, LIGHT, MUTED, Theme
from prune_viz.gui.views.confusion import ConfusionMatrix
from prune_viz.gui.views.pictures import (
    caption_label,
    is_font_change,
    new_plot_widget,
    outside_legend,
    point_size,
    style_plot,
)

FLIPS_KIND = "flips"
GROUP_LABELS = {  # FlipScan.group, in the order the gallery offers them
    "broken": "Broken by pruning",
    "wrong": "Wrong unpruned (k = 0)",
    "never": "Never break",
    "all": "All test images",
}
DEFAULT_GROUP = "broken"  # what pruning did: the images that were right and that it broke
WIDEST_CAPTIONS = ("k = 100%", "read as 8", "never")  # a thumbnail's caption at its widest
THUMB_SCALE = 2  # 56-pixel thumbnails
NEVER = 101  # the histogram's bin (index) for images that never break
NEVER_X = 116  # where that bin is drawn: apart from k = 100, room for both tick labels
# Ten digits told apart by colour and marker: Okabe-Ito plus two greys, with a marker each
DIGIT_STYLE = (
    ("#000000", "o"),
    ("#E69F00", "s"),
    ("#56B4E9", "t"),
    ("#009E73", "d"),
    ("#F0E442", "+"),
    ("#0072B2", "x"),
    ("#D55E00", "star"),
    ("#CC79A7", "p"),
    ("#999999", "h"),
    ("#7a4f00", "t1"),
)
MARKER_EVERY = 10  # one marker per 10 k, staggered by digit, so the markers do not sit on each other


# the settings a scan depends on: all but k, which it spans
SCAN_DEPENDS_ON = tuple(name for name in CONFIG_FIELDS if name != "k")


class ThumbnailModel(QAbstractListModel):
    """The test images of one group (FlipScan.group: what pruning broke, first) in breaking-k order; each
    thumbnail is drawn when the view first asks for it."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.images: np.ndarray | None = None
        self.scan = None
        self.order = np.zeros(0, dtype=np.int64)
        self.group = DEFAULT_GROUP
        self.breaking = np.zeros(0)
        self._first_wrong = np.zeros(0, dtype=np.int64)
        self._pixmaps: dict[int, object] = {}

    def set_scan(self, scan, images: np.ndarray, group: str | None = None) -> None:
        self.beginResetModel()
        self.scan, self.images = scan, images
        self.group = group or self.group
        self.order = scan.order(self.group)
        self.breaking = scan.breaking_k
        self._first_wrong = np.argmax(scan.wrong, axis=0)
        self._pixmaps = {}
        self.endResetModel()

    def clear(self) -> None:
        self.beginResetModel()
        self.scan, self.images, self.order, self._pixmaps = None, None, np.zeros(0, dtype=np.int64), {}
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.order)

    def image_index(self, row: int) -> int:
        """The test-set index of the thumbnail in ``row``."""
        return int(self.order[row])

    def set_group(self, group: str) -> None:
        if self.scan is not None:
            self.set_scan(self.scan, self.images, group)
        else:
            self.group = group

    def caption(self, image: int) -> str:
        """Its breaking k; for an image wrong unpruned, what the unpruned model reads it as."""
        b = self.breaking[image]
        if np.isnan(b):
            return "never"
        return f"k = {b:g}%" if b > 0 else f"read as {int(self.scan.predicted[0, image])}"

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or self.scan is None:
            return None
        image = self.image_index(index.row())
        if role == Qt.ItemDataRole.DisplayRole:
            return self.caption(image)
        if role == Qt.ItemDataRole.DecorationRole:
            pixmap = self._pixmaps.get(image)
            if pixmap is None:
                pixmap = self._pixmaps[image] = image_pixmap(self.images[image], THUMB_SCALE)
            return pixmap
        if role == Qt.ItemDataRole.ToolTipRole:
            label = int(self.scan.labels[image])
            b = self.breaking[image]
            if np.isnan(b):
                return f"Test image #{image}, a {label}: right at every k"
            becomes = int(self.scan.predicted[self._first_wrong[image], image])
            return (
                f"Test image #{image}, a {label}: taken for a {becomes} at k = {b:g}%"
                + (" (already wrong unpruned)" if b == 0 else "")
                + ". Click to send it to the pad."
            )
        return None


class FlipGallery(QWidget):
    """Scan, histogram of breaking k, ordered thumbnails, per-digit curves and a k scrubber."""

    image_chosen = Signal(object, int)  # uint8 28x28 image, its true class
    scanned = Signal(object)  # FlipScan

    def __init__(self, session, jobs, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.scan = None
        self.scan_key = None  # what the scan was computed for (Session.result_key)
        self.images: np.ndarray | None = None

        self.strip = JobStrip(jobs, "Scan k = 0..100")
        self.strip.run_button.setToolTip(
            "Evaluate the test set at every k from 0 to 100 for the current "
            "method and scope, keeping each image's prediction"
        )
        self.strip.run_button.clicked.connect(self.run)
        self.caption = caption_label(self)

        self.thumbnails = ThumbnailModel(self)
        self.list_view = QListView()
        self.list_view.setViewMode(QListView.ViewMode.IconMode)
        self.list_view.setResizeMode(QListView.ResizeMode.Adjust)
        self.list_view.setMovement(QListView.Movement.Static)
        self.list_view.setUniformItemSizes(True)  # the view asks only the visible rows for pictures
        self.list_view.setLayoutMode(QListView.LayoutMode.Batched)
        self.list_view.setIconSize(QSize(28 * THUMB_SCALE, 28 * THUMB_SCALE))
        self.list_view.setModel(self.thumbnails)
        self.list_view.setMinimumWidth(150)
        self.list_view.clicked.connect(self._on_thumbnail_clicked)
        thumbs = QWidget()
        thumbs_layout = QVBoxLayout(thumbs)
        thumbs_layout.setContentsMargins(0, 0, 0, 0)
        self.group_combo = QComboBox()
        for group, label in GROUP_LABELS.items():
            self.group_combo.addItem(label, group)
        self.group_combo.setCurrentIndex(list(GROUP_LABELS).index(DEFAULT_GROUP))
        self.group_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.group_combo.setMinimumContentsLength(8)  # a narrow dock elides the longest entries
        self.group_combo.setToolTip(
            "Broken by pruning: right unpruned, wrong from their breaking k on. Wrong unpruned: the model "
            "already misreads them at k = 0. Never break: right at every k."
        )
        self.group_combo.currentIndexChanged.connect(lambda _i: self.show_group(self.group_combo.currentData()))
        thumbs_title = QLabel("Test images by breaking k (click one: send it to the pad)")
        thumbs_title.setWordWrap(True)
        thumbs_layout.addWidget(thumbs_title)
        thumbs_layout.addWidget(self.group_combo)
        thumbs_layout.addWidget(self.list_view, 1)

        self.theme = LIGHT
        # histogram of breaking k, one bar per k and one for "never"
        self.histogram_widget = new_plot_widget(self)
        self.histogram_plot = self.histogram_widget.getPlotItem()
        self.histogram_plot.setMouseEnabled(x=False, y=False)
        brushes = [pg.mkBrush(KEPT)] * NEVER + [pg.mkBrush(MUTED)]
        self.histogram_bars = pg.BarGraphItem(
            x=np.r_[np.arange(NEVER), NEVER_X],
            height=np.zeros(NEVER + 1),
            width=0.85,
            brushes=brushes,
            pen=pg.mkPen(None),
        )
        self.histogram_plot.addItem(self.histogram_bars)
        self.histogram_plot.getAxis("bottom").setTicks(
            [[(k, str(k)) for k in range(0, 101, 20)] + [(NEVER_X, "never")], []]
        )
        self.histogram_plot.setXRange(-6, NEVER_X + 9, padding=0)  # room for the end tick labels

        # per-digit accuracy along k
        self.curves_widget = new_plot_widget(self)
        self.curves_plot = self.curves_widget.getPlotItem()
        self.curves_plot.setMouseEnabled(x=False, y=False)
        self.curves_plot.setYRange(0, 100, padding=0.02)
        self.curves_plot.setXRange(0, 100, padding=0.02)
        self.curves_legend = outside_legend(self.curves_plot, columns=5)  # under the axis, off the curves
        self.curves, self.markers = [], []
        for digit, (colour, symbol) in enumerate(DIGIT_STYLE):
            curve = pg.PlotDataItem([], [], pen=pg.mkPen(colour, width=2))
            marker_style = dict(symbol=symbol, symbolSize=9, symbolBrush=colour, symbolPen=pg.mkPen(FOREGROUND))
            markers = pg.PlotDataItem([], [], pen=None, **marker_style)  # one per MARKER_EVERY k
            self.curves_plot.addItem(curve)
            self.curves_plot.addItem(markers)
            self.curves_legend.addItem(
                pg.PlotDataItem([0], [0], pen=pg.mkPen(colour, width=2), **marker_style), f"digit {digit}"
            )
            self.curves.append(curve)
            self.markers.append(markers)

        self.matrix = ConfusionMatrix(self)
        self.matrix.cell_clicked.connect(self._on_cell_clicked)

        self.k_lines = []
        for plot in (self.histogram_plot, self.curves_plot):
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(FOREGROUND, width=1.5, dash=[5, 3]))
            line.setVisible(False)
            plot.addItem(line)
            self.k_lines.append(line)

        self.tabs = QTabWidget()
        self.tabs.addTab(self.histogram_widget, "Breaking k")
        self.tabs.addTab(self.curves_widget, "Accuracy per digit")
        self.tabs.addTab(self.matrix, "Confusion at k")
        self.scrubber = QSlider(Qt.Orientation.Horizontal)
        self.scrubber.setRange(0, 100)
        self.scrubber.setEnabled(False)
        self.scrubber.valueChanged.connect(self.show_k_index)
        self.scrub_label = QLabel("k = 0%")  # under the slider: a narrow dock keeps the slider long
        scrub_row = QHBoxLayout()
        scrub_row.addWidget(QLabel("Replay k:"))
        scrub_row.addWidget(self.scrubber, 1)
        pictures = QWidget()
        pictures_layout = QVBoxLayout(pictures)
        pictures_layout.setContentsMargins(0, 0, 0, 0)
        pictures_layout.addWidget(self.tabs, 1)
        pictures_layout.addLayout(scrub_row)
        pictures_layout.addWidget(self.scrub_label)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(thumbs)
        splitter.addWidget(pictures)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.strip)
        layout.addWidget(self.caption)
        layout.addWidget(splitter, 1)

        bind(self, session.model_changed, self._on_model_changed)
        bind(self, session.config_changed, self._on_config_changed)
        bind(self, session.data_changed, self._on_config_changed)
        self._apply_font()
        self._on_model_changed(session.model)

    # -- running --------------------------------------------------------------------------------
    def run(self):
        """Start the scan for the session's current method and scope (one evaluation per k)."""
        if self.session.model is None:
            self.strip.message.setText("Open a model first.")
            return None
        session = self.session
        config = session.config
        base = config.with_k(0.0)
        self.scan_key = session.result_key(base)

        def work(task):
            scan = run_flip_scan(session, base, task=task)
            return scan, session.evaluator().data.x_test

        return self.strip.start(work, FLIPS_KIND, "Flip scan", self.show_scan, "scan k = 0..100")

    def cancel(self) -> None:
        self.strip.cancel()

    # -- showing --------------------------------------------------------------------------------
    def show_scan(self, value) -> None:
        scan, images = value
        self.scan, self.images = scan, images
        self.thumbnails.set_scan(scan, images, self.group_combo.currentData())
        self.list_view.scrollToTop()
        sizes = {group: int(scan.group(group).sum()) for group in GROUP_LABELS}
        for index, (group, label) in enumerate(GROUP_LABELS.items()):
            self.group_combo.setItemText(index, f"{label} ({sizes[group]:,})")
        breaking = scan.breaking_k
        counts = np.zeros(NEVER + 1)
        known = breaking[~np.isnan(breaking)].astype(int)
        np.add.at(counts, known, 1)
        counts[NEVER] = np.isnan(breaking).sum()
        self.histogram_bars.setOpts(height=counts)
        per_digit = 100.0 * scan.per_digit_accuracy()
        ks = np.asarray(scan.ks)
        for digit, (curve, markers) in enumerate(zip(self.curves, self.markers)):
            curve.setData(ks, per_digit[:, digit])
            markers.setData(
                ks[digit % MARKER_EVERY :: MARKER_EVERY], per_digit[digit % MARKER_EVERY :: MARKER_EVERY, digit]
            )
        self.scrubber.setEnabled(True)
        for line in self.k_lines:
            line.setVisible(True)
        self.show_k_index(self.scrubber.value())
        broken = breaking[scan.group("broken")]
        middle = np.median(broken) if len(broken) else np.nan
        self.caption.setText(
            f"<b>{scan.config.describe(with_k=False)}</b>, {len(breaking):,} test images: pruning breaks "
            f"{sizes['broken']:,}"
            + (f", half of them by <b>k = {middle:g}%</b>" if np.isfinite(middle) else "")
            + f"; {sizes['wrong']:,} are wrong unpruned, {sizes['never']:,} never break."
        )
        self.strip.message.setText(f"Scanned {len(ks)} values of k ({scan.data_source}).")
        self.scanned.emit(scan)

    def show_group(self, group: str) -> None:
        """Show the thumbnails of one FlipScan group (what pruning broke, wrong unpruned, never, all)."""
        index = self.group_combo.findData(group)
        if index != self.group_combo.currentIndex():
            self.group_combo.setCurrentIndex(index)  # comes back here through its signal
            return
        self.thumbnails.set_group(group)
        self.list_view.scrollToTop()

    def show_k_index(self, index: int) -> None:
        """Move the scrubber's k: the confusion matrix and the markers follow."""
        if self.scan is None:
            return
        index = int(min(max(index, 0), len(self.scan.ks) - 1))
        k = self.scan.ks[index]
        self.matrix.show_counts(self.scan.confusion(index))
        for line in self.k_lines:
            line.setValue(k)
        self.scrub_label.setText(f"k = {k:g}%: accuracy {100 * self.scan.accuracy()[index]:.2f}%")

    def _show_nothing(self) -> None:
        self.scan, self.images = None, None
        self.thumbnails.clear()
        self.histogram_bars.setOpts(height=np.zeros(NEVER + 1))
        for item in (*self.curves, *self.markers):
            item.setData([], [])
        self.matrix.clear()
        self.scrubber.setEnabled(False)
        for line in self.k_lines:
            line.setVisible(False)
        for index, label in enumerate(GROUP_LABELS.values()):
            self.group_combo.setItemText(index, label)
        self.caption.setText(
            "<b>Which digits break first?</b> Scan k = 0..100 for the current method and "
            "scope: each test image's breaking k is the first k at which it is misclassified."
        )

    # -- clicks and session ---------------------------------------------------------------------
    def send_image(self, image: int) -> None:
        if self.scan is not None:
            self.image_chosen.emit(self.images[image], int(self.scan.labels[image]))

    def _on_thumbnail_clicked(self, index: QModelIndex) -> None:
        self.send_image(self.thumbnails.image_index(index.row()))

    def _on_cell_clicked(self, true: int, predicted: int) -> None:
        """The first test image in that cell at the scrubbed k goes to the pad."""
        if self.scan is None:
            return
        row = self.scan.predicted[self.scrubber.value()]
        members = np.flatnonzero((self.scan.labels == true) & (row == predicted))
        if len(members):
            self.send_image(int(members[0]))

    def _on_model_changed(self, _opened) -> None:
        self.strip.cancel()
        self._show_nothing()
        self.strip.set_unavailable(self.session.evaluation_problem)

    def _on_config_changed(self, *_args) -> None:
        """Say why the scan no longer applies (Session.why_stale); a scan spans every k."""
        why = self.session.why_stale(self.scan_key, "scan", SCAN_DEPENDS_ON) if self.scan is not None else None
        self.strip.message.setText(f"{why} Scan again to update." if why else self.strip.unavailable or "")

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if is_font_change(event):
            self._apply_font()

    def set_theme(self, theme: Theme) -> None:
        """Chart colours (light, or high contrast); the never-breaking bar stays muted."""
        self.theme = theme
        for widget in (self.histogram_widget, self.curves_widget):
            widget.setBackground(theme.background)
        self.histogram_bars.setOpts(brushes=[pg.mkBrush(theme.kept)] * NEVER + [pg.mkBrush(theme.muted)])
        self._apply_font()

    def _apply_font(self) -> None:
        points = point_size(self)
        metrics = self.list_view.fontMetrics()  # each caption whole, in presenter mode's 18 pt too
        caption = max(metrics.horizontalAdvance(text) for text in WIDEST_CAPTIONS)
        self.list_view.setGridSize(QSize(max(28 * THUMB_SCALE, caption) + 14, 28 * THUMB_SCALE + metrics.height() + 12))
        style_plot(self.histogram_plot, "breaking k (%)", "test images", points, self.theme)
        self.histogram_plot.showGrid(x=False, y=True, alpha=self.theme.grid_alpha)
        style_plot(self.curves_plot, "k (%)", "accuracy (%)", points, self.theme)
