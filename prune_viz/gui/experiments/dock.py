"""The Experiments dock (sweep, sensitivity, size and speed, fine-tune, compare: one tab each), its menu,
and File > Export pruned model; ``install_experiments`` adds them to a MainWindow."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QTabWidget, QWidget

from prune_viz.gui.experiments.compare import ComparePanel
from prune_viz.gui.experiments.export import PrunedModelExporter
from prune_viz.gui.experiments.finetune import FinetunePanel
from prune_viz.gui.experiments.size_speed import SizeSpeedPanel
from prune_viz.gui.experiments.sweep import SensitivityPanel, SweepPanel
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


def install_experiments(window) -> ExperimentsPanel:
    """Add the Experiments dock and menu, and File > Export, to a MainWindow; returns the panel."""
    panel = ExperimentsPanel(window.session, window.jobs, window)
    dock = QDockWidget("Experiments", window)
    dock.setObjectName("experiments")
    dock.setWidget(panel)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    dock.hide()  # until the user asks for an experiment
    window.experiments_dock = dock

    def show_tab(widget: QWidget) -> None:
        dock.show()
        dock.raise_()
        panel.setCurrentWidget(widget)

    def action(menu, text: str, slot, shortcut: str | None = None, tip: str = "") -> QAction:
        act = QAction(text, window)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setStatusTip(tip)
        act.triggered.connect(slot)
        menu.addAction(act)
        window.addAction(act)  # shortcuts work whichever dock has focus
        return act

    bar = window.menuBar()
    menus = {a.text().replace("&", ""): a for a in bar.actions()}
    menu = bar.addMenu("E&xperiments")
    if "Help" in menus:  # keep Help last
        bar.insertMenu(menus["Help"], menu)
    window.sweep_action = action(menu, "Run &sweep", lambda: (show_tab(panel.sweep), panel.sweep.run()),
                                 "Ctrl+R", "Accuracy vs sparsity for every (method, k), plotted live")
    action(menu, "Per-layer s&ensitivity", lambda: (show_tab(panel.sensitivity), panel.sensitivity.run()),
           "Ctrl+Shift+R", "Prune one layer at a time across k")
    action(menu, "Si&ze and speed", lambda: (show_tab(panel.size_speed), panel.size_speed.run()),
           "Ctrl+M", "File sizes and test-set latency of the current pruning")
    action(menu, "&Fine-tune...", lambda: show_tab(panel.finetune), "Ctrl+T",
           "Retrain the surviving weights with the masks fixed")
    window.compare_action = action(menu, "&Compare...", lambda: show_tab(panel.compare), "Ctrl+Shift+C",
                                   "The current pruning side by side with another setting or another checkpoint")
    menu.addSeparator()
    toggle = dock.toggleViewAction()
    toggle.setText("Show the experiments &panel")
    menu.addAction(toggle)

    exporter = PrunedModelExporter(window.session, window.jobs, window)
    window.exporter = exporter
    exporter.message.connect(lambda text: window.statusBar().showMessage(text, 10000))
    if "File" in menus:
        file_menu = menus["File"].menu()
        before = next((a for a in file_menu.actions() if a.text().replace("&", "").startswith("Save window")), None)
        export = QAction("&Export pruned model...", window)
        export.setShortcut(QKeySequence("Ctrl+Shift+X"))
        export.setStatusTip("Write the current pruning as a .keras file, pruned weights stored as zeros")
        export.triggered.connect(lambda: exporter.choose_and_export(compact=False))
        compact = QAction("Export &compacted model (unit pruning)...", window)
        compact.setStatusTip("Write a smaller .keras file with the pruned units removed")
        compact.triggered.connect(lambda: exporter.choose_and_export(compact=True))
        for act in (export, compact):
            file_menu.insertAction(before, act)  # before=None appends
            window.addAction(act)
        file_menu.insertSeparator(before)
        window.export_action, window.export_compact_action = export, compact

    panel.sweep.point_added.connect(lambda p: window.accuracy_plot.add_sweep_point(
        p.method, p.scope, p.sparsity_included, p.accuracy))
    panel.sweep.cleared.connect(window.accuracy_plot.clear_sweep)
    return panel
