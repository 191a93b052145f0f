"""What an analysis result may show: one rule for every place a result can appear.

A scan outside what the weights were trained on (``result.ood``, :mod:`model.ood_gate`) gets no call:
its P(injury), the flag against the threshold, the two test-time-augmentation passes, their
disagreement and the Grad-CAM heatmap (and anything read off it: a value under the cursor, the
heatmap maximum, key images, an exported heatmap) are not shown, unless the reader asked to see them
anyway ("Show probability and heatmap anyway"), and then only marked as not a call. Whether the scan
is suitable is not an AI opinion: the out-of-distribution notice (:func:`suitability_text`) is always
shown, reader-first mode or not.

Every consumer asks :func:`may_show_result` -- the viewer's result panel, 2 x 2 result tile, cursor
readout and status bar, screenshot, heatmap export, the PDF report and the DICOM export -- so they
cannot disagree. Reader-first blinding (:mod:`viewer.services.blinding`) is a separate, further condition
applied by the viewer. Plain Python (no numpy, torch or Qt), so anything may import it.
"""

from __future__ import annotations

#: What the out-of-distribution notice starts with (the reasons follow).
OOD_PREFIX = "Outside what these weights were trained on"


def is_out_of_distribution(result) -> bool:
    """True when ``result`` carries an out-of-distribution verdict (``result.ood``) with reasons."""
    verdict = getattr(result, "ood", None)
    return verdict is not None and not verdict.in_distribution


def may_show_result(result, show_anyway: bool) -> bool:
    """Whether ``result``'s probability, call and heatmap may be shown.

    Parameters
    ----------
    result : model.inference.AnalysisResult or None
        Any object with an ``ood`` attribute (:class:`model.ood_gate.OODVerdict` or None); None = no result.
    show_anyway : bool
        The reader asked to see an out-of-distribution result anyway (the viewer's "Show probability
        and heatmap anyway"; off by default and for every new result).

    Returns
    -------
    bool
        False without a result; True for a result in distribution or made without the gate
        (``ood`` None); for an out-of-distribution result, ``show_anyway``. When False, show
        :func:`suitability_text` in place of the probability, the flag, the TTA passes and the
        heatmap, and derive nothing from the heatmap (cursor value, maximum, key images, exports).
    """
    if result is None:
        return False
    return not is_out_of_distribution(result) or bool(show_anyway)


def suitability_text(result) -> str:
    """``"Outside what these weights were trained on: <reasons>"`` ('' when in distribution or no verdict)."""
    if result is None or not is_out_of_distribution(result):
        return ""
    return f"{OOD_PREFIX}: " + "; ".join(str(r) for r in result.ood.reasons)
