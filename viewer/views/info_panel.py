"""The fourth cell of the 2 × 2 layout: what the cursor points at, and the result at a glance.

Driven by :class:`viewer.state.ViewerState` like the plane views; the numbers come from
:func:`viewer.display.cursor_readout`, the same function the status bar uses. What the result may
show follows :attr:`viewer.state.ViewerState.result_disclosed` (:func:`model.disclosure.may_show_result`):
for an out-of-distribution scan the tile shows the notice, not the probability, and the cursor
readout gives no heatmap value (issue 30).
"""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QFont
from PyQt6.QtWidgets import QFrame, QGridLayout, QLabel, QToolButton, QVBoxLayout

from model.disclosure import suitability_text
from model.record.report import format_probability
from viewer.display import cursor_readout
from viewer.state import ViewerState

HIDDEN_TEXT = "AI result hidden until you record your impression (reader-first mode)"
#: The tile of an out-of-distribution result while "show anyway" is off (the notice says why).
OOD_WITHHELD_TEXT = "Probability and heatmap not shown: Result tab › Show probability and heatmap anyway"
GREY = "color: #9e9e9e;"


def readout_of(state: ViewerState):
    """:class:`viewer.display.Readout` at the state's cursor (None without a scan); a heatmap value
    only while the heatmap may be shown (:attr:`viewer.state.ViewerState.result_disclosed`)."""
    volume = state.volume
    if volume is None:
        return None
    heatmap = state.result.heatmap if state.result_disclosed and state.result.heatmap is not None else None
    return cursor_readout(volume, state.cursor, heatmap, state.head_mask)


class InfoPanel(QFrame):
    """Cursor voxel, world position, intensity, heatmap value, a copy button, and P(injury).

    Attributes
    ----------
    values : dict of QLabel
        ``voxel``, ``world``, ``intensity``, ``heatmap``.
    copy_button : QToolButton
        Bound to the main window's Copy location action (:meth:`set_copy_action`).
    probability_label, flag_label : QLabel
    """

    def __init__(self, state: ViewerState, parent=None):
        super().__init__(parent)
        self.state = state
        self.setObjectName("InfoPanel")
        self.setMinimumSize(160, 160)

        title = QLabel("Cursor")
        title.setObjectName("InfoTitle")
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(3)
        self.values = {}
        for row, (key, text) in enumerate(
            [
                ("voxel", "Voxel (i, j, k)"),
                ("world", "World RAS (mm)"),
                ("intensity", "Intensity"),
                ("heatmap", "Heatmap"),
            ]
        ):
            name = QLabel(text)
            name.setObjectName("DetailName")
            value = QLabel("—")
            value.setObjectName("InfoValue")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(name, row, 0)
            grid.addWidget(value, row, 1)
            self.values[key] = value
        grid.setColumnStretch(1, 1)
        self.copy_button = QToolButton()
        self.copy_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)

        result_title = QLabel("AI result")
        result_title.setObjectName("InfoTitle")
        self.probability_label = QLabel("—")
        big = QFont(self.probability_label.font())
        big.setPointSize(22)
        big.setBold(True)
        self.probability_label.setFont(big)
        self.flag_label = QLabel()
        self.flag_label.setWordWrap(True)
        self.ood_label = QLabel()  # suitability: shown whatever reader-first mode says (issue 30)
        self.ood_label.setObjectName("OODNotice")
        self.ood_label.setWordWrap(True)
        self.ood_label.setStyleSheet("background: #5d4037; color: white; padding: 4px; font-weight: bold;")
        self.ood_label.setVisible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(6)
        layout.addWidget(title)
        layout.addLayout(grid)
        layout.addWidget(self.copy_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addSpacing(10)
        layout.addWidget(result_title)
        layout.addWidget(self.ood_label)
        layout.addWidget(self.probability_label)
        layout.addWidget(self.flag_label)
        layout.addStretch(1)

        signals = (state.scan_changed, state.cursor_changed, state.result_changed, state.reader_changed)
        for signal in (*signals, state.overlay_changed):  # overlay_changed: "show anyway" toggled
            signal.connect(self.refresh)
        self.refresh()

    def set_copy_action(self, action) -> None:
        self.copy_button.setDefaultAction(action)

    def refresh(self, *_args) -> None:
        if not self.isVisible() and self.state.volume is not None:
            return  # hidden in the other layouts: refreshed when shown
        r = readout_of(self.state)
        if r is None:
            for label in self.values.values():
                label.setText("—")
        else:
            self.values["voxel"].setText("(%d, %d, %d)" % r.index_ijk)
            self.values["world"].setText("(%.1f, %.1f, %.1f)" % r.world_mm)
            self.values["intensity"].setText(f"{r.intensity:.4g}")
            if r.heatmap is None:
                self.values["heatmap"].setText("—")
            else:
                self.values["heatmap"].setText(
                    f"{r.heatmap:.3f}" + ("" if r.inside_head else "  (outside the head: not shown)")
                )
        result = self.state.result
        ood = suitability_text(result)
        self.ood_label.setText(ood)
        self.ood_label.setVisible(bool(ood))
        self.probability_label.setStyleSheet(GREY if ood else "")
        if result is None:
            self.probability_label.setText("—")
            self.flag_label.setText("No analysis yet" if self.state.volume is not None else "")
        elif not self.state.result_visible:
            self.probability_label.setText("hidden")
            self.flag_label.setText(HIDDEN_TEXT)
        elif not self.state.result_disclosed:
            self.probability_label.setText("no call")
            self.flag_label.setText(OOD_WITHHELD_TEXT)
        else:
            self.probability_label.setText(format_probability(result.probability))
            self.flag_label.setText(
                f"{result.flag.capitalize()} (threshold {format_probability(result.decision_threshold)}); "
                f"TTA disagreement {100 * result.disagreement:.1f} points"
                + (" (shown anyway: not a call)" if ood else "")
            )

    def showEvent(self, ev):  # noqa: N802 - Qt hook
        super().showEvent(ev)
        self.refresh()
