"""The series picker: one row per DICOM image series found under a folder; the reader picks one.

Rows come from :func:`model.dicom.find_series` (already sorted: analysable first, T2-weighted
first, then series number); the first analysable row is selected, so Enter opens the suggested
series. A series that cannot be analysed is listed greyed out with its one-line reason and cannot
be chosen.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

#: Column headers, in order.
COLUMNS = ("Series", "Description", "Modality", "Images", "Voxel size", "Orientation", "Date", "Note")


def row_texts(series) -> list[str]:
    """The cells of one :class:`model.dicom.SeriesInfo` row (see :data:`COLUMNS`)."""
    note = series.problem or ("T2-weighted (suggested)" if series.t2_weighted else "")
    return [
        "" if series.series_number is None else str(series.series_number),
        series.series_description or "(no description)",
        series.modality,
        str(series.n_images),
        series.voxel_text(),
        series.orientation,
        series.study_date,
        note,
    ]


class SeriesPicker(QDialog):
    """Modal dialog listing ``series``; :meth:`chosen` is the picked one after ``accept()``.

    Attributes
    ----------
    table : QTableWidget
        One row per series, in the order given.
    """

    def __init__(self, series: list, folder_name: str = "", parent=None):
        super().__init__(parent)
        self.setObjectName("SeriesPicker")
        self.setWindowTitle("Choose a DICOM series")
        self.series = list(series)
        intro = QLabel(
            f"{len(self.series)} image series found{' in ' + folder_name if folder_name else ''}. "
            "Pick the T2-weighted volume to read; T2-weighted series are listed first."
        )
        intro.setWordWrap(True)
        self.table = QTableWidget(len(self.series), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        for r, s in enumerate(self.series):
            for c, text in enumerate(row_texts(s)):
                item = QTableWidgetItem(text)
                item.setToolTip(s.label())
                if not s.loadable:
                    item.setFlags(Qt.ItemFlag.NoItemFlags)
                self.table.setItem(r, c, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.table.itemSelectionChanged.connect(self._update_button)
        self.table.cellDoubleClicked.connect(lambda r, _c: self.select(r) and self.accept())
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table)
        layout.addWidget(self.buttons)
        self.resize(860, 160 + 28 * min(len(self.series), 12))
        first = next((r for r, s in enumerate(self.series) if s.loadable), None)
        if first is not None:
            self.table.selectRow(first)
        self._update_button()

    def select(self, row: int) -> bool:
        """Select ``row`` if its series can be analysed; True when selected."""
        if not 0 <= row < len(self.series) or not self.series[row].loadable:
            return False
        self.table.selectRow(row)
        return True

    def chosen(self):
        """The selected :class:`model.dicom.SeriesInfo`, or None."""
        rows = {i.row() for i in self.table.selectedIndexes()}
        if len(rows) != 1:
            return None
        s = self.series[rows.pop()]
        return s if s.loadable else None

    def _update_button(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Open).setEnabled(self.chosen() is not None)
