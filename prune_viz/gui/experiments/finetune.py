"""Fine-tune the current pruning with its masks fixed, show accuracy before and after, save the result.

core.finetune trains a clone, so the opened model is never changed; it trains on the session's
data (its training split: ``x_train``/``y_train``, a ``train/`` folder, a Keras data set's training
part; MNIST's are found or downloaded). Where the data has no labels or no training split, or the
model is not a classifier on it, Run is off and says why (core.finetune.finetune_problem). The panel
says which training images were used (often a subset, not the full 60,000), and saving
refuses the opened model's own file.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from prune_viz.core.finetune import DEFAULT_FINETUNE_LEARNING_RATE, finetune_problem
from prune_viz.gui.binding import bind
from prune_viz.gui.errors import show_error
from prune_viz.gui.experiments.base import (
    FINETUNE_KIND,
    KERAS_FILTER,
    JobStrip,
    ask_save_path,
    megabytes,
    write_outcome,
)
from prune_viz.gui.views.colours import MUTED
from prune_viz.gui.window_keys import give_window_shortcuts

DEFAULT_EPOCHS = 3
# the arrows step along 1-2-5 per decade; any value in range can be typed
LEARNING_RATES = tuple(m * 10.0**e for e in range(-6, 0) for m in (1, 2, 5)) + (0.1,)


class LearningRateBox(QDoubleSpinBox):
    """A learning rate, shown as 0.0001 or 1e-05 (no fixed decimals), stepping 1-2-5 per decade."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setDecimals(10)  # so that setValue keeps small rates; the text is textFromValue's
        self.setRange(LEARNING_RATES[0], LEARNING_RATES[-1])
        self.setToolTip("Adam's learning rate: type a number (e.g. 3e-4) or step with the arrows")

    def textFromValue(self, value: float) -> str:
        return f"{value:g}"

    def valueFromText(self, text: str) -> float:
        return float(text)

    def validate(self, text: str, pos: int):
        try:
            value = float(text)
        except ValueError:
            return QValidator.State.Intermediate, text, pos
        state = (
            QValidator.State.Acceptable if self.minimum() <= value <= self.maximum() else QValidator.State.Intermediate
        )
        return state, text, pos

    def stepBy(self, steps: int) -> None:
        nearest = min(range(len(LEARNING_RATES)), key=lambda i: abs(LEARNING_RATES[i] / self.value() - 1))
        self.setValue(LEARNING_RATES[min(max(nearest + steps, 0), len(LEARNING_RATES) - 1)])


