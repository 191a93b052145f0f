"""The side panel: analysis progress, the result of the current scan, and the heatmap controls.

The result part shows P(injury) as a percentage, the flag against the model card's threshold and
its indeterminate band, the disagreement of the two test-time-augmentation passes as the
uncertainty, which weights produced it, and the card's intended-use text, which is always visible
while a result is shown. Demonstration weights get a banner. In reader-first mode the result stays
hidden (and the heatmap off) until the reader has recorded an impression; the out-of-distribution
notice does not (whether a scan is suitable is not an AI opinion, issue 30). The PMA entry sits above
the result (:meth:`ResultPanel.set_scan_widget`).

The heatmap controls choose the colormap (perceptually uniform), the threshold below which the map
is transparent, the opacity and contour lines; the colour bar starts at the threshold and is drawn
with the same lookup table as the views (``model.record.report.heatmap_lut``).
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QFont, QImage, QPixmap
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from model.heatmap import HEATMAP_CAPTION, HEATMAP_COLORMAPS, heatmap_lut
from model.record.report import format_probability
from model.vocabulary import DEMONSTRATION_TEXT, Flag
from viewer.panels.ood_notice import OODNotice
from viewer.state import MAX_HEATMAP_THRESHOLD, ViewerState

__all__ = ["ResultPanel", "format_probability", "HEATMAP_CAPTION", "DEMONSTRATION_TEXT"]

IDLE_TEXT = "Press Analyse (Ctrl+R) to estimate P(injury) for this scan."
NO_SCAN_TEXT = "Open a scan (Ctrl+O) to analyse it."
CANCELLED_TEXT = "Analysis cancelled"
HIDDEN_TEXT = (
    "The AI result is ready and hidden until you record your impression "
    "(reader-first mode): Reader > Normal / Injury / Unsure."
)
FLAG_COLOURS = {
    Flag.ABOVE: "#ff8a65",
    Flag.INDETERMINATE: "#ffd54f",
    Flag.BELOW: "#9ccc65",
    Flag.OUT_OF_DISTRIBUTION: "#bcaaa4",  # model.ood_gate flagged the scan; no call
}


class ResultPanel(QWidget):
    """Progress, result and heatmap controls, driven by a :class:`ViewerState`.

    Attributes
    ----------
    probability_label : QLabel
        P(injury), :func:`format_probability`.
    message_label : QLabel
        Idle / cancelled / failed message (shown when no result is).
    intended_use_label, demo_banner : QLabel
    overlay_checkbox : QCheckBox
    opacity_slider : QSlider
        0-100 (%).
    progress_bar : QProgressBar
    cancel_button : QToolButton
        Bound to the main window's Cancel action (:meth:`set_cancel_action`).
    """

    def __init__(self, state: ViewerState, parent=None):
        super().__init__(parent)
        self.state = state
        self.setObjectName("ResultPanel")

        # -- analyse button (bound to the main window's action) --------------------------------
        self.analyse_button = QToolButton()
        self.analyse_button.setObjectName("AnalyseButton")
        self.analyse_button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.analyse_button.setMinimumHeight(34)

        # -- progress ------------------------------------------------------------------------
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setFixedHeight(10)
        self.progress_label = QLabel()
        self.progress_label.setWordWrap(True)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.progress_box = QWidget()
        pl = QVBoxLayout(self.progress_box)
        pl.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.progress_bar, 1)
        row.addWidget(self.cancel_button)
        pl.addLayout(row)
        pl.addWidget(self.progress_label)
        self.progress_box.setVisible(False)

        # -- result --------------------------------------------------------------------------
        self.message_label = QLabel(NO_SCAN_TEXT)
        self.message_label.setWordWrap(True)
        self.message_label.setObjectName("MessageLabel")

        self.demo_banner = QLabel(DEMONSTRATION_TEXT)
        self.demo_banner.setWordWrap(True)
        self.demo_banner.setObjectName("DemoBanner")
        self.demo_banner.setStyleSheet(
            "QLabel { background: #f9a825; color: #1a1a1a; font-weight: bold; padding: 6px; border-radius: 3px; }"
        )

        caption = QLabel("P(injury)")
        caption.setObjectName("ProbabilityCaption")
        self.probability_label = QLabel()
        self.probability_label.setObjectName("ProbabilityLabel")
        big = QFont(self.probability_label.font())
        big.setPointSize(30)
        big.setBold(True)
        self.probability_label.setFont(big)
        self.probability_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.flag_label = QLabel()
        self.flag_label.setWordWrap(True)

        self.details = {}
        self.detail_names = {}
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(2)
        for row_i, (key, title) in enumerate(
            [
                ("identity", "Identity pass"),
                ("flipped", "Left-right flipped pass"),
                ("disagreement", "Uncertainty"),
                ("model", "Model"),
                ("weights", "Weights SHA-256"),
                ("device", "Device, time"),
            ]
        ):
            name = QLabel(title)
            name.setObjectName("DetailName")
            value = QLabel()
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            grid.addWidget(name, row_i, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(value, row_i, 1)
            self.details[key] = value
            self.detail_names[key] = name
        grid.setColumnStretch(1, 1)

        self.intended_use_label = QLabel()
        self.intended_use_label.setWordWrap(True)
        self.intended_use_label.setObjectName("IntendedUse")
        use_box = QGroupBox("Intended use")
        ul = QVBoxLayout(use_box)
        ul.setContentsMargins(6, 4, 6, 6)
        ul.addWidget(self.intended_use_label)

        self.result_box = QWidget()
        rl = QVBoxLayout(self.result_box)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.setSpacing(6)
        rl.addWidget(self.demo_banner)
        rl.addWidget(caption)
        # out-of-distribution notice in place of the call (viewer/panels/ood_notice.py)
        # the two TTA passes and their disagreement give the probability away: hidden with the call
        passes = [w for k in ("identity", "flipped", "disagreement") for w in (self.detail_names[k], self.details[k])]
        self.ood_notice = OODNotice(self.probability_label, self.flag_label, caption, *passes)  # caption: issue 30
        self.ood_notice.show_anyway.toggled.connect(state.set_ood_revealed)  # the heatmap follows the toggle
        rl.addWidget(self.probability_label)
        rl.addWidget(self.flag_label)
        rl.addLayout(grid)
        rl.addWidget(use_box)
        self.result_box.setVisible(False)

        # -- reader's decision (a widget set by the main window goes here) ----------------------
        self.reader_slot = QVBoxLayout()
        self.reader_slot.setContentsMargins(0, 0, 0, 0)
        # -- what qualifies the scan: the PMA entry (set by the main window, issue 30) ---------------
        self.scan_slot = QVBoxLayout()
        self.scan_slot.setContentsMargins(0, 0, 0, 0)

        # -- heatmap controls ----------------------------------------------------------------
        self.overlay_checkbox = QCheckBox("Show heatmap (H)")
        self.colormap_combo = QComboBox()
        self.colormap_combo.addItems(HEATMAP_COLORMAPS)
        self.colormap_combo.setToolTip("Perceptually uniform colormaps (brightness rises with the value)")
        self.threshold_slider = QSlider(Qt.Orientation.Horizontal)
        self.threshold_slider.setRange(0, int(round(100 * MAX_HEATMAP_THRESHOLD)))
        self.threshold_slider.setToolTip("Heatmap values below the threshold are transparent")
        self.threshold_value = QLabel()
        self.threshold_value.setMinimumWidth(36)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setToolTip("Heatmap opacity")
        self.opacity_value = QLabel()
        self.opacity_value.setMinimumWidth(36)
        self.contours_checkbox = QCheckBox("Contour lines at the threshold")
        caption_hm = QLabel(HEATMAP_CAPTION)
        caption_hm.setWordWrap(True)
        caption_hm.setObjectName("HeatmapCaption")
        self.heatmap_caption = caption_hm
        self.heatmap_box = QGroupBox("Heatmap")
        hl = QGridLayout(self.heatmap_box)
        hl.setContentsMargins(6, 4, 6, 6)
        hl.setVerticalSpacing(4)
        hl.addWidget(self.overlay_checkbox, 0, 0, 1, 2)
        hl.addWidget(self.colormap_combo, 0, 2, 1, 2)
        self.colour_bar = QLabel()
        self.colour_bar.setToolTip("Heatmap colours from the threshold (left) to the highest Grad-CAM value (right)")
        self.colour_bar_low = QLabel()
        self.colour_bar_low.setObjectName("DetailName")
        high = QLabel("1.00")
        high.setObjectName("DetailName")
        hl.addWidget(self.colour_bar_low, 1, 0)
        hl.addWidget(self.colour_bar, 1, 1, 1, 2)
        hl.addWidget(high, 1, 3)
        hl.addWidget(QLabel("Threshold"), 2, 0)
        hl.addWidget(self.threshold_slider, 2, 1, 1, 2)
        hl.addWidget(self.threshold_value, 2, 3)
        hl.addWidget(QLabel("Opacity"), 3, 0)
        hl.addWidget(self.opacity_slider, 3, 1, 1, 2)
        hl.addWidget(self.opacity_value, 3, 3)
        hl.addWidget(self.contours_checkbox, 4, 0, 1, 4)
        hl.addWidget(caption_hm, 5, 0, 1, 4)
        hl.setColumnStretch(1, 1)
        hl.setColumnStretch(2, 1)

        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)

        title = QLabel("Second reader")
        tf = QFont(title.font())
        tf.setPointSize(tf.pointSize() + 2)
        tf.setBold(True)
        title.setFont(tf)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(8)
        layout.addWidget(title)
        layout.addWidget(self.analyse_button)
        layout.addWidget(self.progress_box)
        layout.addLayout(self.scan_slot)
        # suitability before the impression, whatever reader-first mode says (issue 30)
        layout.addWidget(self.ood_notice)
        layout.addWidget(self.message_label)
        layout.addWidget(self.result_box)
        layout.addLayout(self.reader_slot)
        layout.addWidget(line)
        layout.addWidget(self.heatmap_box)
        layout.addStretch(1)

        self.overlay_checkbox.toggled.connect(state.set_overlay_visible)
        self.opacity_slider.valueChanged.connect(lambda v: state.set_overlay_opacity(v / 100.0))
        self.threshold_slider.valueChanged.connect(lambda v: state.set_overlay_threshold(v / 100.0))
        self.colormap_combo.currentTextChanged.connect(state.set_overlay_colormap)
        self.contours_checkbox.toggled.connect(state.set_overlay_contours)
        state.overlay_changed.connect(self._on_overlay_changed)
        state.result_changed.connect(self._on_result_changed)
        state.reader_changed.connect(self._on_result_changed)
        state.scan_changed.connect(self._on_scan_changed)
        self._lut_key = None
        self._on_overlay_changed()
        self._on_result_changed(state.result)

    def colormap_names(self) -> list:
        return [self.colormap_combo.itemText(i) for i in range(self.colormap_combo.count())]

    def set_scan_widget(self, widget: QWidget) -> None:
        """Put what qualifies the scan and its result (the PMA entry) above the result (issue 30)."""
        self.scan_slot.addWidget(widget)

    def set_reader_widget(self, widget: QWidget) -> None:
        """Put the reader's decision controls between the result and the heatmap controls."""
        self.reader_slot.addWidget(widget)

    def set_actions(self, analyse_action, cancel_action) -> None:
        """Bind the Analyse and Cancel buttons to the main window's actions (one action, many buttons)."""
        self.analyse_button.setDefaultAction(analyse_action)
        self.analyse_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.cancel_button.setDefaultAction(cancel_action)
        self.cancel_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)

    def set_heatmap_lut(self, lut: np.ndarray) -> None:
        """Show the heatmap colours (RGBA lookup table, (n, 4) uint8) over a grey ramp, as drawn.

        Only the part of the table at and above the threshold is shown, so the bar starts at it.
        """
        start = int(np.ceil(self.state.overlay_threshold * (lut.shape[0] - 1)))
        lut = lut[start:]
        n = lut.shape[0]
        alpha = lut[:, 3:4].astype(float) / 255.0
        grey = np.linspace(40, 200, n)[:, None]
        rgb = (lut[:, :3] * alpha + grey * (1 - alpha)).astype(np.uint8)
        strip = np.ascontiguousarray(np.repeat(rgb[None], 12, axis=0))
        image = QImage(strip.data, n, 12, 3 * n, QImage.Format.Format_RGB888).copy()
        self.colour_bar.setPixmap(QPixmap.fromImage(image))
        self.colour_bar.setScaledContents(True)
        self.colour_bar.setFixedHeight(12)
        self.colour_bar.setMinimumWidth(60)

    # -- progress / messages (called by the main window) ------------------------------------------
    def show_progress(self, fraction: float, message: str) -> None:
        self.progress_box.setVisible(True)
        self.progress_bar.setValue(int(round(100 * max(0.0, min(1.0, fraction)))))
        self.progress_label.setText(message)

    def hide_progress(self) -> None:
        self.progress_box.setVisible(False)
        self.progress_bar.setValue(0)
        self.progress_label.clear()

    def show_message(self, text: str) -> None:
        """Show ``text`` where the result goes (used for idle, cancelled and failed)."""
        self.message_label.setText(text)
        self.message_label.setVisible(True)

    # -- state -> panel ---------------------------------------------------------------------------
    def _on_scan_changed(self, scan) -> None:
        self.show_message(NO_SCAN_TEXT if scan is None else IDLE_TEXT)

    def _on_overlay_changed(self) -> None:
        st = self.state
        value = int(round(100 * st.overlay_opacity))
        threshold = int(round(100 * st.overlay_threshold))
        for widget, setter, v in (
            (self.overlay_checkbox, self.overlay_checkbox.setChecked, st.overlay_visible),
            (self.opacity_slider, self.opacity_slider.setValue, value),
            (self.threshold_slider, self.threshold_slider.setValue, threshold),
            (self.colormap_combo, self.colormap_combo.setCurrentText, st.overlay_colormap),
            (self.contours_checkbox, self.contours_checkbox.setChecked, st.overlay_contours),
        ):
            widget.blockSignals(True)
            setter(v)
            widget.blockSignals(False)
        self.opacity_value.setText(f"{value} %")
        self.threshold_value.setText(f"{st.overlay_threshold:.2f}")
        self.colour_bar_low.setText(f"{st.overlay_threshold:.2f}")
        key = (st.overlay_colormap, st.overlay_threshold)
        if key != self._lut_key:
            self._lut_key = key
            self.set_heatmap_lut(heatmap_lut(*key))

    def _on_result_changed(self, *_args) -> None:
        result = self.state.result
        has = result is not None
        visible = self.state.result_visible
        self.result_box.setVisible(visible)
        self.heatmap_box.setEnabled(visible and result.heatmap is not None)
        self.ood_notice.show_result(result, offer_show_anyway=visible)  # suitability is not blinded
        if has and not visible:
            self.show_message(HIDDEN_TEXT)
            return
        if not has:
            return
        card = self.state.result_card
        self.message_label.setVisible(False)
        self.demo_banner.setVisible(bool(result.demonstration))
        self.probability_label.setText(format_probability(result.probability))
        colour = FLAG_COLOURS.get(result.flag, "#e0e0e0")
        band = result.indeterminate_band
        self.flag_label.setText(
            f"<span style='color:{colour}; font-weight:bold'>{result.flag.capitalize()}</span>"
            f"  (threshold {format_probability(result.decision_threshold)}, indeterminate within ±{100 * band:.1f} points)"
        )
        p_id, p_flip = result.pass_probabilities
        self.details["identity"].setText(format_probability(p_id))
        self.details["flipped"].setText(format_probability(p_flip))
        self.details["disagreement"].setText(f"{100 * result.disagreement:.1f} points (TTA disagreement)")
        self.details["disagreement"].setToolTip(
            "How much the identity and the left-right flipped pass disagree: a large value means the "
            "probability depends on the orientation of the input, so trust it less"
        )
        self.details["model"].setText(f"{result.model_name} v{result.model_version}")
        self.details["weights"].setText(result.weights_sha256[:12])
        total = result.timings_s.get("total")
        self.details["device"].setText(f"{result.device}" + (f", {total:.1f} s" if total is not None else ""))
        self.intended_use_label.setText(card.intended_use if card is not None else "(no model card)")
