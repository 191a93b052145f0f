"""The run folder and command line both training commands share (``python -m model.train`` with or
without ``--synthetic``): resume only with the same settings, never overwrite a run without
``--overwrite``; the resolved settings and exact command in ``config.json`` (and the JSON writer
of every report file); the options both parsers offer (``--out``, ``--crop``, the optimiser's, the
device, the card's name); and the exit codes with the Ctrl-C / error handling of both ``main``.
May import the core; imports no other training module.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from pathlib import Path

import numpy as np

from model.checkpoint import CARD_FILE
from model.errors import GloResNetError
from model.fileio import write_bytes_atomic
from model.preprocessing import CROPS

CONFIG_FILE = "config.json"
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


# ------------------------------------------------------------------------------------------- options
def add_out_argument(p: argparse.ArgumentParser) -> None:
    """``--out`` of both trainers: the run folder."""
    p.add_argument("--out", required=True, type=Path, help="run folder (weights, model card, report)")


def add_optimizer_arguments(p: argparse.ArgumentParser, *, lr: float, min_lr_help: str | None = None) -> None:
    """``--lr``, ``--min-lr`` and ``--weight-decay`` of :func:`model.training.loop.adamw_cosine`."""
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--min-lr", type=float, default=1e-5, help=min_lr_help)
    p.add_argument("--weight-decay", type=float, default=0.01)


def add_crop_argument(p: argparse.ArgumentParser) -> None:
    """``--crop`` of both trainers: :attr:`model.preprocessing.PreprocessConfig.crop`, recorded in the card."""
    p.add_argument(
        "--crop",
        default="none",
        choices=list(CROPS),
        help="'none' resamples the whole field of view (paper Eq. 3); 'head' first cuts it to the head box "
        "(model.preprocessing.crop_box); the card records it and the app follows the card",
    )


def add_device_argument(p: argparse.ArgumentParser) -> None:
    """``--device`` of both trainers (:func:`model.inference.select_device`)."""
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])


def add_card_arguments(p: argparse.ArgumentParser, *, name: str, version: str) -> None:
    """``--name``, ``--version`` and ``--demonstration``: what the model card calls the weights."""
    p.add_argument("--name", default=name)
    p.add_argument("--version", default=version)
    p.add_argument("--demonstration", action="store_true", help="mark weights as demonstration-only")


# ------------------------------------------------------------------------------------------- settings
def command_line(prefix: str, argv: list[str]) -> str:
    """The exact command, shell-quoted, as the card and ``config.json`` record it."""
    return prefix + " " + " ".join(shlex.quote(a) for a in argv)


def resolved_config(args: argparse.Namespace) -> dict:
    """The parsed settings as JSON values (paths as text, tuples as lists)."""
    return {
        k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v) for k, v in vars(args).items()
    }


def to_json(obj) -> bytes:
    """Indented JSON text (numpy scalars and arrays as numbers and lists, non-finite floats as null)."""

    def conv(o):
        if isinstance(o, (np.floating, np.integer)):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, float) and not math.isfinite(o):
            return None
        raise TypeError(f"not JSON serialisable: {type(o).__name__}")

    return (json.dumps(obj, indent=2, default=conv) + "\n").encode()


def write_config(out: Path, command: str, config: dict) -> None:
    """Create ``out`` and write ``config.json``: the command and the resolved settings."""
    Path(out).mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(Path(out) / CONFIG_FILE, to_json({"command": command, **config}))


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


# ------------------------------------------------------------------------------------------- main
def run_guarded(out: Path, body) -> int:
    """``body()``'s exit code; Ctrl-C gives :data:`EXIT_INTERRUPTED` with how to resume the run in
    ``out``, a :class:`GloResNetError` or ``ValueError`` gives :data:`EXIT_ERROR` (message on stderr)."""
    try:
        return body()
    except KeyboardInterrupt:
        print(f"\ninterrupted; continue with the same command plus --resume (run folder {out})", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (GloResNetError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
