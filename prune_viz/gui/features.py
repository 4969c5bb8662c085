"""What the main window lends the features it installs (the experiments dock, the lab, the lessons).

A feature gets the window's menus by key and adds its entries where the window keeps room for them,
registers the docks, actions and panels others ask for by key, and reports errors through the
window's reporter. It never sets attributes on the window, finds a menu by its visible text or
calls the window's private methods.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum, auto
from typing import Protocol

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu


class Menu(Enum):
    FILE = auto()
    PRUNING = auto()
    VIEW = auto()
    EXPERIMENTS = auto()
    HELP = auto()


class Dock(Enum):
    EXPERIMENTS = auto()


class Action(Enum):
    """The features' actions that other features, the window or tests look up."""

    SWEEP = auto()
    COMPARE = auto()
    EXPERIMENTS_WINDOW = auto()
    EXPORT = auto()
    EXPORT_COMPACT = auto()
    SAVE_LESSON = auto()
    LESSON_STEPS = auto()


@dataclass(frozen=True)
class PanelHandle:
    """How a lesson shows or hides one of the window's panels, and asks whether it is shown."""

    show: Callable[[bool], None]
    is_shown: Callable[[], bool]


class Drawing(Protocol):
    """A drawing a lesson saves and restores (the lab's pad)."""

    def strokes(self) -> list: ...

    def set_strokes(self, strokes: list) -> None: ...


# (exception, what was being done, context): one error dialog, e.g. "Could not open model.keras"
ErrorReporter = Callable[[BaseException, str, str], None]


@dataclass(eq=False)
class WindowFeatures:
    """The window's registry for its features: menus by key (features' entries go before
    ``entries_before[menu]``, or at the end), docks, actions and lesson panels by key, a drawing a
    lesson keeps, and the error reporter."""

    window: QMainWindow
    report_error: ErrorReporter
    menus: dict[Menu, QMenu] = field(default_factory=dict)
    entries_before: dict[Menu, QAction | None] = field(default_factory=dict)
    docks: dict[Dock, QDockWidget] = field(default_factory=dict)
    actions: dict[Action, QAction] = field(default_factory=dict)
    panels: dict[str, PanelHandle] = field(default_factory=dict)  # by the name a lesson file uses
    drawing: Drawing | None = None

    def add_menu(self, key: Menu, title: str, before: Menu | None = None) -> QMenu:
        """A new menu on the window's menu bar, before the ``before`` menu (else last)."""
        bar = self.window.menuBar()
        menu = QMenu(title, bar)
        if before in self.menus:
            bar.insertMenu(self.menus[before].menuAction(), menu)
        else:
            bar.addMenu(menu)
        self.menus[key] = menu
        return menu

    def add_action(
        self, menu: Menu, text: str, slot, shortcut: str | None = None, tip: str = "", key: Action | None = None
    ) -> QAction:
        """An entry in ``menu``'s features' place whose shortcut works whichever dock has focus;
        registered under ``key`` if given."""
        action = QAction(text, self.window)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.menus[menu].insertAction(self.entries_before.get(menu), action)
        self.window.addAction(action)
        if key is not None:
            self.actions[key] = action
        return action

    def add_separator(self, menu: Menu) -> None:
        """A separator in ``menu``'s features' place, after the entries added so far."""
        self.menus[menu].insertSeparator(self.entries_before.get(menu))

    def register_panel(self, name: str, show: Callable[[bool], None], is_shown: Callable[[], bool]) -> None:
        """Let lessons show or hide a panel by ``name``."""
        self.panels[name] = PanelHandle(show, is_shown)
