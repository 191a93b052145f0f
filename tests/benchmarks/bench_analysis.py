"""Benchmark: one analysis of a real template, step by step, next to a bare forward pass (prints numbers).

    .venv/bin/python -m tests.benchmarks.bench_analysis [SCAN] [--weights DIR] [--repeats 5] [--device auto]

Reports medians over ``--repeats`` runs measured in the same process: load (nibabel + RAS+
reorientation + SHA-256), preprocessing (resample to the card's grid + z-score), TTA inference
without Grad-CAM (2 passes), the full analysis with Grad-CAM (what the app runs: the
out-of-distribution rules, TTA, Grad-CAM and, for weights with a decoder, the segmentation,
measurements and findings), total wall time (load + full analysis), and one bare forward pass at
the card's grid (no grad, classifier only), with ratios to it; then the full analysis's own step
timings (``AnalysisResult.timings_s``, medians).
Target (issues 2 and 28): total at most 6 bare forward passes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from model import DEFAULT_WEIGHTS_DIR
from model.checkpoint import load_weights, new_card, save_weights
from model.inference import analyse, select_device
from model.network import resnet10
from model.preprocessing import preprocess
from model.volume import load_volume

ROOT = Path(__file__).resolve().parents[2]

DEFAULT_SCAN = ROOT.parent / "shared" / "data" / "neonatal-serag" / "T2" / "template-40.nii.gz"


def timed(fn, repeats):
    times, value = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), value


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("scan", nargs="?", type=Path, default=DEFAULT_SCAN)
    ap.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS_DIR)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    device = select_device(args.device)
    weights = args.weights
    if not (weights / "model_card.json").is_file():
        weights = Path(tempfile.mkdtemp()) / "random"
        save_weights(weights, resnet10(), new_card("bench-random", "0", demonstration=True))
    loaded = load_weights(weights, device)
    print(
        f"scan {args.scan}\ndevice {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, repeats {args.repeats}"
    )
    vol = load_volume(args.scan)
    print(f"volume {vol.shape} spacing {vol.spacing_mm.round(3).tolist()} mm")
    analyse(vol, loaded)  # warm-up
    x = preprocess(vol.data, loaded.card.preprocessing).to(device)

    def bare_forward():
        with torch.inference_mode():
            out = loaded.model(x)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return out

    bare_forward()

    def bare_forward_with_decoder():
        with torch.inference_mode():
            out = loaded.model.forward_with_segmentation(x)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return out

    rows = {
        "bare forward pass (1 volume, no grad)": timed(bare_forward, args.repeats)[0],
        "load (nibabel, RAS+, SHA-256)": timed(lambda: load_volume(args.scan), args.repeats)[0],
        "preprocessing (resample + z-score)": timed(
            lambda: preprocess(vol.data, loaded.card.preprocessing), args.repeats
        )[0],
        "TTA inference, 2 passes, no Grad-CAM": timed(lambda: analyse(vol, loaded, with_cam=False), args.repeats)[0],
        "TTA + Grad-CAM (the app's analysis)": timed(lambda: analyse(vol, loaded, with_cam=True), args.repeats)[0],
        "total: load + TTA + Grad-CAM": timed(lambda: analyse(load_volume(args.scan), loaded), args.repeats)[0],
    }
    if loaded.card.seg_classes:
        bare_forward_with_decoder()
        rows["bare forward pass with the decoder (no grad)"] = timed(bare_forward_with_decoder, args.repeats)[0]
    bare = rows["bare forward pass (1 volume, no grad)"]
    print(f"{'step':45s} {'median s':>9s} {'x bare fwd':>10s}")
    for name, seconds in rows.items():
        print(f"{name:45s} {seconds:9.3f} {seconds / bare:10.2f}")
    total_ratio = rows["total: load + TTA + Grad-CAM"] / bare
    gradcam_extra = rows["TTA + Grad-CAM (the app's analysis)"] - rows["TTA inference, 2 passes, no Grad-CAM"]
    print(f"Grad-CAM cost over plain TTA: {gradcam_extra:.3f} s")
    steps: dict = {}
    for _ in range(args.repeats):
        for k, v in analyse(vol, loaded).timings_s.items():
            steps.setdefault(k, []).append(v)
    grid = "x".join(map(str, loaded.card.preprocessing.target_shape))
    print(f"grid {grid}, crop {loaded.card.preprocessing.crop}, decoder {'yes' if loaded.card.seg_classes else 'no'}")
    for k, v in steps.items():
        print(f"  analysis step {k:28s} {statistics.median(v):9.3f} s")
    print(f"total / bare forward = {total_ratio:.2f} (target <= 6): {'OK' if total_ratio <= 6 else 'OVER'}")
    if loaded.card.seg_classes:
        full = rows["total: load + TTA + Grad-CAM"] / rows["bare forward pass with the decoder (no grad)"]
        print(f"total / bare forward with the decoder = {full:.2f} (target <= 6): {'OK' if full <= 6 else 'OVER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
