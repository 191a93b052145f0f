"""The product's clinical vocabulary, in one place: classes, the flag, impressions, decisions, banners.

Every module that names one of these imports it from here -- the model card check, TTA, the
worklist, the audit log, the PDF report and the viewer -- so a word means the same thing on screen,
in the CSV and in the log. Plain Python (no numpy, torch or Qt), so anything may import it.
"""

from __future__ import annotations

from enum import StrEnum

#: Softmax index -> class name; the network's output order (P(injury) is index :data:`INJURY`).
CLASSES = ("normal", "injury")
#: Softmax index of the injury class.
INJURY = CLASSES.index("injury")


class Flag(StrEnum):
    """The call shown with P(injury): a ``str`` whose value is the words written in the worklist.

    ``str(Flag.ABOVE) == "above threshold"``; the CSV, the JSON summary and the audit log store the
    value. :data:`OUT_OF_DISTRIBUTION` is for inputs the out-of-distribution gate refuses to call.
    """

    ABOVE = "above threshold"
    INDETERMINATE = "indeterminate"
    BELOW = "below threshold"
    OUT_OF_DISTRIBUTION = "out of distribution"


def flag_for(p: float, decision_threshold: float, indeterminate_band: float) -> Flag:
    """The call for P(injury) ``p``.

    Parameters
    ----------
    p : float
        P(injury) in [0, 1] (the TTA mean).
    decision_threshold : float
        From the model card; ``p >= decision_threshold`` is above.
    indeterminate_band : float
        From the model card; ``|p - decision_threshold| < indeterminate_band`` is indeterminate.

    Returns
    -------
    Flag
        ``ABOVE``, ``INDETERMINATE`` or ``BELOW`` (never ``OUT_OF_DISTRIBUTION``: that is the gate's).
    """
    if abs(p - decision_threshold) < indeterminate_band:
        return Flag.INDETERMINATE
    return Flag.ABOVE if p >= decision_threshold else Flag.BELOW


#: The reader's own impression of a scan (recorded before or after seeing the AI result).
IMPRESSIONS = ("normal", "injury", "unsure")
#: What an audit entry records: an impression, what the reader did with the AI result, or a kept
#: ruler measurement (issue 11).
DECISIONS = ("impression", "accept", "reject", "override", "measurement", "finding")
#: Decisions that need an AI result to act on.
AI_DECISIONS = ("accept", "reject", "override")
#: The reader's call when overriding the AI result.
OVERRIDE_CALLS = ("normal", "injury")
#: How a recorded decision is described to the reader ("You ... at 14:03").
DECISION_TEXT = {
    "impression": "impression",
    "accept": "accepted the AI result",
    "reject": "rejected the AI result",
    "override": "overrode the AI result",
    "measurement": "kept a measurement",
    "finding": "marked a finding",  # issue 29: agreed / not agreed with one located finding
}
#: Standard neonatal linear measures offered by the ruler (mm), key -> name (issue 11).
MEASURES = {
    "atrial_width": "Atrial width of the lateral ventricle",
    "anterior_horn_width": "Anterior horn width",
    "other": "Other distance",
}
#: Measures taken on one side of the brain: the ruler records which (issue 30).
SIDED_MEASURES = ("atrial_width", "anterior_horn_width")
#: The patient's side of a sided measure.
SIDES = ("left", "right")

#: Banner shown on screen and on the report whenever the model card says ``demonstration``.
DEMONSTRATION_TEXT = "Demonstration weights — trained on simulated data, not for clinical use"
#: The same warning in plain ASCII for command-line output.
DEMONSTRATION_CLI_TEXT = "DEMONSTRATION weights: not for clinical use"
