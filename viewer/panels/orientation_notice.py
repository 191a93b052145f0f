"""The amber notice above the planes while the open scan's orientation or voxel size is in doubt."""

from __future__ import annotations

from PyQt6.QtWidgets import QLabel, QVBoxLayout, QWidget

from viewer.views.orientation import orientation_doubtful, orientation_notes

AMBER_STYLE = "QLabel { background: #ffb300; color: #1a1a1a; font-weight: bold; padding: 5px; border-radius: 3px; }"


class OrientationNotice(QLabel):
    """Amber line above the planes while the open scan's orientation or voxel size is in doubt."""

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.setObjectName("OrientationNotice")
        self.setWordWrap(True)
        self.setStyleSheet(AMBER_STYLE)
        self.state = state
        state.scan_changed.connect(self._on_scan_changed)
        self._on_scan_changed(state.scan)

    def _on_scan_changed(self, scan) -> None:
        notes = orientation_notes(scan)
        text = ""
        if notes:
            head = (
                "Orientation ASSUMED — letters marked ? are not in the header; do not judge laterality from "
                "this display."
                if orientation_doubtful(scan.volume)
                else "Check the geometry:"
            )
            text = head + " " + "; ".join(n[0].upper() + n[1:] for n in notes) + "."
        self.setText(text)
        self.setToolTip(text)
        self.setVisible(bool(text))


def with_orientation_notice(view: QWidget, state) -> QWidget:
    """``view`` with an :class:`OrientationNotice` above it (the notice is the container's ``notice``)."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    box.notice = OrientationNotice(state, box)
    layout.addWidget(box.notice)
    layout.addWidget(view, 1)
    return box
