"""Orientation honesty on screen: letters marked "assumed" and an amber notice when the header does
not say (or contradicts itself about) where the patient's left is.

The facts come from :class:`model.volume.HeaderInfo` (``orientation_known``, ``left_right_conflict``,
``bad_voxel_sizes``); the wording of each problem is :func:`model.quality.quality_warnings`'s, so the
screen, the Scan tab, the batch CSV and the PDF say the same thing. Letters of a file without
orientation get a trailing ``?`` (:data:`ASSUMED_MARK`) in every plane and on the report. No Qt here
(the report uses it); the amber notice widget is :mod:`viewer.panels.orientation_notice`.
"""

from __future__ import annotations

#: Appended to an orientation letter that the header does not support.
ASSUMED_MARK = "?"


def orientation_doubtful(volume) -> bool:
    """True when the letters on screen are not backed by the header: no qform/sform, or a qform and
    sform that disagree about left and right."""
    h = None if volume is None else volume.header
    return h is not None and (not h.orientation_known or h.left_right_conflict)


def marked_letters(letters: dict, volume) -> dict:
    """``letters`` (edge -> R/L/A/P/S/I) with :data:`ASSUMED_MARK` added when :func:`orientation_doubtful`."""
    if not orientation_doubtful(volume):
        return dict(letters)
    return {edge: f"{letter}{ASSUMED_MARK}" for edge, letter in letters.items()}


def orientation_notes(scan) -> list:
    """The quality warnings of ``scan`` that concern orientation or voxel size (for the notice)."""
    if scan is None:
        return []
    keys = ("no orientation", "about left and right", "voxel size in the header")
    return [w for w in scan.quality if any(k in w for k in keys)]
