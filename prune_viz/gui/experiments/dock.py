"""The Experiments dock (sweep, sensitivity, size and speed, fine-tune, compare: one tab each), its menu,
and File > Export pruned model; ``install_experiments`` adds them to a MainWindow."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QMessageBox,
    QScrollArea,
    QTabWidget,
    QWidget,
)

from prune_viz.gui.experiments.compare import ComparePanel
from prune_viz.gui.experiments.export import PrunedModelExporter
from prune_viz.gui.experiments.finetune import FinetunePanel
from prune_viz.gui.experiments.size_speed import SizeSpeedPanel
from prune_viz.gui.experiments.sweep import SensitivityPanel, SweepPanel
from prune_viz.gui.features import Action, Dock, Menu
from prune_viz.gui.workers import JobQueue


class ExperimentsPanel(QTabWidget):
    """Sweep, sensitivity, size and speed, fine-tune, compare: one tab each."""

    def __init__(self, session, jobs: JobQueue, parent: QWidget | None = None):
        super().__init__(parent)
        self.sweep = SweepPanel(session, jobs)
        self.sensitivity = SensitivityPanel(session, jobs)
        self.size_speed = SizeSpeedPanel(session, jobs)
        self.finetune = FinetunePanel(session, jobs)
        self.addTab(self.sweep, "Sweep")
        self.addTab(self.sensitivity, "Per-layer sensitivity")
        self.addTab(self.size_speed, "Size and speed")
        self.compare = ComparePanel(session, jobs)
        self.addTab(self.finetune, "Fine-tune")
        self.addTab(self.compare, "Compare")
        self.exporter: PrunedModelExporter | None = None  # File > Export's, once installed in a window

    def addTab(self, page: QWidget, title: str) -> int:
        """Each page in its own scroll area: a wide page (the comparison's three heatmaps) scrolls
        sideways in a narrow dock instead of widening every tab and squeezing the heatmap."""
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(page)
        return super().addTab(scroll, title)

    def currentWidget(self) -> QWidget | None:
        """The current page itself (not the scroll area holding it)."""
        scroll = super().currentWidget()
        return scroll.widget() if isinstance(scroll, QScrollArea) else scroll

    def setCurrentWidget(self, page: QWidget) -> None:
        for i in range(self.count()):
            scroll = self.widget(i)
            if scroll is page or (isinstance(scroll, QScrollArea) and scroll.widget() is page):
                self.setCurrentIndex(i)
                return

    def unsaved_results(self) -> list[str]:
        """Results computed here and not saved anywhere, which closing or another model would lose."""
        return [
            what
            for what in (self.sweep.unsaved_result(), self.sensitivity.unsaved_result(), self.finetune.unsaved_result())
            if what
        ]


def install_experiments(window) -> ExperimentsPanel:
    """Add the Experiments dock and menu, and File > Export, to a MainWindow through its feature
    registry; returns the panel."""
    features = window.features
    panel = ExperimentsPanel(window.session, window.jobs, window)
    dock = QDockWidget("Experiments", window)
    dock.setObjectName("experiments")
    dock.setWidget(panel)
    # under the heatmaps, so the k slider stays in reach; the heatmap's minimum height keeps it readable,
    # and Experiments > Experiments in a separate window floats the panel instead
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    dock.hide()  # until the user asks for an experiment
    features.docks[Dock.EXPERIMENTS] = dock

    def show_tab(widget: QWidget) -> None:
        """Show an experiment's tab; it starts only when its Run button is pressed."""
        dock.show()
        dock.raise_()
        panel.setCurrentWidget(widget)

    features.add_menu(Menu.EXPERIMENTS, "E&xperiments", before=Menu.HELP)  # Help stays last
    entries = (
        ("Run &sweep", panel.sweep, "Ctrl+R", "Accuracy vs sparsity for every (method, k), plotted live", Action.SWEEP),
        ("Per-layer s&ensitivity", panel.sensitivity, "Ctrl+Shift+R", "Prune one layer at a time across k", None),
        ("Si&ze and speed", panel.size_speed, "Ctrl+M", "File sizes and test-set latency of the current pruning", None),
        ("&Fine-tune...", panel.finetune, "Ctrl+T", "Retrain the surviving weights with the masks fixed", None),
        (
            "&Compare...",
            panel.compare,
            "Ctrl+Shift+C",
            "The current pruning side by side with another setting or another checkpoint",
            Action.COMPARE,
        ),
    )
    for text, page, shortcut, tip, key in entries:
        features.add_action(Menu.EXPERIMENTS, text, lambda _=False, p=page: show_tab(p), shortcut, tip, key)
    menu = features.menus[Menu.EXPERIMENTS]
    separator = menu.addSeparator()
    toggle = dock.toggleViewAction()
    toggle.setText("Show the experiments &panel")
    menu.addAction(toggle)
    features.add_action(
        Menu.EXPERIMENTS,
        "Experiments in a separate &window",
        lambda: (dock.show(), dock.setFloating(not dock.isFloating())),
        tip="Float the experiments panel as its own window (again: back beside the heatmap)",
        key=Action.EXPERIMENTS_WINDOW,
    )
    features.entries_before[Menu.EXPERIMENTS] = separator  # other features' entries (the lab's) go above it

    exporter = PrunedModelExporter(window.session, window.jobs, window)
    panel.exporter = exporter
    exporter.message.connect(lambda text: window.statusBar().showMessage(text, 10000))
    export = features.add_action(
        Menu.FILE,
        "&Export pruned model...",
        lambda: exporter.choose_and_export(compact=False),
        "Ctrl+Shift+X",
        "Write the current pruning as a .keras file, pruned weights stored as zeros",
        key=Action.EXPORT,
    )
    compact = features.add_action(
        Menu.FILE,
        "Export &compacted model (unit pruning)...",
        lambda: exporter.choose_and_export(compact=True),
        tip="Write a smaller .keras file with the pruned units removed",
        key=Action.EXPORT_COMPACT,
    )
    features.add_separator(Menu.FILE)
    features.menus[Menu.FILE].setToolTipsVisible(True)  # a disabled export says why
    exporter.set_actions(export, compact)

    def offer_to_open(result) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "prune-viz",
            f"Exported {result.path}.",
            QMessageBox.StandardButton.Close,
            window,
        )
        open_button = box.addButton("Open in prune-viz", QMessageBox.ButtonRole.AcceptRole)
        open_button.clicked.connect(lambda: window.open_path_asking(result.path))
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()

    exporter.exported.connect(offer_to_open)
    panel.finetune.open_requested.connect(window.open_path_asking)

    panel.sweep.point_added.connect(
        lambda p: window.accuracy_plot.add_sweep_point(p.method, p.scope, p.sparsity_included, p.accuracy)
    )
    panel.sweep.cleared.connect(window.accuracy_plot.clear_sweep)
    return panel
