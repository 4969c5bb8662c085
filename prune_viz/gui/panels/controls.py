"""Pruning controls bound to the Session: method, criterion, unit mode, scope, the k% slider (with
N:M's N and M, and the block size, beside it), the layer list, readouts."""

from __future__ import annotations

import html
from contextlib import contextmanager

from PySide6.QtCore import QEvent, QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QRadioButton,
    QSlider,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from prune_viz.core.criteria import LAMP_NOTE
from prune_viz.core.patterns import MAX_BLOCK
from prune_viz.core.pruning import CRITERIA, UNIT_MODES, PruneResult, PruningConfig, PruningError, parse_k
from prune_viz.gui.binding import bind
from prune_viz.gui.errors import show_error
from prune_viz.gui.views.pictures import SteadyCaption
from prune_viz.gui.window_keys import give_window_shortcuts

CRITERION_LABELS = {
    "magnitude": "Magnitude (|w|, unit L2 norm)",
    "random": "Random (seeded baseline)",
    "lamp": "LAMP (layer-adaptive, Lee et al. 2021)",
    "taylor": "Taylor (|w·dL/dw| on training images)",
}
UNIT_MODE_LABELS = {
    "kernel": "Kernel column only",
    "remove": "Remove: column, bias and BN channel",
}


NM_K_NOTE = "k is not used by N:M: it keeps N of every M consecutive inputs of each unit, a fixed pattern."
GUI_MAX_M = 64  # the M spin box's range (the core takes up to patterns.MAX_M)

COMPACT_MARGINS = (6, 4, 6, 4)  # presenter mode: a group box without a title needs little frame


def percent(fraction: float) -> str:
    return f"{fraction * 100:.1f}%"


