"""Display controls: window/level (numeric entry, presets, invert) and the view (layout, zoom, cursor).

Every control writes to :class:`viewer.state.ViewerState` and redraws from its signals, like the
plane views; buttons are bound to the main window's actions (one action, many buttons), so the menu,
the shortcut and the button can never disagree.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from viewer.display import WINDOW_PRESET_TIPS, WINDOW_PRESETS, window_levels
from viewer.state import ViewerState

CUSTOM_TEXT = "Custom"


class ImagePanel(QWidget):
    """Window/level and view controls.

    Attributes
    ----------
    preset_combo : QComboBox
        The presets of :data:`viewer.display.WINDOW_PRESETS` plus "Custom" (shown, not chosen).
    level_spin, width_spin, low_spin, high_spin : QDoubleSpinBox
        Window centre and width, and the same window as its lowest and highest displayed values.
    invert_checkbox : QCheckBox
    """

    def __init__(self, state: ViewerState, parent=None):
        super().__init__(parent)
        self.state = state
        self.setObjectName("ImagePanel")

        box = QGroupBox("Window / level")
        grid = QGridLayout(box)
        grid.setContentsMargins(6, 4, 6, 6)
        grid.setVerticalSpacing(4)
        self.preset_combo = QComboBox()
        for key, text in WINDOW_PRESETS.items():
            self.preset_combo.addItem(text, key)
            self.preset_combo.setItemData(
                self.preset_combo.count() - 1, WINDOW_PRESET_TIPS[key], Qt.ItemDataRole.ToolTipRole
            )
        self.preset_combo.addItem(CUSTOM_TEXT, None)
        self.preset_combo.setToolTip(WINDOW_PRESET_TIPS["neonatal_t2"])
        self.level_spin, self.width_spin = _spin("Window centre"), _spin("Window width")
        self.low_spin, self.high_spin = (
            _spin("Lowest displayed intensity (black)"),
            _spin("Highest displayed intensity (white)"),
        )
        self.invert_checkbox = QCheckBox("Invert greyscale (I)")
        grid.addWidget(QLabel("Preset"), 0, 0)
        grid.addWidget(self.preset_combo, 0, 1, 1, 3)
        grid.addWidget(QLabel("Level"), 1, 0)
        grid.addWidget(self.level_spin, 1, 1)
        grid.addWidget(QLabel("Width"), 1, 2)
        grid.addWidget(self.width_spin, 1, 3)
        grid.addWidget(QLabel("Min"), 2, 0)
        grid.addWidget(self.low_spin, 2, 1)
        grid.addWidget(QLabel("Max"), 2, 2)
        grid.addWidget(self.high_spin, 2, 3)
        grid.addWidget(self.invert_checkbox, 3, 0, 1, 4)
        hint = QLabel("Right-drag on any plane: left-right = width, up-down = level.")
        hint.setObjectName("HintLabel")
        hint.setWordWrap(True)
        grid.addWidget(hint, 4, 0, 1, 4)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)

        self.view_box = QGroupBox("View")
        self.view_grid = QGridLayout(self.view_box)
        self.view_grid.setContentsMargins(6, 4, 6, 6)
        self.view_grid.setVerticalSpacing(4)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(8)
        layout.addWidget(box)
        layout.addWidget(self.view_box)
        layout.addStretch(1)

        self.preset_combo.activated.connect(self._on_preset_chosen)
        # keyboard tracking is off: valueChanged comes on Enter, focus loss and the step arrows
        self.level_spin.valueChanged.connect(
            lambda _v: state.set_window(self.level_spin.value(), self.width_spin.value())
        )
        self.width_spin.valueChanged.connect(
            lambda _v: state.set_window(self.level_spin.value(), self.width_spin.value())
        )
        self.low_spin.valueChanged.connect(self._on_range_edited)
        self.high_spin.valueChanged.connect(self._on_range_edited)
        self.invert_checkbox.toggled.connect(state.set_invert)
        state.scan_changed.connect(self._on_scan_changed)
        state.window_changed.connect(self._on_window_changed)
        state.invert_changed.connect(self._on_invert_changed)
        self._on_scan_changed(state.scan)

    def add_view_actions(self, rows) -> None:
        """Buttons bound to actions, ``rows`` = list of lists of QAction (None leaves a gap)."""
        for r, actions in enumerate(rows):
            for c, action in enumerate(actions):
                if action is None:
                    continue
                button = QToolButton()
                button.setDefaultAction(action)
                button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
                button.setSizePolicy(button.sizePolicy().Policy.Expanding, button.sizePolicy().Policy.Fixed)
                self.view_grid.addWidget(button, r, c)

    # -- controls -> state -------------------------------------------------------------------------
    def _on_preset_chosen(self, index: int) -> None:
        key = self.preset_combo.itemData(index)
        if key is not None:
            self.state.apply_window_preset(key)
        else:
            self._on_window_changed(*self.state.window)  # "Custom" is a description, not a choice

    def _on_range_edited(self, *_args) -> None:
        low, high = self.low_spin.value(), self.high_spin.value()
        if high > low:
            self.state.set_window(0.5 * (low + high), high - low)
        else:
            self._on_window_changed(*self.state.window)  # refuse an empty range: show the window again

    # -- state -> controls -------------------------------------------------------------------------
    def _on_scan_changed(self, scan) -> None:
        self.setEnabled(scan is not None)
        if scan is None:
            return
        data = scan.volume.data
        lo, hi = float(data.min()), float(data.max())
        span = max(hi - lo, 1e-6)
        decimals = 0 if span >= 100 else (2 if span >= 1 else 4)
        spins = (self.level_spin, self.low_spin, self.high_spin, self.width_spin)
        for spin in spins:
            spin.blockSignals(True)  # changing the range clamps the value: that is not the reader's choice
            spin.setDecimals(decimals)
            spin.setSingleStep(span / 100)
            if spin is self.width_spin:
                spin.setRange(span * 1e-3, 4 * span)
            else:
                spin.setRange(lo - 2 * span, hi + 2 * span)
            spin.blockSignals(False)
        self._on_window_changed(*self.state.window)

    def _on_window_changed(self, level: float, width: float) -> None:
        low, high = window_levels(level, width)
        for spin, value in (
            (self.level_spin, level),
            (self.width_spin, width),
            (self.low_spin, low),
            (self.high_spin, high),
        ):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        key = self.state.matching_preset()
        index = self.preset_combo.findData(key) if key is not None else self.preset_combo.count() - 1
        self.preset_combo.blockSignals(True)
        self.preset_combo.setCurrentIndex(index)
        self.preset_combo.blockSignals(False)

    def _on_invert_changed(self, invert: bool) -> None:
        self.invert_checkbox.blockSignals(True)
        self.invert_checkbox.setChecked(invert)
        self.invert_checkbox.blockSignals(False)


def _spin(tip: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setToolTip(tip)
    spin.setKeyboardTracking(False)
    spin.setAccelerated(True)
    spin.setMinimumWidth(70)
    return spin
