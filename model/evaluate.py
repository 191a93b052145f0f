"""``python -m model.evaluate``: validate a weights folder on any labelled set of scans.

    python -m model.evaluate --weights DIR --manifest CSV [--masks] --out DIR [--device cpu|cuda]

The manifest has columns ``path,label[,subject][,mask][,injuries][,degradation]`` (paths relative
to the CSV; label 0 normal, 1 injury; ``mask`` an injury mask NIfTI on the scan's grid;
``injuries`` the kinds present as ``kind=value;kind=value`` and ``degradation`` a free name, as
:mod:`model.simulation.real_anatomy` writes them). Every scan is analysed exactly
as the app does (:func:`model.inference.analyse`: the card's preprocessing, TTA, the
out-of-distribution gate). Written into ``--out`` (atomically; an existing ``metrics.json`` is not
replaced without ``--overwrite``):

* ``metrics.json`` -- at the card's decision threshold: AUC, sensitivity, specificity, F1, MCC,
  accuracy with percentile-bootstrap 95% intervals over subjects (:mod:`model.training.metrics`),
  for all scored scans and for the in-distribution ones; the out-of-distribution rate (overall and
  per label, with the reasons counted); with ``--masks``, the Grad-CAM pointing game
  (:mod:`model.pointing`) on every injured scan with a mask and on the detected ones, with chance;
  with an ``injuries`` column, the sensitivity per injury kind (a scan counts for every kind it
  holds); with a ``degradation`` column, sensitivity and specificity per degradation;
* ``predictions.csv`` -- one row per scan (probability, flag, verdict, reasons, pointing);
* ``roc.png``, ``calibration.png`` (reliability diagram, scikit-learn ``calibration_curve``);
* ``summary.md`` -- the same, for a human.

With ``--segmentation`` (weights with a segmentation decoder, manifest column ``seg``: a
reference label map on the scan's grid, in :mod:`model.segmentation`'s convention or the Draw-EM
9-class template one), also per scan and summarised: Dice, volume error (ml, %) and 95 %
Hausdorff distance per tissue class, and lesion-level detection of cysts and punctate lesions
(sensitivity per lesion, false positives per scan and per normal scan) (:mod:`model.seg_metrics`),
over all scans with a reference and over the clean normal scans (label 0, degradation none);
``segmentation.csv`` holds the per-scan rows. A ``pma_weeks`` column is passed to the
measurements' age references.

Exit codes: 0 done, 1 some scans could not be read (listed in predictions.csv), 2 usage error.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from model.fileio import atomic_output, write_bytes_atomic

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2
PRED_COLUMNS = [
    "path",
    "subject",
    "label",
    "status",
    "p_injury",
    "flag",
    "in_distribution",
    "ood_score",
    "ood_reasons",
    "pointing_hit",
    "pointing_chance",
    "injuries",
    "degradation",
    "reason",
]


def _metrics_block(labels, probs, groups, threshold: float, n_boot: int, seed: int) -> dict:
    from model.training.metrics import binary_metrics, bootstrap_ci

    labels, probs = np.asarray(labels, int), np.asarray(probs, float)
    if len(labels) == 0:
        return {"n": 0}
    out = binary_metrics(labels, probs, threshold)
    out["ci95"] = (
        bootstrap_ci(labels, probs, groups, n_boot=n_boot, seed=seed, threshold=threshold)
        if len(np.unique(labels)) == 2
        else None
    )
    return out


def evaluate_rows(rows: list[dict], loaded, *, masks: bool, log=print, segmentation: bool = False) -> list[dict]:
    """Analyse each manifest row (:func:`model.ood_gate.read_manifest`); one prediction dict per row.

    With ``segmentation``, rows with a ``seg`` reference also get ``seg_tissue`` and
    ``seg_lesions`` (:func:`model.seg_metrics.tissue_scores`, :func:`~model.seg_metrics.lesion_detection`).
    """
    from model.errors import ScanError
    from model.inference import analyse
    from model.pointing import pointing_hit
    from model.volume import load_volume

    preds = []
    t0 = time.perf_counter()
    for k, row in enumerate(rows, start=1):
        pred = {
            "path": str(row["path"]),
            "subject": row["subject"],
            "label": row["label"],
            "injuries": row.get("injuries", ""),
            "degradation": row.get("degradation", ""),
        }
        try:
            volume = load_volume(row["path"], compute_hash=False)
            mask = None
            if masks and row["label"] == 1 and row.get("mask"):
                mask_vol = load_volume(row["mask"], compute_hash=False)
                if mask_vol.shape != volume.shape or not np.allclose(mask_vol.affine, volume.affine, atol=1e-3):
                    raise ScanError(row["mask"], "the injury mask is not on the scan's grid")
                mask = mask_vol.data > 0.5
        except ScanError as exc:
            preds.append({**pred, "status": "failed", "reason": str(exc)})
            continue
        result = analyse(
            volume, loaded, with_cam=mask is not None, pma_weeks=row.get("pma_weeks"), pma_source="manifest"
        )
        pred.update(
            status="scored",
            p_injury=result.probability,
            flag=result.flag,
            in_distribution=result.in_distribution,
            ood_score=None if result.ood.score is None else result.ood.score,
            ood_reasons=list(result.ood.reasons),
        )
        if mask is not None:
            hit = pointing_hit(result.heatmap, volume, mask)
            pred.update(pointing_hit=hit["hit"], pointing_chance=hit["mask_fraction"])
        if segmentation and row.get("seg") and result.labels is not None:
            from model.seg_metrics import as_reference, lesion_detection, tissue_scores

            try:
                ref_vol = load_volume(row["seg"], compute_hash=False)
            except ScanError as exc:
                pred["seg_reason"] = str(exc)
            else:
                if ref_vol.shape != volume.shape or not np.allclose(ref_vol.affine, volume.affine, atol=1e-3):
                    pred["seg_reason"] = f"{row['seg']}: the reference label map is not on the scan's grid"
                else:
                    ref = as_reference(np.rint(ref_vol.data).astype(np.int64))
                    pred["seg_tissue"] = tissue_scores(result.labels, ref, volume.affine)
                    pred["seg_lesions"] = lesion_detection(result.labels, ref)
        if result.report is not None:
            pred["n_findings"] = len(result.report.findings)
            pred["findings"] = "; ".join(f.summary for f in result.report.findings)
        preds.append(pred)
        if k % 10 == 0 or k == len(rows):
            log(f"  {k}/{len(rows)} scans ({time.perf_counter() - t0:.0f} s)")
    return preds


def summarise(preds: list[dict], card, *, n_boot: int = 2000, seed: int = 0) -> dict:
    """metrics.json content from :func:`evaluate_rows` output and the weights' card."""
    thr = card.decision_threshold
    scored = [p for p in preds if p["status"] == "scored"]
    y = [p["label"] for p in scored]
    pr = [p["p_injury"] for p in scored]
    g = [p["subject"] for p in scored]
    ind = [p for p in scored if p["in_distribution"]]
    ood = [p for p in scored if not p["in_distribution"]]
    reasons = Counter(r.split(" (")[0] for p in ood for r in p["ood_reasons"])
    out = {
        "weights": {
            "name": card.name,
            "version": card.version,
            "weights_sha256": card.weights_sha256,
            "demonstration": card.demonstration,
            "feature_gate": "fitted" if card.ood else "not fitted",
        },
        "decision_threshold": thr,
        "n_scans": len(preds),
        "n_scored": len(scored),
        "n_failed": len(preds) - len(scored),
        "all_scored": _metrics_block(y, pr, g, thr, n_boot, seed),
        "in_distribution_only": _metrics_block(
            [p["label"] for p in ind], [p["p_injury"] for p in ind], [p["subject"] for p in ind], thr, n_boot, seed
        ),
        "out_of_distribution": {
            "rate": len(ood) / len(scored) if scored else None,
            "n": len(ood),
            "rate_normal": _rate([p for p in scored if p["label"] == 0]),
            "rate_injury": _rate([p for p in scored if p["label"] == 1]),
            "reasons": dict(reasons.most_common()),
        },
        "normal_below_threshold": sum(1 for p in scored if p["label"] == 0 and p["p_injury"] < thr),
        "n_normal": sum(1 for p in scored if p["label"] == 0),
        "bootstrap": {"n_boot": n_boot, "seed": seed, "unit": "subject", "interval": "percentile 95%"},
    }
    seg_rows = [p for p in scored if "seg_tissue" in p]
    if seg_rows:
        from model.seg_metrics import summarise_lesions, summarise_tissue

        clean = [p for p in seg_rows if p["label"] == 0 and (p.get("degradation") or "none") == "none"]
        out["segmentation"] = {
            "n_scans": len(seg_rows),
            "all_with_reference": summarise_tissue([p["seg_tissue"] for p in seg_rows]),
            "clean_normal": {"n": len(clean), **summarise_tissue([p["seg_tissue"] for p in clean])},
            "lesions": summarise_lesions([p["seg_lesions"] for p in seg_rows], [p["label"] for p in seg_rows]),
        }
    by_injury = _by_injury(scored, thr)
    if by_injury:
        out["sensitivity_by_injury"] = by_injury
    by_degradation = _by_degradation(scored, thr)
    if by_degradation:
        out["by_degradation"] = by_degradation
    pts = [p for p in scored if p.get("pointing_hit") is not None]
    if pts:
        detected = [p for p in pts if p["p_injury"] >= thr]
        out["pointing_game"] = {
            "tolerance_mm": 3.0,
            "all_injured_with_mask": _pointing(pts),
            "detected_only": _pointing(detected),
        }
    return out


