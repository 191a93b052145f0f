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
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from model.checkpoint import load_weights, new_card, save_weights
from model.errors import GloResNetError
from model.fileio import atomic_output, write_bytes_atomic
from model.gradcam import cam_pass, gradcam_session, upsample_cell_centred
from model.inference import flip_lr, select_device, tta_probabilities
from model.network import DEFAULT_WIDTHS, resnet10
from model.preprocessing import PreprocessConfig
from model.segmentation import CHANNEL_VALUES, N_SEG_CLASSES, label_table
from model.simulation.synth import _PACK, AnatomyPair, PairRenderer, anatomy_pair, injury_cells
from model.training.metrics import binary_metrics, bootstrap_ci, youden_threshold
from model.training.run_folder import CONFIG_FILE, add_crop_argument, check_run_folder

log = logging.getLogger("model.training.synth_train")
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
_RESUME_FREE = {"resume", "overwrite", "workers", "steps_limit"}
VALIDATION_SEED_BASE = 9_000_000
#: Seeds of the held-out pairs the 'youden' decision threshold is chosen on (disjoint from the
#: training bank, seed * 10^6 + k, and from validation, 9 * 10^6 + seed * 1000 + k).
CALIBRATION_SEED_BASE = 8_000_000
#: Pointing-game tolerance (mm): a hit is a heatmap maximum within this distance of the injury.
POINTING_TOLERANCE_MM = 10.0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m model.train --synthetic",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--out", required=True, type=Path, help="run folder (weights, model card, report)")
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
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr", type=float, default=1e-5)
    p.add_argument("--weight-decay", type=float, default=0.01)
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
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
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
    p.add_argument("--name", default="GloResNet-synth")
    p.add_argument("--version", default="0.2.0")
    p.add_argument("--demonstration", action="store_true", help="mark weights as demonstration-only")
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


def ema_model(model: torch.nn.Module, decay: float):
    """An exponential moving average of ``model``'s parameters and buffers (BatchNorm running
    statistics included), ``torch.optim.swa_utils.AveragedModel`` with ``get_ema_multi_avg_fn``.

    Its first ``update_parameters`` copies ``model``; each later one sets
    ``theta_ema = decay * theta_ema + (1 - decay) * theta``. The averaged network is ``.module``.
    """
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def _seed_for(*parts) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:4], "little") & 0x7FFFFFFF


# ------------------------------------------------------------------------------------------- anatomy bank
def _bank_file(folder: Path, seed: int, icbm: bool = False) -> Path:
    return folder / f"{'icbm' if icbm else 'anatomy'}-{seed}.npz"


