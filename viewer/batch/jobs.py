"""The batch job behind Batch > Score folder, without the dialog: the run, its generator, its cache.

:func:`batch_steps` adapts :func:`model.score.score_steps` to :class:`viewer.services.worker.GeneratorWorker`:
it loads the weights in the worker thread (:func:`viewer.services.jobs.load_model_steps`, the viewer's one
way of loading weights), forwards every :class:`model.score.ScoreEvent` through
:attr:`BatchWorker.case_done` (a queued signal, so rows reach the table in the GUI thread) and
yields :class:`model.inference.Progress` between cases, which is where Cancel takes effect.

Each folder's worklist is cached in the application's data folder
(``<AppDataLocation>/worklists/<sha256 of the absolute folder path>.csv``) and passed back as
``previous=`` on the next run; what is written follows :func:`model.worklist.merge_worklist`.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from PyQt6.QtCore import QStandardPaths, pyqtSignal

from model.inference import Progress
from model.score import ScoreEvent, score_steps
from viewer.services.jobs import load_model_steps
from viewer.services.worker import GeneratorWorker

#: The step message :func:`batch_steps` yields once the weights are loaded (scoring starts).
WEIGHTS_LOADED = "Weights loaded"


def worklist_cache_dir() -> Path:
    """Where each folder's worklist is cached: ``<AppDataLocation>/worklists``."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base) / "worklists"


def cache_path(cache_dir: str | Path, folder: str | Path) -> Path:
    """The cached worklist of ``folder``: ``<cache_dir>/<sha256 of its absolute path>.csv``."""
    key = hashlib.sha256(str(Path(folder).resolve()).encode("utf-8")).hexdigest()
    return Path(cache_dir) / f"{key}.csv"


# -- the job (no Qt) ---------------------------------------------------------------------------
@dataclass
class BatchRun:
    """One run of the dialog: its inputs, and the rows finished so far (appended in the worker)."""

    folder: Path
    entries: list
    previous: list
    cams_dir: Path | None
    rows: list = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)


def batch_steps(run: BatchRun, weights_dir: str | Path, device, on_event: Callable[[ScoreEvent], None]):
    """Load the weights, then :func:`model.score.score_steps` over ``run.entries``.

    Every finished case is appended to ``run.rows`` and passed to ``on_event`` before the
    generator yields, so a case reported is a case kept, also when the caller stops here.

    Yields
    ------
    model.inference.Progress
        ``fraction`` = cases done / cases.

    Returns
    -------
    model.score.ScoreSummary

    Raises
    ------
    NoWeightsError, model.errors.CheckpointError
    """
    loaded = yield from load_model_steps(weights_dir, device)
    yield Progress(0.0, WEIGHTS_LOADED)
    steps = score_steps(run.entries, loaded, previous=run.previous, cams_dir=run.cams_dir)
    try:
        while True:
            try:
                event = next(steps)
            except StopIteration as stop:
                return stop.value
            run.rows.append(event.row)
            on_event(event)
            yield Progress(event.done / max(1, event.total), f"{event.done}/{event.total}")
    finally:
        steps.close()  # cancel: stops the loader threads of score_steps


class BatchWorker(GeneratorWorker):
    """A :class:`GeneratorWorker` that also reports each finished case (``case_done(ScoreEvent)``)."""

    case_done = pyqtSignal(object)
