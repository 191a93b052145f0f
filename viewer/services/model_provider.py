"""Which model the viewer uses: one weights folder, one device, one loaded network, for every job.

A service shared by the main window and the batch dialog (``window.models``): Analyse, Model >
Load weights and Batch > Score folder all read :attr:`ModelProvider.weights_dir` and
:attr:`ModelProvider.device` here, and load through :func:`viewer.services.jobs.load_model_steps` (the one
loading path). The network loaded for analyses is cached and reused while the folder is the same.
The batch loads its own copy in its worker thread: Grad-CAM hooks and gradient flags of an
analysis must never meet a batch forward pass on the same module.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PyQt6.QtCore import QObject, pyqtSignal

from model.checkpoint import LoadedModel, ModelCard, read_card
from model.errors import GloResNetError
from model.inference import select_device
from viewer.services.job_runner import JobRunner
from viewer.services.jobs import load_model_steps
from viewer.services.worker import GeneratorWorker


class ModelProvider(QObject):
    """The current weights folder, device and (once loaded) network.

    Parameters
    ----------
    weights_dir : str or Path
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"`` (:func:`model.inference.select_device`; ValueError if absent).
    runner : JobRunner
        Starts the loading workers.

    Signals
    -------
    loaded(object)
        Model > Load weights succeeded (``LoadedModel``); it is now the current model.
    failed(str)
        Loading failed; the one-line reason (the current model stays).
    card_changed(object)
        The card of the model Analyse will use (``ModelCard``).
    """

    loaded = pyqtSignal(object)
    failed = pyqtSignal(str)
    card_changed = pyqtSignal(object)

    def __init__(self, weights_dir: str | Path, device: str, runner: JobRunner, parent: QObject | None = None):
        super().__init__(parent)
        self.weights_dir = Path(weights_dir)
        self.device: torch.device = select_device(device)
        self.card: ModelCard | None = None
        self._runner = runner
        self._loaded: LoadedModel | None = None
        self._worker: GeneratorWorker | None = None

    def cached(self) -> LoadedModel | None:
        """The loaded network of :attr:`weights_dir`, or None when it has to be loaded first."""
        if self._loaded is not None and Path(self._loaded.folder) == self.weights_dir:
            return self._loaded
        return None

    def adopt(self, loaded: LoadedModel) -> None:
        """Keep a network an analysis loaded for the current folder (reused by the next analysis)."""
        if self._loaded is None or Path(self._loaded.folder) == Path(loaded.folder):
            self._loaded = loaded
            self._set_card(loaded.card)

    def read_current_card(self) -> str | None:
        """Read the current folder's card (no weights loaded); returns the one-line problem, or None."""
        try:
            card = read_card(self.weights_dir)
        except GloResNetError as exc:
            return str(exc)
        self._set_card(card)
        return None

    def load(self, folder: str | Path, on_message=None) -> GeneratorWorker:
        """Load ``folder`` in the background; :attr:`loaded` or :attr:`failed` follows (the newest request wins)."""
        folder = Path(folder)
        device = self.device
        worker = GeneratorWorker(lambda: load_model_steps(folder, device), name=f"load weights {folder.name}")
        if on_message is not None:
            worker.progressed.connect(lambda _f, message: on_message(message))
        worker.returned.connect(lambda loaded: self._on_loaded(worker, loaded))
        worker.failed.connect(lambda message: self._on_failed(worker, message))
        self._worker = worker
        return self._runner.launch(worker)

    def _on_loaded(self, worker: GeneratorWorker, loaded: LoadedModel) -> None:
        if worker is not self._worker:
            return
        self._worker = None
        self.weights_dir = Path(loaded.folder)
        self._loaded = loaded
        self._set_card(loaded.card)
        self.loaded.emit(loaded)

    def _on_failed(self, worker: GeneratorWorker, message: str) -> None:
        if worker is not self._worker:
            return
        self._worker = None
        self.failed.emit(message)

    def _set_card(self, card: ModelCard) -> None:
        self.card = card
        self.card_changed.emit(card)
