"""The out-of-distribution notice: shown in place of the call when the scan is outside what the
weights were trained on (:mod:`model.ood_gate`).

The notice replaces the probability and the flag with "Outside what these weights were trained
on: <reason>", and the heatmap is not drawn (it would explain a call that is not made). Both stay
available on request: "Show probability and heatmap anyway" shows them again, the numbers greyed,
so they are not read as a call. The widget owns only its own label and toggle; the
result panel hands it the probability and flag labels whose visibility it controls.

What may be shown is :func:`model.disclosure.may_show_result`, the rule every other place follows
(issue 30). Whether a scan is suitable is not an AI opinion: the notice stays up in reader-first
mode before the impression (only the toggle, which would reveal the result, waits for it).
"""

from __future__ import annotations

from PyQt6.QtWidgets import QCheckBox, QLabel, QVBoxLayout, QWidget

from model.disclosure import OOD_PREFIX, may_show_result, suitability_text  # noqa: F401 - OOD_PREFIX re-exported

GREY = "color: #9e9e9e;"


class OODNotice(QWidget):
    """Notice + "Show probability and heatmap anyway" toggle for one result.

    Parameters
    ----------
    probability_label, flag_label : QLabel
        The result panel's call widgets; hidden while the notice is up, greyed when shown anyway.
    *others : QWidget
        Further widgets that would give the probability away (the two test-time-augmentation
        passes and the uncertainty, with their names): hidden and greyed the same way.

    Attributes
    ----------
    notice_label : QLabel
    show_anyway : QCheckBox
    """

    def __init__(self, probability_label: QLabel, flag_label: QLabel, *others: QWidget, parent=None):
        super().__init__(parent)
        self._targets = (probability_label, flag_label, *others)
        self._styles = [w.styleSheet() for w in self._targets]
        self.notice_label = QLabel()
        self.notice_label.setObjectName("OODNotice")
        self.notice_label.setWordWrap(True)
        self.notice_label.setStyleSheet("background: #5d4037; color: white; padding: 6px; font-weight: bold;")
        self.show_anyway = QCheckBox("Show probability and heatmap anyway")
        self.show_anyway.setToolTip(
            "The probability and heatmap of a scan outside the training domain are not a call; "
            "the numbers are shown greyed"
        )
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.notice_label)
        lay.addWidget(self.show_anyway)
        self.show_anyway.toggled.connect(self._apply)
        self._out = False
        self._result = None
        self.setVisible(False)

    @staticmethod
    def text_for(result) -> str:
        """``"Outside what these weights were trained on: <reasons>"`` ('' when in distribution)."""
        return suitability_text(result)

    def show_result(self, result, offer_show_anyway: bool = True) -> None:
        """Update for ``result`` (None clears): notice up and call hidden when out of distribution.

        A new result starts with "show anyway" off; the same result keeps the reader's choice.
        ``offer_show_anyway`` False (reader-first mode before the impression) hides the toggle.
        """
        text = self.text_for(result)
        self._out = bool(text)
        self.notice_label.setText(text)
        if result is not self._result:
            self._result = result
            self.show_anyway.blockSignals(True)
            self.show_anyway.setChecked(False)
            self.show_anyway.blockSignals(False)
        self.show_anyway.setVisible(self._out and offer_show_anyway)
        self.setVisible(self._out)
        self._apply()

    def _apply(self, *_args) -> None:
        shown = may_show_result(self._result, self.show_anyway.isChecked()) or self._result is None
        for widget, style in zip(self._targets, self._styles):
            widget.setVisible(shown)
            widget.setStyleSheet(style + (GREY if self._out else ""))
            widget.setEnabled(not self._out)
