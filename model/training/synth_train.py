"""``python -m model.train --synthetic --out DIR``: train on domain-randomised renders, on the fly.

Why a second protocol: the cross-validated protocol (:mod:`model.training.train`) learns from a
fixed list of scans. With no real labelled data we can ship, the weights must learn from
simulation what transfers to real anatomy, so every training sample is a fresh render
(:mod:`model.simulation.synth`: phantom anatomy + injuries, everything else randomised), and each
anatomy is rendered without and with its injuries under one nuisance draw in the same batch.

Protocol
--------
* Anatomy bank: ``--subjects`` phantom infants (seeds ``seed*10^6 + k``), each as a normal and an
  injured label map, built once in parallel and cached in the run folder. Held-out anatomy for
  validation uses a disjoint seed range and is never trained on.
* Each step takes ``--pairs`` pairs (batch ``2*pairs``), rendered in DataLoader workers; a random
  left-right flip per pair. Sample ``j`` of the run is fully determined by ``(seed, j)``, so
  ``--resume`` continues the same stream.
* Loss: cross-entropy on the label derived from the final label map, plus ``--aux-weight`` times
  an auxiliary injury-localisation loss on the Grad-CAM layer (a 1x1x1 convolution on its
  features predicting which feature cells hold injury, binary cross-entropy). The auxiliary head
  shapes the features Grad-CAM reads so that the heatmap points at the injury; it is used only
  in training and not saved (the shipped network is the plain ResNet-10 of the card).
* Segmentation (``--seg-weight`` > 0, the default; issue 28): a U-Net decoder on the encoder
  (:class:`model.network.SegDecoder`) learns every voxel's label from the final (deformed, cropped)
  render label maps, with their partial-volume fractions as soft targets
  (:data:`model.segmentation.SEG_CLASSES`: Draw-EM tissue classes, cysts and punctate lesions).
  Its loss is MONAI's ``DiceCELoss`` (soft Dice over the batch + soft-label cross-entropy, all
  classes), added with weight ``--seg-weight``; the decoder is saved with the weights and the card
  records it (``segmentation``). ``--seg-weight 0`` trains the paper's classification-only network.
  (Mixup, Eq. 9, is off by default here: it mixes a pair's two renders into a label the maps
  cannot support; ``--mixup-prob`` turns it on.)
* AdamW with cosine annealing over ``--steps``; no model selection: the last step's weights are
  shipped, or, with ``--ema-decay D`` (> 0), an exponential moving average of the weights
  (and BatchNorm statistics) from step ``--ema-start`` on: ``theta_ema <- D theta_ema + (1 - D)
  theta`` after every optimiser step (Polyak averaging, as in timm's ModelEma;
  ``torch.optim.swa_utils.AveragedModel`` with ``get_ema_multi_avg_fn``). Off by default:
  measured on the real-anatomy set (synth-ema1, decay 0.998 from step 500 of 1000,
  resources/README.md) the average ranked real injuries worse than the same run's last step
  (AUC 0.756 against 0.782), because the weights were still improving and the average lags
  them. Validation (TTA, Eq. 12; the Grad-CAM pointing game) on the held-out renders every
  ``--eval-every`` steps is only reported.
* channels_last_3d on CPU and GPU where it is faster (measured: 0.055 vs 0.09-0.16 s per sample
  for a training step at 64^3 on 2 CPU cores), bf16 autocast on CUDA.

Outputs in ``--out``: ``model.safetensors`` + ``model_card.json`` (what the app loads),
``config.json``, ``metrics.json`` (held-out synthetic validation), ``validation.csv``,
``training_curves.png``, ``checkpoints/last.pt`` (resumable every ``--checkpoint-every`` steps).

This module holds the options and the trainer; the anatomy bank, sample stream and held-out seed
ranges are in :mod:`model.training.synth_bank`, the held-out evaluation in
:mod:`model.training.synth_eval`, and what the cross-validated trainer shares in
:mod:`model.training.loop` and :mod:`model.training.run_folder`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from model.checkpoint import load_weights, new_card, save_weights
from model.fileio import write_bytes_atomic
from model.inference import select_device
from model.network import DEFAULT_WIDTHS, resnet10
from model.preprocessing import PreprocessConfig
from model.segmentation import N_SEG_CLASSES, label_table
from model.simulation.synth import injury_cells
from model.training.loop import (
    adamw_cosine,
    autocast_factory,
    ema_model,
    load_training_state,
    optimizer_record,
    save_training_state,
)
from model.training.metrics import binary_metrics, bootstrap_ci, youden_threshold
from model.training.run_folder import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    add_card_arguments,
    add_crop_argument,
    add_device_argument,
    add_optimizer_arguments,
    add_out_argument,
    check_run_folder,
    command_line,
    resolved_config,
    run_guarded,
    to_json,
    write_config,
)
from model.training.synth_bank import PairStream, bank_file, build_bank, collate_pairs
from model.training.synth_eval import held_out_renders, segmentation_dice, validate

log = logging.getLogger("model.training.synth_train")
_RESUME_FREE = {"resume", "overwrite", "workers", "steps_limit"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m model.train --synthetic",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_out_argument(p)
    p.add_argument("--subjects", type=int, default=400, help="phantom infants in the training anatomy bank")
    p.add_argument(
        "--icbm-subjects",
        type=int,
        default=0,
        help="training subjects drawn from the adult ICBM152 2009c anatomy sized as infants "
        "(model.simulation.icbm_anatomy), added to the bank beside the phantoms; needs --icbm",
    )
    p.add_argument("--icbm", type=Path, help="folder of the ICBM152 2009c probability maps (2mm_tpm_*.nii.gz)")
    p.add_argument("--val-subjects", type=int, default=64, help="held-out phantom infants (one pair each)")
    p.add_argument("--steps", type=int, default=2000, help="optimiser steps (fixed; no model selection)")
    p.add_argument("--steps-limit", type=int, default=0, help="stop (resumably) after this step; 0 = --steps")
    p.add_argument("--pairs", type=int, default=4, help="normal/injured pairs per step (batch = 2 x pairs)")
    add_optimizer_arguments(p, lr=1e-3)
    p.add_argument("--aux-weight", type=float, default=0.5, help="weight of the injury-localisation loss")
    p.add_argument(
        "--seg-weight",
        type=float,
        default=1.0,
        help="weight of the segmentation loss (Dice + cross-entropy); 0 = no segmentation decoder",
    )
    p.add_argument(
        "--seg-widths",
        type=_widths_arg,
        default=DEFAULT_WIDTHS,
        help="the segmentation decoder's five widths, coarse to fine (the card records them)",
    )
    p.add_argument("--mixup-prob", type=float, default=0.0)
    p.add_argument(
        "--ema-decay",
        type=_ema_arg,
        default=0.0,
        help="ship an exponential moving average of the weights with this decay per step (e.g. 0.995); 0 = off",
    )
    p.add_argument(
        "--ema-start",
        type=int,
        default=-1,
        help="first step averaged into the EMA (it starts as a copy of the weights there); -1 = half of --steps",
    )
    p.add_argument("--input-size", type=int, default=64, help="network grid (cubic); the card records it")
    add_crop_argument(p)
    p.add_argument("--gradcam-layer", default="layer3", help="Grad-CAM layer (card); 4x4x4 at 64^3 for layer3")
    p.add_argument("--init", type=Path, help="weights folder to start from (e.g. earlier demo weights)")
    p.add_argument("--seed", type=int, default=2026, help="anatomy bank, held-out set and (by default) sample stream")
    p.add_argument("--stream-seed", type=int, help="seed of the render stream (continue training with fresh renders)")
    add_device_argument(p)
    p.add_argument("--workers", type=int, default=1, help="DataLoader workers rendering pairs")
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--checkpoint-every", type=int, default=50)
    p.add_argument(
        "--decision-threshold",
        type=_threshold_arg,
        default="youden",
        help="P(injury) threshold of the card: a number in (0, 1), or 'youden' to choose it on "
        "--calibration-subjects held-out pairs (Youden's J; never on the validation pairs)",
    )
    p.add_argument(
        "--calibration-subjects",
        type=int,
        default=64,
        help="held-out phantom infants (one pair each, seeds disjoint from training and validation) "
        "the 'youden' threshold is chosen on",
    )
    p.add_argument(
        "--ood-cases",
        type=int,
        default=200,
        help="fresh renders to fit the out-of-distribution feature gate on after training (model.ood); 0 = skip",
    )
    add_card_arguments(p, name="GloResNet-synth", version="0.2.0")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--overwrite", action="store_true")
    return p


def _threshold_arg(text: str):
    if text == "youden":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1) or 'youden', got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {value}")
    return value


def _widths_arg(text) -> tuple:
    if isinstance(text, tuple):
        return text
    try:
        widths = tuple(int(v) for v in str(text).split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected five comma-separated integers, got {text!r}") from None
    if len(widths) != 5 or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"expected five positive integers, got {text!r}")
    return widths


def _ema_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {value}")
    return value


# ------------------------------------------------------------------------------------------- trainer
class SynthTrainer:
    def __init__(self, args: argparse.Namespace, argv: list[str]):
        self.args, self.out = args, args.out
        if args.ema_decay and not args.ema_start < args.steps:
            raise ValueError(
                f"--ema-start {args.ema_start} must be below --steps {args.steps} (no step would be averaged)"
            )
        if args.icbm_subjects < 0:
            raise ValueError(f"--icbm-subjects must be 0 or more, got {args.icbm_subjects}")
        if args.icbm_subjects:
            from model.simulation.icbm_anatomy import ICBM_FILES

            if args.icbm is None:
                raise ValueError("--icbm-subjects needs --icbm DIR (the ICBM152 2009c probability maps)")
            missing = [f"{n}.nii.gz" for n in ICBM_FILES if not (Path(args.icbm) / f"{n}.nii.gz").is_file()]
            if missing:
                raise ValueError(f"{args.icbm}: not an ICBM152 2009c folder (missing {', '.join(missing)})")
        self.device = select_device(args.device)
        self.amp = self.device.type == "cuda"
        self.cfg = PreprocessConfig(target_shape=(args.input_size,) * 3, crop=args.crop)
        self.command = command_line("python -m model.train --synthetic", argv)
        self.config = resolved_config(args)
        self.ckpt = self.out / "checkpoints" / "last.pt"

    def _prepare(self) -> None:
        a = self.args
        if check_run_folder(self.out, self.config, resume=a.resume, overwrite=a.overwrite, resume_free=_RESUME_FREE):
            return
        self.ckpt.unlink(missing_ok=True)
        write_config(self.out, self.command, self.config)

    def _validation_set(self, bank_dir: Path, what: str = "validation"):
        """Held-out renders (x, y, mask, mean field of view in mm), cached in ``checkpoints/<what>.pt``
        (:func:`model.training.synth_eval.held_out_renders`).

        ``what`` is ``"validation"`` (reported metrics) or ``"calibration"`` (the 'youden' threshold).
        """
        n = self.args.val_subjects if what == "validation" else self.args.calibration_subjects
        path = self.out / "checkpoints" / f"{what}.pt"
        x, y, mask, fov, labels = held_out_renders(path, bank_dir, self.cfg, self.args.seed, what, n)
        if what == "validation":  # the calibration set must not replace the validation labels
            self.val_labels = labels
        return x, y, mask, fov

    def _build_model(self):
        """The network (with a decoder when ``--seg-weight`` > 0), what it starts from, and the
        segmentation loss (None without a decoder)."""
        args = self.args
        self.seg_classes = N_SEG_CLASSES if args.seg_weight > 0 else 0
        model = resnet10(seg_classes=self.seg_classes, seg_widths=args.seg_widths)
        init = "random (Kaiming normal; head N(0, 0.01))"
        if args.init:
            loaded = load_weights(args.init)
            result = model.load_state_dict(loaded.model.state_dict(), strict=False)
            if result.unexpected_keys or any(not k.startswith("decoder.") for k in result.missing_keys):
                raise ValueError(
                    f"--init {args.init}: its weights do not fit this network "
                    f"(missing {result.missing_keys[:3]}, unexpected {result.unexpected_keys[:3]})"
                )
            init = f"{args.init} (weights sha256 {loaded.card.weights_sha256})"
            if result.missing_keys:
                init += "; segmentation decoder freshly initialised"
        seg_loss = None
        if self.seg_classes:
            from monai.losses import DiceCELoss

            # soft targets (partial-volume fractions); Dice pooled over the batch so that rare
            # classes (cysts, punctate lesions) absent from one image do not dominate
            seg_loss = DiceCELoss(softmax=True, to_onehot_y=False, include_background=True, batch=True)
        return model, init, seg_loss

    def run(self) -> int:
        args = self.args
        self._prepare()
        t0 = time.perf_counter()
        bank_dir = self.out / "checkpoints" / "anatomy"
        seeds = [args.seed * 1_000_000 + k for k in range(args.subjects)]
        build_bank(bank_dir, seeds, processes=2)
        bank = [bank_file(bank_dir, s) for s in seeds]
        if args.icbm_subjects:
            icbm_seeds = [args.seed * 1_000_000 + 500_000 + k for k in range(args.icbm_subjects)]
            build_bank(bank_dir, icbm_seeds, processes=2, icbm=args.icbm)
            bank += [bank_file(bank_dir, s, icbm=True) for s in icbm_seeds]
        vx, vy, vmask, vfov = self._validation_set(bank_dir)
        log.info(
            "anatomy bank %d infants, held-out %d pairs (%d injury after deformation); device %s",
            len(bank),
            len(vy) // 2,
            int(vy.sum()),
            self.device,
        )

        torch.manual_seed(args.seed)
        model, init, seg_loss = self._build_model()
        layer = model.get_submodule(args.gradcam_layer)
        aux = torch.nn.Conv3d(layer[-1].conv2.out_channels if hasattr(layer[-1], "conv2") else 256, 1, 1)
        model.to(self.device), aux.to(self.device)
        model = model.to(memory_format=torch.channels_last_3d)
        params = list(model.parameters()) + list(aux.parameters())
        opt, sched = adamw_cosine(params, args, args.steps)
        history, step = [], 0
        ema = ema_model(model, args.ema_decay) if args.ema_decay else None
        ema_start = args.steps // 2 if args.ema_start < 0 else args.ema_start
        if args.resume and self.ckpt.is_file():
            parts = {"model": model, "aux": aux, "optimizer": opt, "scheduler": sched}
            state, history = load_training_state(self.ckpt, self.device, parts)
            if ema is not None and "ema" in state:
                ema.load_state_dict(state["ema"])
            step = int(state["step"])
            log.info("resuming after step %d", step)

        feats = {}
        hook = layer.register_forward_hook(lambda m, i, o: feats.__setitem__("a", o))
        stop = args.steps_limit or args.steps
        stream_seed = args.seed if args.stream_seed is None else args.stream_seed
        stream = PairStream(bank, self.cfg, stream_seed, step * args.pairs, args.steps * args.pairs)
        loader = torch.utils.data.DataLoader(
            stream,
            batch_size=args.pairs,
            shuffle=False,
            collate_fn=collate_pairs,
            num_workers=args.workers,
            persistent_workers=False,
            prefetch_factor=4 if args.workers else None,
        )
        autocast = autocast_factory(self.amp)
        model.train()
        bar = tqdm(total=stop, initial=step, desc="train", unit="step")
        running, t_last = [], time.perf_counter()
        try:
            for x, y, mask, seg_target in loader:
                if step >= stop:
                    break
                x = x.to(self.device).contiguous(memory_format=torch.channels_last_3d)
                y, mask = y.to(self.device), mask.to(self.device)
                with autocast():
                    if seg_loss is not None:
                        logits, seg_logits = model.forward_with_segmentation(x)
                        segl = seg_loss(seg_logits.float(), seg_target.to(self.device).float())
                    else:
                        logits, segl = model(x), torch.zeros((), device=self.device)
                    ce = F.cross_entropy(logits.float(), y)
                    a = feats["a"]
                    seg = aux(a).float()
                    target = injury_cells(mask, tuple(seg.shape[2:]))
                    loc = F.binary_cross_entropy_with_logits(
                        seg, target, pos_weight=torch.tensor(3.0, device=seg.device)
                    )
                    loss = ce + args.aux_weight * loc + args.seg_weight * segl
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step(), sched.step()
                step += 1
                if ema is not None and step >= ema_start:
                    ema.update_parameters(model)
                acc = float((logits.argmax(1) == y).float().mean())
                running.append((ce.item(), loc.item(), acc, segl.item()))
                bar.update(1)
                if step % 10 == 0:
                    r = np.mean(running[-10:], axis=0)
                    bar.set_postfix(ce=f"{r[0]:.3f}", loc=f"{r[1]:.3f}", acc=f"{r[2]:.2f}", seg=f"{r[3]:.3f}")
                if step % args.eval_every == 0 or step == args.steps:
                    res = validate(
                        self._shipped(model, ema),
                        vx,
                        vy,
                        vmask,
                        args.gradcam_layer,
                        self.device,
                        vfov,
                        with_cam=step == args.steps or step % (2 * args.eval_every) == 0,
                    )
                    r = np.mean(running, axis=0)
                    now = time.perf_counter()
                    entry = {
                        "step": step,
                        "ce": float(r[0]),
                        "loc": float(r[1]),
                        "train_accuracy": float(r[2]),
                        "val_auc": res["metrics"].get("auc"),
                        "val_accuracy": res["metrics"].get("accuracy"),
                        "pointing": (res.get("pointing") or {}).get("rate"),
                        "samples_per_s": len(running) * 2 * args.pairs / max(now - t_last, 1e-9),
                        "seg_loss": float(r[3]),
                    }
                    if self.seg_classes and getattr(self, "val_labels", None) is not None:
                        entry["val_dice"] = segmentation_dice(
                            self._shipped(model, ema), vx, self.val_labels, self.device
                        )
                    history.append(entry)
                    running, t_last = [], now
                    log.info(
                        "step %d: %s",
                        step,
                        json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in entry.items()}),
                    )
                if step % args.checkpoint_every == 0 or step == stop:
                    self._checkpoint(model, aux, opt, sched, history, step, ema)
        finally:
            bar.close()
            hook.remove()
        if step < args.steps:
            self._checkpoint(model, aux, opt, sched, history, step, ema)
            print(f"stopped after step {step} of {args.steps}; continue with the same command plus --resume")
            return EXIT_INTERRUPTED
        self._finish(self._shipped(model, ema), vx, vy, vmask, vfov, history, init, time.perf_counter() - t0)
        return EXIT_OK

    @staticmethod
    def _shipped(model, ema):
        """The network validation reports and ``_finish`` saves: the EMA once it has started."""
        if ema is not None and int(ema.n_averaged) > 0:
            return ema.module
        return model

    def _checkpoint(self, model, aux, opt, sched, history, step, ema=None) -> None:
        parts = {"model": model, "aux": aux, "optimizer": opt, "scheduler": sched}
        if ema is not None:
            parts["ema"] = ema
        save_training_state(self.ckpt, parts, history, step=step)

    def _finish(self, model, vx, vy, vmask, vfov, history, init, seconds) -> None:
        from model.training import plots

        args = self.args
        model = model.to(memory_format=torch.contiguous_format).cpu()
        threshold, calibration = args.decision_threshold, None
        if threshold == "youden":
            cx, cy, cmask, cfov = self._validation_set(self.out / "checkpoints" / "anatomy", "calibration")
            cp = validate(model, cx, cy, cmask, args.gradcam_layer, torch.device("cpu"), cfov, with_cam=False)["probs"]
            threshold = youden_threshold(cy, cp)
            at = binary_metrics(cy, cp, threshold=threshold)
            calibration = {
                "rule": "youden",
                "what": (
                    f"decision threshold chosen by Youden's J on {len(cy) // 2} further held-out phantom infants "
                    "(seeds disjoint from training and validation; rendered like the validation pairs; TTA)"
                ),
                "decision_threshold": threshold,
                **{k: at[k] for k in ("n", "n_injury", "sensitivity", "specificity", "auc")},
            }
            print(f"decision threshold {threshold} (Youden's J on {len(cy)} calibration renders)")
        band = round(min(0.1, 0.2 * min(threshold, 1.0 - threshold)), 3)
        res = validate(model, vx, vy, vmask, args.gradcam_layer, torch.device("cpu"), vfov, threshold=threshold)
        p = res["probs"]
        ci = bootstrap_ci(vy, p, n_boot=1000, seed=args.seed, threshold=threshold)
        metrics = {
            "held_out_synthetic": {
                "what": (
                    f"{len(vy) // 2} held-out phantom infants (seeds never trained on), each rendered once "
                    "normal and once injured under one random nuisance draw; TTA (Eq. 12)"
                ),
                "n": int(len(vy)),
                "n_injury": int(vy.sum()),
                "decision_threshold": threshold,
                **binary_metrics(vy, p, threshold=threshold),
                "bootstrap_95ci": ci,
                "pointing_game": res["pointing"],
            },
        }
        if calibration is not None:
            metrics["threshold_calibration"] = calibration
        rows = ["index,label,p_injury"] + [f"{i},{int(a)},{b:.6f}" for i, (a, b) in enumerate(zip(vy, p))]
        write_bytes_atomic(self.out / "validation.csv", ("\n".join(rows) + "\n").encode())
        write_bytes_atomic(self.out / "metrics.json", to_json(metrics))
        plots.training_curves_figure(
            {
                "synthetic": [
                    {"epoch": h["step"], "loss": h["ce"], "train_accuracy": h["train_accuracy"]} for h in history
                ]
            },
            self.out / "training_curves.png",
        )
        card = new_card(
            args.name,
            args.version,
            self.cfg,
            demonstration=args.demonstration,
            decision_threshold=threshold,
            indeterminate_band=band,
            metrics=metrics,
            training={
                "command": self.command,
                "seed": args.seed,
                "protocol": "synthetic domain-randomised (model.training.synth_train)",
                "data": (
                    f"on-the-fly renders of {args.subjects} simulated phantom infants (model.simulation.synth; "
                    "no real scans)"
                    + (
                        f" and {args.icbm_subjects} infant-sized label maps of the adult ICBM152 2009c template "
                        "(model.simulation.icbm_anatomy; real-anatomy-mode injuries; Copyright (C) 1993-2009 "
                        "Louis Collins, McConnell Brain Imaging Centre, Montreal Neurological Institute, "
                        "McGill University)"
                        if args.icbm_subjects
                        else ""
                    )
                    + "; each normal and injured under one nuisance draw"
                ),
                "steps": args.steps,
                "pairs_per_step": args.pairs,
                "samples_seen": args.steps * args.pairs * 2,
                **optimizer_record(args),
                "weight_averaging": (
                    f"EMA of weights and BatchNorm statistics, decay {args.ema_decay}, from step "
                    f"{args.steps // 2 if args.ema_start < 0 else args.ema_start} (torch.optim.swa_utils)"
                    if args.ema_decay
                    else "none (last step's weights)"
                ),
                "loss": "cross-entropy + aux injury-localisation BCE on "
                f"{args.gradcam_layer} (weight {args.aux_weight})"
                + (
                    f" + segmentation Dice + cross-entropy (MONAI DiceCELoss, weight {args.seg_weight})"
                    if self.seg_classes
                    else ""
                ),
                "init": init,
                "device": str(self.device),
                "augmentation": "cornucopia: affine (rot 15 deg, zoom 0.2) + elastic, GMM, bias, gamma, thick slices, "
                "noise; random field of view and skull; left-right flip",
                "wall_time_s": round(seconds, 1),
            },
        )
        card.gradcam_layer = args.gradcam_layer
        if self.seg_classes:
            dice = segmentation_dice(model, vx, self.val_labels, torch.device("cpu"))
            metrics["held_out_synthetic"]["segmentation_dice"] = dice
            card.segmentation = {
                "labels": label_table(),
                "widths": list(args.seg_widths),
                "grid": list(self.cfg.target_shape),
                "output": "softmax over the label table's channels on the network grid; TTA: the flipped "
                "pass's probabilities flipped back and averaged; trilinear back to the input grid, then argmax",
                "loss": {
                    "segmentation": "MONAI DiceCELoss (softmax, soft partial-volume targets, batch Dice, all classes)",
                    "segmentation_weight": args.seg_weight,
                    "classification": "cross-entropy",
                    "classification_weight": 1.0,
                    "localisation_weight": args.aux_weight,
                },
                "targets": "final (deformed, cropped) render label maps of model.simulation.synth, "
                "partial-volume fractions on the network grid",
                "held_out_dice": dice,
            }
            write_bytes_atomic(self.out / "metrics.json", to_json(metrics))
        save_weights(self.out, model, card)
        if args.ood_cases:
            from model.ood.fit import fit_for_weights, synthetic_cases

            info = fit_for_weights(
                self.out,
                synthetic_cases(args.ood_cases, args.seed, self.cfg),
                source=f"{args.ood_cases} fresh renders of the training generator (model.simulation.synth, "
                f"seed {args.seed}; anatomy never trained on)",
                seed=args.seed,
                log=log.info,
            )
            print(f"out-of-distribution feature gate: threshold {info['threshold']:.2f} ({info['n_fit']} fit cases)")
        if self.seg_classes and args.calibration_subjects:
            from model.training.fusion_fit import fit as fit_fusion

            fusion = fit_fusion(
                self.out, args.calibration_subjects, args.seed, 0.01, self.out / "checkpoints" / "anatomy"
            )
            auc = fusion["validation_auc"]
            print(
                f"fused call: validation AUC classifier {auc['classifier']:.3f}, fused {auc['fused']:.3f} "
                f"({'used' if fusion['used'] else 'recorded only'})"
            )
        m = metrics["held_out_synthetic"]
        print(f"wrote {self.out}: held-out synthetic AUC {m.get('auc')}, pointing {res['pointing']['rate']}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return run_guarded(args.out, lambda: SynthTrainer(args, argv).run())