class PruningControls(QGroupBox):
    """Method, criterion, unit mode, scope, k (slider + spin box, 0-100 step 1), obtained sparsity, Reset."""

    taylor_requested = Signal()  # Taylor was chosen but its scores are not computed for this model and data

    TITLE = "Pruning"

    def __init__(self, session, parent: QWidget | None = None, set_k=None):
        """``set_k(k)`` gives the session a k from the slider or the spin box (the window's
        SliderWarmUp.step, which keeps a cold step off the GUI thread); by default at once."""
        super().__init__(self.TITLE, parent)
        self.session = session
        self.set_k = set_k or (lambda k: session.configure(k=k))
        self.weight_radio = QRadioButton("&Weight: the k% lowest-scoring weights")
        self.unit_radio = QRadioButton("&Unit: the k% lowest-scoring units")
        self.nm_radio = QRadioButton("&N:M: keep N of every M inputs (sparse tensor cores)")
        self.block_radio = QRadioButton("&Block: the k% of blocks with the lowest L2 norm")
        self.n_spin, self.m_spin = QSpinBox(), QSpinBox()
        self.n_spin.setRange(1, GUI_MAX_M - 1)
        self.m_spin.setRange(2, GUI_MAX_M)
        self.n_spin.setToolTip("N: weights kept in every group of M consecutive inputs of a unit")
        self.m_spin.setToolTip("M: the length of a group along each unit's inputs (4 for 2:4)")
        self.block_rows, self.block_cols = QSpinBox(), QSpinBox()
        for spin, what in ((self.block_rows, "rows (inputs)"), (self.block_cols, "columns (units)")):
            spin.setRange(1, MAX_BLOCK)
            spin.setToolTip(f"Block size: {what} of the matrix view")
        self.nm_box, self.block_box = QWidget(), QWidget()  # beside the slider, for their method only
        for box, first, sep, second in (
            (self.nm_box, self.n_spin, ":", self.m_spin),
            (self.block_box, self.block_rows, "x", self.block_cols),
        ):
            row = QHBoxLayout(box)
            row.setContentsMargins(0, 0, 0, 0)
            row.addWidget(QLabel("N:M" if box is self.nm_box else "block"))
            row.addWidget(first)
            row.addWidget(QLabel(sep))
            row.addWidget(second)
        self.k_note = QLabel(NM_K_NOTE)  # with N:M, why the slider is off
        self.k_note.setWordWrap(True)
        self.k_note.setVisible(False)
        self.criterion_combo = QComboBox()
        for criterion in CRITERIA:
            self.criterion_combo.addItem(CRITERION_LABELS[criterion], criterion)
        lamp_note = f"<p>{html.escape(LAMP_NOTE, quote=False)}</p>"  # rich text: a tooltip that wraps
        self.criterion_combo.setItemData(CRITERIA.index("lamp"), lamp_note, Qt.ItemDataRole.ToolTipRole)
        self.criterion_combo.setToolTip(
            f"<p>What ranks the weights (and units): the lowest scores are pruned first.</p>{lamp_note}"
        )
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setToolTip("Seed of the random criterion: the same seed gives the same masks")
        self.unit_mode_combo = QComboBox()
        for mode in UNIT_MODES:
            self.unit_mode_combo.addItem(UNIT_MODE_LABELS[mode], mode)
        self.unit_mode_combo.setToolTip(
            "Kernel: zero the unit's kernel column (with a bias it still outputs a constant).\n"
            "Remove: also zero its bias and its channel of a BatchNormalization right after the layer "
            "(gamma, beta), so it outputs exactly 0 through ReLU."
        )
        self.method_group = QButtonGroup(self)
        for radio in (self.weight_radio, self.unit_radio, self.nm_radio, self.block_radio):
            self.method_group.addButton(radio)
        self.layer_radio = QRadioButton("&Layerwise: k% of each layer")
        self.global_radio = QRadioButton("&Global: k% of the included layers together")
        self.scope_group = QButtonGroup(self)
        self.scope_group.addButton(self.layer_radio)
        self.scope_group.addButton(self.global_radio)

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setSingleStep(1)
        self.slider.setPageStep(10)
        self.slider.setTickInterval(10)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setToolTip("k: percent to prune (arrows: 1, Page Up/Down: 10)")
        self.spin = QSpinBox()
        self.spin.setRange(0, 100)
        self.spin.setSuffix(" %")
        self.spin.setKeyboardTracking(False)
        give_window_shortcuts(self.spin, self.seed_spin)  # Ctrl+E evaluates after typing a k
        self.reset_button = QPushButton("&Reset")
        self.reset_button.setToolTip("Back to k = 0 (the original weights) (Ctrl+0)")
        self.readout = SteadyCaption(on_window=True)  # in a group box, on the window's background
        self.compact = False
        self._reserve_readout()

        k_row = QHBoxLayout()
        k_row.addWidget(QLabel("k"))
        k_row.addWidget(self.slider, 1)
        k_row.addWidget(self.spin)
        k_row.addWidget(self.nm_box)
        k_row.addWidget(self.block_box)
        k_row.addWidget(self.reset_button)
        self.choices_box = QWidget()  # criterion and unit mode (hidden in presenter mode)
        choices = QFormLayout(self.choices_box)
        choices.setContentsMargins(0, 0, 0, 0)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.criterion_combo, 1)
        seed_row.addWidget(QLabel("seed"))
        seed_row.addWidget(self.seed_spin)
        for text, field_widget, buddy in (
            ("&Criterion", seed_row, self.criterion_combo),
            ("Unit &mode", self.unit_mode_combo, self.unit_mode_combo),
        ):
            label = QLabel(text)
            label.setBuddy(buddy)
            choices.addRow(label, field_widget)
        layout = QVBoxLayout(self)
        for radio in (self.weight_radio, self.unit_radio, self.nm_radio, self.block_radio):
            layout.addWidget(radio)
        layout.addWidget(self.choices_box)
        layout.addSpacing(4)
        layout.addWidget(self.layer_radio)
        layout.addWidget(self.global_radio)
        layout.addSpacing(4)
        layout.addLayout(k_row)
        layout.addWidget(self.k_note)
        layout.addWidget(self.readout)
        self.normal_margins = layout.getContentsMargins()

        self.slider.valueChanged.connect(self._on_k)
        self.spin.valueChanged.connect(self._on_k)
        self.weight_radio.toggled.connect(lambda on: on and self.session.configure(method="weight"))
        self.unit_radio.toggled.connect(lambda on: on and self.session.configure(method="unit"))
        self.nm_radio.toggled.connect(lambda on: on and self.session.configure(method="nm"))
        self.block_radio.toggled.connect(lambda on: on and self.session.configure(method="block"))
        self.n_spin.valueChanged.connect(self._on_nm)
        self.m_spin.valueChanged.connect(self._on_nm)
        self.block_rows.valueChanged.connect(self._on_block)
        self.block_cols.valueChanged.connect(self._on_block)
        self.layer_radio.toggled.connect(lambda on: on and self.session.configure(scope="layer"))
        self.global_radio.toggled.connect(lambda on: on and self.session.configure(scope="global"))
        self.criterion_combo.activated.connect(self._on_criterion)
        self.seed_spin.valueChanged.connect(
            lambda seed: self.session.model is not None and self.session.configure(seed=int(seed))
        )
        self.unit_mode_combo.activated.connect(
            lambda _index: (
                self.session.model is not None and self.session.configure(unit_mode=self.unit_mode_combo.currentData())
            )
        )
        self.reset_button.clicked.connect(self.session.reset)
        bind(self, session.config_changed, self._show_config)
        bind(self, session.pruning_changed, self._show_result)
        bind(self, session.model_changed, self._on_model_changed)
        self._show_config(session.config)
        self.setEnabled(session.model is not None)
        if session.result is not None:
            self._show_result(session.result)
        else:
            self.readout.setText("Open a model to prune it.")

    def _on_model_changed(self, opened) -> None:
        self.setEnabled(opened is not None)

    def set_compact(self, compact: bool) -> None:
        """Presenter mode: k and the readout only; method and scope stay in the Pruning menu
        (Ctrl+1 to Ctrl+4), and all the choices are named in the readout's first line."""
        self.compact = compact
        self.setTitle("" if compact else self.TITLE)  # the k slider says what it is
        margins = COMPACT_MARGINS if compact else self.normal_margins
        self.layout().setContentsMargins(*margins)
        for widget in self.choice_widgets():
            widget.setVisible(not compact)
        self._reserve_readout()
        if self.session.result is not None:
            self._show_result(self.session.result)

    def choice_widgets(self) -> list[QWidget]:
        """The method, criterion, unit mode and scope choices (hidden in presenter mode)."""
        return [
            self.weight_radio,
            self.unit_radio,
            self.nm_radio,
            self.block_radio,
            self.choices_box,
            self.layer_radio,
            self.global_radio,
        ]

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._reserve_readout()

    def _reserve_readout(self) -> None:
        """Room for the readout's lines whatever they say, so nothing below it moves as k changes."""
        self.readout.reserve_lines(2 if getattr(self, "compact", False) else 6)

    def _on_k(self, value: int) -> None:
        if not self.session.config.uses_k:  # N:M: a k key (Ctrl+Right...) moves nothing
            value = round(self.session.config.k)
        with QSignalBlocker(self.slider), QSignalBlocker(self.spin):
            self.slider.setValue(value)
            self.spin.setValue(value)
        if self.session.model is not None:
            self.set_k(float(value))

    def _on_nm(self, _value: int) -> None:
        """N and M from their spin boxes: N stays below M (M's change moves N's range)."""
        m = self.m_spin.value()
        with QSignalBlocker(self.n_spin):
            self.n_spin.setMaximum(m - 1)
        if self.session.model is not None:
            self.session.configure(nm=(self.n_spin.value(), m))

    def _on_block(self, _value: int) -> None:
        if self.session.model is not None:
            self.session.configure(block=(self.block_rows.value(), self.block_cols.value()))

    def _on_criterion(self, _index: int) -> None:
        criterion = self.criterion_combo.currentData()
        if self.session.model is None:
            return
        if criterion == "taylor" and not self.session.taylor_ready:
            self._show_config(self.session.config)  # until the scores are computed
            self.taylor_requested.emit()
            return
        self.session.configure(criterion=criterion)

    def _show_config(self, config: PruningConfig) -> None:
        blockers = [
            QSignalBlocker(w)
            for w in (
                self.slider,
                self.spin,
                self.weight_radio,
                self.unit_radio,
                self.layer_radio,
                self.global_radio,
                self.criterion_combo,
                self.seed_spin,
                self.unit_mode_combo,
                self.nm_radio,
                self.block_radio,
                self.n_spin,
                self.m_spin,
                self.block_rows,
                self.block_cols,
            )
        ]
        self.criterion_combo.setCurrentIndex(CRITERIA.index(config.criterion))
        if self.seed_spin.value() != config.seed:  # a spin box given its own value still repaints
            self.seed_spin.setValue(config.seed)
        self.seed_spin.setEnabled(config.criterion == "random")
        self.unit_mode_combo.setCurrentIndex(UNIT_MODES.index(config.unit_mode))
        self.unit_mode_combo.setEnabled(config.method == "unit")
        self.slider.setValue(round(config.k))
        self.spin.setValue(round(config.k))
        radios = {"weight": self.weight_radio, "unit": self.unit_radio, "nm": self.nm_radio}
        radios.get(config.method, self.block_radio).setChecked(True)
        (self.layer_radio if config.scope == "layer" else self.global_radio).setChecked(True)
        self.m_spin.setValue(config.nm[1])
        self.n_spin.setMaximum(config.nm[1] - 1)
        self.n_spin.setValue(config.nm[0])
        self.block_rows.setValue(config.block[0])
        self.block_cols.setValue(config.block[1])
        # N:M is a pattern, not a share: the slider is off, and a line says why
        for widget in (self.slider, self.spin, self.layer_radio, self.global_radio):
            widget.setEnabled(config.uses_k)
        self.k_note.setVisible(not config.uses_k)
        self.nm_box.setVisible(config.method == "nm")
        self.block_box.setVisible(config.method == "block")
        del blockers

    def _show_result(self, result: PruneResult) -> None:
        config = result.config
        included = [layer for layer in result.layers if layer.name in config.included]
        asked = f"k = {config.k:g}% ({config.describe()})" if config.uses_k else config.describe()
        lines = [f"<b>Asked:</b> {asked}"]
        if not included:
            lines.append("<b>No layer is included</b>: tick layers in the list to prune them.")
        else:
            lines.append(
                f"<b>Obtained:</b> {percent(result.included_sparsity())} zero in the "
                f"{len(included)} included layer{'s' if len(included) != 1 else ''}"
            )
        lines.append(
            f"{percent(result.prunable_sparsity)} of all prunable weights "
            f"({result.prunable_zeros:,} / {result.prunable_size:,}), "
            f"{percent(self.session.all_weights_sparsity(result))} of all weights incl. biases"
        )
        if self.session.model is not None:
            share = self.session.model.share
            lines.append(
                f"Prunable: {percent(share.fraction)} of the model's weight-matrix entries"
                + (f"; {len(share.left_out)} layer(s) left out (see the layer list)" if share.left_out else "")
            )
        units, total = result.unit_counts({layer.name for layer in included})
        if config.method == "unit" and total:
            removed = sum(layer.vector_entries for layer in included)
            lines.append(
                f"Units pruned: {units:,} of {total:,}"
                + (f", with {removed:,} bias and BatchNormalization entries zeroed" if removed else "")
            )
        notes = result.pattern_notes()  # N:M: how many tensors are valid, and which input axes are padded
        if notes:
            padded = [layer.name for layer in included if layer.pattern_note]
            lines.append(
                html.escape(notes[0])
                + (f"; padded to a multiple of {config.nm[1]}: {html.escape(', '.join(padded))}" if padded else "")
            )
        if config.criterion == "taylor" and self.session.model is not None and self.session.model.pruner.taylor:
            lines.append(self.session.model.pruner.taylor.description)
        if self.compact:  # presenter mode: what was asked (the method and scope) and what it gave
            obtained = percent(result.included_sparsity()) if included else "nothing"
            lines = [f"<b>{config.describe()}</b>: {obtained} zero"]
        # a layer pruned away takes the accuracy with it: said in words, in presenter mode too
        lines += [f"<b>Warning:</b> {html.escape(warning)}" for warning in result.warnings()]
        self.readout.setText("<br>".join(lines))


