"""Benchmark: training throughput at 128^3 and the projected time of the full protocol (prints numbers).

    .venv/bin/python -m tests.benchmarks.bench_train [--device auto] [--batch-size 4] [--steps 6] [--no-amp]

Measures training samples per second of the exact training step used by ``model.training.train`` (flip,
rotation, mixup, forward, Eq. 11 loss, backward, AdamW) on random 128^3 inputs, after one warm-up
step, then projects the paper's protocol: 5 folds x 150 epochs x 128 subjects (each fold trains on
4/5 of them) plus the final retrain on all 128. Target on one modern datacentre GPU: < 10 min.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import nullcontext

import torch
import torch.nn.functional as F

from model.inference import select_device
from model.network import resnet10
from model.training.augment import mixup, random_flip_lr, random_rotate
from model.training.train import weighted_soft_ce


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--no-amp", action="store_true")
    ap.add_argument("--no-channels-last", action="store_true")
    args = ap.parse_args()
    device = select_device(args.device)
    cuda = device.type == "cuda"
    amp, cl = cuda and not args.no_amp, not args.no_channels_last  # channels_last_3d: faster on CPU too
    torch.manual_seed(0)
    model = resnet10().to(device)
    if cl:
        model = model.to(memory_format=torch.channels_last_3d)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    gen = torch.Generator().manual_seed(0)
    x_all = torch.randn(args.batch_size, 1, args.size, args.size, args.size)
    y_all = F.one_hot(torch.arange(args.batch_size) % 2, 2).float()
    w = torch.tensor([1.0, 1.0], device=device)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if amp else nullcontext

    def step():
        x, y = x_all.to(device), y_all.to(device)
        x = random_rotate(random_flip_lr(x, gen), gen)
        x, y, _ = mixup(x, y, 1.0, 0.5, gen)
        if cl:
            x = x.contiguous(memory_format=torch.channels_last_3d)
        with autocast():
            loss = weighted_soft_ce(model(x), y, w)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if cuda:
            torch.cuda.synchronize()

    step()  # warm-up
    t = time.perf_counter()
    for _ in range(args.steps):
        step()
    seconds = time.perf_counter() - t
    sps = args.steps * args.batch_size / seconds
    samples = 5 * 150 * round(128 * 4 / 5) + 150 * 128
    name = torch.cuda.get_device_name(device) if cuda else f"CPU, {torch.get_num_threads()} threads"
    print(f"device {device} ({name}); torch {torch.__version__}; bf16 autocast {amp}; channels_last_3d {cl}")
    print(
        f"input {args.size}^3, batch {args.batch_size}, {args.steps} timed steps: {sps:.2f} training samples/s "
        f"({seconds / args.steps:.3f} s/step)"
    )
    print(
        f"full protocol (5 folds x 150 epochs x 128 subjects + final retrain) = {samples} samples "
        f"-> projected {samples / sps / 60:.1f} min ({samples / sps / 3600:.2f} h) of training steps"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
