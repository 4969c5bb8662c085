"""Which samples break first: the flip gallery.

For the current method and scope, a background scan of k = 0..100 (core/flips.py) gives
each test sample's breaking k. The gallery shows a histogram of breaking points, the
samples ordered by them: the data's own images as thumbnails (grey or colour, any size,
rendered only when scrolled into view) captioned with the data's class names ("cat -> dog
at k = 37%"), or for samples that are not images (vectors, token sequences) a table of rows;
per-class accuracy along k, and a k scrubber that replays the confusion matrix along the scan.
Without labels a sample breaks when the prediction leaves the unpruned model's (the core's
rule, ``FlipScan.against``). Clicking a 28x28 grey thumbnail sends that image to the drawing pad.

N:M has no k: the gallery shows its flip set (``core.flips.FlipSet``) instead, the samples right
unpruned and wrong under the pattern first ("7 -> 1", "right -> wrong under 2:4"), then those it fixes,
and the confusion matrix unpruned and under the pattern; the charts along k are hidden.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QAbstractListModel, QAbstractTableModel, QModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QSlider,
    QSplitter,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from prune_viz.core.flips import FlipSet, run_flips, sample_pictures
from prune_viz.core.session import CONFIG_FIELDS
from prune_viz.gui.binding import bind
from prune_viz.gui.experiments.base import JobStrip
from prune_viz.gui.views.colours import FOREGROUND, KEPT, LIGHT, MUTED, Theme
from prune_viz.gui.views.confusion import ConfusionMatrix, class_word
from prune_viz.gui.views.pictures import (
    caption_label,
    is_font_change,
    new_plot_widget,
    outside_legend,
    point_size,
    style_legend,
    style_plot,
)
from prune_viz.gui.views.sample_images import picture_pixmap

FLIPS_KIND = "flips"
GROUP_LABELS = {  # FlipScan.group, in the order the gallery offers them
    "broken": "Broken by pruning",
    "wrong": "Wrong unpruned (k = 0)",
    "never": "Never break",
    "all": "All test samples",
}
SET_GROUP_LABELS = {  # FlipSet.group, for a pattern without a k ("{}": the pattern, 2:4)
    "broken": "Right -> wrong under {}",
    "fixed": "Wrong -> right under {}",
    "wrong": "Wrong either way",
    "never": "Right either way",
    "all": "All test samples",
}
DEFAULT_GROUP = "broken"  # what pruning did: the samples that were right and that it broke
WHEN_WORDS = ("at k = 100%", "never breaks", "unpruned")  # a caption's second line at its widest
THUMB_SIDE = 56  # a thumbnail's picture fits this square, its aspect kept
WIDEST_CAPTION = 3 * THUMB_SIDE  # longer class names are elided (the tooltip has them whole)
PAD_IMAGE = (28, 28)  # what the drawing pad shows: a 28x28 grey digit
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
MAX_CURVES = len(DIGIT_STYLE)  # more classes: the ones that break earliest (lowest mean accuracy along k)
MARKER_EVERY = 10  # one marker per 10 k, staggered by digit, so the markers do not sit on each other


# the settings a scan depends on: all but k, which it spans
SCAN_DEPENDS_ON = tuple(name for name in CONFIG_FIELDS if name != "k")


class ThumbnailModel(QAbstractListModel):
    """The test images of one group (FlipScan.group: what pruning broke, first) in breaking-k order; each
    thumbnail is drawn when the view first asks for it, captioned in two lines ("cat -> dog", "at k = 37%")."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.images: np.ndarray | None = None  # core.flips.sample_pictures: (n, h, w) or (n, h, w, c) uint8
        self.scan = None
        self.order = np.zeros(0, dtype=np.int64)
        self.group = DEFAULT_GROUP
        self.sends_to_pad = False  # a click sends the image to the drawing pad
        self._pixmaps: dict[int, object] = {}

    def set_scan(self, scan, images: np.ndarray | None, group: str | None = None) -> None:
        self.beginResetModel()
        self.scan, self.images = scan, images
        self.group = group or self.group
        self.order = scan.order(self.group)
        self._pixmaps = {}
        self.endResetModel()

    def clear(self) -> None:
        self.beginResetModel()
        self.scan, self.images, self.order, self._pixmaps = None, None, np.zeros(0, dtype=np.int64), {}
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.order)

    def image_index(self, row: int) -> int:
        """The test-set index of the sample in ``row``."""
        return int(self.order[row])

    def set_group(self, group: str) -> None:
        if self.scan is not None:
            self.set_scan(self.scan, self.images, group)
        else:
            self.group = group

    def caption(self, image: int) -> str:
        """Its class, what it is taken for and when, in two lines (FlipScan.break_words)."""
        return "\n".join(self.scan.break_words(image))

    def tooltip(self, image: int) -> str:
        scan = self.scan
        was = scan.class_name(int(scan.labels[image]))
        what = f"Test sample #{image}, " + (f"a {was}" if scan.against == "labels" else f"read as {was} unpruned")
        if isinstance(scan, FlipSet):
            before, after = (scan.class_name(int(p)) for p in scan.predicted[:, image])
            said = f"{what}: taken for a {before} unpruned and a {after} under {scan.pattern}"
            return said + (". Click to send it to the pad." if self.sends_to_pad else ".")
        b = scan.breaking_k[image]
        if np.isnan(b):
            said = f"{what}: {'right' if scan.against == 'labels' else 'the same answer'} at every k"
        else:
            now = scan.class_name(int(scan.breaking_prediction[image]))
            said = f"{what}: taken for a {now} at k = {b:g}%" + (" (already wrong unpruned)" if b == 0 else "")
        return said + (". Click to send it to the pad." if self.sends_to_pad else ".")

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or self.scan is None:
            return None
        image = self.image_index(index.row())
        if role == Qt.ItemDataRole.DisplayRole:
            return self.caption(image)
        if role == Qt.ItemDataRole.DecorationRole and self.images is not None:
            pixmap = self._pixmaps.get(image)
            if pixmap is None:
                pixmap = self._pixmaps[image] = picture_pixmap(self.images[image], THUMB_SIDE)
            return pixmap
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.tooltip(image)
        return None


