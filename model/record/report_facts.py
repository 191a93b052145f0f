"""The facts of the reading report as text: (label, value) pairs about the scan, the AI result and the model card.

Part of the PDF report (:mod:`model.record.report` says what each part holds and re-exports every
public name here); the viewer shows the same text (its scan header, result and model panels). Plain
text: nothing here draws, and nothing imports matplotlib or Qt.

What an out-of-distribution result may show is decided by :func:`model.disclosure.may_show_result`
(issue 30): :func:`result_facts` gives no probability, call or TTA passes for such a scan unless the
reader asked to see them anyway, and then marks the probability as not a call.
"""

from __future__ import annotations

import numpy as np

from model.disclosure import is_out_of_distribution, may_show_result


def format_probability(p: float) -> str:
    """P(injury) as shown everywhere: a percentage with one decimal, e.g. ``0.4567 -> '45.7 %'``."""
    return f"{100.0 * float(p):.1f} %"


# -- facts as text -------------------------------------------------------------------------------
def _xform_name(code: int) -> str:
    import nibabel as nib

    try:
        return f"{code} ({nib.nifti1.xform_codes.label[int(code)]})"
    except KeyError:
        return f"{code} (not a NIfTI code)"


def scan_facts(volume, name: str | None = None) -> list:
    """What a reader checks about a scan file, as (label, value) text pairs.

    Parameters
    ----------
    volume : model.volume.Volume
    name : str, optional
        Display name (used when the volume has no path, e.g. the simulated sample).
    """
    h = volume.header
    facts = [("File", str(volume.path) if volume.path is not None else (name or "(made in memory)"))]
    facts.append(("Shape (RAS+)", " × ".join(str(n) for n in volume.shape) + " voxels"))
    facts.append(("Voxel size", " × ".join(f"{s:.3g}" for s in volume.spacing_mm) + " mm"))
    if h is not None:
        facts.append(("Stored as", f"{''.join(h.axcodes)}, shape {' × '.join(str(n) for n in h.shape)}; shown as RAS+"))
        if h.scl_slope is None or (h.scl_slope in (0.0, 1.0) and not h.scl_inter):
            scaling = "no scaling"
        else:
            scaling = f"scaled × {h.scl_slope:g} + {h.scl_inter or 0:g}"
        facts.append(("Data type", f"{h.dtype}, {scaling}"))
        facts.append(
            (
                "qform / sform",
                f"qform {_xform_name(h.qform_code)}, sform {_xform_name(h.sform_code)}"
                + ("; DISAGREE" if h.qform_sform_differ else ""),
            )
        )
        if not getattr(h, "orientation_known", True):
            facts.append(
                ("Orientation", "NOT IN THE HEADER (qform and sform codes 0): directions and left/right are assumed")
            )
        elif getattr(h, "left_right_conflict", False):
            facts.append(("Orientation", "qform and sform DISAGREE about left and right; the sform was used"))
        facts.append(
            (
                "Obliquity",
                f"{np.degrees(h.obliquity_rad):.2f}°"
                + ("; shown in the closest canonical orientation" if h.oblique else ""),
            )
        )
    facts.append(("SHA-256", volume.sha256 or "(not from a file)"))
    if volume.extra.get("dicom") is not None:  # issue 9: what the hash of a DICOM series covers
        facts.append(
            ("Hash of", "the series' DICOM pixel data and geometry, not its names or dates (model.dicom.series_hash)")
        )
        facts.append(
            (
                "Converted by",
                volume.extra.get("converter", "dcm2niix")
                + (
                    "; " + "; ".join(volume.extra["converter_warnings"])
                    if volume.extra.get("converter_warnings")
                    else ""
                ),
            )
        )
    return facts


def result_facts(result, show_anyway: bool = False) -> list:
    """An :class:`model.inference.AnalysisResult` as (label, value) text pairs.

    For a scan outside the training domain (:func:`model.disclosure.may_show_result` False) there
    is no probability, call or TTA pass: the rows say that none is given and why. With
    ``show_anyway`` the numbers are given, each marked as not a call.
    """
    shown = may_show_result(result, show_anyway)
    ood = is_out_of_distribution(result)
    p_id, p_flip = result.pass_probabilities
    if shown:
        not_a_call = " (NOT A CALL: outside what these weights were trained on; shown at the reader's request)"
        facts = [
            ("P(injury)", format_probability(result.probability) + (not_a_call if ood else "")),
            (
                "Call",
                f"{result.flag} (threshold {format_probability(result.decision_threshold)}, "
                f"indeterminate within ±{100 * result.indeterminate_band:.1f} points)",
            ),
            (
                "Uncertainty",
                f"TTA disagreement {100 * result.disagreement:.1f} points "
                f"(identity {format_probability(p_id)}, left-right flipped {format_probability(p_flip)})",
            ),
            *_fusion_facts(result),
        ]
    else:
        facts = [
            ("P(injury)", "not given: the scan is outside what these weights were trained on"),
            ("Call", f"{result.flag}: no call, and no heatmap, measurements or findings as results"),
        ]
    facts += [
        (
            "Model",
            f"{result.model_name} v{result.model_version}"
            + ("  (demonstration weights)" if result.demonstration else ""),
        ),
        ("Weights SHA-256", result.weights_sha256),
        ("Computed on", result.device),
        *_ood_facts(result),
    ]
    return facts


