"""The Spectrum lab page (issue 29): the selected tensor's eigenvalue spectral density and singular values,
pruned at the current k beside the original; a table of alpha per tensor; alpha against k from a scan.
The three are tabs of the page, so each has the page's height (a lab panel under the heatmap is short,
and presenter mode's 18 pt text needs room); the tensor chooser and k stay above them. Each tensor's
numbers say their view: its matrix, or a convolution's kernel positions as WeightWatcher cuts it.

Everything is computed by core.spectrum in jobs off the GUI thread and kept in a SpectrumCache per
(model, tensor, settings). A k step shows what the cache has at once; the job for what it lacks is
queued only when the slider has rested for DEBOUNCE_MS, and a newer one stops an older one (latest
wins), so the slider never waits. The page computes only while it is shown. No data is needed, so
it works for a model opened from its weights only.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSplitter, QTabWidget, QVBoxLayout, QWidget

from prune_viz.core.session import CONFIG_FIELDS
from prune_viz.core.spectrum import (
    FEW_EIGENVALUES,
    SCAN_KS,
    SpectrumCache,
    alpha_scan,
    spectra_at,
    spectrum_key,
    view_words,
)
from prune_viz.gui.binding import bind
from prune_viz.gui.experiments.base import JobStrip, number_item, results_table, text_item
from prune_viz.gui.views.pictures import caption_label, is_font_change
from prune_viz.gui.views.spectrum_plots import AlphaScanPlot, EsdPlot, SingularValuesPlot
from prune_viz.gui.workers import Job

SPECTRUM_KIND, SPECTRUM_SCAN_KIND = "spectrum", "spectrum-scan"
DEBOUNCE_MS = 250
# 18 pt in a 1280x720 window's lab panel has room for these; the norms and the rest are in each row's tooltip
COLUMNS = ["tensor", "view", "alpha", "at k", "xmin", "D", "rank\nlost"]
TABS = ("Spectrum", "alpha per tensor", "alpha vs k")
SCAN_DEPENDS_ON = tuple(name for name in CONFIG_FIELDS if name != "k")  # a scan spans k


class SpectrumPage(QWidget):
    """The Spectrum tab of the lab. ``shown`` fires when the spectra of the current settings are all on
    the page (what --screenshot waits for); ``scanned`` when a scan is done."""

    shown = Signal()
    scanned = Signal(object)

    def __init__(self, session, jobs, parent: QWidget | None = None):
        super().__init__(parent)
        self.session, self.jobs = session, jobs
        self.cache = SpectrumCache()
        self.job: Job | None = None  # the job computing the current settings' spectra
        self.job_key = None
        self.rows: dict[str, tuple] = {}  # tensor -> (original, pruned) shown in the table
        self.title = QLabel(
            "<b>Spectrum</b>: the eigenvalues of W<sup>T</sup>W / N and their power-law fit, "
            "<span style='color:#8c8c8c'>original</span> and <span style='color:#0072B2'>pruned at k</span>; "
            "no data needed"
        )
        self.title.setWordWrap(True)
        self.layer_box = QComboBox()
        self.layer_box.setToolTip("The tensor whose spectrum is drawn (also chosen by clicking a row of the table)")
        self.status = QLabel()
        self.status.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("Tensor:"))
        top.addWidget(self.layer_box, 1)
        top.addWidget(self.status, 1)
        self.esd = EsdPlot()
        self.singular = SingularValuesPlot()
        pictures = QSplitter(Qt.Orientation.Horizontal)
        pictures.setChildrenCollapsible(False)
        pictures.addWidget(self.esd)
        pictures.addWidget(self.singular)
        self.caption = caption_label()
        spectrum = QWidget()
        spectrum_layout = QVBoxLayout(spectrum)
        spectrum_layout.setContentsMargins(0, 4, 0, 0)
        spectrum_layout.addWidget(pictures, 1)
        spectrum_layout.addWidget(self.caption)
        self.table = results_table(COLUMNS)
        self.table.horizontalHeader().setStretchLastSection(False)  # the numbers beside each other
        self.table.setToolTip(
            "alpha: the power-law exponent of the eigenvalues' tail (from xmin), fitted as WeightWatcher fits it, "
            "unpruned and at k; D: the fit's Kolmogorov-Smirnov distance (a row's own tooltip has its norms). "
            "view: the matrices the numbers are of, the tensor's matrix (rows x columns), or a convolution's kernel "
            "positions (P x (in x out): P matrices of in x out, their eigenvalues pooled, as WeightWatcher does). "
            f"* fewer than {FEW_EIGENVALUES} nonzero eigenvalues: alpha says little."
        )
        self.strip = JobStrip(jobs, "Scan alpha vs k")
        self.strip.run_button.setToolTip(
            f"alpha of every included tensor at k = {', '.join(f'{k:g}' for k in SCAN_KS)}% for the current "
            "method, scope and criterion"
        )
        self.scan_plot = AlphaScanPlot()
        self.scan_note = QLabel()
        self.scan_note.setWordWrap(True)
        self.scan_settings = None
        scan = QWidget()
        scan_layout = QVBoxLayout(scan)
        scan_layout.setContentsMargins(0, 4, 0, 0)
        scan_layout.addWidget(self.strip)
        scan_layout.addWidget(self.scan_note)
        scan_layout.addWidget(self.scan_plot, 1)
        self.views = QTabWidget()  # each picture with the page's height
        self.views.setDocumentMode(True)
        for widget, name in zip((spectrum, self.table, scan), TABS):
            self.views.addTab(widget, name)
        self.views.setTabToolTip(
            1, "alpha, xmin, D, the norms and the rank lost of every tensor; click a row to draw it"
        )
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(top)
        layout.addWidget(self.views, 1)
        self.debounce = QTimer(self)
        self.debounce.setSingleShot(True)
        self.debounce.setInterval(DEBOUNCE_MS)
        self.debounce.timeout.connect(self.compute)
        self.layer_box.currentTextChanged.connect(lambda _name: self.refresh(at_once=True))
        self.table.cellClicked.connect(self._on_row_clicked)
        self.strip.run_button.clicked.connect(self.scan)
        bind(self, session.model_changed, self._on_model)
        bind(self, session.pruning_changed, self._on_pruning)
        self._apply_font()
        self._on_model(session.model)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if is_font_change(event):
            self._apply_font()

    def _apply_font(self) -> None:
        """The table's header in the page's font (presenter type's 18 pt; the style gives headers a smaller one)."""
        self.table.horizontalHeader().setFont(self.font())

    # -- what is shown ------------------------------------------------------------------------------
    @property
    def selected(self) -> str | None:
        return self.layer_box.currentText() or None

    def select(self, name: str | None) -> None:
        """Draw ``name``'s spectrum (the window's selected layer follows here, as does a click in the table)."""
        if name and self.layer_box.findText(name) >= 0:
            self.layer_box.setCurrentText(name)

    def _on_row_clicked(self, row: int, _column: int) -> None:
        item = self.table.item(row, 0)
        if item is not None:
            self.select(item.data(Qt.ItemDataRole.UserRole))
            self.views.setCurrentIndex(0)  # its spectrum

    def key(self, name: str, pruned: bool) -> tuple:
        opened = self.session.model
        config = self.session.config if pruned else None
        return spectrum_key(self.session.model_serial, opened.pruner.scores_version, name, config)

    def _pair(self, name: str) -> tuple | None:
        """(original, pruned) from the cache under the current settings, or None if either is missing."""
        original = self.cache.get(self.key(name, False))
        if original is None:
            return None
        plan = self.session.result.plans.get(name) if self.session.result is not None else None
        if plan is None or plan.pruned == 0:
            return original, original
        pruned = self.cache.get(self.key(name, True))
        return None if pruned is None else (original, pruned)

    def _on_model(self, opened) -> None:
        self.strip.cancel()
        self.jobs.cancel_all(SPECTRUM_KIND)
        self.cache.clear()
        self.rows = {}
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        if opened is not None:
            self.layer_box.addItems([layer.name for layer in opened.layers])
        self.layer_box.blockSignals(False)
        self.scan_plot.clear_scan()
        self.scan_note.setText("")
        self.table.setRowCount(0)
        self.esd.show_spectra(None, None, None)
        self.singular.show_spectra(None, None, None)
        self.caption.setText("")
        self.strip.set_unavailable(None if opened is not None else "Open a model first.")
        self.refresh(at_once=True)

    def _on_pruning(self, _result) -> None:
        self.refresh()
        if self.scan_settings is not None and self._scan_settings() != self.scan_settings:
            self.scan_note.setText("The scan below is of other settings: scan again for these.")

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh(at_once=True)

    def refresh(self, at_once: bool = False) -> None:
        """Show what the cache has for the current settings; queue the job for the rest (after the slider
        rests, unless ``at_once``). Nothing is computed while the page is hidden."""
        opened = self.session.model
        if opened is None or self.session.result is None:
            return
        missing = [name for name in self._order() if self._pair(name) is None]
        self._show_cached()
        if not missing:
            self.status.setText(f"k = {self.session.config.k:g}%")
            self.shown.emit()
            return
        self.status.setText(f"Computing the spectra at k = {self.session.config.k:g}%...")
        if not self.isVisible():
            return
        if at_once:
            self.debounce.stop()
            self.compute()
        else:
            self.debounce.start()

    def _order(self) -> list[str]:
        """Every tensor, the selected one first (it is drawn as soon as it is done)."""
        names = [layer.name for layer in self.session.model.layers]
        if self.selected in names:
            names.remove(self.selected)
            names.insert(0, self.selected)
        return names

    def compute(self) -> None:
        """Queue the job for the current settings' missing spectra; a running one for older settings stops."""
        session = self.session
        if session.model is None or session.result is None or not self.isVisible():
            return
        names = [name for name in self._order() if self._pair(name) is None]
        if not names:
            return
        opened, result, serial = session.model, session.result, session.model_serial
        key = (serial, result.config)
        if self.job is not None and self.job_key == key:
            return  # already on its way

        def work(task):
            return spectra_at(
                opened, result, names, task, self.cache, serial, on_layer=lambda o, p: task.publish((o, p))
            )

        job = Job(work, SPECTRUM_KIND, self)
        job.label = f"Spectra at k = {result.config.k:g}%"
        job.partial.connect(lambda _pair, key=key: self._on_partial(key))
        job.succeeded.connect(lambda _pairs, key=key: self._on_done(key))
        job.failed.connect(lambda exc: self.status.setText(f"Could not compute the spectra: {exc}"))
        job.finished.connect(lambda job=job: self._on_finished(job))
        self.job, self.job_key = job, key
        self.jobs.submit(job, cancel_running_kinds=(SPECTRUM_KIND,))

    def _on_finished(self, job: Job) -> None:
        if self.job is job:
            self.job, self.job_key = None, None

    def _current(self, key) -> bool:
        return key == (self.session.model_serial, self.session.config)

    def _on_partial(self, key) -> None:
        if self._current(key):
            self._show_cached()

    def _on_done(self, key) -> None:
        if self._current(key):
            self.refresh(at_once=True)

    def _show_cached(self) -> None:
        """The table rows and the selected tensor's pictures from the cache (missing ones as '...')."""
        opened = self.session.model
        k = self.session.config.k
        self.table.setRowCount(len(opened.layers))
        for row, layer in enumerate(opened.layers):
            pair = self._pair(layer.name)
            shown = self.rows.get(layer.name)
            if pair is not None and shown is not None and shown[0] is pair[0] and shown[1] is pair[1]:
                continue
            self.rows[layer.name] = pair
            self._fill_row(row, layer, pair)
        pair = self._pair(self.selected) if self.selected else None
        if pair is None:
            return
        if (self.esd.shown[0] is not pair[0]) or (self.esd.shown[1] is not pair[1]):
            self.esd.show_spectra(*pair, k)
            self.singular.show_spectra(*pair, k)
            self.caption.setText(describe(*pair, k))

    def _fill_row(self, row: int, layer, pair) -> None:
        name = text_item(layer.name + ("*" if pair is not None and pair[1].few else ""))
        name.setData(Qt.ItemDataRole.UserRole, layer.name)
        self.table.setItem(row, 0, name)
        self.table.setItem(row, 1, text_item(view_words(layer)))
        if pair is None:
            for column in range(2, len(COLUMNS)):
                self.table.setItem(row, column, number_item("..."))
            return
        original, pruned = pair
        values = (
            number(original.fit.alpha, 3),
            number(pruned.fit.alpha, 3),
            number(pruned.fit.xmin, 3, "g"),
            number(pruned.fit.ks_distance, 3),
            str(pruned.rank_loss),
        )
        tip = row_tooltip(original, pruned)
        name.setToolTip(tip)
        for column, text in enumerate(values, start=2):
            item = number_item(text)
            item.setToolTip(tip)
            self.table.setItem(row, column, item)

    # -- the scan ---------------------------------------------------------------------------------
    def _scan_settings(self):
        return tuple(getattr(self.session.config, name) for name in SCAN_DEPENDS_ON)

    def scan(self) -> Job | None:
        """alpha of the included tensors at every k of SCAN_KS (a job with progress and Cancel)."""
        session = self.session
        if session.model is None or self.strip.busy:
            return None
        self.scan_plot.clear_scan()
        opened, config, serial = session.model, session.config, session.model_serial
        self.scan_settings = self._scan_settings()
        self.scan_note.setText(f"For {config.describe(with_k=False)}")

        def work(task):
            return alpha_scan(opened, config, SCAN_KS, None, task, self.cache, serial, on_point=task.publish)

        return self.strip.start(
            work,
            SPECTRUM_SCAN_KIND,
            "Spectrum scan",
            self.scanned.emit,
            "scan the spectra",
            on_partial=self.scan_plot.add_point,
        )


def number(value: float, digits: int, style: str = "f") -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}{style}}"


