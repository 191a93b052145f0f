"""The worklist table of the batch dialog: one row per discovered scan, sortable and filterable.

:class:`WorklistModel` (a ``QAbstractTableModel``) holds the scans of a folder and their worklist
rows as :func:`model.score.score_steps` finishes them; :class:`WorklistProxy` sorts by value (numbers
as numbers) and filters by text and by flag (:data:`FLAG_FILTERS`, a table of predicates). Between
them, :class:`BlindedWorklist` hides the AI result of scans the reader has not recorded an
impression of while reader-first mode is on (:mod:`viewer.services.blinding`).

With weights that segment (issue 29) the table also shows the ventricle volume and its deviation from
the age reference, the white-matter volume, the number of lesions and a findings summary (the
``model.score`` CSV columns of :data:`model.seg_outputs.MEASURE_COLUMNS`), sortable like every column,
and the filter offers "Ventricles above the 97th centile", "White matter below the 3rd centile",
"With findings" and "With lesions". A scan outside the training domain shows no measurements or
findings (the CSV's cells are empty, :func:`model.seg_outputs.worklist_cells`); weights without a
decoder say "n/a". Deviations, lesions and findings are results: reader-first mode hides them like
the probability.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

from PyQt6.QtCore import QAbstractTableModel, QIdentityProxyModel, QModelIndex, QSortFilterProxyModel, Qt
from PyQt6.QtGui import QBrush, QColor, QFont
from PyQt6.QtWidgets import QStyledItemDelegate

from model.bids import ScanEntry
from model.score import ScoreEvent
from model.seg_outputs import NO_DECODER_TEXT
from model.vocabulary import Flag
from viewer.panels.result_panel import FLAG_COLOURS, format_probability
from viewer.services.blinding import Blinding, row_key

#: Sort key of every cell (numbers for numeric columns, lower-case text otherwise; None = no value).
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
QUEUED, SCORING, SCORED, SKIPPED, FAILED = "queued", "scoring", "scored", "skipped", "failed"
STATUS_COLOURS = {QUEUED: "#8a8a8a", SCORING: "#42a5f5", SKIPPED: "#8a8a8a", FAILED: "#ef6c57"}
_FLAG_TEXT = "#1a1a1a"  # on the flag colours, readable on light and dark palettes
#: Worklist columns that carry the AI result (hidden for a blinded scan, issue 11).
RESULT_COLUMNS = (
    "p_injury",
    "p_injury_identity",
    "p_injury_flipped",
    "tta_disagreement",
    "flag",
    # the out-of-distribution verdict is a result too (model.ood_gate)
    "in_distribution",
    "ood_score",
    "ood_threshold",
    "ood_reasons",
    # the segmentation's deviations from the age references, lesions and findings (issue 29)
    "ventricles_z",
    "ventricles_centile",
    "white_matter_z",
    "lesion_count",
    "findings",
)
#: z-score of the 97th centile of the standard normal distribution (and minus it, the 3rd).
Z_97TH_CENTILE = 1.8808
#: What a hidden cell shows.
HIDDEN_TEXT = "hidden"


def format_eta(seconds: float) -> str:
    """``"about 40 s left"``, ``"about 3 min left"``, ``"about 1 h 5 min left"``."""
    if not math.isfinite(seconds):
        return ""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"about {seconds} s left"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min left"
    return f"about {minutes // 60} h {minutes % 60} min left"


# -- the table ---------------------------------------------------------------------------------
@dataclass
class _Item:
    entry: ScanEntry
    status: str = QUEUED
    row: dict | None = None

    def value(self, key: str) -> str:
        if key in ("file", "subject", "session"):
            return getattr(self.entry, "relpath" if key == "file" else key)
        if key == "status":
            return self.status
        return (self.row or {}).get(key, "") or ""


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


class WorklistModel(QAbstractTableModel):
    """Discovered scans and, as they finish, their worklist rows (one table row per scan)."""

    #: (row key, header, tooltip of the header)
    COLUMNS = [
        ("file", "File", "Path relative to the scanned folder"),
        ("subject", "Subject", "BIDS subject (sub-*)"),
        ("session", "Session", "BIDS session (ses-*)"),
        ("status", "Status", "queued, scoring, scored, skipped (already scored with these weights) or failed"),
        ("p_injury", "P(injury)", "Mean of the two test-time-augmentation passes"),
        ("tta_disagreement", "TTA disagreement", "|identity pass - mirrored pass|, in percentage points"),
        ("flag", "Flag", "Above threshold / indeterminate (near the threshold) / below threshold"),
        ("ventricles_ml", "Ventricles (ml)", "Ventricle volume from the segmentation (lateral, third and fourth)"),
        (
            "ventricles_z",
            "Ventricles z",
            "Ventricle volume against its age reference at the infant's PMA (z-score; the centile in the tooltip); "
            "empty when the PMA is unknown or the reference has no published spread",
        ),
        ("white_matter_ml", "WM (ml)", "White-matter volume from the segmentation (with its punctate lesions)"),
        ("lesion_count", "Lesions", "Cysts and punctate white-matter lesions found by the segmentation"),
        ("findings", "Findings", "What the segmentation found (each to be checked on the images)"),
        ("quality_warnings", "Quality warnings", "Image-quality checks that did not stop scoring"),
        ("reason", "Reason", "Why a file could not be scored"),
    ]
    NUMERIC = {"p_injury", "tta_disagreement", "ventricles_ml", "ventricles_z", "white_matter_ml", "lesion_count"}
    #: Columns that come from the segmentation.
    SEGMENTATION = {"ventricles_ml", "ventricles_z", "white_matter_ml", "lesion_count", "findings"}

    def __init__(self, parent=None):
        super().__init__(parent)
        self._items: list[_Item] = []
        self._index: dict[str, int] = {}
        self.column = {key: i for i, (key, _, _) in enumerate(self.COLUMNS)}

    # -- content --
    def set_entries(self, entries: list) -> None:
        self.beginResetModel()
        self._items = [_Item(e) for e in entries]
        self._index = {e.relpath: i for i, e in enumerate(entries)}
        self.endResetModel()

    def items(self) -> list:
        return list(self._items)

    def item(self, row: int) -> _Item:
        return self._items[row]

    def apply_event(self, event: ScoreEvent) -> int:
        """Show a finished case; returns its row."""
        i = self._index[event.row["file"]]
        item = self._items[i]
        item.row = event.row
        item.status = SKIPPED if event.skipped else event.row["status"]
        self._row_changed(i)
        return i

    def set_status(self, i: int, status: str) -> None:
        self._items[i].status = status
        self._row_changed(i)

    def _row_changed(self, i: int) -> None:
        self.dataChanged.emit(self.index(i, 0), self.index(i, len(self.COLUMNS) - 1))

    # -- Qt model interface --
    def rowCount(self, parent=QModelIndex()):  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent=QModelIndex()):  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802 - Qt API
        if orientation != Qt.Orientation.Horizontal:
            return None
        _, header, tip = self.COLUMNS[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return header
        if role == Qt.ItemDataRole.ToolTipRole:
            return tip
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        item = self._items[index.row()]
        key = self.COLUMNS[index.column()][0]
        raw = item.value(key)
        if role == Qt.ItemDataRole.DisplayRole:
            if key in self.SEGMENTATION and not raw:
                return self._no_segmentation(item)
            return self._display(key, raw)
        if role == SORT_ROLE:
            return _number(raw) if key in self.NUMERIC else raw.lower()
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(item, key, raw)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if key in self.NUMERIC:
                return Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            if key == "flag":
                return Qt.AlignmentFlag.AlignCenter
            return None
        if role == Qt.ItemDataRole.BackgroundRole and key == "flag" and raw in FLAG_COLOURS:
            return QBrush(QColor(FLAG_COLOURS[raw]))
        if role == Qt.ItemDataRole.ForegroundRole:
            if key == "flag" and raw in FLAG_COLOURS:
                return QBrush(QColor(_FLAG_TEXT))
            if key == "status" and item.status in STATUS_COLOURS:
                return QBrush(QColor(STATUS_COLOURS[item.status]))
            if key == "reason" and raw:
                return QBrush(QColor(STATUS_COLOURS[FAILED]))
        if role == Qt.ItemDataRole.FontRole and (
            (key == "flag" and raw) or (key == "status" and item.status == SCORING)
        ):
            font = QFont()
            font.setBold(True)
            return font
        return None

    def _tooltip(self, item: _Item, key: str, raw: str) -> str | None:
        if key == "file":
            return item.entry.path.as_posix()
        if key in self.SEGMENTATION:
            return self._segmentation_tip(item, key, raw)
        return raw or None

    @staticmethod
    def _no_segmentation(item: _Item) -> str:
        """What an empty segmentation cell says: "n/a" for weights without a decoder, "not given" for
        a scan outside the training domain, nothing otherwise (not scored yet, no reference)."""
        why = item.value("segmentation")
        if why == NO_DECODER_TEXT:
            return "n/a"
        if why.startswith("not given"):
            return "not given"
        return ""

    @staticmethod
    def _segmentation_tip(item: _Item, key: str, raw: str) -> str | None:
        why = item.value("segmentation")
        if why and why != "available":
            return f"Measurements {why}"
        if key == "ventricles_z" and raw:
            centile = _number(item.value("ventricles_centile"))
            pma = item.value("pma_weeks")
            where = f" at PMA {pma} weeks" if pma else ""
            return f"z {float(raw):+.2f}" + (f", centile {centile:.0f}" if centile is not None else "") + where
        if key == "ventricles_ml" and not item.value("pma_weeks") and raw:
            return "PMA unknown: the volume alone, without an age reference"
        return raw or None

    @staticmethod
    def _display(key: str, raw: str) -> str:
        if key in ("ventricles_ml", "white_matter_ml"):
            value = _number(raw)
            return "" if value is None else f"{value:.2f}"
        if key == "ventricles_z":
            value = _number(raw)
            return "" if value is None else f"{value:+.1f}"
        if key == "lesion_count":
            value = _number(raw)
            return "" if value is None else f"{value:.0f}"
        if key == "p_injury":
            value = _number(raw)
            return "" if value is None else format_probability(value)
        if key == "tta_disagreement":
            value = _number(raw)
            return "" if value is None else f"{100 * value:.1f} pts"
        if key == "flag":
            return raw.capitalize()
        return raw


class BlindedWorklist(QIdentityProxyModel):
    """The batch worklist as a blinded reader may see it: result cells of scans without an impression
    read "hidden" (no colour, no sort value, no tooltip) while reader-first mode is on.

    It sits between :class:`WorklistModel` and :class:`WorklistProxy` (:mod:`viewer.batch.layout`);
    :meth:`item` returns blinded copies, so the flag filter cannot reveal a hidden flag either.
    Rows that are shown are noted as shown in the :class:`viewer.services.blinding.Blinding` (issue 11).
    """

    def __init__(self, source, blinding: Blinding, parent=None):
        super().__init__(parent)
        self.blinding = blinding
        self.setSourceModel(source)
        self._result_columns = {source.column[k] for k in RESULT_COLUMNS if k in source.column}
        source.dataChanged.connect(lambda *_: self._note_visible())
        source.modelReset.connect(self._note_visible)
        blinding.changed.connect(self._on_blinding_changed)

    def hidden(self, row: dict | None) -> bool:
        return bool(row) and not self.blinding.may_show(row_key(row))

    # the interface the sort/filter proxy and the dialog use
    def item(self, row: int):
        item = self.sourceModel().item(row)
        if not self.hidden(item.row):
            return item
        return replace(item, row={k: ("" if k in RESULT_COLUMNS else v) for k, v in item.row.items()})

    def items(self) -> list:
        return [self.item(i) for i in range(self.rowCount())]

    @property
    def column(self) -> dict:
        return self.sourceModel().column

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if index.isValid() and index.column() in self._result_columns:
            if self.hidden(self.sourceModel().item(index.row()).row):
                if role == Qt.ItemDataRole.DisplayRole:
                    return HIDDEN_TEXT
                if role == Qt.ItemDataRole.ToolTipRole:
                    return "Reader-first mode: record your impression of this scan to see its AI result"
                if role == Qt.ItemDataRole.TextAlignmentRole:
                    return Qt.AlignmentFlag.AlignCenter
                return None
        return super().data(index, role)

    def _note_visible(self) -> None:
        for item in self.sourceModel().items():
            if item.row and item.row.get("p_injury") not in (None, "") and not self.hidden(item.row):
                self.blinding.note_shown(row_key(item.row))

    def _on_blinding_changed(self) -> None:
        self._note_visible()
        n = self.rowCount()
        if n:
            # the sort/filter proxy above re-sorts and re-filters on dataChanged (dynamicSortFilter)
            self.dataChanged.emit(self.index(0, 0), self.index(n - 1, self.columnCount() - 1))


#: Flag filter choices: label -> predicate on a table item.
FLAG_FILTERS: dict[str, Callable[[_Item], bool] | None] = {
    "All rows": None,
    **{
        flag.value.capitalize(): (lambda it, f=flag: it.value("flag") == f)
        for flag in (Flag.ABOVE, Flag.INDETERMINATE, Flag.BELOW, Flag.OUT_OF_DISTRIBUTION)
    },
    "Ventricles above the 97th centile": lambda it: (_number(it.value("ventricles_z")) or 0.0) > Z_97TH_CENTILE,
    "White matter below the 3rd centile": lambda it: (_number(it.value("white_matter_z")) or 0.0) < -Z_97TH_CENTILE,
    "With findings": lambda it: it.value("findings") not in ("", "none"),
    "With lesions": lambda it: (_number(it.value("lesion_count")) or 0) > 0,
    "With quality warnings": lambda it: bool(it.value("quality_warnings")),
    "Failed": lambda it: it.status == FAILED,
    "Not scored yet": lambda it: it.status in (QUEUED, SCORING),
}


class ElideMiddleDelegate(QStyledItemDelegate):
    """Paths keep their start and their file name when the column is narrow."""

    def initStyleOption(self, option, index):  # noqa: N802 - Qt API
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle


class WorklistProxy(QSortFilterProxyModel):
    """Numeric sorting (empty cells last in either order), a text filter and a flag filter."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setFilterKeyColumn(-1)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self._flag_filter = None

    def set_flag_filter(self, label: str) -> None:
        self._flag_filter = FLAG_FILTERS[label]
        self.invalidateFilter()

    def filterAcceptsRow(self, source_row, source_parent):  # noqa: N802 - Qt API
        if self._flag_filter is not None and not self._flag_filter(self.sourceModel().item(source_row)):
            return False
        return super().filterAcceptsRow(source_row, source_parent)

    def lessThan(self, left, right):  # noqa: N802 - Qt API
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        if a is None or b is None or a == "" or b == "":
            # an empty cell sorts after every value, ascending or descending
            empty_a, empty_b = a in (None, ""), b in (None, "")
            if empty_a == empty_b:
                return left.row() < right.row()
            ascending = self.sortOrder() == Qt.SortOrder.AscendingOrder
            return empty_b if ascending else empty_a
        if a == b:
            return left.row() < right.row()
        return a < b
