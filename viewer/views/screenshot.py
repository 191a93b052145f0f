"""The exported screenshot carries what the screen says around the views: the demonstration-weights
banner, the research-use caveat, the heatmap caveat and any orientation warning, in a caption strip
under the plane views (so a PNG shown out of context still says what it is)."""

from __future__ import annotations

from PyQt6.QtCore import QRect, Qt
from PyQt6.QtGui import QColor, QFont, QPainter, QPixmap

from model.disclosure import suitability_text
from model.heatmap import HEATMAP_CAPTION
from model.vocabulary import DEMONSTRATION_TEXT
from viewer.views.orientation import orientation_notes

RESEARCH_CAVEAT = "Research use only: not a diagnosis; it must not replace the radiologist's report."
#: The demonstration-weights banner, as on screen and on the report.
DEMO_BANNER = DEMONSTRATION_TEXT


def screenshot_caption(window) -> str:
    """The lines written under the views, joined by newlines."""
    st = window.state
    lines = []
    if st.result_visible and getattr(st.result, "demonstration", False):
        lines.append(DEMO_BANNER)
    lines.append(RESEARCH_CAVEAT)
    ood = suitability_text(st.result)  # suitability is said whatever reader-first mode says (issue 30)
    if ood:
        lines.append("WARNING: " + ood + (" (shown anyway: not a call)" if st.result_disclosed else ""))
    if st.result_disclosed and getattr(st.result, "heatmap", None) is not None and st.overlay_visible:
        lines.append(f"{HEATMAP_CAPTION}.")
    for note in orientation_notes(st.scan):
        lines.append("WARNING: " + note)
    if st.scan is not None:
        lines.append(f"{st.scan.name} — {'radiological' if st.radiological else 'neurological'} convention")
    return "\n".join(lines)


def compose_screenshot(views: QPixmap, caption: str) -> QPixmap:
    """``views`` with ``caption`` (one line per ``\\n``) in a strip underneath; same device pixel ratio."""
    ratio = views.devicePixelRatio()
    width = int(views.width() / ratio)
    font = QFont()
    font.setPointSize(10)
    lines = caption.splitlines()
    line_h = 18
    strip = 10 + line_h * len(lines)
    out = QPixmap(views.width(), views.height() + int(strip * ratio))
    out.setDevicePixelRatio(ratio)
    out.fill(QColor("#202020"))
    painter = QPainter(out)
    painter.drawPixmap(0, 0, views)
    painter.setFont(font)
    y = int(views.height() / ratio) + 5
    for line in lines:
        demo = line == DEMO_BANNER or line.startswith("WARNING")
        if demo:
            painter.fillRect(QRect(0, y, width, line_h), QColor("#f9a825"))
        painter.setPen(QColor("#1a1a1a") if demo else QColor("#e0e0e0"))
        painter.drawText(QRect(8, y, width - 16, line_h), Qt.AlignmentFlag.AlignVCenter, line)
        y += line_h
    painter.end()
    return out
