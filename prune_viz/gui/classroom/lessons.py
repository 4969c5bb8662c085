"""Lessons in the window: File > Save lesson, opening a ``.pvlesson``, and the presenter's step mode.

Step mode walks the lesson's k list: each step sets its k (the slider moves and the
heatmaps prune live), evaluates in the background as usual, and keeps every accuracy
on screen hidden until the presenter presses Space (predict, then reveal). The lesson
names its panels; the window's feature registry keeps them (name -> PanelHandle), and any
panel can join with ``window.features.register_panel``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QFont, QKeySequence, QPainter
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolBar,
    QVBoxLayout,
    QWidget,
)
from superqt import QElidingLabel

from prune_viz.core.errors import USER_FIXABLE
from prune_viz.core.lesson import (
    SUFFIX,
    Lesson,
    LessonError,
    LessonStep,
    data_reference,
    model_sha256,
    read_lesson,
    relative_reference,
    save_lesson,
)
from prune_viz.core.metric_words import headline
from prune_viz.core.pruning import CONFIG_KEYS, PruningConfig
from prune_viz.gui.binding import bind
from prune_viz.gui.features import Action, Dock, Menu

LESSON_FILTER = f"prune-viz lessons (*{SUFFIX});;All files (*)"
REVEAL_KEYS = ("Space", "Right", "PgDown")  # PgDown/PgUp: what presentation clickers send
BACK_KEYS = ("Left", "PgUp")
LEAVE_KEYS = ("Esc",)
HIDDEN_ANSWER = "?"
WIDEST_ANSWER = "100.00%"
REVEAL_TEXTS = ("Start \u25b6", "Reveal \u25b6", "Next \u25b6", "The end")
BACK_TEXTS = ("\u25c0 Back", "\u25c0")  # normal, compact
LEAVE_TEXTS = ("Leave steps", "Leave")
MIN_TEXT_WIDTH = 200  # the title and the note wrap down to this width
BAR_COLOUR = "#fff4d6"  # a pale yellow that says "presenting", apart from the panels


class AnswerLabel(QLabel):
    """The hidden or revealed accuracy, in a box as large as the widest answer at its font."""

    def steady(self) -> None:
        metrics = self.fontMetrics()
        self.setFixedSize(metrics.horizontalAdvance(WIDEST_ANSWER) + 8, metrics.height())

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self.steady()


class StepBar(QFrame):
    """The presenter's bar: which step and its k, the teacher's note, the hidden or revealed accuracy, and
    the step buttons.

    The title and the note wrap in the width left of a column of fixed width (the accuracy above the
    buttons), and the bar asks for the height its text needs at its width (a toolbar never asks a
    wrapped label for it), so it never widens the window and nothing is cut. The title reads the same
    before and after the reveal, and the accuracy and the buttons keep their width whatever they say, so
    nothing moves when the accuracy is revealed. Compact (presenter mode), the line of key hints is left
    out: the buttons' tooltips and the status bar say them."""

    reveal_clicked = Signal()
    back_clicked = Signal()
    leave_clicked = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("stepBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # so arrows reach the step keys, not a spin box
        self.compact = False
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        bold = QFont()  # bold only: the size follows the window's (presenter mode's 18 pt)
        bold.setBold(True)
        self.heading.setFont(bold)
        self.note = QLabel()
        self.note.setWordWrap(True)
        for label in (self.heading, self.note):  # they wrap: the window's width is theirs, never the reverse
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            label.setMinimumWidth(MIN_TEXT_WIDTH)
        self.answer = AnswerLabel(HIDDEN_ANSWER)
        big = self.answer.font()
        big.setPointSizeF(big.pointSizeF() * 2.2)
        big.setBold(True)
        self.answer.setFont(big)
        self.answer.base_point_size = big.pointSizeF()  # presenter mode scales from this
        self.answer.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.hint = QElidingLabel()
        self.hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.back_button = QPushButton(BACK_TEXTS[0])
        self.reveal_button = QPushButton(REVEAL_TEXTS[0])
        self.leave_button = QPushButton(LEAVE_TEXTS[0])
        self.back_button.setToolTip("The step before (\u2190, Page Up)")
        self.leave_button.setToolTip("Leave the steps (Esc)")
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for button in (self.back_button, self.reveal_button, self.leave_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space must not click a focused button
            buttons.addWidget(button)
        text = QVBoxLayout()
        text.setContentsMargins(0, 0, 0, 0)
        text.setSpacing(2)
        text.addWidget(self.heading)
        text.addWidget(self.note)
        text.addWidget(self.hint)
        text.addStretch(1)
        answer_column = QVBoxLayout()
        answer_column.setContentsMargins(0, 0, 0, 0)
        answer_column.addWidget(self.answer, 0, Qt.AlignmentFlag.AlignRight)
        answer_column.addLayout(buttons)
        answer_column.addStretch(1)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 10, 6)
        row.setSpacing(16)
        row.addLayout(text, 1)
        row.addLayout(answer_column)
        self.back_button.clicked.connect(self.back_clicked)
        self.reveal_button.clicked.connect(self.reveal_clicked)
        self.leave_button.clicked.connect(self.leave_clicked)
        self._steady()

    def set_compact(self, compact: bool) -> None:
        """Presenter mode: the key hints are left out and Back and Leave say less (their tooltips and the
        status bar say the keys), so the title and the note have the width."""
        self.compact = compact
        self.hint.setVisible(not compact)
        self.back_button.setText(BACK_TEXTS[compact])
        self.leave_button.setText(LEAVE_TEXTS[compact])
        self.refit()

    def set_reveal_text(self, text: str, tooltip: str) -> None:
        self.reveal_button.setText(text)
        self.reveal_button.setToolTip(tooltip)

    def _steady(self) -> None:
        """The Reveal button as wide as its widest text, whatever it says now (the accuracy keeps its own)."""
        self.answer.steady()
        shown = self.reveal_button.text()
        widths = []
        for text in REVEAL_TEXTS:
            self.reveal_button.setText(text)
            widths.append(self.reveal_button.sizeHint().width())
        self.reveal_button.setText(shown)
        self.reveal_button.setMinimumWidth(max(widths))

    def refit(self) -> None:
        """Ask the toolbar again for the height the texts need now (a new step, font or width)."""
        self.updateGeometry()

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(hint.width(), self._height(hint.width()))

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(hint.width(), self._height(hint.width()))

    def _height(self, fallback_width: int) -> int:
        """The height the wrapped texts need at the bar's width (at ``fallback_width`` before it has one)."""
        width = self.width() if self.testAttribute(Qt.WidgetAttribute.WA_Resized) else fallback_width
        return self.heightForWidth(max(width, 1))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.updateGeometry()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._steady()
            self.updateGeometry()

    def paintEvent(self, event) -> None:
        # painted here, not by a style sheet (which stops presenter mode's larger font reaching the
        # labels) nor a palette (which the toolbar's own replaces)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(BAR_COLOUR))
        painter.end()
        super().paintEvent(event)


def describe_step(step: LessonStep, config: PruningConfig) -> str:
    """The step's pruning in words, e.g. "weight pruning, k = 60%", "2:4 (N:M) pruning", "4x4 block
    pruning, k = 50%" (``config``: the settings the step shows)."""
    if not config.uses_k:
        return f"{config.pattern} (N:M) pruning"
    name = f"{config.pattern} block" if config.method == "block" else config.method
    return f"{name} pruning, k = {step.k:g}%"


class LessonController(QObject):
    """Opens and saves lessons for a MainWindow and runs its step mode."""

    warned = Signal(str)  # the lesson's model is not the file it was saved with
    step_changed = Signal(int)  # index of the step now shown (-1: ready to start)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.session = window.session
        self.lesson_path: str | None = None
        self.title = ""
        self.steps: list[LessonStep] = []
        self.index = -1  # the step shown; -1 before the first
        self.start_config = PruningConfig()  # the settings before the first step: steps inherit what they do not name
        self.active = False
        self.revealed = False
        self.reveal_waiting = False  # Reveal was pressed before the evaluation finished
        self.answer = None  # the EvaluationRecord of the step shown, once evaluated
        self.last_warning: str | None = None
        self._disabled_actions: list[QAction] = []

        self.bar = StepBar()
        self.toolbar = QToolBar("Lesson steps", window)
        self.toolbar.setObjectName("lessonSteps")
        self.toolbar.setMovable(False)
        self.toolbar.setContentsMargins(0, 0, 0, 0)
        self.toolbar.layout().setContentsMargins(0, 0, 0, 0)
        self.toolbar.addWidget(self.bar)
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)
        self.toolbar.hide()
        self.toolbar.toggleViewAction().setVisible(False)
        self.bar.reveal_clicked.connect(self.reveal_or_next)
        self.bar.back_clicked.connect(self.back)
        self.bar.leave_clicked.connect(self.leave)

        self.step_actions = [
            self._key_action("Reveal, then next step", self.reveal_or_next, REVEAL_KEYS),
            self._key_action("Previous step", self.back, BACK_KEYS),
            self._key_action("Leave step mode", self.leave, LEAVE_KEYS),
        ]
        window.controller.shown.connect(self._on_evaluation_shown)
        window.controller.failed.connect(self._on_evaluation_failed)
        bind(self.bar, self.session.model_changed, self._on_model_changed)

    def _on_model_changed(self, _opened) -> None:
        self.leave()  # another model: the steps belonged to the lesson's

    def _key_action(self, text: str, slot, keys) -> QAction:
        action = QAction(text, self.window)
        action.setShortcuts([QKeySequence(key) for key in keys])
        action.triggered.connect(slot)
        action.setEnabled(False)  # only in step mode: elsewhere these keys move sliders and cancel jobs
        self.window.addAction(action)
        return action

    # -- opening and saving -----------------------------------------------------------------------
    def open_lesson(self, path: str | Path, **overrides):
        """Open the lesson at ``path`` as it was saved (``overrides``: method, k, scope from the command
        line); returns the model's open job, or None if it failed at once."""
        path = str(path)
        try:
            lesson = read_lesson(path)
        except LessonError as exc:
            self.window.features.report_error(exc, f"open {Path(path).name}", f"Lesson: {path}")
            self.window.open_failed.emit(exc)
            return None
        self.leave()
        warning = lesson.model_warning(path)
        self.session.set_data(data_path=lesson.data_path(path), preprocessing=lesson.preprocessing)
        # every setting the lesson saved (PruningConfig.from_dict read them), the layers apart
        config = {name: getattr(lesson.config, name) for name in CONFIG_KEYS}
        if lesson.included is not None:
            config["included"] = lesson.included
        config.update(overrides)
        job = self.window.open_path(str(lesson.model_path(path)), **config)
        if job is not None:
            job.succeeded.connect(lambda _opened: self._show_lesson(path, lesson, warning))
        return job

    def _show_lesson(self, path: str, lesson: Lesson, warning: str | None) -> None:
        self.lesson_path, self.title, self.steps = path, lesson.title, list(lesson.steps)
        for name, handle in self.window.features.panels.items():
            handle.show(name in lesson.panels)
        draw = self.window.features.drawing
        if lesson.drawings and draw is not None:
            draw.set_strokes(lesson.drawings[0])
        name = Path(path).name
        self.window.setWindowTitle(f"{lesson.title or name} - {self.window.windowTitle()}")
        self.last_warning = warning
        if warning:
            self.window.statusBar().showMessage(warning, 15000)
            self.warned.emit(warning)
        if self.steps:
            self.start()

    def capture(self, path: str | Path) -> Lesson:
        """The window's state as a Lesson to be saved at ``path``."""
        if self.session.model is None or self.window.model_path is None:
            raise LessonError("Open a model before saving a lesson.")
        config, model = self.session.config, self.window.model_path
        order = [layer.name for layer in self.session.model.layers]
        draw = self.window.features.drawing
        strokes = draw.strokes() if draw is not None else []
        data = self.session.data_path
        return Lesson(
            model=relative_reference(model, path),
            model_sha256=model_sha256(model),
            config=replace(config, included=frozenset()),
            included=[name for name in order if name in config.included],
            data=data_reference(data, path) if data else None,  # a Keras name as keras:NAME
            preprocessing=self.session.preprocessing,
            panels=[name for name, handle in self.window.features.panels.items() if handle.is_shown()],
            drawings=[[[list(map(float, point)) for point in stroke] for stroke in strokes]] if strokes else [],
            steps=list(self.steps),
            title=self.title,
        )

    def save(self, path: str | Path, force: bool = False) -> bool:
        """Write the window's state as a lesson; False (with a message box) if it cannot."""
        opened = self.session.model.loaded.path if self.session.model is not None else None
        try:
            save_lesson(self.capture(path), path, force=force, protect=(opened,) if opened is not None else ())
        except USER_FIXABLE as exc:
            self.window.features.report_error(exc, f"save the lesson {Path(path).name}", "")
            return False
        self.window.statusBar().showMessage(f"Saved the lesson {path}.", 6000)
        return True

    def choose_and_save(self) -> None:
        start = str(Path(self.lesson_path).parent) if self.lesson_path else ""
        path, _ = QFileDialog.getSaveFileName(self.window, "Save a lesson", start, LESSON_FILTER)
        if path:
            chosen = path
            path = path if path.endswith(SUFFIX) else path + SUFFIX
            self.save(path, force=path == chosen)  # the dialog asked before replacing only the name it saw

    # -- step mode ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Show the step bar, ready for the first step (Space starts it)."""
        if not self.steps or self.session.model is None:
            self.window.statusBar().showMessage("This lesson has no k steps to walk through.", 6000)
            return
        self.active, self.index, self.revealed, self.answer = True, -1, False, None
        self.start_config = self.session.config
        self._take_keys(True)
        self._conceal(False)
        self._show_bar()  # before the bar shows: the window makes room for the text it has then
        self.toolbar.show()
        self.bar.setFocus()
        self.step_changed.emit(self.index)

    def toggle(self) -> None:
        self.leave() if self.active else self.start()

    def leave(self) -> None:
        if not self.active:
            return
        self.active = False
        self._take_keys(False)
        self._conceal(False)
        self.toolbar.hide()
        self._give_k_the_keys()
        QTimer.singleShot(0, self, self._give_k_the_keys)  # again after the focus moves that hiding the bar sets off

    def _give_k_the_keys(self) -> None:
        """After the steps, arrows and Page Up/Down move k: the slider has the focus (not the bar gone)."""
        if not self.active:
            self.window.controls.slider.setFocus(Qt.FocusReason.OtherFocusReason)

    def go_to(self, index: int) -> None:
        step = self.steps[index]
        self.index, self.revealed, self.reveal_waiting, self.answer = index, False, False, None
        self._conceal(True)
        # the slider follows and the heatmaps prune live
        self.session.configure(k=step.k, **self.settings_at(index))
        self.window.controller.request()
        self._show_bar()
        self.step_changed.emit(index)

    def settings_at(self, index: int) -> dict:
        """The method and patterns at step ``index``: each the step's own, or the latest one named
        before it, or the lesson's before the first step (going back restores them too)."""
        settings = {name: getattr(self.start_config, name) for name in ("method", "nm", "block")}
        for step in self.steps[: index + 1]:
            settings.update({name: getattr(step, name) for name in settings if getattr(step, name) is not None})
        return settings

    def reveal_or_next(self) -> None:
        if not self.active:
            return
        if self.index < 0:
            self.go_to(0)
        elif not self.revealed:
            if self.answer is not None:
                self.reveal()
            else:
                self.reveal_waiting = True
                self._show_bar()
        elif self.index + 1 < len(self.steps):
            self.go_to(self.index + 1)

    def back(self) -> None:
        if self.active and self.index > 0:
            self.go_to(self.index - 1)

    def reveal(self) -> None:
        self.revealed, self.reveal_waiting = True, False
        self._conceal(False)
        self._show_bar()
        if self.answer is not None:
            self.window.statusBar().showMessage(
                f"{headline(self.answer.result)} ({self.answer.result.score_name}) for "
                f"{self.answer.config.describe()}.",
                8000,
            )

    @property
    def concealed(self) -> bool:
        return self.active and self.index >= 0 and not self.revealed

    def _on_evaluation_shown(self, value) -> None:
        record, _baseline = value
        if not self.active or self.index < 0 or not self.session.is_current(record):
            return
        self.answer = record
        if self.reveal_waiting:
            self.reveal()
        else:
            if self.concealed:  # the window has just put the accuracy in the status bar
                self.window.statusBar().showMessage("Evaluated: press Space to reveal the accuracy.")
            self._show_bar()

    def _on_evaluation_failed(self, _exc) -> None:
        if self.active and self.index >= 0:
            self.reveal_waiting = False
            self.bar.answer.setText("!")
            self.bar.hint.setText("The evaluation failed (see the message); fix the data, then press F5.")

    def _conceal(self, hide: bool) -> None:
        """Hide every place the window shows an accuracy: the result, per digit, the curve."""
        self.window.evaluation.result_view.set_concealed(hide)
        self.window.result_tabs.setVisible(not hide)

    def _take_keys(self, on: bool) -> None:
        """Step keys on; the window's other actions on the same keys off meanwhile (no ambiguity)."""
        ours = {QKeySequence(key) for key in (*REVEAL_KEYS, *BACK_KEYS, *LEAVE_KEYS)}
        if on:
            self._disabled_actions = [
                a
                for a in self.window.actions()
                if a not in self.step_actions and a.isEnabled() and any(s in ours for s in a.shortcuts())
            ]
        for action in self._disabled_actions:
            action.setEnabled(not on)
        if not on:
            self._disabled_actions = []
        for action in self.step_actions:
            action.setEnabled(on)

    def _show_bar(self) -> None:
        bar, count = self.bar, len(self.steps)
        if self.index < 0:
            bar.heading.setText(f"{self.title} \u2014 {count} steps" if self.title else f"{count} steps")
            bar.note.setText(
                "Press Space to start: each step sets k, the class predicts the accuracy, Space reveals it."
            )
            bar.answer.setText("")
            bar.answer.setToolTip("")
            bar.set_reveal_text(REVEAL_TEXTS[0], "Start the first step (Space, \u2192, Page Down)")
            bar.hint.setText("Space/\u2192: start   Esc: leave steps")
            bar.back_button.setEnabled(False)
            bar.refit()
            return
        step = self.steps[self.index]
        # the same title before and after the reveal: the answer's place asks the question
        bar.heading.setText(f"Step {self.index + 1} of {count}: {describe_step(step, self.session.config)}")
        bar.note.setText(step.note)
        bar.back_button.setEnabled(self.index > 0)
        last = self.index + 1 == count
        if self.revealed:
            record = self.answer
            bar.answer.setText(headline(record.result) if record is not None else "")
            bar.answer.setToolTip("The accuracy at this step's k, on the test set")
            if last:
                bar.set_reveal_text(REVEAL_TEXTS[3], "This was the last step (Esc leaves the steps)")
            else:
                bar.set_reveal_text(REVEAL_TEXTS[2], "The next step (Space, \u2192, Page Down)")
            bar.reveal_button.setEnabled(not last)
            bar.hint.setText("Esc: leave steps" if last else "Space/\u2192: next step   \u2190: back   Esc: leave")
        else:
            bar.answer.setText(HIDDEN_ANSWER)
            bar.answer.setToolTip("What will the accuracy be? Space reveals it.")
            bar.set_reveal_text(REVEAL_TEXTS[1], "Show the accuracy (Space, \u2192, Page Down)")
            bar.reveal_button.setEnabled(True)
            waiting = (
                "evaluating; it shows as soon as it is ready"
                if self.reveal_waiting
                else ("evaluated" if self.answer is not None else "evaluating")
            )
            bar.hint.setText(
                f"What will the accuracy be? Press Space to reveal ({waiting})   \u2190: back   Esc: leave"
            )
        bar.refit()


def install_lessons(window) -> LessonController:
    """Add lesson saving, the example lesson and step mode to a MainWindow, through its feature
    registry; returns the controller."""
    from prune_viz.resources import example_lesson_path

    features = window.features
    lessons = LessonController(window)
    experiments = features.docks.get(Dock.EXPERIMENTS)
    if experiments is not None:
        features.register_panel("experiments", experiments.setVisible, experiments.isVisible)

    features.add_action(
        Menu.FILE,
        "Save &lesson...",
        lessons.choose_and_save,
        "Ctrl+S",
        "Save the model, pruning, data, panels and steps as a .pvlesson to open in class",
        key=Action.SAVE_LESSON,
    )
    example = example_lesson_path()
    if example is not None:
        features.add_action(
            Menu.FILE,
            "Open the &example lesson",
            lambda: window.open_path(str(example)),
            tip="A first class on pruning, with the demo model",
        )
    features.add_separator(Menu.FILE)
    features.add_action(
        Menu.VIEW,
        "Lesson &steps (predict, then reveal)",
        lessons.toggle,
        "Ctrl+L",
        "Walk through the open lesson's k steps; Space reveals each accuracy",
        key=Action.LESSON_STEPS,
    )
    return lessons
