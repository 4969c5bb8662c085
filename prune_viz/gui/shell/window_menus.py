"""The main window's menus and their actions (``WindowMenus``, mixed into MainWindow)."""

from __future__ import annotations

from PySide6.QtGui import QAction, QActionGroup, QKeySequence

from prune_viz.gui.binding import bind
from prune_viz.gui.features import Menu
from prune_viz.gui.shell.arrangement import ENLARGE_KEYS, ENLARGEABLE
from prune_viz.gui.shell.opening import ALLOW_LAMBDA_TIP, CUSTOM_OBJECTS_TIP
from prune_viz.gui.views.colours import DIVERGING, HIGH_CONTRAST

EVALUATE_ACTION_TIP = "Accuracy of the current pruning on the MNIST test set"


class WindowMenus:
    """MainWindow's menu bar: File, Pruning, View and Help (a mixin: the actions call the window).
    The menus go into the window's feature registry (``self.features``), with the places where the
    features' entries go: File's above "Save window image", View's after "Presenter mode"."""

    def _action(self, menu, text: str, slot, shortcut=None, checkable: bool = False, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setCheckable(checkable)
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)  # shortcuts work whichever dock has focus
        return action

    def _add_actions(self) -> None:
        menus = self.menuBar()
        file = menus.addMenu("&File")
        self._action(file, "&Open model file...", self.choose_model_file, QKeySequence.StandardKey.Open)
        self._action(file, "Open &SavedModel folder...", self.choose_model_folder, "Ctrl+Shift+O")
        self.recent_menu = file.addMenu("Open &recent")
        self.custom_objects_action = self._action(
            file, "Custom &objects file...", self.choose_custom_objects, tip=CUSTOM_OBJECTS_TIP
        )
        self.forget_custom_objects_action = self._action(
            file, "&Forget custom objects file", self.forget_custom_objects
        )
        self.allow_lambda_action = self._action(
            file, "Let La&mbda layers run their code", self.set_allow_lambda, checkable=True, tip=ALLOW_LAMBDA_TIP
        )
        file.addSeparator()
        self._action(file, "Test data: IDX &folder...", self.evaluation.choose_idx_folder)
        self._action(file, "Test data: .&npz file...", self.evaluation.choose_npz)
        file.addSeparator()
        save_image = self._action(file, "Save window &image...", self.choose_screenshot_path, "Ctrl+Shift+S")
        file.addSeparator()
        self._action(file, "&Quit", self.quit, QKeySequence.StandardKey.Quit)

        prune = menus.addMenu("&Pruning")
        methods = QActionGroup(self)
        self.weight_action = self._action(
            prune, "&Weight pruning", lambda: self.session.configure(method="weight"), "Ctrl+1", checkable=True
        )
        self.unit_action = self._action(
            prune, "&Unit pruning", lambda: self.session.configure(method="unit"), "Ctrl+2", checkable=True
        )
        self.nm_action = self._action(
            prune, "&N:M pruning (a fixed pattern)", lambda: self.session.configure(method="nm"), checkable=True
        )
        self.block_action = self._action(
            prune, "&Block pruning", lambda: self.session.configure(method="block"), checkable=True
        )
        for action in (self.weight_action, self.unit_action, self.nm_action, self.block_action):
            methods.addAction(action)
        prune.addSeparator()
        scopes = QActionGroup(self)
        self.layer_action = self._action(
            prune, "&Layerwise threshold", lambda: self.session.configure(scope="layer"), "Ctrl+3", checkable=True
        )
        self.global_action = self._action(
            prune, "&Global threshold", lambda: self.session.configure(scope="global"), "Ctrl+4", checkable=True
        )
        scopes.addAction(self.layer_action)
        scopes.addAction(self.global_action)
        prune.addSeparator()
        self._action(prune, "k + 1%", lambda: self.step_k(1), "Ctrl+Right")
        self._action(prune, "k - 1%", lambda: self.step_k(-1), "Ctrl+Left")
        self._action(prune, "k + 10%", lambda: self.step_k(10), "Ctrl+Shift+Right")
        self._action(prune, "k - 10%", lambda: self.step_k(-10), "Ctrl+Shift+Left")
        self._action(prune, "&Reset to k = 0", self.session.reset, "Ctrl+0")
        prune.addSeparator()
        self.evaluate_action = self._action(
            prune, "&Evaluate", self.controller.request, ["Ctrl+E", "F5"], tip=EVALUATE_ACTION_TIP
        )
        self._action(prune, "&Cancel evaluation", self.controller.cancel, "Esc")
        self.auto_action = self._action(
            prune,
            "&Auto-evaluate while dragging",
            self.evaluation.auto_check.setChecked,
            "Ctrl+Shift+E",
            checkable=True,
        )
        self.evaluation.auto_check.toggled.connect(self.auto_action.setChecked)
        bind(self, self.session.config_changed, self._sync_config_actions)

        view = menus.addMenu("&View")
        self.presenter_action = self._action(
            view, "&Presenter mode (large text)", self.set_presenter_mode, "Ctrl+Shift+P", checkable=True
        )
        self.contrast_action = self._action(
            view,
            "&High-contrast colours",
            lambda on: self.set_colormap(HIGH_CONTRAST if on else DIVERGING),
            "Ctrl+Shift+H",
            checkable=True,
        )
        self.fullscreen_action = self._action(view, "F&ull screen", self.set_full_screen, "F11", checkable=True)
        enlarge = view.addMenu("&Enlarge one picture")
        for what, keys in zip(ENLARGEABLE, ENLARGE_KEYS, strict=True):
            self._action(
                enlarge,
                what,
                lambda _=False, w=what: self.show_enlarged(w),
                keys,
                tip="Show it alone, filling the window (Esc closes it)",
            )
        view.addSeparator()
        self._action(view, "&Fit heatmap", self.heatmaps.view.fit, "Ctrl+F")
        self._action(view, "&Next layer", lambda: self.step_layer(1), "Alt+Down")
        self._action(view, "&Previous layer", lambda: self.step_layer(-1), "Alt+Up")
        view.addSeparator()
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())

        help_menu = menus.addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", self.show_shortcuts, QKeySequence.StandardKey.HelpContents)
        self._action(help_menu, "&About prune-viz", self.show_about)
        self._sync_config_actions(self.session.config)
        self._sync_open_actions()
        self.features.menus.update({Menu.FILE: file, Menu.PRUNING: prune, Menu.VIEW: view, Menu.HELP: help_menu})
        self.features.entries_before.update({Menu.FILE: save_image, Menu.VIEW: self.contrast_action})
