"""The run-folder rules both training commands share (``python -m model.train`` with or without
``--synthetic``): resume only with the same settings, never overwrite a run without ``--overwrite``;
and the preprocessing option both parsers offer (``--crop``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from model.checkpoint import CARD_FILE
from model.errors import GloResNetError
from model.preprocessing import CROPS

CONFIG_FILE = "config.json"


def add_crop_argument(p: argparse.ArgumentParser) -> None:
    """``--crop`` of both trainers: :attr:`model.preprocessing.PreprocessConfig.crop`, recorded in the card."""
    p.add_argument(
        "--crop",
        default="none",
        choices=list(CROPS),
        help="'none' resamples the whole field of view (paper Eq. 3); 'head' first cuts it to the head box "
        "(model.preprocessing.crop_box); the card records it and the app follows the card",
    )


def check_run_folder(out: Path, config: dict, *, resume: bool, overwrite: bool, resume_free: set) -> bool:
    """Whether ``out`` is resumed (True) or started afresh (False) with ``config``.

    Parameters
    ----------
    out : Path
        The run folder (``--out``).
    config : dict
        This invocation's settings; on ``resume`` every key outside ``resume_free`` must equal the
        one in ``out/config.json``.
    resume, overwrite : bool
        ``--resume`` and ``--overwrite``.
    resume_free : set of str
        Settings that may change between a run and its resumption (workers, stop step, ...).

    Raises
    ------
    GloResNetError
        Nothing to resume, resuming with other settings, or a finished or unfinished run in ``out``
        without ``--overwrite`` (each message names the folder and what to do).
    """
    cfg_path = Path(out) / CONFIG_FILE
    if resume:
        if not cfg_path.is_file():
            raise GloResNetError(f"{out}: nothing to resume (no config.json)")
        old = json.loads(cfg_path.read_text())
        free = set(resume_free) | {"command"}
        changed = sorted(k for k in config if k not in free and old.get(k) != config[k])
        if changed:
            raise GloResNetError(f"{out}: --resume with different settings: {', '.join(changed)}")
        return True
    if (Path(out) / CARD_FILE).exists() and not overwrite:
        raise GloResNetError(f"{out}: already holds a finished run; use --overwrite or another --out")
    if cfg_path.exists() and not overwrite:
        raise GloResNetError(f"{out}: holds an unfinished run; add --resume to continue it, or --overwrite")
    return False
