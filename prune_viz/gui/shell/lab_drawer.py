"""The lab's pages (the drawing pad, the flip gallery) docked under the heatmap, and shown whole.

A lab page in the Experiments dock gets the height it needs at its width, so its text is never cut
and it never scrolls. When the window has no height for the heatmap and the page together (presenter
mode at 1280x720, under a lesson's bar), the page takes the heatmap's place, like a drawer pulled over
it: the heatmap gives way to a handle whose button pushes the drawer back (closing the panel does too),
and a window made tall enough shows both again. The window calls ``fit`` when its size, the panel or
the bars above it change.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QPushButton,
    QSizePolicy,
    QStyle,
    QTabWidget,
    QToolBar,
    QWidget,
)
from superqt import QElidingLabel

from prune_viz.gui.shell.arrangement import HEATMAP_MIN_SIZE
from prune_viz.gui.views.pictures import least_height

NO_LIMIT = 16_777_215  # QWIDGETSIZE_MAX
TITLE_GUESS = 24  # a dock's title bar, before it is laid out
STEADY = 30  # pixels: the heatmap comes back only with this much room to spare
HANDLE_TEXT = "The lab panel is open over the heatmap."
SHOW_HEATMAP = "Show the heatmap"


class DrawerHandle(QFrame):
    """What is left of the heatmap while a lab page covers it: a line saying so and a button back."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QElidingLabel(HANDLE_TEXT)  # shortens in a narrow window rather than widening it
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.button = QPushButton(f"\u25bc {SHOW_HEATMAP}")
        self.button.setToolTip("Close the lab panel and show the heatmap again")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 2, 8, 2)
        row.addWidget(self.label, 1)
        row.addWidget(self.button)


class LabDrawer(QObject):
    """Gives the Experiments dock the height a lab page shown in it needs, and lets the page cover the
    heatmap when both do not fit (``covering``). It never sets a minimum size, which would make the
    window grow past the size asked for: the page's scroll area is the last resort."""

    covering_changed = Signal(bool)

    def __init__(
        self,
        window,
        dock: QDockWidget,
        panel: QTabWidget,
        pages: tuple[QWidget, ...],
        heatmap: QWidget,
        canvas: QWidget,
        handle: DrawerHandle,
        centre: QWidget,
    ):
        super().__init__(window)
        self.window = window
        self.dock, self.panel, self.pages = dock, panel, pages
        self.heatmap, self.canvas, self.handle, self.centre = heatmap, canvas, handle, centre
        self.covering = False
        self._fitting = False
        self._queued = False
        handle.hide()
        handle.button.clicked.connect(self.close)
        dock.visibilityChanged.connect(self.fit)
        dock.topLevelChanged.connect(self.fit)
        panel.currentChanged.connect(self.fit)
        panel.installEventFilter(self)  # its resizes (few): the page's height depends on its width
        for page in pages:  # a page that grew (a longer text) may need the dock taller
            panel.scroll_of(page).refitted.connect(self.fit)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Resize and not self._queued:
            self._queued = True
            QTimer.singleShot(0, self, self._fit_queued)  # after the layout that resized it
        return False

    def _fit_queued(self) -> None:
        self._queued = False
        self.fit()

    def showing_page(self) -> QWidget | None:
        """The lab page shown in the docked panel, or None (the dock is closed, floating or on another tab)."""
        if self.dock.isHidden() or self.dock.isFloating():
            return None
        page = self.panel.currentWidget()
        return page if page in self.pages else None

    def close(self) -> None:
        """Push the drawer back: close the panel, and the heatmap shows again."""
        if self.covering:
            self.dock.hide()

    def fit(self, *_args) -> None:
        if self._fitting or not shiboken6.isValid(self.window):
            return
        self._fitting = True
        try:
            self._fit()
        finally:
            self._fitting = False

    def dock_height_needed(self) -> int:
        """The Experiments dock's height for the lab page shown whole (0 when no lab page is shown)."""
        page = self.showing_page()
        if page is None:
            return 0
        scroll = self.panel.widget(self.panel.currentIndex())  # the page's scroll area
        viewport = scroll.maximumViewportSize().height()
        if self.dock.isVisible() and 0 < viewport < self.dock.height():  # the title, tabs and frames as laid out
            chrome = self.dock.height() - viewport
        else:
            chrome = self.panel.tabBar().sizeHint().height() + 2 * frame(self.panel) + TITLE_GUESS
        return least_height(page) + chrome

    def _fit(self) -> None:
        needed = self.dock_height_needed()
        heatmap = self._heatmap_height() + separator(self.window)
        column = self._column_height()
        # a little more room to give the heatmap back than to take it: a text a line longer or shorter
        # does not make the heatmap come and go
        cover = needed > 0 and heatmap + needed > column - (STEADY if self.covering else 0)
        if cover != self.covering:
            self._set_covering(cover)
        if needed and not cover:  # the page whole, and the heatmap at least its floor
            height = min(max(self.dock.height(), needed), column - heatmap)
            if height != self.dock.height():
                self.window.resizeDocks([self.dock], [height], Qt.Orientation.Vertical)

    def _heatmap_height(self) -> int:
        """The least height of the heatmap's place with its matrix as tall as outside presenter mode:
        beside a lab page the heatmap keeps that, or gives way."""
        shortfall = max(0, HEATMAP_MIN_SIZE[1] - self.canvas.minimumHeight())  # (presenter mode lowers it)
        return least_height(self.heatmap) + shortfall

    def _column_height(self) -> int:
        """The height between the bars above and below the docks and the centre."""
        window = self.window
        height = window.height() - window.menuBar().sizeHint().height()
        if not window.statusBar().isHidden():
            height -= window.statusBar().sizeHint().height()
        for bar in window.findChildren(QToolBar):
            if not bar.isHidden() and not bar.isFloating() and window.toolBarArea(bar) in TOP_AND_BOTTOM:
                height -= toolbar_height(bar, window.width())
        return height

    def _set_covering(self, cover: bool) -> None:
        self.covering = cover
        self.heatmap.setVisible(not cover)
        self.handle.setVisible(cover)
        # the centre keeps no more height than the handle's: the dock under it takes the rest
        self.centre.setMaximumHeight(self.handle.sizeHint().height() if cover else NO_LIMIT)
        # the window lays its docks and centre out again once the dock's own hiding is done: laid out
        # during it, the centre could stay at the handle's height until the next resize
        QTimer.singleShot(0, self, self._lay_out_window)
        self.covering_changed.emit(cover)

    def _lay_out_window(self) -> None:
        if shiboken6.isValid(self.window):
            self.window.layout().invalidate()


TOP_AND_BOTTOM = (Qt.ToolBarArea.TopToolBarArea, Qt.ToolBarArea.BottomToolBarArea)


def toolbar_height(bar: QToolBar, width: int) -> int:
    """A toolbar's height at ``width``, for a wrapped text in it too (the step bar), even before the
    toolbar has laid it out (its size hint is then its empty height)."""
    height = bar.sizeHint().height()
    for widget in bar.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly):
        if widget.hasHeightForWidth():  # (hidden until the toolbar lays it out)
            height = max(height, widget.heightForWidth(width) + 2 * bar.layout().contentsMargins().top())
    return height


def separator(window: QWidget) -> int:
    return window.style().pixelMetric(QStyle.PixelMetric.PM_DockWidgetSeparatorExtent)


def frame(widget: QWidget) -> int:
    """A frame's width around a tab widget's pages, as the style draws it."""
    return widget.style().pixelMetric(QStyle.PixelMetric.PM_DefaultFrameWidth)
