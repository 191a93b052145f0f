"""``python -m model.train``: the GloResNet protocol, cross-validated, and weights the app loads.

Protocol (METHOD.md; the paper's setting is the default where it differs from the authors' code):

* Stratified k-fold cross-validation at subject level (``StratifiedGroupKFold``; scans of one
  subject never straddle folds), seeded (default 42, as the authors' code).
* Per fold: AdamW (lr 2e-3, weight decay 0.01), cosine annealing to ``--min-lr``; class-weighted
  soft-label cross-entropy (Eq. 11) with w_k = N / (2 N_k) from the training folds; mixup on
  z-scored volumes with Beta(alpha, alpha), applied with probability 0.5 (Eq. 9; the authors'
  code mixes every batch: ``--mixup-prob 1``); random 3D rotations and left-right flips; fixed
  epoch count (150) and batch size (32) from the paper.
* **No model selection on the fold being scored**: the epoch count is fixed in advance and the
  last epoch's model scores its test fold with TTA (Eq. 12). (The authors' code picks the best
  epoch on the test fold itself, which is optimistic.)
* The shipped model is retrained on all data with the same settings (``--final retrain``); its
  card reports the cross-validated metrics of the identical recipe.

Outputs, one run folder: ``model.safetensors`` + ``model_card.json`` (load with the app,
``model.predict`` or ``model.score``), ``config.json`` (resolved settings and the exact command),
``folds.csv``, ``oof_predictions.csv``, ``metrics.json`` (per fold, mean +- SD, pooled with
bootstrap 95% intervals), ``roc.png``, ``confusion.png``, ``training_curves.png``, ``tsne.png``.
Checkpoints after every epoch make Ctrl-C safe: run the same command with ``--resume``.

Scale: scans are preprocessed once per run and cached in memory; channels_last_3d on CPU and CUDA
(faster on both), bf16 autocast on CUDA (``--no-amp``, ``--no-channels-last``); ``torchrun --nproc_per_node N -m
model.train ...`` uses DistributedDataParallel (NCCL on GPUs, gloo on CPU).

Scoring a fold's model lives in :mod:`model.training.fold_eval`; what the synthetic trainer shares
(optimiser, checkpoints, run folder, options) in :mod:`model.training.loop` and
:mod:`model.training.run_folder`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors.torch import save_file
from sklearn.model_selection import StratifiedGroupKFold
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from model.checkpoint import load_medicalnet_encoder, new_card, save_weights
from model.fileio import atomic_output, write_bytes_atomic
from model.inference import select_device, tta_mean
from model.network import resnet10
from model.preprocessing import PreprocessConfig
from model.training import plots
from model.training.augment import mixup, random_flip_lr, random_rotate
from model.training.dataset import Case, ManifestError, class_weights, preprocess_cases, read_bids, read_manifest
from model.training.fold_eval import evaluate, pointing_game
from model.training.loop import (
    adamw_cosine,
    autocast_factory,
    hashed_seed,
    load_training_state,
    optimizer_record,
    save_training_state,
)
from model.training.metrics import binary_metrics, bootstrap_ci, summarise_folds
from model.training.run_folder import (
    EXIT_OK,
    EXIT_USAGE,
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

log = logging.getLogger("model.training.train")
#: Settings that may differ between a run and its --resume.
_RESUME_FREE = {"resume", "overwrite", "workers"}


def weighted_soft_ce(logits: torch.Tensor, y_soft: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Class-weighted soft-label cross-entropy (paper Eq. 11).

    L = -(1/N) sum_i sum_k w_k y_ik log softmax(z_i)_k

    Parameters
    ----------
    logits : (N, K); y_soft : (N, K) rows summing to 1; weights : (K,)
    """
    return -(weights[None, :] * y_soft * F.log_softmax(logits.float(), dim=1)).sum(dim=1).mean()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m model.train",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    src = p.add_argument_group("data (one of --manifest or --bids)")
    src.add_argument("--manifest", type=Path, help="CSV with path,label[,subject,session,group]")
    src.add_argument("--bids", type=Path, help="BIDS folder; labels from a TSV column")
    src.add_argument("--labels-from", default="radiology_score", help="numeric column of sessions/participants TSV")
    src.add_argument("--injury-threshold", type=float, default=3.0, help="score >= threshold is injury")
    add_out_argument(p)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=150, help="fixed; no model selection")
    p.add_argument("--batch-size", type=int, default=32)
    add_optimizer_arguments(p, lr=2e-3, min_lr_help="cosine annealing floor")
    p.add_argument("--mixup-alpha", type=float, default=1.0, help="Beta(alpha, alpha) (Eq. 9)")
    p.add_argument("--mixup-prob", type=float, default=0.5, help="probability a batch is mixed")
    p.add_argument("--rotate-degrees", type=float, default=10.0, help="max random 3D rotation")
    p.add_argument("--rotate-prob", type=float, default=0.5)
    p.add_argument("--flip-prob", type=float, default=0.5, help="random left-right flip")
    p.add_argument(
        "--final", choices=["retrain", "none"], default="retrain", help="retrain on all data for the shipped weights"
    )
    p.add_argument("--input-size", type=int, default=128, help="network grid (cubic); the card records it")
    add_crop_argument(p)
    p.add_argument("--seed", type=int, default=42)
    add_device_argument(p)
    p.add_argument("--no-amp", action="store_true", help="no bf16 autocast on CUDA")
    p.add_argument(
        "--no-channels-last",
        action="store_true",
        help="no channels_last_3d memory format (default on: faster on CUDA and on CPU)",
    )
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers")
    p.add_argument("--pretrained", type=Path, help="MedicalNet ResNet-10 checkpoint for the encoder")
    p.add_argument(
        "--injury-masks",
        type=Path,
        help="BIDS derivatives folder with *_desc-injury_mask files: Grad-CAM pointing game",
    )
    p.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples for 95%% intervals")
    add_card_arguments(p, name="GloResNet", version="0.1.0")
    p.add_argument("--data-description", default="", help="what the data is (into the card)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    p.add_argument("--overwrite", action="store_true", help="start again in a folder holding a finished run")
    return p


class _Dist:
    """Process-group facts; a single process when not started by torchrun."""

    def __init__(self):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self):
        if self.enabled:
            dist.barrier()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--synthetic" in argv:  # on-the-fly domain-randomised renders: model.training.synth_train
        from model.training import synth_train

        return synth_train.main([a for a in argv if a != "--synthetic"])
    args = build_parser().parse_args(argv)
    if (args.manifest is None) == (args.bids is None):
        print("error: give exactly one of --manifest or --bids", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ddp = _Dist()

    def body() -> int:
        if ddp.enabled:
            backend = "nccl" if torch.cuda.is_available() and args.device != "cpu" else "gloo"
            dist.init_process_group(backend)
        return Trainer(args, argv, ddp).run()

    try:
        return run_guarded(args.out, body)
    finally:
        if ddp.enabled and dist.is_initialized():
            dist.destroy_process_group()


class Trainer:
    """One training run: folds, final model, report. State lives in the run folder (resumable)."""

    def __init__(self, args: argparse.Namespace, argv: list[str], ddp: _Dist):
        self.args, self.argv, self.ddp = args, argv, ddp
        self.out: Path = args.out
        if ddp.enabled and torch.cuda.is_available() and args.device != "cpu":
            torch.cuda.set_device(ddp.local_rank)
            self.device = torch.device("cuda", ddp.local_rank)
        else:
            self.device = select_device(args.device)
        cuda = self.device.type == "cuda"
        self.amp = cuda and not args.no_amp
        self.channels_last = not args.no_channels_last  # faster on CPU too (bench_train.py)
        self.cfg = PreprocessConfig(target_shape=(args.input_size,) * 3, crop=args.crop)
        self.command = command_line("python -m model.train", argv)
        self.config = resolved_config(args)
        self.ckpt_dir = self.out / "checkpoints"

    # ----------------------------------------------------------------- set-up
    def _prepare_folder(self) -> None:
        a = self.args
        resuming = check_run_folder(
            self.out, self.config, resume=a.resume, overwrite=a.overwrite, resume_free=_RESUME_FREE
        )
        self.ddp.barrier()  # every rank checks the folder before rank 0 writes config.json into it
        if resuming:
            return
        if self.ddp.main:
            if self.args.overwrite:
                for old in list(self.ckpt_dir.glob("*")) if self.ckpt_dir.is_dir() else []:
                    old.unlink()
            write_config(self.out, self.command, self.config)
        self.ddp.barrier()

    def _read_cases(self) -> list[Case]:
        if self.args.manifest is not None:
            return read_manifest(self.args.manifest)
        return read_bids(self.args.bids, self.args.labels_from, self.args.injury_threshold)

    # ----------------------------------------------------------------- run
    def run(self) -> int:
        args = self.args
        torch.manual_seed(args.seed)
        cases = self._read_cases()
        labels = np.array([c.label for c in cases])
        groups = np.array([c.subject for c in cases])
        n_min = min(len(set(groups[labels == k])) for k in (0, 1))
        if args.folds < 2 or n_min < args.folds:
            raise ManifestError(
                f"{n_min} subject(s) in the smaller class; {args.folds}-fold CV needs at least {args.folds}"
            )
        self._prepare_folder()
        splitter = StratifiedGroupKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
        fold_of = np.empty(len(cases), dtype=int)
        for k, (_, test_idx) in enumerate(splitter.split(np.zeros(len(cases)), labels, groups), start=1):
            fold_of[test_idx] = k
        if self.ddp.main:
            write_bytes_atomic(
                self.out / "folds.csv",
                _csv(
                    ["path", "subject", "session", "label", "fold"],
                    [[str(c.path), c.subject, c.session, c.label, int(f)] for c, f in zip(cases, fold_of)],
                ),
            )
        log.info(
            "%d scans (%d injury) from %d subjects; %d-fold CV at subject level, seed %d; device %s%s",
            len(cases),
            labels.sum(),
            len(set(groups)),
            args.folds,
            args.seed,
            self.device,
            f", {self.ddp.world} processes" if self.ddp.enabled else "",
        )

        t0 = time.perf_counter()
        inputs, problems = preprocess_cases(
            cases,
            self.cfg,
            progress=lambda it: tqdm(it, desc="preprocess (once per run)", unit="scan", disable=not self.ddp.main),
        )
        if problems:
            raise ManifestError("unreadable scans (fix or remove them from the list): " + "; ".join(problems))
        log.info(
            "preprocessed %d scans in %.1f s; cached for all folds and epochs", len(cases), time.perf_counter() - t0
        )

        fold_results = []
        for k in range(1, args.folds + 1):
            train_idx, test_idx = np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)
            fold_results.append(self._fold(f"fold{k}", inputs, labels, train_idx, test_idx, cases))
        final_model, final_history = None, []
        if args.final == "retrain":
            final_model, final_history = self._train("final", inputs, labels, np.arange(len(cases)))
        if self.ddp.main:
            self._report(cases, labels, fold_of, fold_results, final_model, final_history, time.perf_counter() - t0)
        self.ddp.barrier()
        return EXIT_OK

    # ----------------------------------------------------------------- one fold
    def _fold(self, name, inputs, labels, train_idx, test_idx, cases) -> dict:
        done = self.ckpt_dir / f"{name}_done.json"
        if done.is_file():
            log.info("%s: already finished (resumed)", name)
            result = json.loads(done.read_text())
            result["features"] = np.load(self.ckpt_dir / f"{name}_features.npy")
            return result
        model, history = self._train(name, inputs, labels, train_idx)
        result = {"name": name, "history": history, "test_idx": test_idx.tolist()}
        if self.ddp.main:
            p1, p2, feats = evaluate(model, inputs[test_idx], self.device, self.amp, self.channels_last)
            result.update(p_identity=p1.tolist(), p_flipped=p2.tolist())
            result["metrics"] = binary_metrics(labels[test_idx], tta_mean(p1, p2))
            if self.args.injury_masks is not None:
                result["pointing"] = pointing_game(
                    model, [cases[i] for i in test_idx], tta_mean(p1, p2), self.cfg, self.args.injury_masks
                )
            log.info(
                "%s: " + ", ".join(f"{k} {v:.3f}" for k, v in result["metrics"].items() if isinstance(v, float)), name
            )
            with atomic_output(self.ckpt_dir / f"{name}_features.npy") as tmp:
                with open(tmp, "wb") as fh:
                    np.save(fh, feats)
            write_bytes_atomic(done, to_json(result))
            with atomic_output(self.ckpt_dir / f"{name}.safetensors") as tmp:
                save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp))
            (self.ckpt_dir / f"{name}_last.pt").unlink(missing_ok=True)
            result["features"] = feats
        self.ddp.barrier()
        if not self.ddp.main:
            result = json.loads(done.read_text())
            result["features"] = np.load(self.ckpt_dir / f"{name}_features.npy")
        return result

    def _new_model(self) -> torch.nn.Module:
        torch.manual_seed(self.args.seed)
        model = resnet10()
        if self.args.pretrained:
            info = load_medicalnet_encoder(model, self.args.pretrained)
            self.pretrained_info = info
        model.to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last_3d)
        return model

    def _train(self, name, inputs, labels, train_idx):
        """Train one model for the fixed number of epochs; resumable per epoch."""
        args = self.args
        model = self._new_model()
        net = (
            DistributedDataParallel(model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
            if self.ddp.enabled
            else model
        )
        weights = torch.as_tensor(class_weights(labels[train_idx]), device=self.device)
        per_rank = max(1, args.batch_size // self.ddp.world)
        usable = len(train_idx) - len(train_idx) % self.ddp.world  # equal shards, or DDP all-reduces would hang
        steps = int(np.ceil((usable // self.ddp.world) / per_rank))
        opt, sched = adamw_cosine(model.parameters(), args, args.epochs * steps)
        history, start = [], 1
        last = self.ckpt_dir / f"{name}_last.pt"
        if args.resume and last.is_file():
            parts = {"model": model, "optimizer": opt, "scheduler": sched}
            state, history = load_training_state(last, self.device, parts)
            start = int(state["epoch"]) + 1
            log.info("%s: resuming after epoch %d", name, start - 1)
        y_all = F.one_hot(torch.as_tensor(labels), 2).float()
        autocast = autocast_factory(self.amp)
        for epoch in range(start, args.epochs + 1):
            model.train()
            gen = torch.Generator().manual_seed(hashed_seed(args.seed, name, epoch, bits=56))
            order = torch.as_tensor(train_idx)[torch.randperm(len(train_idx), generator=gen)]
            aug = torch.Generator().manual_seed(hashed_seed(args.seed, name, epoch, self.ddp.rank, bits=56))
            mine = order[:usable][self.ddp.rank :: self.ddp.world]  # DistributedSampler-style shard
            loader = torch.utils.data.DataLoader(
                _Indexed(inputs, y_all, mine),
                batch_size=per_rank,
                shuffle=False,
                num_workers=args.workers,
                pin_memory=self.device.type == "cuda",
            )
            losses = []
            bar = tqdm(
                loader, desc=f"{name} epoch {epoch}/{args.epochs}", unit="batch", leave=False, disable=not self.ddp.main
            )
            for x, y in bar:
                x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
                x = random_flip_lr(x, aug, args.flip_prob)
                x = random_rotate(x, aug, args.rotate_degrees, args.rotate_prob)
                x, y, _ = mixup(x, y, args.mixup_alpha, args.mixup_prob, aug)
                if self.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last_3d)
                with autocast():
                    logits = net(x)
                loss = weighted_soft_ce(logits, y, weights)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                losses.append(loss.item())
                bar.set_postfix(loss=f"{loss.item():.3f}")
            history.append(
                {
                    "epoch": epoch,
                    "loss": float(np.mean(losses)) if losses else float("nan"),
                    "lr": sched.get_last_lr()[0],
                }
            )
            log.info(
                "%s epoch %d/%d  loss %.4f  lr %.2e", name, epoch, args.epochs, history[-1]["loss"], history[-1]["lr"]
            )
            if self.ddp.main:
                parts = {"model": model, "optimizer": opt, "scheduler": sched}
                save_training_state(last, parts, history, epoch=epoch)
            self.ddp.barrier()
        if self.channels_last:
            model = model.to(memory_format=torch.contiguous_format)
        return model.eval(), history

    # ----------------------------------------------------------------- report
    def _report(self, cases, labels, fold_of, fold_results, final_model, final_history, seconds) -> None:
        args = self.args
        n = len(cases)
        p1, p2 = np.zeros(n), np.zeros(n)
        feats = np.zeros((n, 512), dtype=np.float32)
        pointing = {}
        for r in fold_results:
            idx = np.asarray(r["test_idx"])
            p1[idx], p2[idx] = r["p_identity"], r["p_flipped"]
            feats[idx] = r["features"]
            pointing.update({int(k): v for k, v in r.get("pointing", {}).items()})
        p = tta_mean(p1, p2)
        groups = np.array([c.subject for c in cases])
        per_fold = [dict(r["metrics"], fold=int(r["name"][4:])) for r in fold_results]
        metrics = {
            "evaluation": (
                f"{args.folds}-fold stratified cross-validation at subject level (seed {args.seed}); "
                f"each fold's model trained for a fixed {args.epochs} epochs (no model selection) and "
                "scored once on its held-out fold with TTA; threshold 0.5"
            ),
            "per_fold": per_fold,
            "mean_sd_over_folds": summarise_folds(per_fold),
            "pooled_out_of_fold": binary_metrics(labels, p),
            "bootstrap_95ci_pooled": bootstrap_ci(labels, p, groups, n_boot=args.bootstrap, seed=args.seed),
        }
        if pointing:
            hits = [v["hit"] for v in pointing.values()]
            chance = [v["mask_fraction"] for v in pointing.values()]
            metrics["gradcam_pointing_game"] = {
                "definition": "fraction of correctly flagged injured cases whose Grad-CAM maximum inside the head lies inside the injury mask",
                "n_cases": len(hits),
                "hit_rate": float(np.mean(hits)) if hits else None,
                "chance_rate": float(np.mean(chance)) if chance else None,
                "chance_definition": "mean fraction of the head (model.heatmap.head_mask) covered by the injury mask",
            }
        write_bytes_atomic(self.out / "metrics.json", to_json(metrics))
        rows = []
        for i, c in enumerate(cases):
            pg = pointing.get(i, {})
            rows.append(
                [
                    str(c.path),
                    c.subject,
                    c.session,
                    c.group,
                    c.label,
                    int(fold_of[i]),
                    f"{p[i]:.6f}",
                    f"{p1[i]:.6f}",
                    f"{p2[i]:.6f}",
                    "" if not pg else int(pg["hit"]),
                ]
            )
        write_bytes_atomic(
            self.out / "oof_predictions.csv",
            _csv(
                [
                    "path",
                    "subject",
                    "session",
                    "group",
                    "label",
                    "fold",
                    "p_injury",
                    "p_injury_identity",
                    "p_injury_flipped",
                    "cam_max_in_injury_mask",
                ],
                rows,
            ),
        )
        fold_pairs = [
            (labels[np.asarray(r["test_idx"])], tta_mean(np.asarray(r["p_identity"]), np.asarray(r["p_flipped"])))
            for r in fold_results
        ]
        plots.roc_figure(fold_pairs, (labels, p), self.out / "roc.png")
        plots.confusion_figure(fold_pairs, (labels, p), self.out / "confusion.png")
        histories = {r["name"]: r["history"] for r in fold_results}
        if final_history:
            histories["final"] = final_history
        plots.training_curves_figure(histories, self.out / "training_curves.png")
        if n >= 6:
            plots.tsne_figure(feats, labels, self.out / "tsne.png", seed=args.seed)
        pooled = metrics["pooled_out_of_fold"]
        ms = metrics["mean_sd_over_folds"]
        log.info(
            "cross-validated (pooled out-of-fold): "
            + ", ".join(
                f"{k} {pooled[k]:.3f}"
                for k in ("accuracy", "sensitivity", "specificity", "f1", "mcc", "auc")
                if pooled[k] is not None
            )
        )
        if final_model is None:
            return
        info = getattr(self, "pretrained_info", None)
        card = new_card(
            args.name,
            args.version,
            self.cfg,
            demonstration=args.demonstration,
            metrics={
                "summary": {k: pooled[k] for k in ("accuracy", "sensitivity", "specificity", "f1", "mcc", "auc")},
                "mean_sd_over_folds": ms,
                "bootstrap_95ci_pooled": metrics["bootstrap_95ci_pooled"],
                "evaluation": metrics["evaluation"] + ". These shipped weights were retrained on all data with "
                "the identical recipe; the figures estimate how that recipe generalises.",
                **({"gradcam_pointing_game": metrics["gradcam_pointing_game"]} if pointing else {}),
            },
            training={
                "command": self.command,
                "data": args.data_description
                or (f"manifest {args.manifest}" if args.manifest else f"BIDS {args.bids}"),
                "n_scans": n,
                "n_subjects": int(len(set(groups))),
                "n_injury": int(labels.sum()),
                "protocol": f"{args.folds}-fold subject-level stratified CV, then retrained on all data",
                "model_selection": "none (fixed epochs)",
                "seed": args.seed,
                "epochs": args.epochs,
                "batch_size": args.batch_size,
                **optimizer_record(args),
                "loss": "class-weighted soft-label cross-entropy (Eq. 11)",
                "mixup": {"alpha": args.mixup_alpha, "prob": args.mixup_prob},
                "augmentation": {
                    "flip_lr_prob": args.flip_prob,
                    "rotate_degrees": args.rotate_degrees,
                    "rotate_prob": args.rotate_prob,
                },
                "init": (
                    f"MedicalNet encoder sha256 {info['sha256']} ({info['known_as'] or 'not a known MedicalNet file'})"
                    if info
                    else "random (Kaiming normal; head N(0, 0.01)); no pretrained encoder"
                ),
                "device": str(self.device),
                "processes": self.ddp.world,
                "bf16_autocast": self.amp,
                "wall_time_s": round(seconds, 1),
            },
        )
        save_weights(self.out, final_model, card)
        print(
            f"wrote {self.out}: weights + model card; cross-validated AUC {pooled['auc']}, accuracy {pooled['accuracy']:.3f}"
        )


class _Indexed(torch.utils.data.Dataset):
    """Rows ``indices`` of the in-memory cache (inputs, soft labels)."""

    def __init__(self, inputs: torch.Tensor, targets: torch.Tensor, indices: torch.Tensor):
        self.inputs, self.targets, self.indices = inputs, targets, indices

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        j = int(self.indices[i])
        return self.inputs[j], self.targets[j]


def _csv(header: list, rows: list) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode()


if __name__ == "__main__":
    sys.exit(main())
