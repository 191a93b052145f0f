"""The Findings tab: the segmentation overlay's controls and legend, and the located findings to step through.

Top: where the label map comes from (the weights' decoder, or a file and how it was read), Show
segmentation (S), Filled (Shift+S; outlines by default), opacity, and the legend -- one check box per
label in its colour, which hides or shows that label -- and the label under the cursor.

Below: the findings of :class:`viewer.segmentation_state.SegmentationState`, one row each (kind,
size, agreement). Selecting a row, N or Shift+N moves the cursor to the finding in all three planes
and rings its component; the details say its kind, size (mm, mm3), location (RAS+ mm), the evidence
(measure, value, reference at the infant's PMA) and the confidence; Agree / Not agreed records the
reader's view of that finding in the audit log. In reader-first mode before the impression, for an
out-of-distribution scan, or for weights without a decoder, a notice says why there is nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor, QIcon, QPixmap
from PyQt6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from model.segmentation import SEG_CLASSES
from viewer.segmentation_state import INJURY_LABELS

if TYPE_CHECKING:
    from viewer.segmentation_state import SegmentationState
    from viewer.state import ViewerState

NOTICE_STYLE = "background: #37474f; color: #eceff1; padding: 6px; border-radius: 3px;"
OOD_STYLE = "background: #5d4037; color: white; padding: 6px; font-weight: bold; border-radius: 3px;"
AGREED_MARK = {True: "✓ agreed", False: "✗ not agreed"}
#: Legend names short enough for two columns in the side panel (the full name is the tooltip).
LEGEND_NAMES = {
    1: "Extra-cerebral CSF",
    2: "Cortex",
    3: "White matter",
    4: "Non-brain",
    5: "Ventricles",
    6: "Cerebellum + stem",
    7: "Deep grey",
    10: "Cyst",
    11: "Punctate lesion",
}
#: Rows of the findings list shown without scrolling.
LIST_ROWS = 6


def escape_html(text) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def number(value: float | None, unit: str = "") -> str:
    """A measured value for the reader: 3 significant digits at most, the unit after it."""
    if value is None:
        return "—"
    v = float(value)
    if unit == "1":
        return f"{v:.0f}" if v.is_integer() else f"{v:.3g}"  # a count, or a fraction
    if unit == "mm3" or abs(v) >= 100:
        text = f"{v:.0f}"
    elif abs(v) >= 10:
        text = f"{v:.1f}"
    else:
        text = f"{v:.2f}"
    return f"{text} {unit_text(unit)}".strip()


def unit_text(unit: str) -> str:
    """UCUM unit as printed ("mm3" -> "mm³", "1" -> "")."""
    return {"mm3": "mm³", "1": "", "cm3": "cm³"}.get(unit, unit)


def reference_text(ref, unit: str) -> str:
    """``"15.0 ± 3.00 ml at 40.0 weeks"`` (or without the spread when none is published)."""
    if ref is None:
        return "—"
    spread = f" ± {number(ref.sd)}" if ref.sd is not None else " (no published spread)"
    return f"{number(ref.mean)}{spread} {unit_text(unit)} at {ref.pma_weeks:.1f} weeks".replace("  ", " ")


def size_text(finding, lesion) -> str:
    """Size of a finding: a lesion's largest diameter and volume, else its main measure."""
    if lesion is not None:
        return f"{lesion.diameter_mm:.1f} mm, {lesion.volume_mm3:.0f} mm³"
    if finding.value is not None:
        return number(finding.value, finding.unit)
    return "—"


def _lesion_evidence(key: str, report) -> str:
    """``"lesion:10:1"`` -> "Connected component 1 of label 10 (cyst): 93 mm³, largest diameter 5.4 mm"."""
    parts = str(key).split(":")
    if len(parts) != 3 or parts[0] != "lesion" or report is None:
        return str(key)
    try:
        label, index = int(parts[1]), int(parts[2])
    except ValueError:
        return str(key)
    name = next((c.name for c in SEG_CLASSES if c.value == label), f"label {label}")
    lesion = next((x for x in report.lesions if x.label == label and x.index == index), None)
    text = f"Connected component {index} of label {label} ({name})"
    if lesion is not None:
        text += f": {lesion.volume_mm3:.0f} mm³, largest diameter {lesion.diameter_mm:.1f} mm"
    return text