class ThumbnailDelegate(QStyledItemDelegate):
    """A thumbnail over its caption lines, each line centred and elided to the grid's width (Qt's own
    icon-mode item is only as wide as its text and elides it under its margins)."""

    MARGIN = 3

    def sizeHint(self, option, index) -> QSize:
        grid = self.parent().gridSize()
        return QSize(grid.width() - 2, grid.height() - 2)

    def paint(self, painter, option, index) -> None:
        painter.save()
        rect = option.rect
        palette = option.palette
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(rect, palette.color(QPalette.ColorRole.Highlight))
            painter.setPen(palette.color(QPalette.ColorRole.HighlightedText))
        else:
            painter.setPen(palette.color(QPalette.ColorRole.Text))
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        top = rect.top() + self.MARGIN
        if pixmap is not None:
            left = rect.left() + (rect.width() - pixmap.width()) // 2
            painter.drawPixmap(left, top + (THUMB_SIDE - pixmap.height()) // 2, pixmap)
        top += THUMB_SIDE + self.MARGIN
        metrics = option.fontMetrics
        painter.setFont(option.font)
        width = rect.width() - 2 * self.MARGIN
        for line in (index.data(Qt.ItemDataRole.DisplayRole) or "").split("\n"):
            text = metrics.elidedText(line, Qt.TextElideMode.ElideRight, width)
            line_rect = QRect(rect.left() + self.MARGIN, top, width, metrics.height())
            painter.drawText(line_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, text)
            top += metrics.height()
        painter.restore()


class SampleRows(QAbstractTableModel):
    """Samples that are not pictures (vectors, token sequences), one row each in breaking-k order: the
    sample's index, its class (without labels the unpruned answer), the answer at k = 0, the breaking k
    and what it is taken for there."""

    def __init__(self, thumbnails: ThumbnailModel, parent=None):
        super().__init__(parent)
        self.samples = thumbnails  # the order and the group are the thumbnails' (one rule, one place)
        thumbnails.modelAboutToBeReset.connect(self.beginResetModel)
        thumbnails.modelReset.connect(self.endResetModel)

    def headers(self) -> tuple[str, ...]:
        scan = self.samples.scan
        was = "Unpruned answer" if scan is not None and scan.against == "unpruned" else "True class"
        if isinstance(scan, FlipSet):
            return ("Sample", was, "Unpruned", f"Under {scan.pattern}", "What changed")
        return ("Sample", was, "At k = 0", "Breaking k", "Then taken for")

    def rowCount(self, parent=QModelIndex()) -> int:
        return self.samples.rowCount(parent)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else 5

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.headers()[section]
        return None

    def row(self, row: int) -> tuple[str, ...]:
        """The texts of one row."""
        scan, index = self.samples.scan, self.samples.image_index(row)
        if isinstance(scan, FlipSet):
            before, after = (scan.class_name(int(p)) for p in scan.predicted[:, index])
            return (f"#{index}", scan.class_name(int(scan.labels[index])), before, after, scan.break_words(index)[1])
        b = scan.breaking_k[index]
        broken = not np.isnan(b)
        return (
            f"#{index}",
            scan.class_name(int(scan.labels[index])),
            scan.class_name(int(scan.predicted[0, index])),
            f"{b:g}%" if broken else "never",
            scan.class_name(int(scan.breaking_prediction[index])) if broken else "",
        )

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or self.samples.scan is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.row(index.row())[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.samples.tooltip(self.samples.image_index(index.row()))
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
        self.strip.run_button.clicked.connect(self.run)  # its words and tooltip: _say_what_run_does
        self.caption = caption_label(self)

        self.thumbnails = ThumbnailModel(self)
        self.list_view = QListView()
        self.list_view.setViewMode(QListView.ViewMode.IconMode)
        self.list_view.setResizeMode(QListView.ResizeMode.Adjust)
        self.list_view.setMovement(QListView.Movement.Static)
        self.list_view.setUniformItemSizes(True)  # the view asks only the visible rows for pictures
        self.list_view.setLayoutMode(QListView.LayoutMode.Batched)
        self.list_view.setIconSize(QSize(THUMB_SIDE, THUMB_SIDE))
        self.list_view.setItemDelegate(ThumbnailDelegate(self.list_view))  # a long class name: whole in the tooltip
        self.list_view.setModel(self.thumbnails)
        self.list_view.setMinimumWidth(150)
        self.list_view.clicked.connect(self._on_thumbnail_clicked)
        self.rows = SampleRows(self.thumbnails, self)
        self.table = QTableView()  # samples that are not pictures: one row each
        self.table.setModel(self.rows)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMinimumWidth(150)
        self.samples = QStackedWidget()  # the thumbnails, or the rows
        self.samples.addWidget(self.list_view)
        self.samples.addWidget(self.table)
        thumbs = QWidget()
        thumbs_layout = QVBoxLayout(thumbs)
        thumbs_layout.setContentsMargins(0, 0, 0, 0)
        self.group_combo = QComboBox()
        self._fill_groups(GROUP_LABELS)
        self.group_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.group_combo.setMinimumContentsLength(8)  # a narrow dock elides the longest entries
        self.group_combo.setToolTip(
            "Broken by pruning: right unpruned, wrong from their breaking k on. Wrong unpruned: the model "
            "already misreads them at k = 0. Never break: right at every k."
        )
        self.group_combo.currentIndexChanged.connect(lambda _i: self.show_group(self.group_combo.currentData()))
        self.thumbs_title = QLabel("Test samples by breaking k")
        self.thumbs_title.setWordWrap(True)
        thumbs_layout.addWidget(self.thumbs_title)
        thumbs_layout.addWidget(self.group_combo)
        thumbs_layout.addWidget(self.samples, 1)

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

        # per-class accuracy along k
        self.curves_widget = new_plot_widget(self)
        self.curves_plot = self.curves_widget.getPlotItem()
        self.curves_plot.setMouseEnabled(x=False, y=False)
        self.curves_plot.setYRange(0, 100, padding=0.02)
        self.curves_plot.setXRange(0, 100, padding=0.02)
        self.curves_legend = outside_legend(self.curves_plot, columns=5)  # under the axis, off the curves
        self.curves, self.markers = [], []
        self.curve_classes: list[int] = []  # the class of each curve
        self._make_curves([str(d) for d in range(MAX_CURVES)], "digit")

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
        self.curves_tab = 1
        self.matrix_tab = self.tabs.addTab(self.matrix, "Confusion at k")
        self.scrubber = QSlider(Qt.Orientation.Horizontal)
        self.scrubber.setRange(0, 100)
        self.scrubber.setEnabled(False)
        self.scrubber.valueChanged.connect(self.show_k_index)
        self.scrub_label = QLabel("k = 0%")  # under the slider: a narrow dock keeps the slider long
        scrub_row = QHBoxLayout()
        self.scrub_title = QLabel("Replay k:")
        scrub_row.addWidget(self.scrub_title)
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
        """Start the scan for the session's current method and scope (one evaluation per k); for N:M,
        which has no k, the two evaluations of its flip set (unpruned and under the pattern)."""
        if self.session.model is None:
            self.strip.message.setText("Open a model first.")
            return None
        session = self.session
        config = session.config
        base = config.with_k(0.0) if config.uses_k else config
        self.scan_key = session.result_key(base)

        def work(task):
            scan = run_flips(session, base, task=task)
            fit = session.model.data_fit  # flat pixels take the model's image size
            return scan, sample_pictures(session.evaluator().data, fit.image_size, fit.channels)

        what = "scan k = 0..100" if base.uses_k else f"find what {base.pattern} breaks"
        return self.strip.start(work, FLIPS_KIND, "Flip scan", self.show_scan, what)

    def _fill_groups(self, labels: dict[str, str], sizes: dict[str, int] | None = None) -> None:
        """The group choices (``labels``: group -> words, with their sizes if known), the chosen group
        kept where it is offered."""
        combo = self.group_combo
        current = combo.currentData() or DEFAULT_GROUP
        combo.blockSignals(True)
        combo.clear()
        for group, label in labels.items():
            combo.addItem(f"{label} ({sizes[group]:,})" if sizes else label, group)
        index = combo.findData(current)
        combo.setCurrentIndex(index if index >= 0 else combo.findData(DEFAULT_GROUP))
        combo.blockSignals(False)

    def cancel(self) -> None:
        self.strip.cancel()

    # -- showing --------------------------------------------------------------------------------
    def show_scan(self, value) -> None:
        """``value``: the FlipScan (or N:M's FlipSet) and the samples as pictures (None: not images, shown
        as rows)."""
        scan, images = value
        along_k = not isinstance(scan, FlipSet)
        self.scan, self.images = scan, images
        self._show_charts(along_k)
        labels = GROUP_LABELS if along_k else {g: label.format(scan.pattern) for g, label in SET_GROUP_LABELS.items()}
        sizes = {group: int(scan.group(group).sum()) for group in labels}
        self._fill_groups(labels, sizes)
        self.thumbnails.sends_to_pad = (
            images is not None and images.shape[1:] == PAD_IMAGE and not (self.session.draw_problem)
        )
        self.thumbnails.set_scan(scan, images, self.group_combo.currentData())
        self.samples.setCurrentWidget(self.list_view if images is not None else self.table)
        self._fit_grid()
        what = "images" if images is not None else "samples"
        self.thumbs_title.setText(
            f"Test {what} "
            + ("by breaking k" if along_k else f"by what {scan.pattern} did")
            + (" (click one: send it to the pad)" if self.thumbnails.sends_to_pad else "")
        )
        self.list_view.scrollToTop()
        self.table.scrollToTop()
        if not along_k:
            self._show_set(scan, what, sizes)
            return
        breaking = scan.breaking_k
        counts = np.zeros(NEVER + 1)
        known = breaking[~np.isnan(breaking)].astype(int)
        np.add.at(counts, known, 1)
        counts[NEVER] = np.isnan(breaking).sum()
        self.histogram_bars.setOpts(height=counts)
        per_class = 100.0 * scan.per_digit_accuracy()
        names = tuple(scan.class_name(c) for c in range(scan.num_classes))
        word = class_word(names)
        classes = list(range(len(names)))
        if len(classes) > MAX_CURVES:  # the classes that break earliest
            classes = sorted(np.argsort(np.nan_to_num(per_class.mean(axis=0), nan=101.0), kind="stable")[:MAX_CURVES])
        self._make_curves([names[c] for c in classes], word)
        self.curve_classes = [int(c) for c in classes]
        ks = np.asarray(scan.ks)
        for i, (c, curve, markers) in enumerate(zip(classes, self.curves, self.markers)):
            curve.setData(ks, per_class[:, c])
            markers.setData(ks[i % MARKER_EVERY :: MARKER_EVERY], per_class[i % MARKER_EVERY :: MARKER_EVERY, c])
        measure = "agreement" if scan.against == "unpruned" else "accuracy"
        self.tabs.setTabText(self.curves_tab, f"{measure.capitalize()} per {word}")
        style_plot(self.curves_plot, "k (%)", f"{measure} (%)", point_size(self), self.theme)
        self.matrix.set_classes(names)
        self.scrubber.setRange(0, len(ks) - 1)
        self.scrubber.setEnabled(True)
        for line in self.k_lines:
            line.setVisible(True)
        self.show_k_index(self.scrubber.value())
        broken = breaking[scan.group("broken")]
        middle = np.median(broken) if len(broken) else np.nan
        self._apply_font()
        self.caption.setText(
            f"<b>{scan.config.describe(with_k=False)}</b>, {len(breaking):,} test {what}: pruning breaks "
            f"{sizes['broken']:,}"
            + (f", half of them by <b>k = {middle:g}%</b>" if np.isfinite(middle) else "")
            + f"; {sizes['wrong']:,} are wrong unpruned, {sizes['never']:,} never break."
            + (
                " <i>The data has no labels</i>: a sample breaks when its prediction changes from the unpruned "
                "model's, and its class is the unpruned model's answer."
                if scan.against == "unpruned"
                else ""
            )
        )
        self.strip.message.setText(f"Scanned {len(ks)} values of k ({scan.data_source}).")
        self.scanned.emit(scan)

    def _show_set(self, flips: FlipSet, what: str, sizes: dict[str, int]) -> None:
        """N:M's flip set, its samples shown: the confusion matrix unpruned and under the pattern on the
        scrubber's two stops, and what it broke and fixed in words; no charts along k."""
        names = tuple(flips.class_name(c) for c in range(flips.num_classes))
        self.matrix.set_classes(names)
        self.scrub_title.setText(f"Unpruned \u2194 {flips.pattern}:")
        self.scrubber.setRange(0, 1)
        self.scrubber.setEnabled(True)
        self.scrubber.setValue(1)
        self.show_k_index(1)
        before, after = 100 * flips.accuracy()
        measure = "agreement with the unpruned model" if flips.against == "unpruned" else "accuracy"
        self._apply_font()
        self.caption.setText(
            f"<b>{flips.config.describe()}</b> has no k to scan; of {len(flips.labels):,} test {what}, "
            f"<b>{sizes['broken']:,}</b> are right unpruned and wrong under {flips.pattern}, "
            f"{sizes['fixed']:,} the other way round; {sizes['wrong']:,} are wrong either way "
            f"({measure} {before:.2f}% unpruned, {after:.2f}% under {flips.pattern})."
            + (
                " <i>The data has no labels</i>: right means the unpruned model's answer."
                if flips.against == "unpruned"
                else ""
            )
        )
        self.strip.message.setText(f"Evaluated unpruned and under {flips.pattern} ({flips.data_source}).")
        self.scanned.emit(flips)

    def _show_charts(self, along_k: bool) -> None:
        """The charts along k (breaking k, per-class curves) for a scan; a flip set has the matrix alone."""
        for index in (0, self.curves_tab):
            self.tabs.setTabVisible(index, along_k)
        self.tabs.setTabText(self.matrix_tab, "Confusion at k" if along_k else "Confusion")
        self.scrub_title.setText("Replay k:")
        if not along_k:
            self.tabs.setCurrentIndex(self.matrix_tab)
            for line in self.k_lines:
                line.setVisible(False)

    def _make_curves(self, names: list[str], word: str) -> None:
        """One curve (and its markers and legend entry) per class named, in DIGIT_STYLE's colours."""
        labels = [f"{word} {name}" if word == "digit" else name for name in names]
        shown = [self.curves_legend.items[i][1].text for i in range(len(self.curves_legend.items))]
        if shown == labels:
            return
        for item in (*self.curves, *self.markers):
            self.curves_plot.removeItem(item)
        self.curves_legend.clear()
        self.curves, self.markers = [], []
        for label, (colour, symbol) in zip(labels, DIGIT_STYLE):
            curve = pg.PlotDataItem([], [], pen=pg.mkPen(colour, width=2))
            marker_style = dict(symbol=symbol, symbolSize=9, symbolBrush=colour, symbolPen=pg.mkPen(FOREGROUND))
            markers = pg.PlotDataItem([], [], pen=None, **marker_style)  # one per MARKER_EVERY k
            self.curves_plot.addItem(curve)
            self.curves_plot.addItem(markers)
            self.curves_legend.addItem(pg.PlotDataItem([0], [0], pen=pg.mkPen(colour, width=2), **marker_style), label)
            self.curves.append(curve)
            self.markers.append(markers)
        style_legend(self.curves_legend, point_size(self), self.theme)

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
        index = int(min(max(index, 0), len(self.scan.predicted) - 1))
        self.matrix.show_counts(self.scan.confusion(index))
        if not isinstance(self.scan, FlipSet):
            for line in self.k_lines:
                line.setValue(self.scan.ks[index])
        measure = "agreement with the unpruned model" if self.scan.against == "unpruned" else "accuracy"
        words = self.scan.point_words(index)
        self.scrub_label.setText(f"{words}: {measure} {100 * self.scan.accuracy()[index]:.2f}%")

    def _show_nothing(self) -> None:
        self.scan, self.images = None, None
        self.thumbnails.clear()
        self.thumbnails.sends_to_pad = False
        self.samples.setCurrentWidget(self.list_view)
        self.thumbs_title.setText("Test samples by breaking k")
        self.histogram_bars.setOpts(height=np.zeros(NEVER + 1))
        for item in (*self.curves, *self.markers):
            item.setData([], [])
        self.matrix.clear()
        self.scrubber.setEnabled(False)
        for line in self.k_lines:
            line.setVisible(False)
        self._show_charts(True)
        self._fill_groups(GROUP_LABELS)
        self._say_what_run_does()

    def _say_what_run_does(self) -> None:
        """The run button's words for the current method (a scan of k, or N:M's flip set) and, before there
        is anything to show, the caption's."""
        pattern = self.session.config.pattern
        if self.session.config.uses_k:
            button, tip, caption = (
                "Scan k = 0..100",
                "Evaluate the test set at every k from 0 to 100 for the current method and scope, keeping each "
                "image's prediction",
                "<b>Which samples break first?</b> Scan k = 0..100 for the current method and scope: each test "
                "sample's breaking k is the first k at which it is misclassified (for data without labels: at "
                "which its prediction changes from the unpruned model's).",
            )
        else:
            button, tip, caption = (
                f"Find what {pattern} breaks",
                f"N:M has no k to scan: evaluate the test set unpruned and under {pattern}, and show the images "
                "it breaks (right -> wrong) and those it fixes",
                f"<b>What does {pattern} break?</b> N:M has no k to scan: the test set is evaluated unpruned and "
                f"under {pattern}, and the samples right unpruned and wrong under it are shown first, then those "
                "it fixes.",
            )
        self.strip.describe_run(button, tip)
        if self.scan is None:
            self.caption.setText(caption)

    # -- clicks and session ---------------------------------------------------------------------
    def send_image(self, image: int) -> None:
        """The test image goes to the drawing pad, if the pad can show it (a 28x28 grey image)."""
        if self.scan is not None and self.thumbnails.sends_to_pad:
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
        self._say_what_run_does()
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

    def _fit_grid(self) -> None:
        """Room for a thumbnail and its two caption lines whole, in presenter mode's 18 pt too: the
        widest "class -> class" of the scan's class names (up to WIDEST_CAPTION) and "at k = 100%"."""
        metrics = self.list_view.fontMetrics()
        whens = WHEN_WORDS
        if isinstance(self.scan, FlipSet):  # FlipSet.break_words' second lines at their widest
            whens = (f"wrong -> right under {self.scan.pattern}", "wrong either way", "right either way")
        widest = max(metrics.horizontalAdvance(text) for text in whens)
        if self.scan is not None:
            names = [self.scan.class_name(c) for c in range(self.scan.num_classes)]
            longest = max(metrics.horizontalAdvance(name) for name in names)
            widest = max(widest, min(2 * longest + metrics.horizontalAdvance(" -> "), WIDEST_CAPTION))
        self.list_view.setGridSize(QSize(max(THUMB_SIDE, widest) + 14, THUMB_SIDE + 2 * metrics.height() + 12))

    def _apply_font(self) -> None:
        points = point_size(self)
        self._fit_grid()
        style_plot(self.histogram_plot, "breaking k (%)", "test samples", points, self.theme)
        self.histogram_plot.showGrid(x=False, y=True, alpha=self.theme.grid_alpha)
        measure = "agreement" if self.scan is not None and self.scan.against == "unpruned" else "accuracy"
        style_plot(self.curves_plot, "k (%)", f"{measure} (%)", points, self.theme)
