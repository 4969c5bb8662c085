"""The page shown while no model is open: Open buttons, recent models, loading progress."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class StartPage(QWidget):
    open_file_clicked = Signal()
    open_folder_clicked = Signal()
    recent_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        title = QLabel(
            "<h2>prune-viz</h2>Open a Keras model (.keras, .h5) or a TensorFlow SavedModel "
            "folder, or drop one onto this window."
        )
        title.setWordWrap(True)
        open_file = QPushButton("Open model file...")
        open_file.setToolTip("Ctrl+O")
        open_folder = QPushButton("Open SavedModel folder...")
        open_folder.setToolTip("Ctrl+Shift+O")
        open_file.clicked.connect(self.open_file_clicked)
        open_folder.clicked.connect(self.open_folder_clicked)
        self.recent_title = QLabel("<b>Recent models</b>")
        self.recent = QListWidget()
        self.recent.itemActivated.connect(lambda item: self.recent_chosen.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.loading = QLabel()
        self.loading.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)

        buttons = QVBoxLayout()  # stacked: side by side they would widen the window in presenter mode
        buttons.addWidget(open_file)
        buttons.addWidget(open_folder)
        column = QVBoxLayout()
        column.addStretch(1)
        column.addWidget(title)
        column.addLayout(buttons)
        column.addSpacing(12)
        column.addWidget(self.loading)
        column.addWidget(self.progress)
        column.addWidget(self.recent_title)
        column.addWidget(self.recent, 3)
        column.addStretch(1)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addLayout(column, 6)
        outer.addStretch(1)
        self.show_loading(None)

    def set_recent(self, paths: list[str]) -> None:
        self.recent.clear()
        for path in paths:
            item = QListWidgetItem(path)
            item.setData(Qt.ItemDataRole.UserRole, path)
            self.recent.addItem(item)
        self.recent_title.setVisible(bool(paths))
        self.recent.setVisible(bool(paths))

    def show_loading(self, name: str | None, fraction: float = 0.0, message: str = "") -> None:
        """Loading progress for ``name``, or hide it with None."""
        self.loading.setVisible(name is not None)
        self.progress.setVisible(name is not None)
        if name is not None:
            self.loading.setText(f"Opening <b>{name}</b>: {message}")
            self.progress.setValue(int(fraction * 1000))