def row_tooltip(original, pruned) -> str:
    """Everything the core says of a tensor's spectrum at k, for its row of the table."""
    view = (
        f"{original.slices} kernel positions of {original.slice_shape[0]} x {original.slice_shape[1]}, "
        "their eigenvalues pooled (as WeightWatcher cuts a convolution)"
        if original.slices > 1
        else f"its matrix, {original.shape[0]} x {original.shape[1]}"
    )
    return (
        f"{pruned.name}: the spectrum of {view}\n"
        f"alpha {number(original.fit.alpha, 3)} unpruned, {number(pruned.fit.alpha, 3)} at k; "
        f"xmin {number(pruned.fit.xmin, 4, 'g')}; D {number(pruned.fit.ks_distance, 3)}; "
        f"tail {pruned.fit.tail} of {len(pruned.eigenvalues)} eigenvalues\n"
        f"spectral norm {number(pruned.spectral_norm, 4)}; stable rank {number(pruned.stable_rank, 2)}; "
        f"lambda max {number(pruned.lambda_max, 4, 'g')}; {pruned.rank_loss} zero; "
        f"{pruned.sparsity:.1%} of the weights zero"
    )


def describe(original, pruned, k: float) -> str:
    """The alpha readout under the pictures: the tensor and its view, alpha before and at k, the fit's xmin,
    D and tail; the key to the pictures' lines. Short: in presenter type it has three lines at most."""
    if pruned.problem:
        return f"<b>{original.name}</b>: {pruned.problem}"
    if original.slices > 1:
        view = f"{original.slices} kernel positions of {original.slice_shape[0]} x {original.slice_shape[1]}"
    else:
        view = f"matrix {original.shape[0]} x {original.shape[1]}"
    text = f"<b>{original.name}</b>, {view}: alpha {number(original.fit.alpha, 2)}"
    if pruned is not original:
        text += f", at k = {k:g}% {number(pruned.fit.alpha, 2)}"
    text += (
        f"; xmin {number(pruned.fit.xmin, 3, 'g')}, D {number(pruned.fit.ks_distance, 3)}, "
        f"tail {pruned.fit.tail} of {len(pruned.eigenvalues)}"
    )
    if pruned.rank_loss:
        text += f", {pruned.rank_loss} zero"
    if pruned.few:
        text += f" (under {FEW_EIGENVALUES}: alpha says little)"
    return text + ". Dashed: the fit from xmin; σ: singular values."
