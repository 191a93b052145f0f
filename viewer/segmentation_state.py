"""What the reading room shows of a segmentation: the label map, its report, and what may be seen now.

One :class:`SegmentationState` per window (``window.reading.seg``) holds, for the open scan:

* the label map shown: the network's (``AnalysisResult.labels``) or one read from a file
  (File > Open segmentation…, :func:`model.label_map.load_label_map`); the newer one wins, and a
  new scan clears both;
* its :class:`model.findings_types.SegmentationReport`, made by
  :func:`model.label_map.segmentation_report` at the reader's post-menstrual age (the same call for
  the model's map and a file's, so both give the same numbers);
* the overlay's display settings (shown, filled or outlines, opacity, labels hidden by the reader);
* the finding the reader is on, and the reader's agreement with each finding (read back from the
  audit log, so it survives a restart).

What may be shown is decided here and nowhere else in the reading room:

* **reader-first** (:attr:`blinded`): until the impression is recorded, findings, measurements and
  the injury labels (10 cyst, 11 punctate lesion) are hidden; the tissue overlay stays (it is
  anatomy, not a call), drawn with every injury voxel given the nearest tissue's label
  (:func:`mask_injuries`) so that no hole in the white matter gives a lesion away;
* **out of distribution** (:attr:`withheld`): the network's segmentation of a scan outside what the
  weights were trained on is not shown at all, nor its findings and measurements, unless the reader
  asked to see the result anyway (:func:`model.disclosure.may_show_result`, the rule every other
  place follows). A label map read from a file is the site's own, not the weights': it is shown.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal

from model.disclosure import may_show_result
from model.label_map import segmentation_report
from model.segmentation import CYST, LABEL_NAMES, NON_BRAIN, PUNCTATE

#: Injury label values: hidden in reader-first mode until the impression is recorded.
INJURY_LABELS = (CYST, PUNCTATE)
#: Labels not drawn until the reader asks (background, and the non-brain outline that frames every slice).
DEFAULT_HIDDEN_LABELS = frozenset({0, NON_BRAIN})
#: Default overlay opacity of outlines (bright enough to follow, thin enough to read the anatomy under
#: them) and of filled labels (the anatomy shows through); the reader's choice is kept per mode.
DEFAULT_OPACITY = {False: 0.8, True: 0.4}
MODEL_SOURCE = "model"


def mask_injuries(labels: np.ndarray) -> np.ndarray:
    """``labels`` with every injury component given the tissue label most common around it.

    What reader-first mode draws and reads out: the tissue without a trace of the injury classes.
    Each connected component of injury voxels (26-connectivity) takes the most frequent non-injury
    label of the voxels touching it, so it is drawn as one piece of that tissue (no outline inside it).
    """
    injured = np.isin(labels, INJURY_LABELS)
    if not injured.any():
        return labels
    from scipy import ndimage

    out = labels.copy()
    cube = np.ones((3, 3, 3), bool)
    parts, _ = ndimage.label(injured, structure=cube)
    for n, box in enumerate(ndimage.find_objects(parts), start=1):
        box = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in box)
        part = parts[box] == n
        rim = ndimage.binary_dilation(part, structure=cube) & ~injured[box]
        around = labels[box][rim]
        fill = np.bincount(around).argmax() if around.size else 0
        out[box][part] = fill
    return out


def _carry_confidences(old, new) -> None:
    """Lesion findings remade at another PMA keep the decoder's confidences of the same components."""
    known = {(f.kind, f.label, f.component): f.confidence for f in old.findings if f.component is not None}
    for f in new.findings:
        if (f.kind, f.label, f.component) in known:
            f.confidence = known[(f.kind, f.label, f.component)]


def finding_key(finding) -> str:
    """A finding's identity in the audit log: kind, label, component and location (0.1 mm)."""
    x, y, z = (round(float(v), 1) for v in finding.location_ras_mm)
    return f"{finding.kind}|{finding.label}|{finding.component}|{x:.1f},{y:.1f},{z:.1f}"


