"""The optimisation plumbing both trainers share (``python -m model.train`` with or without ``--synthetic``).

AdamW with cosine annealing and its record in the model card, the optional weight average (EMA),
bf16 autocast on CUDA, seeds derived from a run's settings, and the resumable training state
(``checkpoints/*.pt``: weights, optimiser, scheduler, history and the position in the run). May
import the core; imports no other training module.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import nullcontext
from pathlib import Path

import torch

from model.fileio import atomic_output


def hashed_seed(*parts, bits: int) -> int:
    """A seed fixed by ``parts``: the low ``bits`` bits of the SHA-256 of ``repr(parts)`` read little-endian.

    The cross-validated trainer uses 56 bits, the synthetic one 31 (``torch`` and ``numpy`` accept both).
    """
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << bits) - 1)


def autocast_factory(amp: bool):
    """A callable giving a fresh context: bf16 autocast on CUDA when ``amp``, otherwise nothing."""
    return (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if amp else nullcontext


def adamw_cosine(params, args, total_steps: int):
    """AdamW (``args.lr``, ``args.weight_decay``) and cosine annealing to ``args.min_lr`` over ``total_steps``.

    Returns
    -------
    (torch.optim.AdamW, torch.optim.lr_scheduler.CosineAnnealingLR)
    """
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps, eta_min=args.min_lr)
    return opt, sched


def optimizer_record(args) -> dict:
    """What the model card's ``training`` records of :func:`adamw_cosine`."""
    return {
        "optimizer": "AdamW",
        "lr": args.lr,
        "min_lr": args.min_lr,
        "weight_decay": args.weight_decay,
        "schedule": "cosine annealing",
    }


def ema_model(model: torch.nn.Module, decay: float):
    """An exponential moving average of ``model``'s parameters and buffers (BatchNorm running
    statistics included), ``torch.optim.swa_utils.AveragedModel`` with ``get_ema_multi_avg_fn``.

    Its first ``update_parameters`` copies ``model``; each later one sets
    ``theta_ema = decay * theta_ema + (1 - decay) * theta``. The averaged network is ``.module``.
    """
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def save_training_state(path: Path, parts: dict, history: list, **position) -> None:
    """Write ``path`` atomically (an interrupted write leaves the previous file intact).

    Parameters
    ----------
    parts : dict
        name -> object with ``state_dict()`` (network, optimiser, scheduler, EMA, ...).
    history : list of dict
        Stored as JSON text (``weights_only`` loading needs no pickled objects).
    **position
        Where the run stands (``epoch=`` or ``step=``), stored as given.
    """
    state = {name: part.state_dict() for name, part in parts.items()}
    state["history"] = json.dumps(history)
    state.update(position)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        torch.save(state, tmp)


def load_training_state(path: Path, device, parts: dict) -> tuple[dict, list]:
    """Restore ``parts`` (name -> object with ``load_state_dict``) from a :func:`save_training_state` file.

    Returns
    -------
    (dict, list)
        The whole stored state (for the position and any optional part) and the history.
    """
    state = torch.load(path, map_location=device, weights_only=True)  # our own file; no code runs
    for name, part in parts.items():
        part.load_state_dict(state[name])
    return state, json.loads(state["history"])
