"""Benchmark: batch scoring of a folder of real-template-sized scans (prints numbers).

    .venv/bin/python -m tests.benchmarks.bench_batch [--n 50] [--weights DIR] [--device auto] [--loader-threads 2]

Builds a temporary folder of ``--n`` scans from the real neonatal templates in ../shared/data
(117x159x126, gzip-compressed, varied on-disk orientation and a little noise so every file differs;
never copied into the project), then measures in the same run:

* loading alone: the scorer's loader (read, gunzip, SHA-256, checks, RAS+, preprocessing) over all
  files through the same loader threads, no network;
* inference alone: TTA forward passes over already-preprocessed inputs;
* total: ``model.score.score_steps`` with loading overlapped with inference.

Target (issue 4): total / max(loading alone, inference alone) <= 1.2. Also prints peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from nibabel.orientations import apply_orientation, axcodes2ornt, inv_ornt_aff, ornt_transform

from model import DEFAULT_WEIGHTS_DIR
from model.checkpoint import load_weights, new_card, save_weights
from model.inference import run_to_end, select_device, tta_probabilities
from model.network import resnet10
from model.preprocessing import preprocess
from model.quality import quality_warnings
from model.score import discover, score_steps
from model.volume import load_volume

ROOT = Path(__file__).resolve().parents[2]

SERAG = ROOT.parent / "shared" / "data" / "neonatal-serag" / "T2"
ORIENTATIONS = [("L", "A", "S"), ("R", "A", "S"), ("L", "P", "S"), ("R", "A", "I")]


def make_folder(folder: Path, n: int) -> None:
    templates = sorted(SERAG.glob("template-*.nii.gz"))
    if not templates:
        sys.exit(f"no templates in {SERAG}: ../shared/data is needed for this benchmark")
    rng = np.random.default_rng(0)
    ras = axcodes2ornt(("R", "A", "S"))
    for i in range(n):
        img = nib.as_closest_canonical(nib.load(templates[i % len(templates)]))
        data = np.asarray(img.dataobj, dtype=np.float32)
        data = data + rng.normal(0, 1.0, data.shape).astype(np.float32) * (data > 0)
        t = ornt_transform(ras, axcodes2ornt(ORIENTATIONS[i % len(ORIENTATIONS)]))
        disk = apply_orientation(data, t)
        nib.save(nib.Nifti1Image(disk, img.affine @ inv_ornt_aff(t, data.shape)), folder / f"scan-{i:03d}.nii.gz")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS_DIR)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--loader-threads", type=int, default=2)
    args = ap.parse_args()
    device = select_device(args.device)
    weights = args.weights
    tmp = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        if not (weights / "model_card.json").is_file():
            weights = tmp / "weights"
            save_weights(weights, resnet10(), new_card("bench-random", "0", demonstration=True))
        loaded = load_weights(weights, device)
        folder = tmp / "scans"
        folder.mkdir()
        t = time.perf_counter()
        make_folder(folder, args.n)
        size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        print(
            f"{args.n} scans, {size_mb:.0f} MB compressed, made in {time.perf_counter() - t:.1f} s; "
            f"device {device}, torch threads {torch.get_num_threads()}, loader threads {args.loader_threads}"
        )
        entries = discover(folder)
        cfg = loaded.card.preprocessing

        def load(entry):
            vol = load_volume(entry.path)
            quality_warnings(vol)
            return preprocess(vol.data, cfg)

        t = time.perf_counter()
        with ThreadPoolExecutor(args.loader_threads) as pool:
            inputs = list(pool.map(load, entries))
        loading = time.perf_counter() - t

        batch = 4 if device.type == "cuda" else 1
        x_all = torch.cat(inputs)
        tta_probabilities(loaded.model, x_all[:batch].to(device))  # warm-up
        t = time.perf_counter()
        for start in range(0, len(x_all), batch):
            tta_probabilities(loaded.model, x_all[start : start + batch].to(device))
        if device.type == "cuda":
            torch.cuda.synchronize()
        inference = time.perf_counter() - t
        del inputs, x_all

        t = time.perf_counter()
        summary = run_to_end(score_steps(entries, loaded, loader_threads=args.loader_threads))
        total = time.perf_counter() - t
        assert summary.scored == args.n, summary
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"loading alone   {loading:8.2f} s  ({loading / args.n * 1000:.0f} ms/scan)")
        print(f"inference alone {inference:8.2f} s  ({inference / args.n * 1000:.0f} ms/scan, batch {batch})")
        print(f"total (overlap) {total:8.2f} s  -> {args.n / total:.2f} cases/s")
        ratio = total / max(loading, inference)
        print(f"total / max(loading, inference) = {ratio:.3f} (target <= 1.2): {'OK' if ratio <= 1.2 else 'OVER'}")
        print(f"sum of both alone = {loading + inference:.2f} s; peak RSS {peak_mb:.0f} MB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