class SegmentationState(QObject):
    """The segmentation of the open scan, its report and what may be shown.

    Parameters
    ----------
    state : viewer.state.ViewerState
        The window's state (scan, result, reader-first, impression, show-anyway).
    pma : callable
        Returns ``(weeks, source)``: the open scan's post-menstrual age and where it came from
        (``(None, "")`` when unknown).

    Signals
    -------
    changed()
        The label map, its report or what may be shown changed.
    display_changed()
        Overlay shown, filled, opacity or the labels hidden by the reader changed.
    finding_changed(int)
        The current finding (index into :attr:`findings`, -1 for none).
    decisions_changed()
        The reader agreed or disagreed with a finding.
    """

    changed = pyqtSignal()
    display_changed = pyqtSignal()
    finding_changed = pyqtSignal(int)
    decisions_changed = pyqtSignal()

    def __init__(self, state, pma=lambda: (None, ""), parent=None):
        super().__init__(parent)
        self.state = state
        self._pma = pma
        self._file = None  # model.label_map.LabelMap
        self._use_file = False
        self._report = None
        self._report_key = None
        self._pma_used = (None, "")
        self.report_error = ""  # why there is no report ('' when there is one or no label map)
        self._masked = None  # (labels, masked copy)
        self._component_cache: dict = {}
        self._current = -1
        self.decisions: dict = {}  # finding_key -> {"agreed": bool, "seq": int}
        self._visible = True
        self._filled = False
        self._opacity = dict(DEFAULT_OPACITY)  # filled -> opacity
        self._hidden = set(DEFAULT_HIDDEN_LABELS)
        self._policy = (self.blinded, self.withheld)
        state.scan_changed.connect(self._on_scan_changed)
        state.result_changed.connect(self._on_result_changed)
        state.reader_changed.connect(self._on_policy_changed)
        state.overlay_changed.connect(self._on_policy_changed)  # "show anyway" toggles it

    # -- where the labels come from ------------------------------------------------------------------
    @property
    def result(self):
        return self.state.result

    @property
    def from_file(self) -> bool:
        """True when the shown label map was read from a file."""
        return self._use_file and self._file is not None

    @property
    def source(self) -> str:
        """``"model"``, the file's path, or '' without a label map."""
        if self.from_file:
            return str(self._file.path)
        return MODEL_SOURCE if self._model_labels() is not None else ""

    @property
    def note(self) -> str:
        """What was done to read a file's labels ('' for the model's)."""
        return self._file.note if self.from_file else ""

    @property
    def file_map(self):
        """The :class:`model.label_map.LabelMap` read for this scan, or None."""
        return self._file

    def _model_labels(self):
        result = self.state.result
        return None if result is None else getattr(result, "labels", None)

    @property
    def labels(self) -> np.ndarray | None:
        """The label map shown (RAS+ grid of the open volume, our values), or None."""
        return self._file.labels if self.from_file else self._model_labels()

    @property
    def weights_without_decoder(self) -> bool:
        """True when the shown result's weights have no segmentation decoder and no file was read."""
        result = self.state.result
        return result is not None and self._model_labels() is None and not self.from_file

    def set_file_map(self, label_map) -> None:
        """Show a label map read from a file (:class:`model.label_map.LabelMap`) on the open scan."""
        self._file, self._use_file = label_map, label_map is not None
        self._reset_derived()
        self._policy = (self.blinded, self.withheld)
        self.changed.emit()

    def _on_scan_changed(self, _scan) -> None:
        self._file, self._use_file = None, False
        self.decisions = {}
        self._reset_derived()
        self._policy = (self.blinded, self.withheld)
        self.changed.emit()

    def _on_result_changed(self, result) -> None:
        if result is not None and getattr(result, "labels", None) is not None:
            self._use_file = False  # the newer label map wins
        self._reset_derived()
        self._policy = (self.blinded, self.withheld)
        self.changed.emit()

    def _on_policy_changed(self) -> None:
        policy = (self.blinded, self.withheld)
        if policy != self._policy:
            self._policy = policy
            self._current = min(self._current, len(self.findings) - 1)
            self.changed.emit()

    def _reset_derived(self) -> None:
        self._report, self._report_key = None, None
        self._pma_used = self._pma()
        self.report_error = ""
        self._masked = None
        self._component_cache = {}
        self._current = -1

    # -- the report ------------------------------------------------------------------------------------
    @property
    def pma_weeks(self) -> float | None:
        """The PMA the report is made at: the reader's entry when the label map came or the entry last
        settled (:meth:`refresh_report`), so every panel shows the same report."""
        return self._pma_used[0]

    @property
    def pma_source(self) -> str:
        """Where :attr:`pma_weeks` came from ("reader", a sidecar, sessions.tsv, ...; '' when unknown)."""
        return self._pma_used[1] if self._pma_used[0] is not None else ""

    @property
    def report(self):
        """:class:`model.findings_types.SegmentationReport` of the shown label map at the reader's PMA
        (None without a label map, or when measurements cannot be made: :attr:`report_error` says why)."""
        labels = self.labels
        if labels is None:
            return None
        pma = self.pma_weeks
        key = (id(labels), pma, self.source)
        if key == self._report_key:
            return self._report
        self._report_key, self._report, self.report_error = key, None, ""
        self._component_cache = {}
        result = self.state.result
        own = None if self.from_file else getattr(result, "report", None)
        if own is not None and (pma is None or own.pma_weeks == pma):
            self._report = own
            return own
        affine = self.state.volume.affine if self.from_file else result.affine
        try:
            made = segmentation_report(labels, affine, pma, self.pma_source, self.source)
        except ValueError as exc:
            self.report_error = str(exc).splitlines()[0]
            return own
        if made is None:
            self.report_error = "measurements need model.measure, which this installation does not have"
            return own
        if own is not None:
            _carry_confidences(own, made)
        self._report = made
        return made

    def refresh_report(self) -> None:
        """The PMA changed: remake the report at the new age (and say so)."""
        self._pma_used = self._pma()
        self._report_key = None
        self._component_cache = {}
        self.changed.emit()

    # -- what may be shown -----------------------------------------------------------------------------
    @property
    def blinded(self) -> bool:
        """Reader-first mode and no impression recorded yet: findings, measurements, injuries hidden."""
        return self.state.reader_first and self.state.impression is None

    @property
    def withheld(self) -> bool:
        """The network's segmentation of an out-of-distribution scan, not asked to be shown anyway."""
        if self.from_file or self.state.result is None:
            return False
        return not may_show_result(self.state.result, self.state.ood_revealed)

    @property
    def overlay_available(self) -> bool:
        """A label map may be drawn (tissue at least)."""
        return self.labels is not None and not self.withheld

    @property
    def injuries_shown(self) -> bool:
        return self.overlay_available and not self.blinded

    @property
    def findings_shown(self) -> bool:
        """Findings and measurements may be presented as results now."""
        return self.injuries_shown and self.report is not None

    def display_labels(self) -> np.ndarray | None:
        """The label map as it may be drawn and read out now (injuries masked while blinded), or None."""
        if not self.overlay_available:
            return None
        labels = self.labels
        if self.injuries_shown:
            return labels
        if self._masked is None or self._masked[0] is not labels:
            self._masked = (labels, mask_injuries(labels))
        return self._masked[1]

    def label_at(self, ijk) -> int | None:
        """The label value shown at voxel ``ijk`` (None when no label map may be shown)."""
        labels = self.display_labels()
        if labels is None:
            return None
        return int(labels[tuple(int(v) for v in ijk)])

    def label_text(self, ijk=None) -> str:
        """The name of the label under the cursor (or ``ijk``), '' when none may be shown."""
        if self.state.volume is None:
            return ""
        value = self.label_at(self.state.cursor if ijk is None else ijk)
        if value is None:
            return ""
        return LABEL_NAMES.get(value, f"label {value}")

    # -- display settings ------------------------------------------------------------------------------
    @property
    def visible(self) -> bool:
        return self._visible

    def set_visible(self, on: bool) -> None:
        if bool(on) != self._visible:
            self._visible = bool(on)
            self.display_changed.emit()

    @property
    def filled(self) -> bool:
        """Filled labels (True) or outlines (False, the default: the anatomy stays visible)."""
        return self._filled

    def set_filled(self, on: bool) -> None:
        if bool(on) != self._filled:
            self._filled = bool(on)
            self.display_changed.emit()

    @property
    def opacity(self) -> float:
        """Opacity of the overlay in the current mode (outlines or filled)."""
        return self._opacity[self._filled]

    def set_opacity(self, value: float) -> None:
        value = float(np.clip(value, 0.0, 1.0))
        if value != self._opacity[self._filled]:
            self._opacity[self._filled] = value
            self.display_changed.emit()

    def label_visible(self, value: int) -> bool:
        return int(value) not in self._hidden

    def set_label_visible(self, value: int, on: bool) -> None:
        value = int(value)
        if on == (value in self._hidden):
            (self._hidden.discard if on else self._hidden.add)(value)
            self.display_changed.emit()

    def drawn_values(self) -> list:
        """Label values drawn now (visible to the reader and chosen in the legend)."""
        return [v for v in LABEL_NAMES if v != 0 and v not in self._hidden]

    # -- findings --------------------------------------------------------------------------------------
    @property
    def findings(self) -> list:
        """Findings that may be shown now ([] while blinded, withheld or without a report)."""
        return list(self.report.findings) if self.findings_shown else []

    @property
    def current(self) -> int:
        """Index of the finding the reader is on (-1: none)."""
        return self._current if 0 <= self._current < len(self.findings) else -1

    def finding_voxel(self, finding) -> tuple:
        """Voxel (i, j, k) of the open volume at a finding's location (RAS+ mm through the affine)."""
        volume = self.state.volume
        ijk = volume.index_ijk(finding.location_ras_mm)
        if not np.all(np.isfinite(ijk)):
            ijk = np.asarray(finding.location_voxel, float)
        return tuple(int(np.clip(round(float(v)), 0, n - 1)) for v, n in zip(ijk, volume.shape))

    def go_to(self, index: int) -> None:
        """Make finding ``index`` current and put the cursor on it in all three planes."""
        findings = self.findings
        if not findings:
            return
        index = int(index) % len(findings)
        self._current = index
        self.state.set_cursor(self.finding_voxel(findings[index]))
        self.finding_changed.emit(index)

    def next_finding(self) -> None:
        """N: the next finding (the first when none is current)."""
        self.go_to(self.current + 1 if self.current >= 0 else 0)

    def previous_finding(self) -> None:
        """Shift+N: the previous finding (the last when none is current)."""
        self.go_to(self.current - 1 if self.current >= 0 else -1)

    def lesion_of(self, finding):
        """The :class:`model.findings_types.Lesion` behind a lesion finding, or None."""
        report = self.report
        if report is None or finding.component is None:
            return None
        return next(
            (
                lesion
                for lesion in report.lesions
                if lesion.label == finding.label and lesion.index == finding.component
            ),
            None,
        )

    def component_mask(self, index: int | None = None) -> np.ndarray | None:
        """Voxels to highlight for finding ``index`` (default: the current one), bool (X, Y, Z), or None.

        A lesion: its connected component (26-connectivity) of its label, the one nearest the
        finding's location; a structure (e.g. the ventricles): every voxel of its label; a
        whole-brain finding: None.
        """
        index = self.current if index is None else index
        findings = self.findings
        if not 0 <= index < len(findings):
            return None
        if index in self._component_cache:
            return self._component_cache[index]
        finding, labels = findings[index], self.labels
        mask = None
        if finding.label is not None:
            mask = labels == int(finding.label)
            if finding.component is not None and mask.any():
                from scipy import ndimage

                parts, n = ndimage.label(mask, structure=np.ones((3, 3, 3), bool))
                if n > 1:
                    centres = np.asarray(ndimage.center_of_mass(mask, parts, range(1, n + 1)))
                    target = np.asarray(self.finding_voxel(finding), float)
                    mask = parts == 1 + int(np.argmin(np.linalg.norm(centres - target, axis=1)))
            if not mask.any():
                mask = None
        self._component_cache[index] = mask
        return mask

    # -- the reader's agreement ------------------------------------------------------------------------
    def decision_for(self, finding) -> dict | None:
        """``{"agreed": bool, "seq": int}`` the reader recorded for ``finding``, or None."""
        return self.decisions.get(finding_key(finding))

    def note_decision(self, finding, agreed: bool, seq) -> None:
        self.decisions[finding_key(finding)] = {"agreed": bool(agreed), "seq": seq}
        self.decisions_changed.emit()

    def load_decisions(self, entries: list) -> None:
        """Take the reader's agreements from this scan's audit entries (``decision == "finding"``)."""
        self.decisions = {}
        for e in entries:
            f = e.get("finding") or {}
            if e.get("decision") == "finding" and f.get("key"):
                self.decisions[f["key"]] = {"agreed": bool(f.get("agreed")), "seq": e.get("seq")}
        self.decisions_changed.emit()
