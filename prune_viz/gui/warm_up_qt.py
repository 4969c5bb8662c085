"""Compute the slider's plans ahead, on a thread of their own, for the settings on screen.

A big layer's threshold costs a pass over its bucket index (``core.magnitudes``);
``Pruner.warm_up`` does those passes for every whole-percent k ahead, so a slider
step on the GUI thread is lookups. It is NumPy work only, so it runs beside the
job queue (an evaluation or a sweep is not held up by it) at the jobs' low CPU
priority, and it restarts whenever the settings other than k change.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from prune_viz.core.pruning import PruningConfig
from prune_viz.core.session import Session
from prune_viz.gui.workers import Job

WARM_UP_KIND = "slider warm-up"


class SliderWarmUp(QObject):
    """Keeps ``Pruner.warm_up`` running for the session's settings (k aside) until it is done."""

    ready = Signal(object)  # the PruningConfig whose whole-percent steps are all lookups now

    def __init__(self, session: Session, parent: QObject | None = None):
        super().__init__(parent)
        self.session = session
        self.job: Job | None = None
        self._settings: tuple | None = None  # (model serial, config at k = 0) being warmed or warmed
        session.model_changed.connect(self.restart)
        session.config_changed.connect(self.restart)
        self.restart()  # a session may come with a model already

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    def restart(self, *_) -> None:
        """Warm the session's current settings up, unless that is already running or done."""
        model, config = self.session.model, self.session.config
        settings = (self.session.model_serial, config.with_k(0.0))
        if settings == self._settings:
            return
        self.stop()
        self._settings = settings
        if model is None or not model.pruner.needs_warm_up(config):
            return
        pruner = model.pruner
        job = Job(lambda task: pruner.warm_up(config, task), WARM_UP_KIND, self)
        job.succeeded.connect(lambda done: self._on_done(job, config, done))
        self.job = job
        job.start()

    def stop(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.job = None
        self._settings = None

    def _on_done(self, job: Job, config: PruningConfig, done: int) -> None:
        if job is self.job:
            self.job = None
            if done:  # 0: the scores it needed were forgotten meanwhile (the settings moved on)
                self.ready.emit(config)
