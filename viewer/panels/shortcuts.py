"""Help > Keyboard shortcuts: a table built from the window's menus at the moment it is opened.

Every row is a QAction found by walking the menu bar (including menus added later, e.g. Batch), so
the list cannot drift from what the keys do. The mouse gestures of the planes, which are not
actions, follow from :data:`viewer.views.slice_view.GESTURES`.
"""

from __future__ import annotations

from PyQt6.QtGui import QKeySequence
from PyQt6.QtWidgets import QDialog, QDialogButtonBox, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout

from viewer.views.slice_view import GESTURES


def _clean(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").rstrip(".")


def menu_actions(menubar) -> list:
    """(menu path, QAction) of every action in the menu bar, depth first, in menu order."""
    out = []

    def walk(menu, path):
        for action in menu.actions():
            if action.isSeparator():
                continue
            sub = action.menu()
            if sub is not None:
                walk(sub, f"{path} › {_clean(action.text())}")
            else:
                out.append((path, action))

    for top in menubar.actions():
        if top.menu() is not None:
            walk(top.menu(), _clean(top.text()))
    return out


def shortcut_rows(menubar) -> list:
    """(menu, command, keys) for every menu action that has a keyboard shortcut."""
    rows, seen = [], set()
    for path, action in menu_actions(menubar):
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts() if not k.isEmpty()]
        if not keys or id(action) in seen:
            continue
        seen.add(id(action))
        rows.append((path, _clean(action.text()), ", ".join(keys)))
    return rows


class ShortcutsDialog(QDialog):
    """A two-part table: keyboard shortcuts of the menus, then the mouse gestures."""

    def __init__(self, menubar, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setObjectName("ShortcutsDialog")
        self.rows = shortcut_rows(menubar)
        self.table = QTableWidget(len(self.rows) + 1 + len(GESTURES), 3)
        self.table.setHorizontalHeaderLabels(["Menu", "Command", "Keys / mouse"])
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        r = 0
        for row in self.rows:
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
            r += 1
        header = QTableWidgetItem("Mouse on a plane")
        font = header.font()
        font.setBold(True)
        header.setFont(font)
        self.table.setItem(r, 0, header)
        r += 1
        for gesture, what in GESTURES:
            self.table.setItem(r, 0, QTableWidgetItem("Planes"))
            self.table.setItem(r, 1, QTableWidgetItem(what))
            self.table.setItem(r, 2, QTableWidgetItem(gesture))
            r += 1
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Built from the menus: every command listed here is also in a menu."))
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(760, 640)
