"""Benchmark: can a decoder of given widths fit its own training batch? (prints Dice per label)

    .venv/bin/python -m tests.benchmarks.bench_decoder_fit [--widths 128,64,48,32,16] [--steps 60] [--grid 48]

Renders three seeded phantom renders (the trainer's renderer, head crop), starts the encoder from
the bundled weights and a fresh decoder, takes ``--steps`` AdamW steps of the trainer's
segmentation loss (MONAI DiceCELoss, soft targets) on that one batch, and prints the loss and the
Dice of the argmax per label on the same batch. A decoder that cannot fit its own batch will not
learn from the stream either: measured on 2 CPU cores (about 5 min each), 60 steps at 48^3 gave
loss 2.67 and Dice 0.00 for ventricles with widths 128,64,32,16,8 (the first decoder, seg1) and
loss 1.40, ventricles 0.35, cerebellum 0.82 with 128,64,48,32,16 (the default since).
"""

from __future__ import annotations

import argparse
import time

import torch

from model import DEFAULT_WEIGHTS_DIR
from model.checkpoint import load_weights
from model.network import DEFAULT_WIDTHS, resnet10
from model.preprocessing import PreprocessConfig
from model.segmentation import CHANNEL_VALUES, N_SEG_CLASSES
from model.simulation.synth import PairRenderer, anatomy_pair


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--widths", default=",".join(map(str, DEFAULT_WIDTHS)))
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--grid", type=int, default=48)
    ap.add_argument("--lr", type=float, default=5e-4)
    args = ap.parse_args()
    from monai.losses import DiceCELoss

    widths = tuple(int(w) for w in args.widths.split(","))
    torch.manual_seed(0)
    renderer = PairRenderer(PreprocessConfig(target_shape=(args.grid,) * 3, crop="head"))
    renders = [renderer.render(anatomy_pair(100 + k), k) for k in range(3)]
    x = torch.cat([r.x for r in renders])
    target = torch.cat([r.seg.float() for r in renders])
    net = resnet10(seg_classes=N_SEG_CLASSES, seg_widths=widths)
    net.load_state_dict(load_weights(DEFAULT_WEIGHTS_DIR).model.state_dict(), strict=False)
    net.train()
    loss_fn = DiceCELoss(softmax=True, to_onehot_y=False, batch=True)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        _, seg = net.forward_with_segmentation(x)
        loss = loss_fn(seg, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - t0
    net.eval()
    with torch.no_grad():
        _, seg = net.forward_with_segmentation(x)
    pred, ref = seg.argmax(1), target.argmax(1)
    print(
        f"widths {widths}, {args.steps} steps at {args.grid}^3, lr {args.lr}: loss {loss.item():.3f} ({seconds:.0f} s)"
    )
    for c, value in enumerate(CHANNEL_VALUES):
        both = int(((pred == c) & (ref == c)).sum())
        total = int((pred == c).sum() + (ref == c).sum())
        print(f"  label {int(value):2d}: Dice {2 * both / total:.2f}" if total else f"  label {int(value):2d}: absent")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