def injury_kinds(text: str) -> list[str]:
    """Kinds named in a manifest's ``injuries`` cell: ``"cysts=2;wm_loss_mm=[1.2, 2]"`` -> ``["cysts", "wm_loss"]``."""
    kinds = []
    for part in (text or "").split(";"):
        name = part.split("=")[0].strip()
        if name:
            kinds.append(name.removesuffix("_mm"))
    return kinds


def _called(rows: list[dict], thr: float) -> dict:
    n = len(rows)
    k = sum(1 for p in rows if p["p_injury"] >= thr)
    return {"n": n, "called_injury": k, "rate": k / n if n else None}


def _by_injury(scored: list[dict], thr: float) -> dict:
    injured = [p for p in scored if p["label"] == 1]
    kinds = sorted({k for p in injured for k in injury_kinds(p.get("injuries", ""))})
    out = {}
    for kind in kinds:
        rows = [p for p in injured if kind in injury_kinds(p.get("injuries", ""))]
        alone = [p for p in rows if injury_kinds(p.get("injuries", "")) == [kind]]
        out[kind] = {"with_others": _called(rows, thr), "alone": _called(alone, thr)}
    return out


def _by_degradation(scored: list[dict], thr: float) -> dict:
    names = sorted({p.get("degradation") or "" for p in scored} - {""})
    out = {}
    for name in names:
        rows = [p for p in scored if (p.get("degradation") or "") == name]
        normal = [p for p in rows if p["label"] == 0]
        injured = [p for p in rows if p["label"] == 1]
        out[name] = {
            "n_normal": len(normal),
            "specificity": (sum(1 for p in normal if p["p_injury"] < thr) / len(normal)) if normal else None,
            "n_injury": len(injured),
            "sensitivity": _called(injured, thr)["rate"],
        }
    return out


