"""Benchmark: seconds per rendered training pair of the synthetic generator (prints numbers).

    .venv/bin/python -m tests.benchmarks.bench_render [--size 64] [--pairs 8] [--threads 1]

Times :meth:`model.simulation.synth.PairRenderer.render` (one DataLoader worker renders one pair on
one thread) in one run for: the shipped setting (linear control fields, partial volume from a
2x finer grid), partial volume off (``supersample=1``), and cornucopia's default cubic control
fields without partial volume (the renderer before partial volume was added). Ratios are to the
shipped setting, measured in the same run.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch


def main() -> int:
    import cornucopia as cc

    from model.preprocessing import PreprocessConfig
    from model.simulation.synth import PairRenderer, anatomy_pair

    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = PreprocessConfig(target_shape=(args.size,) * 3)
    anatomy = [anatomy_pair(seed) for seed in range(4)]

    cubic = PairRenderer(cfg, supersample=1)
    cubic.spatial = cc.RandomAffineElasticTransform(
        dmax=0.04, shape=5, rotations=15, zooms=0.2, translations=0.05, unit="fov", bound="zeros",
        nearest_if_label=True, shared=True,
    )  # fmt: skip
    cubic.bias = cc.RandomMulFieldTransform(shape=5, vmax=1.0, shared=True)
    setups = {
        "shipped (linear fields, partial volume x2)": PairRenderer(cfg),
        "linear fields, no partial volume": PairRenderer(cfg, supersample=1),
        "cubic fields, no partial volume (before)": cubic,
    }
    times = {}
    for name, renderer in setups.items():
        renderer.render(anatomy[0], 0)  # warm-up
        t0 = time.perf_counter()
        for j in range(args.pairs):
            renderer.render(anatomy[j % len(anatomy)], 1000 + j)
        times[name] = (time.perf_counter() - t0) / args.pairs
    base = times["shipped (linear fields, partial volume x2)"]
    print(f"grid {args.size}^3, {args.pairs} pairs each, {args.threads} thread(s)")
    for name, t in times.items():
        print(f"  {name:45s} {t:6.3f} s/pair  ({t / base:4.2f}x the shipped setting)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