def evidence_lines(finding, report) -> list:
    """One line per piece of evidence: measure, value, reference at the PMA, z / centile, source."""
    lines = []
    for key in finding.evidence or []:
        m = report.measurement(key) if report is not None else None
        if m is None:
            lines.append(escape_html(_lesion_evidence(key, report)))
            continue
        text = f"{escape_html(m.name)}: <b>{escape_html(number(m.value, m.unit))}</b>"
        if m.reference is not None:
            text += f" vs {escape_html(reference_text(m.reference, m.unit))}"
            if m.z is not None:
                text += f", z = {m.z:+.1f}"
            if m.flag:
                text += f" (<b>{escape_html(m.flag)}</b>)"
            text += f"<br><span style='color:#9e9e9e'>{escape_html(m.reference.source)}</span>"
        lines.append(text)
    if not lines and finding.value is not None:
        text = escape_html(number(finding.value, finding.unit))
        if finding.reference is not None:
            text += f" vs {escape_html(reference_text(finding.reference, finding.unit))}"
        lines.append(text)
    return lines


def swatch(colour, size: int = 12) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(*colour))
    return QIcon(pixmap)


class RoomHost(Protocol):
    """What the Findings and Measurements tabs need of their owner, the reading room.

    :class:`viewer.controllers.reading_room.ReadingRoom` satisfies it; the tabs never import the
    controller (which builds them). ``seg`` is the label map and its display settings, ``state`` the
    window's :class:`viewer.state.ViewerState`; the texts are the notices shown instead of results;
    the methods are what the tabs' buttons do.
    """

    seg: SegmentationState
    NOT_AVAILABLE_TEXT: str
    BLINDED_TEXT: str
    NO_MEASURE_TEXT: str

    @property
    def state(self) -> ViewerState: ...

    def withheld_text(self) -> str: ...

    def show_anyway(self) -> None: ...

    def enter_pma(self) -> None: ...

    def copy_measurements_csv(self) -> str: ...

    def record_finding(self, agreed: bool, index: int | None = None) -> dict | None: ...