def _build_one(args: tuple) -> str:
    folder, seed, icbm = args
    path = _bank_file(Path(folder), seed, icbm is not None)
    if not path.is_file():
        if icbm is not None:
            from model.simulation.icbm_anatomy import icbm_pair

            pair = icbm_pair(seed, icbm)
        else:
            pair = anatomy_pair(seed)
        packed = pair.normal.astype(np.int16) * _PACK + pair.injured.astype(np.int16)
        with atomic_output(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(
                    fh,
                    packed=packed,
                    spacing_mm=pair.spacing_mm,
                    pma_weeks=pair.pma_weeks,
                    findings=json.dumps(pair.findings),
                )
    return str(path)


def build_bank(folder: Path, seeds: list[int], processes: int = 2, icbm: Path | None = None) -> None:
    """Anatomy pairs for ``seeds`` (skips those present): phantoms as ``anatomy-<seed>.npz``, or,
    with ``icbm`` (the ICBM152 2009c folder), infant-sized ICBM anatomy as ``icbm-<seed>.npz``."""
    folder.mkdir(parents=True, exist_ok=True)
    todo = [s for s in seeds if not _bank_file(folder, s, icbm is not None).is_file()]
    if not todo:
        return
    source = None if icbm is None else str(icbm)
    with ProcessPoolExecutor(max_workers=max(1, processes)) as pool:
        for _ in tqdm(
            pool.map(_build_one, [(str(folder), s, source) for s in todo], chunksize=4),
            total=len(todo),
            desc="anatomy bank",
            unit="infant",
        ):
            pass


def load_pair(path: Path) -> AnatomyPair:
    """An :class:`AnatomyPair` from a bank file (injury mask = where the two maps differ)."""
    with np.load(path) as z:
        packed = z["packed"]
        normal, injured = (packed // _PACK).astype(np.uint8), (packed % _PACK).astype(np.uint8)
        return AnatomyPair(
            normal,
            injured,
            normal != injured,
            float(z["spacing_mm"]),
            float(z["pma_weeks"]),
            json.loads(str(z["findings"])),
            int(path.stem.split("-")[1]),
        )


class PairStream(torch.utils.data.Dataset):
    """Pair ``j`` of the run: anatomy and nuisance fixed by ``(seed, j)``; rendered on access."""

    def __init__(self, bank: list[Path], cfg: PreprocessConfig, seed: int, start: int, total: int):
        self.bank, self.cfg, self.seed, self.start, self.total = bank, cfg, seed, start, total
        self._renderer = None
        self._cache: dict[int, AnatomyPair] = {}

    def __len__(self) -> int:
        return self.total - self.start

    def __getitem__(self, i: int):
        j = self.start + i
        if self._renderer is None:
            torch.set_num_threads(1)
            self._renderer = PairRenderer(self.cfg)
        k = _seed_for(self.seed, "subject", j) % len(self.bank)
        if k not in self._cache:
            if len(self._cache) > 64:
                self._cache.pop(next(iter(self._cache)))
            self._cache[k] = load_pair(self.bank[k])
        r = self._renderer.render(self._cache[k], _seed_for(self.seed, "render", j))
        x, mask, seg = r.x, r.mask, r.seg
        if _seed_for(self.seed, "flip", j) % 2:
            x, mask, seg = flip_lr(x), flip_lr(mask), flip_lr(seg)
        return x, r.y, mask, seg


def _collate(items):
    xs, ys, ms, ss = zip(*items)
    return torch.cat(xs), torch.cat(ys), torch.cat(ms), torch.cat(ss)


@torch.no_grad()
def segmentation_dice(model, inputs: torch.Tensor, labels: torch.Tensor, device) -> dict:
    """Dice of the decoder's argmax against render label maps, per label value, over all cases.

    Parameters
    ----------
    inputs : torch.Tensor, shape (N, 1, X, Y, Z); labels : torch.Tensor, shape (N, X, Y, Z), uint8
        label values of :data:`model.segmentation.SEG_CLASSES`.

    Returns
    -------
    dict
        label value (str) -> Dice (pooled over the cases), classes absent from both omitted.
    """
    model.eval()
    inter = np.zeros(len(CHANNEL_VALUES)), np.zeros(len(CHANNEL_VALUES)), np.zeros(len(CHANNEL_VALUES))
    for start in range(0, len(inputs), 8):
        _, seg = model.forward_with_segmentation(inputs[start : start + 8].to(device))
        pred = torch.as_tensor(CHANNEL_VALUES, device=seg.device)[seg.argmax(1)].cpu().numpy()
        ref = labels[start : start + 8].numpy()
        for k, v in enumerate(CHANNEL_VALUES):
            p, r = pred == v, ref == v
            inter[0][k] += np.sum(p & r)
            inter[1][k] += np.sum(p)
            inter[2][k] += np.sum(r)
    model.train()
    both, npred, nref = inter
    return {
        str(int(v)): float(2 * both[k] / (npred[k] + nref[k]))
        for k, v in enumerate(CHANNEL_VALUES)
        if npred[k] + nref[k] > 0
    }


# ------------------------------------------------------------------------------------------- evaluation
def pointing_hit(
    heatmap: np.ndarray,
    mask: np.ndarray,
    brain: np.ndarray,
    spacing_mm: np.ndarray,
    tolerance_mm: float = POINTING_TOLERANCE_MM,
) -> bool:
    """Pointing game (Zhang et al., ECCV 2016) with a distance tolerance, on one grid.

    A hit when the heatmap's maximum inside the brain lies within ``tolerance_mm`` of an injury
    voxel (the original game allows 15 pixels; our coarse 4x4x4 Grad-CAM cells are 25-35 mm).

    Parameters
    ----------
    heatmap : (X, Y, Z) float; mask, brain : (X, Y, Z) bool; spacing_mm : (3,) float
    """
    from scipy import ndimage

    if not mask.any() or not brain.any():
        return False
    peak = np.unravel_index(int(np.argmax(np.where(brain, heatmap, -1.0))), heatmap.shape)
    dist = ndimage.distance_transform_edt(~mask, sampling=spacing_mm)
    return bool(dist[peak] <= tolerance_mm)


def validate(
    model,
    inputs: torch.Tensor,
    labels: np.ndarray,
    masks: torch.Tensor,
    layer: str,
    device,
    fov_mm: np.ndarray,
    with_cam: bool = True,
    threshold: float = 0.5,
) -> dict:
    """TTA probabilities, metrics at ``threshold``, and the pointing game on the held-out renders
    (injured cases called at ``threshold``)."""
    model.eval()
    p1, p2 = [], []
    for start in range(0, len(inputs), 8):
        a, b = tta_probabilities(model, inputs[start : start + 8].to(device))
        p1.append(a), p2.append(b)
    p = 0.5 * (np.concatenate(p1) + np.concatenate(p2))
    out = {"probs": p, "metrics": binary_metrics(labels, p, threshold=threshold)}
    if with_cam:
        hits = []
        with gradcam_session(model, layer) as cam:
            for i in np.flatnonzero((labels == 1) & (p >= threshold)):
                x = inputs[i : i + 1].to(device)
                _, g1 = cam_pass(cam, x)
                _, g2 = cam_pass(cam, flip_lr(x))
                grid = 0.5 * (g1 + np.flip(g2, axis=0))
                heat = upsample_cell_centred(grid, x.shape[2:]).numpy()
                xi = inputs[i, 0].numpy()
                brain = xi > xi.min() + 0.1 * (xi.max() - xi.min())
                hits.append(pointing_hit(heat, masks[i, 0].numpy() > 0.5, brain, fov_mm / np.array(x.shape[2:])))
        out["pointing"] = {
            "hits": int(sum(hits)),
            "n": len(hits),
            "rate": float(np.mean(hits)) if hits else None,
            "tolerance_mm": POINTING_TOLERANCE_MM,
        }
    model.train()
    return out


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
        self.command = "python -m model.train --synthetic " + " ".join(shlex.quote(a) for a in argv)
        self.config = {
            k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
            for k, v in vars(args).items()
        }
        self.ckpt = self.out / "checkpoints" / "last.pt"

    def _prepare(self) -> None:
        a = self.args
        if check_run_folder(self.out, self.config, resume=a.resume, overwrite=a.overwrite, resume_free=_RESUME_FREE):
            return
        cfg_path = self.out / CONFIG_FILE
        self.out.mkdir(parents=True, exist_ok=True)
        self.ckpt.unlink(missing_ok=True)
        write_bytes_atomic(cfg_path, _json({"command": self.command, **self.config}))

    def _validation_set(self, bank_dir: Path, what: str = "validation"):
        """Held-out renders (x, y, mask, mean field of view in mm), cached in ``checkpoints/<what>.pt``.

        ``what`` is ``"validation"`` (reported metrics) or ``"calibration"`` (the 'youden' threshold).
        """
        path = self.out / "checkpoints" / f"{what}.pt"
        if path.is_file():
            v = torch.load(path, weights_only=True)
            if what == "validation":
                self.val_labels = v.get("labels")
            return v["x"], v["y"].numpy(), v["mask"], v["fov_mm"].numpy()
        if what == "validation":
            base, n = VALIDATION_SEED_BASE, self.args.val_subjects
        else:
            base, n = CALIBRATION_SEED_BASE, self.args.calibration_subjects
        seeds = [base + self.args.seed * 1000 + k for k in range(n)]
        build_bank(bank_dir, seeds)
        renderer = PairRenderer(self.cfg)
        xs, ys, ms, fovs, labs = [], [], [], [], []
        for s in tqdm(seeds, desc=f"held-out {what} renders", unit="pair"):
            pair = load_pair(_bank_file(bank_dir, s))
            r = renderer.render(pair, _seed_for(self.args.seed, what, s))
            xs.append(r.x), ys.append(r.y), ms.append(r.mask)
            assert r.seg is not None
            labs.append(torch.from_numpy(CHANNEL_VALUES[r.seg.float().argmax(1).numpy()]))
            fovs.append(np.array(pair.normal.shape) * pair.spacing_mm)
        x, y, m, lab = torch.cat(xs), torch.cat(ys), torch.cat(ms), torch.cat(labs)
        fov = torch.as_tensor(np.mean(fovs, axis=0))
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp:
            torch.save({"x": x, "y": y, "mask": m, "fov_mm": fov, "labels": lab}, tmp)
        if what == "validation":  # the calibration set must not replace the validation labels
            self.val_labels = lab
        return x, y.numpy(), m, fov.numpy()

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
        bank = [_bank_file(bank_dir, s) for s in seeds]
        if args.icbm_subjects:
            icbm_seeds = [args.seed * 1_000_000 + 500_000 + k for k in range(args.icbm_subjects)]
            build_bank(bank_dir, icbm_seeds, processes=2, icbm=args.icbm)
            bank += [_bank_file(bank_dir, s, icbm=True) for s in icbm_seeds]
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
        opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.steps, eta_min=args.min_lr)
        history, step = [], 0
        ema = ema_model(model, args.ema_decay) if args.ema_decay else None
        ema_start = args.steps // 2 if args.ema_start < 0 else args.ema_start
        if args.resume and self.ckpt.is_file():
            state = torch.load(self.ckpt, map_location=self.device, weights_only=True)  # our own file
            model.load_state_dict(state["model"]), aux.load_state_dict(state["aux"])
            if ema is not None and "ema" in state:
                ema.load_state_dict(state["ema"])
            opt.load_state_dict(state["optimizer"]), sched.load_state_dict(state["scheduler"])
            history, step = json.loads(state["history"]), int(state["step"])
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
            collate_fn=_collate,
            num_workers=args.workers,
            persistent_workers=False,
            prefetch_factor=4 if args.workers else None,
        )
        autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if self.amp else nullcontext
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
        self.ckpt.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "model": model.state_dict(),
            "aux": aux.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "history": json.dumps(history),
            "step": step,
        }
        if ema is not None:
            state["ema"] = ema.state_dict()
        with atomic_output(self.ckpt) as tmp:
            torch.save(state, tmp)

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
        write_bytes_atomic(self.out / "metrics.json", _json(metrics))
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
                "optimizer": "AdamW",
                "lr": args.lr,
                "min_lr": args.min_lr,
                "weight_decay": args.weight_decay,
                "schedule": "cosine annealing",
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
            write_bytes_atomic(self.out / "metrics.json", _json(metrics))
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


def _json(obj) -> bytes:
    def conv(o):
        if isinstance(o, (np.floating, np.integer)):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, float) and not math.isfinite(o):
            return None
        raise TypeError(type(o))

    return (json.dumps(obj, indent=2, default=conv) + "\n").encode()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return SynthTrainer(args, argv).run()
    except KeyboardInterrupt:
        print(f"\ninterrupted; continue with the same command plus --resume (run folder {args.out})", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (GloResNetError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