class FinetunePanel(QWidget):
    kind = FINETUNE_KIND
    open_requested = Signal(object)  # Path of the saved fine-tuned model

    def __init__(self, session, jobs, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.result = None
        self.saved_path: Path | None = None
        self.open_after_save = False  # "Open in prune-viz" asked for a file name first
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 100)
        self.epochs.setValue(DEFAULT_EPOCHS)
        self.learning_rate = LearningRateBox()
        self.learning_rate.setValue(DEFAULT_FINETUNE_LEARNING_RATE)
        give_window_shortcuts(self.epochs, self.learning_rate)
        self.config_label = QLabel()
        self.config_label.setWordWrap(True)
        self.strip = JobStrip(jobs, "Fine-tune")
        self.strip.run_button.setToolTip("Retrain the surviving weights (Adam); pruned weights stay exactly zero")
        self.data_label = QLabel()
        self.data_label.setWordWrap(True)
        self.accuracy_label = QLabel()
        self.accuracy_label.setWordWrap(True)
        self.accuracy_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.save_button = QPushButton("Save fine-tuned model...")
        self.open_button = QPushButton("Open in prune-viz")

        epochs = QHBoxLayout()
        epochs.addWidget(self.epochs)
        epochs.addWidget(QLabel("epochs over the session's training images"), 1)
        form = QFormLayout()
        form.addRow("Pruning:", self.config_label)
        form.addRow("Epochs:", epochs)
        form.addRow("Learning rate:", self.learning_rate)
        results = QFormLayout()
        results.addRow("Trained on:", self.data_label)
        results.addRow("Accuracy:", self.accuracy_label)
        save = QHBoxLayout()
        save.addWidget(self.save_button)
        save.addWidget(self.open_button)
        save.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(form)
        layout.addWidget(self.strip)
        layout.addLayout(results)
        layout.addLayout(save)
        layout.addStretch(1)

        self.strip.run_button.clicked.connect(self.run)
        self.save_button.clicked.connect(self.choose_save_path)
        self.open_button.clicked.connect(self.open_in_window)
        self.strip.busy_changed.connect(lambda _busy: self._refresh())
        bind(self, session.model_changed, self._on_model_changed)
        bind(self, session.config_changed, self._on_config_changed)
        bind(self, session.data_changed, self._refresh_availability)
        bind(self, session.evaluation_changed, self._refresh_availability)
        self._on_model_changed(session.model)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._refresh_availability()  # the data may have been read since: its labels and splits are known

    def problem(self) -> str | None:
        """Why the open model cannot be fine-tuned on the session's data (the core's rules), or None."""
        session = self.session
        if session.model is None:
            return None
        baseline = session.baseline()  # the task an evaluation found on this data, if any
        return session.evaluation_problem or finetune_problem(session.data, baseline.result.task if baseline else None)

    def _refresh_availability(self, *_args) -> None:
        self.strip.set_unavailable(self.problem())
        self._refresh()

    def run(self):
        """Fine-tune the current settings in a job; returns the Job (None without a model)."""
        from prune_viz.core.finetune import finetune

        session = self.session
        if session.model is None or self.strip.busy or self.strip.unavailable is not None:
            return None
        opened, config, epochs = session.model, session.config, self.epochs.value()
        learning_rate = self.learning_rate.value()
        preprocessing = session.preprocessing

        def job(task):
            task.progress(0.0, "Reading the training data")
            data = session.load_data(task.sub(0.0, 0.03), need_training=True)
            return finetune(
                opened,
                config,
                data,
                epochs=epochs,
                learning_rate=learning_rate,
                preprocessing=preprocessing,
                task=task.sub(0.03, 1.0),
            )

        return self.strip.start(
            job, self.kind, "Fine-tuning", lambda result, o=opened: self.show_result(result, o), "fine-tune the model"
        )

    def show_result(self, result, opened) -> None:
        if opened is not self.session.model:
            return  # the model was replaced while it trained
        self.result = result
        self.saved_path = None
        tune = result.metadata["fine_tune"]
        full = "" if tune["trained_on_full_training_set"] else " <b>(not the full 60,000-image training set)</b>"
        self.data_label.setText(
            f"{tune['trained_on']}{full} from {tune['data_source']}: {tune['train_images']:,} images for training, "
            f"{tune['validation_images']:,} held out to pick the best epoch ({tune['best_epoch']} of "
            f"{tune['epochs']}); {tune['optimizer']}, batch {tune['batch_size']}, seed {tune['seed']}"
        )
        test_images = result.metadata.get("test_images", 0)
        self.accuracy_label.setText(
            f"unpruned {result.unpruned_accuracy * 100:.2f}%, pruned <b>{result.accuracy_before * 100:.2f}%</b> "
            f"before fine-tuning, <b>{result.accuracy_after * 100:.2f}%</b> after "
            f"({(result.accuracy_after - result.accuracy_before) * 100:+.2f} points)<br>"
            f"loss {result.loss_before:.4f} \u2192 {result.loss_after:.4f} on {test_images:,} test images; "
            f"{result.pruned_weights:,} pruned weights held at exactly zero"
        )
        self.strip.message.setText(
            f"Fine-tuned {result.config.describe()} at learning rate "
            f"{tune['learning_rate']:g} in {result.fit.seconds:.1f} s."
        )
        self._refresh()

    # -- saving ------------------------------------------------------------------------------------
    def choose_save_path(self) -> None:
        if self.result is None or self.session.model is None:
            return
        source = Path(self.session.model.loaded.path)
        config = self.result.config
        name = f"{source.stem}-{config.file_tag}-finetuned.keras"
        path = ask_save_path(self, "Save the fine-tuned model", name, KERAS_FILTER, ".keras")
        if path is not None:
            self.save_to(path)

    def save_to(self, path):
        """Write the fine-tuned model (with its metadata) to ``path`` in a job; never the opened file."""
        from prune_viz.core.files import check_writable
        from prune_viz.core.io import save_keras_with_metadata

        if self.result is None or self.session.model is None or self.strip.busy:
            return None
        source = self.session.model.loaded.path
        try:
            check_writable(path, force=True, protect=(source,))
        except Exception as exc:
            self.error_box = show_error(self, exc, "save the fine-tuned model")
            return None
        result = self.result
        start = time.time()

        def job(task):
            task.progress(0.1, f"Writing {Path(path).name}")
            return save_keras_with_metadata(result.model, path, result.metadata, force=True, protect=(source,))

        return self.strip.start(
            job,
            "save-finetuned",
            "Saving",
            self._on_saved,
            "save the fine-tuned model",
            cancelled_text=lambda: f"Saving cancelled: {write_outcome(path, start)}.",
        )

    def _on_saved(self, path: Path) -> None:
        self.saved_path = path
        self.strip.progress.setValue(1000)
        self.strip.message.setText(f"Saved {path} ({megabytes(path.stat().st_size)}).")
        self._refresh()
        if self.open_after_save:
            self.open_after_save = False
            self.open_requested.emit(path)

    def open_in_window(self) -> None:
        """Open the fine-tuned model in the window: from its file, saving it first if it has none."""
        if self.saved_path is not None:
            self.open_requested.emit(self.saved_path)
        elif self.result is not None:
            self.open_after_save = True
            self.choose_save_path()

    def unsaved_result(self) -> str | None:
        """What closing would lose: the fine-tuned model, unless it was saved."""
        if self.result is None or self.saved_path is not None:
            return None
        return f"The fine-tuned model ({self.result.config.describe()}, {self.result.accuracy_after * 100:.2f}%)"

    # -- session ---------------------------------------------------------------------------------
    def _on_model_changed(self, _opened) -> None:
        self.result = None
        self.saved_path = None
        self.data_label.setText("-")
        self.accuracy_label.setText("-")
        self.strip.message.setText("")
        self._refresh_availability()

    def _on_config_changed(self, _config) -> None:
        self._refresh()

    def _refresh(self) -> None:
        session = self.session
        has_model = session.model is not None
        self.strip.run_button.setEnabled(has_model and not self.strip.busy and self.strip.unavailable is None)
        self.save_button.setEnabled(self.result is not None and not self.strip.busy)
        self.open_button.setEnabled(self.result is not None and not self.strip.busy)
        self.open_button.setToolTip(
            f"Open {self.saved_path.name} in this window"
            if self.saved_path is not None
            else "Save the fine-tuned model and open it in this window"
            if self.result is not None
            else "Fine-tune first"
        )
        if not has_model:
            self.config_label.setText("-")
            return
        text = f"{session.config.describe()} (the current settings), masks fixed"
        if self.result is not None and self.result.config != session.config:
            text += (
                f"<br><span style='color:{MUTED}'>The result below is for {self.result.config.describe()}; "
                "saving writes that model.</span>"
            )
        self.config_label.setText(text)