class LayerList(QTreeWidget):
    """One row per prunable matrix: include checkbox, kind, shape, zeros, pruned units, and its own k
    (editable: empty follows the slider)."""

    layer_selected = Signal(str)
    COLUMNS = ("Layer", "Kind", "Matrix", "Zero", "Units pruned", "k")
    K_COLUMN = 5
    K_TIP = "Double-click to prune this layer at its own k (0-100); empty follows the slider"
    # rewritten on every k: they only grow to fit (a column sized to its contents would measure
    # every row and repaint the header on each step); a new model sizes them afresh
    STATS_COLUMNS = (3, 4)

    def __init__(self, session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.setColumnCount(len(self.COLUMNS))
        self.setHeaderLabels(self.COLUMNS)
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.SelectedClicked
        )
        self.headerItem().setToolTip(self.K_COLUMN, self.K_TIP)
        for column in range(len(self.COLUMNS)):
            self.header().setSectionResizeMode(
                column,
                QHeaderView.ResizeMode.Interactive
                if column in self.STATS_COLUMNS
                else QHeaderView.ResizeMode.ResizeToContents,
            )
        self.header().setStretchLastSection(False)
        self.setToolTip("Tick a layer to include it in pruning; select it to show it large")
        self.items: dict[str, QTreeWidgetItem] = {}
        self._cells: dict[tuple[str, int], str] = {}  # the stats cells' texts as set
        self._tips: dict[str, str] = {}  # each row's Units pruned tooltip as set
        self._ticked: frozenset | None = None  # the included layers as ticked
        self._widest: dict[int, int] = {}  # pixels of the widest text each stats column has shown
        self.itemChanged.connect(self._on_item_changed)
        self.currentItemChanged.connect(self._on_current_changed)
        bind(self, session.model_changed, self._on_model_changed)
        bind(self, session.config_changed, self._show_included)
        bind(self, session.pruning_changed, self._show_result)
        self._on_model_changed(session.model)

    def _on_model_changed(self, opened) -> None:
        self._cells, self._tips, self._ticked, self._widest = {}, {}, None, {}
        with self._batch(fresh=True):
            self.clear()
            self.items = {}
            non_finite = {found.name: found for found in opened.non_finite_tensors} if opened else {}
            for layer in opened.layers if opened else []:
                item = QTreeWidgetItem([layer.name, layer.kind, f"{layer.rows} x {layer.columns}", "", "", ""])
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEditable)
                item.setToolTip(self.K_COLUMN, self.K_TIP)
                item.setTextAlignment(self.K_COLUMN, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                item.setCheckState(0, Qt.CheckState.Unchecked)
                note = layer.unit_vector_note
                bad = non_finite.get(layer.name)
                item.setToolTip(
                    0,
                    f"{layer.name}: {layer.matrix_label}"
                    + (" (output layer, excluded by default)" if layer.is_output else "")
                    + (
                        f"\nA unit is {layer.unit_definition}."
                        if layer.unit_definition
                        else ("\nNo unit definition: unit pruning leaves it whole." if not layer.units else "")
                    )
                    + (f"\nA unit removed (unit mode 'remove') takes {note} with it." if note else "")
                    + (f"\nNaN or infinite weights: {bad.counts_text()} (drawn magenta)." if bad else ""),
                )
                for col in (3, 4):
                    item.setTextAlignment(col, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.addTopLevelItem(item)
                self.items[layer.name] = item
            share = opened.share if opened else None
            for name, why in share.left_out if share else []:  # listed, greyed, with the reason
                item = QTreeWidgetItem([name, "left out", "", "", "", ""])
                item.setFlags(Qt.ItemFlag.NoItemFlags)
                item.setToolTip(0, f"{name} is not pruned: {why}.")
                item.setToolTip(1, why)
                self.addTopLevelItem(item)
            if share is not None:
                self.setToolTip(
                    "Tick a layer to include it in pruning; select it to show it large.\n"
                    f"These tensors hold {share.describe()}."
                )

    def select(self, name: str) -> None:
        item = self.items.get(name)
        if item is not None and self.currentItem() is not item:
            with QSignalBlocker(self):
                self.setCurrentItem(item)

    def included(self) -> frozenset[str]:
        return frozenset(name for name, item in self.items.items() if item.checkState(0) == Qt.CheckState.Checked)

    @contextmanager
    def _batch(self, fresh: bool = False):
        """Cell changes without item signals; then the stats columns grow to fit a text wider than any
        they showed (``fresh``: fit them exactly, for a new model)."""
        widest = dict(self._widest)
        try:
            with QSignalBlocker(self):
                yield
        finally:
            header = self.header()
            for column in self.STATS_COLUMNS:
                if fresh or self._widest.get(column, 0) > widest.get(column, 0):
                    needed = max(self.sizeHintForColumn(column), header.sectionSizeHint(column))
                    if fresh or needed > header.sectionSize(column):
                        header.resizeSection(column, needed)

    def _set_cell(self, name: str, item: QTreeWidgetItem, column: int, text: str) -> None:
        """Set a stats cell that changed (an unchanged cell is not repainted) and note its width."""
        if self._cells.get((name, column)) != text:
            self._cells[name, column] = text
            item.setText(column, text)
            width = self.fontMetrics().horizontalAdvance(text)
            if width > self._widest.get(column, 0):
                self._widest[column] = width

    def _show_included(self, config: PruningConfig) -> None:
        with QSignalBlocker(self):
            self._tick_included(config)
            self._show_layer_k(config)

    def _show_layer_k(self, config: PruningConfig) -> None:
        for name, item in self.items.items():
            text = f"{config.layer_k[name]:g}" if name in config.layer_k else ""
            if item.text(self.K_COLUMN) != text:
                item.setText(self.K_COLUMN, text)

    def edit(self, index, trigger=None, event=None):
        """Only the k column is edited (Qt's item flags are per row, not per cell)."""
        if trigger is None:
            return super().edit(index)
        if index.column() != self.K_COLUMN:
            return False
        return super().edit(index, trigger, event)

    def layer_k(self) -> dict[str, float]:
        """The ks typed in the k column (checked), by layer; a bad one raises PruningError."""
        found = {}
        for name, item in self.items.items():
            text = item.text(self.K_COLUMN).strip().rstrip("%").strip()
            if text:
                found[name] = parse_k(text)
        return found

    def _tick_included(self, config: PruningConfig) -> None:
        if config.included == self._ticked:
            return
        self._ticked = config.included
        for name, item in self.items.items():
            state = Qt.CheckState.Checked if name in config.included else Qt.CheckState.Unchecked
            if item.checkState(0) != state:
                item.setCheckState(0, state)

    def _show_result(self, result: PruneResult) -> None:
        with self._batch():
            self._tick_included(result.config)
            self._show_layer_k(result.config)
            for stats in result.layers:
                item = self.items.get(stats.name)
                if item is None:
                    continue
                zero = percent(stats.sparsity)
                if stats.valid_nm is not None:  # N:M pruning: the core says whether the tensor is valid N:M
                    pattern = result.config.pattern
                    zero += f" ({pattern})" if stats.valid_nm else f" (not {pattern})"
                self._set_cell(stats.name, item, 3, zero)
                zero_tip = (
                    f"Valid {result.config.pattern}" if stats.valid_nm else f"Not valid {result.config.pattern}"
                ) + (f": {stats.pattern_note}" if stats.pattern_note else "")
                zero_tip = zero_tip if stats.valid_nm is not None else ""
                if self._tips.get((stats.name, 3)) != zero_tip:
                    self._tips[stats.name, 3] = zero_tip
                    item.setToolTip(3, zero_tip)
                self._set_cell(
                    stats.name,
                    item,
                    4,
                    (f"{stats.pruned_units} / {stats.units}" if stats.units else "no units")
                    + (" + bias/BN" if stats.vector_entries else ""),
                )
                tips = [stats.cut_off_warning] if stats.cut_off else []
                if stats.vector_entries:
                    tips.append(
                        f"{stats.vector_entries:,} bias and BatchNormalization entries zeroed with the removed units"
                    )
                tip = "\n".join(tips)
                if self._tips.get(stats.name) != tip:
                    self._tips[stats.name] = tip
                    item.setToolTip(4, tip)

    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if column == self.K_COLUMN and self.session.model is not None:
            try:
                layer_k = self.layer_k()
            except PruningError as exc:
                with QSignalBlocker(self):
                    self._show_layer_k(self.session.config)  # back to what the session has
                self.error_box = show_error(self, exc, "set the layer's own k")
                return
            self.session.configure(layer_k=layer_k)
            with QSignalBlocker(self):
                self._show_layer_k(self.session.config)  # "80 %" becomes "80"
            return
        if column == 0 and self.session.model is not None:
            self._ticked = None  # the user's tick: the boxes are set again from what the session makes of it
            self.session.configure(included=self.included())

    def _on_current_changed(self, current: QTreeWidgetItem | None, _previous) -> None:
        if current is not None:
            self.layer_selected.emit(current.text(0))