class FindingsPanel(QWidget):
    """Segmentation controls, legend and findings of one window (``window.reading.findings_panel``).

    Attributes
    ----------
    visible_checkbox, filled_checkbox : QCheckBox
    opacity_slider : QSlider
    legend : dict
        Label value -> its QCheckBox.
    cursor_label, source_label, notice_label : QLabel
    show_anyway_button : QPushButton
    list : QListWidget
        One row per finding that may be shown.
    details_label : QLabel
    agree_button, disagree_button, next_button, previous_button : QPushButton / QToolButton
    """

    def __init__(self, room: RoomHost, parent=None):
        super().__init__(parent)
        self.setObjectName("FindingsPanel")
        self.room = room
        seg = self.seg = room.seg

        # -- segmentation overlay ---------------------------------------------------------------
        self.source_label = QLabel()
        self.source_label.setWordWrap(True)
        self.source_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.visible_checkbox = QCheckBox("Show segmentation (S)")
        self.filled_checkbox = QCheckBox("Filled (Shift+S)")
        self.filled_checkbox.setToolTip("Off: outlines only, so the anatomy under them stays visible")
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setToolTip("Segmentation opacity")
        self.opacity_value = QLabel()
        self.opacity_value.setMinimumWidth(36)
        self.legend = {}
        legend = QGridLayout()
        legend.setHorizontalSpacing(8)
        legend.setVerticalSpacing(2)
        shown = [c for c in SEG_CLASSES if c.value != 0]
        for n, c in enumerate(shown):
            box = QCheckBox(LEGEND_NAMES.get(c.value, c.name))
            box.setIcon(swatch(c.colour))
            box.setToolTip(f"Label {c.value}, {c.name}: show or hide it")
            box.toggled.connect(lambda on, v=c.value: seg.set_label_visible(v, on))
            legend.addWidget(box, n % 5, n // 5)
            self.legend[c.value] = box
        self.cursor_label = QLabel()
        self.cursor_label.setObjectName("SegCursorLabel")
        self.seg_box = QGroupBox("Segmentation")
        sl = QVBoxLayout(self.seg_box)
        sl.setContentsMargins(6, 4, 6, 6)
        sl.addWidget(self.source_label)
        row = QHBoxLayout()
        row.addWidget(self.visible_checkbox)
        row.addWidget(self.filled_checkbox)
        row.addStretch(1)
        sl.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(QLabel("Opacity"))
        row.addWidget(self.opacity_slider, 1)
        row.addWidget(self.opacity_value)
        sl.addLayout(row)
        sl.addLayout(legend)
        sl.addWidget(self.cursor_label)

        # -- findings ---------------------------------------------------------------------------------
        self.notice_label = QLabel()
        self.notice_label.setObjectName("FindingsNotice")
        self.notice_label.setWordWrap(True)
        self.show_anyway_button = QPushButton("Show findings anyway")
        self.show_anyway_button.setToolTip(
            "The findings of a scan outside the training domain are not results; shown anyway, they are marked so"
        )
        self.show_anyway_button.clicked.connect(room.show_anyway)
        self.list = QListWidget()
        self.list.setObjectName("FindingsList")
        self.list.setSizeAdjustPolicy(QListWidget.SizeAdjustPolicy.AdjustToContents)
        self.list.currentRowChanged.connect(self._on_row_changed)
        self.list.itemClicked.connect(lambda item: seg.go_to(self.list.row(item)))
        self.previous_button = QToolButton()
        self.next_button = QToolButton()
        self.details_label = QLabel()
        self.details_label.setObjectName("FindingDetails")
        self.details_label.setWordWrap(True)
        self.details_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.agree_button = QPushButton("Agree")
        self.agree_button.setToolTip("Record that you agree with this finding (audit log)")
        self.agree_button.clicked.connect(lambda: room.record_finding(True))
        self.disagree_button = QPushButton("Not agreed")
        self.disagree_button.setToolTip("Record that you do not agree with this finding (audit log)")
        self.disagree_button.clicked.connect(lambda: room.record_finding(False))
        self.decision_label = QLabel()
        self.decision_label.setWordWrap(True)
        self.findings_box = QGroupBox("Findings")
        fl = QVBoxLayout(self.findings_box)
        fl.setContentsMargins(6, 4, 6, 6)
        fl.addWidget(self.notice_label)
        fl.addWidget(self.show_anyway_button, 0, Qt.AlignmentFlag.AlignLeft)
        fl.addWidget(self.list)
        nav = QHBoxLayout()
        nav.addWidget(self.previous_button)
        nav.addWidget(self.next_button)
        nav.addStretch(1)
        fl.addLayout(nav)
        fl.addWidget(self.details_label)
        decide = QHBoxLayout()
        decide.addWidget(self.agree_button)
        decide.addWidget(self.disagree_button)
        decide.addStretch(1)
        fl.addLayout(decide)
        fl.addWidget(self.decision_label)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(8)
        layout.addWidget(self.findings_box)
        layout.addWidget(self.seg_box)
        layout.addStretch(1)

        self.visible_checkbox.toggled.connect(seg.set_visible)
        self.filled_checkbox.toggled.connect(seg.set_filled)
        self.opacity_slider.valueChanged.connect(lambda v: seg.set_opacity(v / 100.0))
        seg.changed.connect(self.refresh)
        seg.display_changed.connect(self._on_display_changed)
        seg.finding_changed.connect(self._on_finding_changed)
        seg.decisions_changed.connect(self.refresh)
        room.state.cursor_changed.connect(lambda _ijk: self._update_cursor_label())
        self._on_display_changed()
        self.refresh()

    def set_navigation_actions(self, previous_action, next_action) -> None:
        self.previous_button.setDefaultAction(previous_action)
        self.next_button.setDefaultAction(next_action)

    # -- state -> panel ---------------------------------------------------------------------------------
    def _on_display_changed(self) -> None:
        seg = self.seg
        value = int(round(100 * seg.opacity))
        for widget, setter, v in (
            (self.visible_checkbox, self.visible_checkbox.setChecked, seg.visible),
            (self.filled_checkbox, self.filled_checkbox.setChecked, seg.filled),
            (self.opacity_slider, self.opacity_slider.setValue, value),
        ):
            widget.blockSignals(True)
            setter(v)
            widget.blockSignals(False)
        for label, box in self.legend.items():
            box.blockSignals(True)
            box.setChecked(seg.label_visible(label))
            box.blockSignals(False)
        self.opacity_value.setText(f"{value} %")

    def _update_cursor_label(self) -> None:
        text = self.seg.label_text()
        self.cursor_label.setText(f"At the cursor: <b>{escape_html(text)}</b>" if text else "")

    def _source_text(self) -> str:
        seg = self.seg
        if seg.from_file:
            return f"From the file <b>{escape_html(seg.file_map.path.name)}</b>.<br><i>{escape_html(seg.note)}</i>"
        if seg.labels is not None:
            result = seg.result
            return f"From the weights' segmentation decoder ({escape_html(result.model_name)} v{escape_html(result.model_version)})."
        if seg.weights_without_decoder:
            return "No segmentation: these weights have no segmentation decoder. File > Open segmentation… reads one."
        return "No segmentation yet: Analyse (weights with a decoder) or File > Open segmentation…"

    def _notice(self) -> tuple:
        """(text, style, offer show anyway) of the notice above the findings ('' when none)."""
        seg = self.seg
        if self.room.state.volume is None:
            return "Open a scan.", NOTICE_STYLE, False
        if seg.labels is None:
            if seg.weights_without_decoder:
                return self.room.NOT_AVAILABLE_TEXT, NOTICE_STYLE, False
            return "No segmentation yet.", NOTICE_STYLE, False
        if seg.withheld:
            return self.room.withheld_text(), OOD_STYLE, not seg.blinded
        if seg.blinded:
            return self.room.BLINDED_TEXT, NOTICE_STYLE, False
        if seg.report is None:
            return self.room.NO_MEASURE_TEXT, NOTICE_STYLE, False
        if not seg.findings:
            return "No findings: every measure is within its reference and no lesion was found.", "", False
        if not seg.from_file and seg.result is not None and not seg.result.in_distribution:
            return "Shown anyway: this scan is outside the training domain; these are not results.", OOD_STYLE, False
        return "", "", False

    def refresh(self, *_args) -> None:
        seg = self.seg
        self.source_label.setText(self._source_text())
        for value, box in self.legend.items():
            hidden = value in INJURY_LABELS and not seg.injuries_shown and seg.overlay_available
            box.setEnabled(seg.overlay_available and not hidden)
            name = next(c.name for c in SEG_CLASSES if c.value == value)
            box.setToolTip(
                f"Label {value}, {name}: "
                + ("hidden until you record your impression (reader-first mode)" if hidden else "show or hide it")
            )
        text, style, offer = self._notice()
        self.notice_label.setText(text)
        self.notice_label.setStyleSheet(style)
        self.notice_label.setVisible(bool(text))
        self.show_anyway_button.setVisible(offer)
        findings = seg.findings
        self.list.blockSignals(True)
        self.list.clear()
        for n, f in enumerate(findings, start=1):
            decision = seg.decision_for(f)
            mark = f"   {AGREED_MARK[decision['agreed']]}" if decision else ""
            item = QListWidgetItem(f"{n}. {f.kind.capitalize()} — {size_text(f, seg.lesion_of(f))}{mark}")
            item.setToolTip(f.summary)
            self.list.addItem(item)
        self.list.setCurrentRow(seg.current)
        self.list.blockSignals(False)
        self.list.setVisible(bool(findings))
        rows = min(max(len(findings), 1), LIST_ROWS)
        self.list.setFixedHeight(rows * max(self.list.sizeHintForRow(0), 18) + 2 * self.list.frameWidth() + 4)
        for w in (self.previous_button, self.next_button):
            w.setVisible(bool(findings))
        self._update_details()
        self._update_cursor_label()

    def _on_row_changed(self, row: int) -> None:
        if row >= 0 and row != self.seg.current:
            self.seg.go_to(row)

    def _on_finding_changed(self, index: int) -> None:
        self.list.blockSignals(True)
        self.list.setCurrentRow(index)
        self.list.blockSignals(False)
        self._update_details()

    def _update_details(self) -> None:
        seg = self.seg
        index = seg.current
        findings = seg.findings
        has = 0 <= index < len(findings)
        for w in (self.details_label, self.agree_button, self.disagree_button, self.decision_label):
            w.setVisible(has)
        if not has:
            self.details_label.clear()
            return
        f = findings[index]
        lesion = seg.lesion_of(f)
        x, y, z = (float(v) for v in f.location_ras_mm)
        rows = [
            ("Kind", escape_html(f.kind)),
            ("Size", escape_html(size_text(f, lesion))),
            ("Location", f"RAS ({x:.1f}, {y:.1f}, {z:.1f}) mm"),
            ("Evidence", "<br>".join(evidence_lines(f, seg.report)) or "—"),
            (
                "Confidence",
                f"{100 * float(f.confidence):.0f} %" + (" (a label map from a file)" if seg.from_file else ""),
            ),
        ]
        table = "".join(
            f"<tr><td style='color:#9e9e9e; padding-right:8px; vertical-align:top'>{k}</td><td>{v}</td></tr>"
            for k, v in rows
        )
        self.details_label.setText(
            f"<b>Finding {index + 1} of {len(findings)}</b>: {escape_html(f.summary)}<table>{table}</table>"
        )
        decision = seg.decision_for(f)
        self.decision_label.setText(
            f"You {'agreed' if decision['agreed'] else 'did not agree'} (audit entry #{decision['seq']})."
            if decision
            else "Not marked yet."
        )
