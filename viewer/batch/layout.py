"""The batch dialog's widgets: folder and heatmaps rows, Start/Cancel with progress, filter, table, buttons.

Layout only: :func:`build_widgets` creates the widgets as attributes of the dialog
(:class:`viewer.batch.dialog.BatchDialog`) and connects them to its methods. What it needs of the
dialog and what it creates on it is :class:`LayoutHost`; this module never imports the dialog (which
imports it).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
)

from viewer.batch.worklist_model import FLAG_FILTERS, BlindedWorklist, ElideMiddleDelegate, WorklistModel, WorklistProxy

if TYPE_CHECKING:
    from PyQt6.QtCore import QModelIndex
    from PyQt6.QtGui import QFontMetrics

    from viewer.batch.host import BatchHost


class LayoutHost(Protocol):
    """The batch dialog as its layout sees it (a ``QDialog``: also the widgets' Qt parent)."""

    window_: BatchHost

    # -- the dialog's slots the widgets connect to -----------------------------------------------------
    def choose_folder(self) -> None: ...

    def folder_typed(self) -> None: ...

    def rediscover(self) -> list: ...

    def choose_cams_dir(self) -> None: ...

    def set_cams_dir(self, folder: str | Path | None) -> bool: ...

    def start(self) -> object: ...

    def cancel(self) -> None: ...

    def open_selected(self) -> None: ...

    def open_index(self, index: QModelIndex) -> bool: ...

    def export_csv(self, path: str | Path | None = None) -> Path | None: ...

    def update_buttons(self) -> None: ...

    def update_shown(self, *_args) -> None: ...

    def close(self) -> bool: ...

    def fontMetrics(self) -> QFontMetrics: ...  # noqa: N802 - Qt API

    # -- created by build_widgets ----------------------------------------------------------------------
    folder_edit: QLineEdit
    folder_button: QPushButton
    bids_check: QCheckBox
    found_label: QLabel
    cams_edit: QLineEdit
    cams_button: QPushButton
    cams_clear_button: QPushButton
    start_button: QPushButton
    cancel_button: QPushButton
    progress_bar: QProgressBar
    eta_label: QLabel
    filter_edit: QLineEdit
    flag_combo: QComboBox
    shown_label: QLabel
    model: WorklistModel
    proxy: WorklistProxy
    table: QTableView
    message_label: QLabel
    open_button: QPushButton
    export_button: QPushButton
    close_button: QPushButton


def build_widgets(d: LayoutHost) -> None:
    """Create and lay out the dialog's widgets as attributes of ``d`` and connect them to its methods."""
    grid = QGridLayout()
    grid.setColumnStretch(1, 1)
    d.folder_edit = QLineEdit()  # typed or pasted, then Enter (issue 30), or Choose folder…
    d.folder_edit.setPlaceholderText("Type or paste a folder of .nii / .nii.gz scans (searched recursively)")
    d.folder_edit.editingFinished.connect(d.folder_typed)
    d.folder_button = QPushButton("Choose folder…")
    d.folder_button.clicked.connect(d.choose_folder)
    grid.addWidget(QLabel("Scans folder:"), 0, 0)
    grid.addWidget(d.folder_edit, 0, 1)
    grid.addWidget(d.folder_button, 0, 2)

    d.bids_check = QCheckBox("BIDS: only *_T2w files")
    d.bids_check.setToolTip("Keep only sub-*/[ses-*/]anat/*_T2w.nii[.gz], outside derivatives/ and sourcedata/")
    d.bids_check.toggled.connect(lambda _on: d.rediscover())
    d.found_label = QLabel()
    d.found_label.setObjectName("FoundLabel")
    found_row = QHBoxLayout()
    found_row.addWidget(d.bids_check)
    found_row.addSpacing(16)
    found_row.addWidget(d.found_label, 1)
    grid.addLayout(found_row, 1, 1, 1, 2)

    d.cams_edit = QLineEdit()
    d.cams_edit.setReadOnly(True)
    d.cams_edit.setPlaceholderText("Not written (optional)")
    d.cams_button = QPushButton("Choose…")
    d.cams_button.setToolTip("Also write every Grad-CAM heatmap as NIfTI, on each scan's own grid")
    d.cams_button.clicked.connect(d.choose_cams_dir)
    d.cams_clear_button = QPushButton("Clear")
    d.cams_clear_button.clicked.connect(lambda: d.set_cams_dir(None))
    cams_buttons = QHBoxLayout()
    cams_buttons.addWidget(d.cams_button)
    cams_buttons.addWidget(d.cams_clear_button)
    grid.addWidget(QLabel("Heatmaps to:"), 2, 0)
    grid.addWidget(d.cams_edit, 2, 1)
    grid.addLayout(cams_buttons, 2, 2)

    d.start_button = QPushButton("Start")
    d.start_button.setObjectName("StartButton")
    d.start_button.setDefault(True)
    d.start_button.clicked.connect(lambda: d.start())
    d.cancel_button = QPushButton("Cancel")
    d.cancel_button.setToolTip("Stop after the case being scored; everything finished is kept")
    d.cancel_button.clicked.connect(d.cancel)
    d.progress_bar = QProgressBar()
    d.progress_bar.setFormat("")  # "%v/%m" once a folder's scans are listed (not "0/1" before, issue 30)
    d.progress_bar.setRange(0, 1)
    d.progress_bar.setValue(0)
    d.progress_bar.setMinimumWidth(260)
    d.eta_label = QLabel()
    d.eta_label.setMinimumWidth(150)
    run_row = QHBoxLayout()
    run_row.addWidget(d.start_button)
    run_row.addWidget(d.cancel_button)
    run_row.addSpacing(8)
    run_row.addWidget(d.progress_bar, 1)
    run_row.addWidget(d.eta_label)

    d.filter_edit = QLineEdit()
    d.filter_edit.setPlaceholderText("Filter: file, subject, warning, reason…")
    d.filter_edit.setClearButtonEnabled(True)
    d.flag_combo = QComboBox()
    d.flag_combo.addItems(list(FLAG_FILTERS))
    d.shown_label = QLabel()
    filter_row = QHBoxLayout()
    filter_row.addWidget(d.filter_edit, 2)
    filter_row.addWidget(QLabel("Show:"))
    filter_row.addWidget(d.flag_combo)
    filter_row.addStretch(1)
    filter_row.addWidget(d.shown_label)

    d.model = WorklistModel(d)
    d.proxy = WorklistProxy(d)
    d.proxy.setSourceModel(BlindedWorklist(d.model, d.window_.blinding, d))  # issue 11: reader-first blinding
    d.filter_edit.textChanged.connect(d.proxy.setFilterFixedString)
    d.flag_combo.currentTextChanged.connect(d.proxy.set_flag_filter)
    proxy = d.proxy
    for signal in (proxy.rowsInserted, proxy.rowsRemoved, proxy.modelReset, proxy.layoutChanged):
        signal.connect(d.update_shown)

    d.table = QTableView()
    d.table.setObjectName("WorklistTable")
    d.table.setModel(d.proxy)
    d.table.setSortingEnabled(True)
    d.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # discovery order until a header is clicked
    d.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    d.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    d.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    d.table.setAlternatingRowColors(True)
    d.table.setWordWrap(False)
    d.table.setTextElideMode(Qt.TextElideMode.ElideRight)
    d.table.verticalHeader().setVisible(False)
    d.table.verticalHeader().setDefaultSectionSize(d.fontMetrics().height() + 10)
    d.table.doubleClicked.connect(d.open_index)
    header = d.table.horizontalHeader()
    header.setHighlightSections(False)
    header.setStretchLastSection(True)
    d.table.setItemDelegateForColumn(d.model.column["file"], ElideMiddleDelegate(d.table))
    widths = {
        "file": 290,
        "subject": 66,
        "session": 66,
        "status": 70,
        "p_injury": 78,
        "tta_disagreement": 124,
        "flag": 128,
        "quality_warnings": 170,
    }
    for key, width in widths.items():
        header.resizeSection(d.model.column[key], width)

    d.message_label = QLabel()
    d.message_label.setObjectName("BatchMessage")
    d.message_label.setWordWrap(True)
    d.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    d.open_button = QPushButton("Open in viewer")
    d.open_button.setToolTip("Open the selected scan in the viewer and analyse it (or double-click a row)")
    d.open_button.clicked.connect(d.open_selected)
    d.export_button = QPushButton("Export CSV…")
    d.export_button.setToolTip("Write every finished row (the filter does not apply) as a worklist CSV")
    d.export_button.clicked.connect(lambda: d.export_csv())
    d.close_button = QPushButton("Close")
    d.close_button.clicked.connect(d.close)
    buttons = QHBoxLayout()
    buttons.addWidget(d.open_button)
    buttons.addWidget(d.export_button)
    buttons.addStretch(1)
    buttons.addWidget(d.close_button)

    layout = QVBoxLayout(d)
    layout.addLayout(grid)
    layout.addLayout(run_row)
    layout.addSpacing(4)
    layout.addLayout(filter_row)
    layout.addWidget(d.table, 1)
    layout.addWidget(d.message_label)
    layout.addLayout(buttons)
    d.table.selectionModel().selectionChanged.connect(lambda *_: d.update_buttons())
    d.update_shown()
