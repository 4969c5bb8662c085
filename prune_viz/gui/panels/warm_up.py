"""Compute the slider's plans ahead, on a thread of their own, for the settings on screen.

A big layer's threshold costs a pass over its weights (``core.magnitudes``), and
a unit plan a few NumPy calls per layer; ``Pruner.warm_up`` computes every
whole-percent k's plans ahead, so a slider step on the GUI thread is lookups. It
is NumPy work only, so it runs beside the job queue (an evaluation or a sweep is
not held up by it) at the jobs' low CPU priority, and it restarts whenever the
settings other than k change. Until it is done, a slider step whose plans read a
big layer's weights is computed on a thread too (``Pruner.prepare_step``), and
the session takes the k once it is lookups: the window never waits for it.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from superqt.utils import qdebounced

from prune_viz.core.pruning import PruningConfig
from prune_viz.core.session import Session
from prune_viz.gui.binding import bind
from prune_viz.gui.workers import Job

WARM_UP_KIND = "slider warm-up"
STEP_KIND = "slider step"
WARM_UP_DELAY_MS = 300  # after the last settings change: the first paint, and a run of clicks, go first


class SliderWarmUp(QObject):
    """Keeps ``Pruner.warm_up`` running for the session's settings (k aside) until it is done."""

    ready = Signal(object)  # the PruningConfig whose whole-percent steps are all lookups now

    def __init__(self, session: Session, parent: QObject | None = None):
        super().__init__(parent)
        self.session = session
        self.job: Job | None = None
        self._settings: tuple | None = None  # (model serial, config at k = 0) being warmed or warmed
        self._warmed: tuple | None = None  # the settings whose every step is lookups (or cheap)
        self._pending = False
        self.step_job: Job | None = None  # a step's plans being computed ahead
        self._wanted_k: float | None = None  # the k the slider asks for while a step job runs
        self._k_before_step = 0.0  # the session's k when the step jobs began: another k set since wins
        self._start_soon = qdebounced(self.start, timeout=WARM_UP_DELAY_MS, parent=self)
        bind(self, session.model_changed, self._settings_changed)
        bind(self, session.config_changed, self._settings_changed)
        self._settings_changed()  # a session may come with a model already

    @property
    def busy(self) -> bool:
        """True from a settings change until their warm-up is done (or found not needed)."""
        return self._pending or (self.job is not None and self.job.running)

    def _current(self) -> tuple:
        return self.session.model_serial, self.session.config.with_k(0.0)

    def _settings_changed(self, *_) -> None:
        if self._current() != self._settings:
            self.stop()
            self._pending = True
            self._start_soon()

    def step(self, k: float) -> None:
        """Set the session's k: at once when the step is lookups or cheap, else once its plans
        are computed on a thread (the latest k asked for wins; the ones passed meanwhile are skipped)."""
        session = self.session
        model, config = session.model, session.config
        if model is None:
            return
        if self.step_job is None and (self._warmed == self._current() or not model.pruner.step_reads_weights(config)):
            session.configure(k=k)
            return
        self._wanted_k = k
        if self.step_job is None:
            self._k_before_step = config.k
            self._start_step()

    def _start_step(self) -> None:
        config, serial = self.session.config.with_k(self._wanted_k), self.session.model_serial
        pruner = self.session.model.pruner
        job = Job(lambda _task: pruner.prepare_step(config), STEP_KIND, self)
        job.finished.connect(lambda: self._step_done(job, serial, config))
        self.step_job = job
        job.start()

    def _step_done(self, job: Job, serial: int, config: PruningConfig) -> None:
        if job is not self.step_job:
            return  # dropped with the settings it was for
        self.step_job = None
        if (serial, config.with_k(0.0)) != self._current() or self.session.config.k != self._k_before_step:
            self._wanted_k = None  # new settings, or a k set meanwhile by other means (Reset, a lesson)
            return
        if self._wanted_k != config.k:  # the slider moved on meanwhile
            self._start_step()
            return
        self._wanted_k = None
        self.session.configure(k=config.k)

    def start(self) -> None:
        """Warm the session's current settings up now, unless that is already running or done."""
        self._pending = False
        settings = self._current()
        if settings == self._settings:
            return
        self.stop()
        self._settings = settings
        model, config = self.session.model, self.session.config
        if model is None or not model.pruner.needs_warm_up(config):
            self._warmed = settings
            return
        pruner = model.pruner
        job = Job(lambda task: pruner.warm_up(config, task), WARM_UP_KIND, self)
        job.succeeded.connect(lambda done: self._on_done(job, config, done))
        self.job = job
        job.start()

    def stop(self) -> None:
        """Cancel a warm-up that runs or is about to start."""
        self._start_soon.cancel()
        self._pending = False
        if self.job is not None:
            self.job.cancel()
            self.job = None
        if self.step_job is not None:  # a step of the old settings: the session never takes it
            self.step_job.cancel()
            self.step_job = None
        self._wanted_k = None
        self._settings = None

    def _on_done(self, job: Job, config: PruningConfig, done: int) -> None:
        if job is self.job:
            self.job = None
            if done:  # 0: the scores it needed were forgotten meanwhile (the settings moved on)
                self._warmed = self._settings
                self.ready.emit(config)