def _fusion_facts(result) -> list:
    """The fused call's parts (model.fusion), when the card's fusion made the call."""
    p_classifier = getattr(result, "p_classifier", None)
    if p_classifier is None:
        return []
    facts = [
        ("Classifier alone", f"P(injury) {format_probability(p_classifier)}; the call fuses it with the measurements")
    ]
    drivers = list(getattr(result, "call_drivers", []) or [])[:4]
    if drivers:
        facts.append(
            (
                "What drives the call",
                "; ".join(
                    f"{d.get('name', d.get('feature', ''))} {float(d.get('contribution', 0.0)):+.2f}" for d in drivers
                ),
            )
        )
    return facts


def _ood_facts(result) -> list:
    """The out-of-distribution verdict (model.ood_gate) as report rows; none when the gate did not run.

    Each number is said once: a feature-distance reason already names the distance and threshold,
    so they are not repeated in brackets after it.
    """
    verdict = getattr(result, "ood", None)
    if verdict is None:
        return []
    if verdict.score is not None:
        gate = f"feature distance {verdict.score:.1f}, threshold {verdict.threshold:.1f}"
    else:
        gate = "feature gate not fitted for these weights"
    if verdict.in_distribution:
        return [("Training domain", f"inside what these weights were trained on; {gate}")]
    reasons = [str(r).strip().rstrip(".") for r in verdict.reasons]
    said = " ".join(reasons)
    parts = list(reasons)
    if verdict.score is None or f"{verdict.score:.1f}" not in said:
        parts.append(gate)
    return [("Training domain", "OUTSIDE what these weights were trained on: " + "; ".join(parts))]


def card_facts(card) -> list:
    """A :class:`model.checkpoint.ModelCard` summary as (label, value) text pairs."""
    training = card.training or {}
    metric_rows = metrics_rows(card.metrics or {}) or [("Metrics", "(none in the card)")]
    facts = [
        ("Name, version", f"{card.name} v{card.version}" + ("  (demonstration)" if card.demonstration else "")),
        ("Architecture", f"{card.architecture}, classes {', '.join(card.classes)}"),
        (
            "Input",
            ("cropped to the head box, " if card.preprocessing.crop == "head" else "")
            + f"resampled to {' × '.join(str(n) for n in card.preprocessing.target_shape)}, z-scored",
        ),
        ("Test-time augmentation", str(card.tta)),
        (
            "Decision threshold",
            f"{format_probability(card.decision_threshold)}, "
            f"indeterminate band ±{100 * card.indeterminate_band:.1f} points",
        ),
        ("Training data", str(training.get("data", "(not stated)"))),
        *metric_rows,
        ("Created", card.created_utc or "(unknown)"),
        ("Intended use", card.intended_use),
    ]
    return facts


_METRIC_NAMES = {"auc": "AUC", "mcc": "MCC", "f1": "F1", "ppv": "PPV", "npv": "NPV"}


def _metric_name(key: str) -> str:
    return _METRIC_NAMES.get(str(key).lower(), str(key).replace("_", " ").capitalize())


def _number(v) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def metrics_rows(metrics: dict) -> list:
    """A model card's ``metrics`` as readable (label, value) rows: a table, not a Python dict.

    A training run's card (:mod:`model.training.train`) holds ``summary`` (pooled out-of-fold),
    ``mean_sd_over_folds`` and ``bootstrap_95ci_pooled`` per metric: these become one row per metric,
    e.g. ``("AUC", "0.818 pooled out-of-fold; 0.822 ± 0.100 over folds; 95 % CI 0.722–0.900")``.
    Text entries (``evaluation``) become their own row; other nested entries one row each with
    their fields; bare numbers one row each.
    """
    rows = []
    summary = metrics.get("summary") if isinstance(metrics.get("summary"), dict) else {}
    spread = metrics.get("mean_sd_over_folds") if isinstance(metrics.get("mean_sd_over_folds"), dict) else {}
    ci = metrics.get("bootstrap_95ci_pooled") if isinstance(metrics.get("bootstrap_95ci_pooled"), dict) else {}
    for key in list(summary) + [k for k in spread if k not in summary]:
        parts = []
        if isinstance(summary.get(key), (int, float)):
            parts.append(f"{summary[key]:.3f} pooled out-of-fold")
        m = spread.get(key)
        if isinstance(m, dict) and "mean" in m:
            parts.append(f"{m['mean']:.3f} ± {m.get('sd', float('nan')):.3f} over folds")
        c = ci.get(key)
        if isinstance(c, (list, tuple)) and len(c) == 2:
            parts.append(f"95 % CI {c[0]:.3f}–{c[1]:.3f}")
        rows.append((_metric_name(key), "; ".join(parts)))
    for key, value in metrics.items():
        if key in ("summary", "mean_sd_over_folds", "bootstrap_95ci_pooled"):
            continue
        if isinstance(value, dict):
            fields = {k: v for k, v in value.items() if not isinstance(v, (dict, list))}
            text = "; ".join(f"{str(k).replace('_', ' ')} {_number(v)}" for k, v in fields.items())
            rows.append((_metric_name(key), text))
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            rows.append((_metric_name(key), str(value)))
        else:
            rows.append((_metric_name(key), _number(float(value))))
    return rows