def _rate(rows: list[dict]):
    return None if not rows else sum(1 for p in rows if not p["in_distribution"]) / len(rows)


def _pointing(rows: list[dict]) -> dict:
    if not rows:
        return {"n": 0, "hit_rate": None, "chance": None}
    return {
        "n": len(rows),
        "hits": sum(bool(p["pointing_hit"]) for p in rows),
        "hit_rate": float(np.mean([bool(p["pointing_hit"]) for p in rows])),
        "chance": float(np.mean([p["pointing_chance"] for p in rows])),
    }


def _figures(preds: list[dict], out: Path) -> list[str]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import roc_auc_score, roc_curve

    scored = [p for p in preds if p["status"] == "scored"]
    y = np.array([p["label"] for p in scored], int)
    pr = np.array([p["p_injury"] for p in scored], float)
    if len(np.unique(y)) < 2:
        return []
    ind = np.array([bool(p["in_distribution"]) for p in scored])

    def save(fig, name):
        FigureCanvasAgg(fig)
        with atomic_output(out / name) as tmp:
            fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
        return name

    fig = Figure(figsize=(5.2, 5))
    ax = fig.add_subplot()
    fpr, tpr, _ = roc_curve(y, pr)
    ax.plot(fpr, tpr, lw=2.5, color="black", label=f"all scored (AUC {roc_auc_score(y, pr):.2f}, n={len(y)})")
    if ind.sum() and len(np.unique(y[ind])) == 2 and not ind.all():
        fpr, tpr, _ = roc_curve(y[ind], pr[ind])
        ax.plot(fpr, tpr, lw=1.5, label=f"in distribution (AUC {roc_auc_score(y[ind], pr[ind]):.2f}, n={ind.sum()})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC, evaluation set", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right", fontsize=8)
    names = [save(fig, "roc.png")]

    fig = Figure(figsize=(5.2, 5))
    ax = fig.add_subplot()
    frac, mean_p = calibration_curve(y, pr, n_bins=min(10, max(2, len(y) // 5)), strategy="quantile")
    ax.plot(mean_p, frac, marker="o", color="black", label="evaluation set")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfectly calibrated")
    ax.set(
        xlabel="mean predicted P(injury)",
        ylabel="fraction injured",
        title="Calibration (reliability)",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    ax.legend(loc="upper left", fontsize=8)
    names.append(save(fig, "calibration.png"))
    return names


def _fmt(block: dict, key: str) -> str:
    v = block.get(key)
    if v is None:
        return "n/a"
    ci = (block.get("ci95") or {}).get(key)
    return f"{v:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def summary_markdown(metrics: dict, manifest: Path, command: str) -> str:
    m, w = metrics, metrics["weights"]
    lines = [
        f"# Evaluation of {w['name']} {w['version']} (weights {w['weights_sha256'][:12]})",
        "",
        f"Set: `{manifest}`; {m['n_scored']} of {m['n_scans']} scans scored. Command: `{command}`.",
        f"Decision threshold {m['decision_threshold']:.2f} (from the model card); feature gate {w['feature_gate']}.",
        *(["**Demonstration weights: not for clinical use.**"] if w["demonstration"] else []),
        "",
        "| metric | all scored | in distribution only |",
        "|---|---|---|",
    ]
    for key in ("auc", "sensitivity", "specificity", "f1", "mcc", "accuracy"):
        lines.append(f"| {key} | {_fmt(m['all_scored'], key)} | {_fmt(m['in_distribution_only'], key)} |")
    o = m["out_of_distribution"]
    pct = lambda v: "n/a" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    lines += [
        "",
        f"Out of distribution: {o['n']} scans ({pct(o['rate'])}; normal {pct(o['rate_normal'])}, "
        f"injured {pct(o['rate_injury'])}).",
        f"Normal scans below the threshold: {m['normal_below_threshold']} of {m['n_normal']}.",
    ]
    for reason, n in o["reasons"].items():
        lines.append(f"- {n} x {reason}")
    if "pointing_game" in m:
        for name, pg in m["pointing_game"].items():
            if name == "tolerance_mm" or not pg["n"]:
                continue
            lines.append(
                f"Pointing game ({name.replace('_', ' ')}, mask dilated "
                f"{m['pointing_game']['tolerance_mm']:.0f} mm): {pg['hits']}/{pg['n']} = "
                f"{pg['hit_rate']:.2f} (chance {pg['chance']:.2f})."
            )
    if m.get("sensitivity_by_injury"):
        lines += ["", "| injury kind | called injury (with other kinds) | called injury (alone) |", "|---|---|---|"]
        for kind, b in m["sensitivity_by_injury"].items():
            cell = lambda c: f"{c['called_injury']}/{c['n']}" + (f" = {c['rate']:.2f}" if c["n"] else "")  # noqa: E731
            lines.append(f"| {kind} | {cell(b['with_others'])} | {cell(b['alone'])} |")
    if m.get("by_degradation"):
        lines += ["", "| degradation | specificity (normal) | sensitivity (injured) |", "|---|---|---|"]
        for name, b in m["by_degradation"].items():
            f = lambda v, n: "n/a" if v is None else f"{v:.2f} (n={n})"  # noqa: E731
            lines.append(f"| {name} | {f(b['specificity'], b['n_normal'])} | {f(b['sensitivity'], b['n_injury'])} |")
    if m.get("segmentation"):
        seg = m["segmentation"]
        f2 = lambda v: "n/a" if v is None else f"{v:.2f}"  # noqa: E731
        lines += ["", f"Segmentation against the reference label maps ({seg['n_scans']} scans):", ""]
        lines += [
            "| tissue | Dice median (clean normal) | Dice median (all) | abs volume error % median (clean normal) "
            "| HD95 mm median (clean normal) |",
            "|---|---|---|---|---|",
        ]
        for key, b in seg["all_with_reference"].items():
            c = seg["clean_normal"].get(key, {})
            lines.append(
                f"| {b['name']} | {f2(c.get('dice_median'))} | {f2(b['dice_median'])} | "
                f"{f2(c.get('abs_volume_error_pct_median'))} | {f2(c.get('hd95_mm_median'))} |"
            )
        les = seg["lesions"]
        for key in ("10", "11"):
            b = les[key]
            lines.append(
                f"- {b['name']}: {b['detected']}/{b['reference_lesions']} reference lesions detected "
                f"(sensitivity {f2(b['sensitivity_per_lesion'])}); false positives per scan "
                f"{f2(b['false_positives_per_scan'])}, per normal scan {f2(b['false_positives_per_normal_scan'])}"
            )
        lines.append(f"- any false lesion per normal scan: {f2(les['any_lesion_false_positives_per_normal_scan'])}")
    lines += [
        "",
        "95% intervals: percentile bootstrap over subjects "
        f"({m['bootstrap']['n_boot']} resamples, seed {m['bootstrap']['seed']}).",
    ]
    return "\n".join(lines) + "\n"


def _predictions_csv(preds: list[dict]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, PRED_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for p in preds:
        row = dict(p)
        if "p_injury" in row:
            row["p_injury"] = f"{row['p_injury']:.6f}"
        if row.get("ood_score") is not None:
            row["ood_score"] = f"{row['ood_score']:.4f}"
        row["ood_reasons"] = "; ".join(row.get("ood_reasons") or [])
        if row.get("pointing_chance") is not None:
            row["pointing_chance"] = f"{row['pointing_chance']:.4f}"
        w.writerow(row)
    return buf.getvalue().encode()


def _segmentation_csv(preds: list[dict]) -> bytes:
    """One row per scan and tissue label (Dice, volumes, HD95), then the lesion counts."""
    buf = io.StringIO()
    cols = ["path", "label", "degradation", "value", "name", "dice", "volume_pred_ml", "volume_ref_ml"]
    cols += ["volume_error_pct", "hd95_mm", "reference_lesions", "detected", "false_positives"]
    w = csv.DictWriter(buf, cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for p in preds:
        for block in ("seg_tissue", "seg_lesions"):
            for value, cell in (p.get(block) or {}).items():
                row = {k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in cell.items()}
                w.writerow(
                    {
                        "path": p["path"],
                        "label": p["label"],
                        "degradation": p.get("degradation", ""),
                        "value": value,
                        **row,
                    }
                )
    return buf.getvalue().encode()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m model.evaluate", description="Evaluate weights on a labelled set of scans."
    )
    p.add_argument("--weights", type=Path, required=True)
    p.add_argument("--manifest", type=Path, required=True, help="CSV path,label[,subject][,mask]")
    p.add_argument("--masks", action="store_true", help="Grad-CAM pointing game on injured scans with a mask")
    p.add_argument(
        "--segmentation",
        action="store_true",
        help="score the segmentation against the manifest's 'seg' reference label maps (Dice, volume, HD95, lesions)",
    )
    p.add_argument(
        "--out", type=Path, required=True, help="folder for metrics.json, predictions.csv, plots, summary.md"
    )
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--n-boot", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace the results of an earlier evaluation in --out")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from model.checkpoint import load_weights
    from model.errors import GloResNetError
    from model.inference import select_device
    from model.ood_gate import read_manifest

    def usage(msg: str) -> int:
        print(f"error: {msg}", file=sys.stderr)
        return EXIT_USAGE

    if (args.out / "metrics.json").exists() and not args.overwrite:
        return usage(f"{args.out}: holds an earlier evaluation (use --overwrite to replace it)")
    if args.out.resolve() == args.manifest.resolve().parent:
        return usage(f"{args.out}: refusing to write results into the evaluation set's own folder")
    try:
        rows = read_manifest(args.manifest)
        device = select_device(args.device)
        loaded = load_weights(args.weights, device)
    except (ValueError, GloResNetError) as exc:
        return usage(str(exc))
    print(f"evaluating {args.weights} on {len(rows)} scans ({args.manifest})")
    if args.segmentation and not loaded.card.seg_classes:
        return usage(f"{args.weights}: --segmentation needs weights with a segmentation decoder (these have none)")
    if args.segmentation and not any(r.get("seg") for r in rows):
        return usage(f"{args.manifest}: --segmentation needs a 'seg' column of reference label maps")
    preds = evaluate_rows(rows, loaded, masks=args.masks, segmentation=args.segmentation)
    metrics = summarise(preds, loaded.card, n_boot=args.n_boot, seed=args.seed)
    command = "python -m model.evaluate " + " ".join(argv if argv is not None else sys.argv[1:])
    metrics["command"] = command
    metrics["manifest"] = str(args.manifest)
    args.out.mkdir(parents=True, exist_ok=True)
    metrics["figures"] = _figures(preds, args.out)
    write_bytes_atomic(args.out / "predictions.csv", _predictions_csv(preds))
    if args.segmentation:
        write_bytes_atomic(args.out / "segmentation.csv", _segmentation_csv(preds))
    summary = summary_markdown(metrics, args.manifest, command)
    write_bytes_atomic(args.out / "summary.md", summary.encode())
    write_bytes_atomic(args.out / "metrics.json", (json.dumps(metrics, indent=2) + "\n").encode())
    print(summary)
    return EXIT_SOME_FAILED if metrics["n_failed"] else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
