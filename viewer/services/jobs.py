"""The viewer's long-running jobs as plain generators (no Qt): open a scan, the sample, weights; analyse; report.

Each job yields :class:`model.inference.Progress` between steps and returns its outcome through
``StopIteration.value``; :class:`viewer.services.worker.GeneratorWorker` runs it off the GUI thread and
cancels it by closing the generator (napari ``thread_worker`` / superqt ``GeneratorWorker``).
Everything heavy for the display (reading and reorienting the file, the default window, the
weights, the analysis and its heatmap on the scan's grid) happens here, so the GUI thread only
slices arrays.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from model.checkpoint import LoadedModel, load_weights
from model.errors import GloResNetError
from model.inference import AnalysisResult, Progress, analyse_steps
from model.volume import Volume, load_volume, volume_from_image
from viewer.display import make_scan

#: Seed of the simulated sample shown by File > Open sample and at start-up.
SAMPLE_SEED = 7


class NoWeightsError(GloResNetError):
    """The weights folder the app was told to use does not exist."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder)
        super().__init__(
            f"No weights found at {self.path}; start the app with --weights DIR to use another weights folder"
        )


class SampleUnavailableError(GloResNetError):
    """The simulated sample cannot be made (``model.simulation.phantom`` is missing or broken)."""


def open_scan_steps(path: str | Path):
    """Load a NIfTI file for display.

    Yields
    ------
    Progress

    Returns
    -------
    viewer.display.Scan

    Raises
    ------
    model.errors.ScanError
    """
    path = Path(path)
    yield Progress(0.0, f"Reading {path.name}")
    volume = load_volume(path)
    yield Progress(0.7, "Computing the display window and the head mask")
    return make_scan(volume, path.name)


def open_sample_steps(seed: int = SAMPLE_SEED):
    """Make the simulated neonatal T2 sample (``model.simulation.phantom.sample_image``) for display.

    Raises
    ------
    SampleUnavailableError
        When ``model.simulation.phantom`` cannot be imported.
    """
    yield Progress(0.0, "Simulating the sample scan")
    try:
        from model.simulation.phantom import sample_image
    except ImportError as exc:
        raise SampleUnavailableError(
            f"The simulated sample is not available in this installation ({exc}); open a scan with File > Open"
        ) from exc
    image = sample_image(seed=seed)
    volume = volume_from_image(image)
    # the SHA-256 of the sample as an uncompressed .nii: the same every time, so the decisions recorded
    # for it are found again (History, the report) like those of a file (issue 30)
    volume.sha256 = hashlib.sha256(image.to_bytes()).hexdigest()
    yield Progress(0.7, "Computing the display window and the head mask")
    return make_scan(volume, f"Simulated sample (seed {seed})")


@dataclass
class AnalysisOutcome:
    """What an analysis job returns: the result, the volume it belongs to, the model it used."""

    volume: Volume
    loaded: LoadedModel
    result: AnalysisResult


def analysis_job_steps(volume: Volume, weights_dir: str | Path, device, loaded: LoadedModel | None = None):
    """Load the weights (unless ``loaded`` is given) and run :func:`model.inference.analyse_steps`.

    Parameters
    ----------
    volume : Volume
    weights_dir : str or Path
        Weights folder (``model.safetensors`` + ``model_card.json``).
    device : torch.device
        Where the network runs (chosen by the caller with ``select_device``).
    loaded : LoadedModel, optional
        A model already loaded from ``weights_dir`` on ``device`` (reused between analyses).

    Yields
    ------
    Progress

    Returns
    -------
    AnalysisOutcome

    Raises
    ------
    NoWeightsError, model.errors.CheckpointError
    """
    if loaded is None:
        loaded = yield from load_model_steps(weights_dir, device)
    # ``yield from`` forwards close(): cancelling here closes analyse_steps and releases its hooks.
    result = yield from analyse_steps(volume, loaded, with_cam=True)
    return AnalysisOutcome(volume=volume, loaded=loaded, result=result)


def load_model_steps(folder: str | Path, device):
    """Load a weights folder: THE way the viewer loads weights (Load weights, Analyse, Batch).

    Returns
    -------
    LoadedModel

    Raises
    ------
    NoWeightsError, model.errors.CheckpointError
        With the folder and what does not match (card, hash, tensors).
    """
    folder = Path(folder)
    yield Progress(0.0, f"Loading weights from {folder.name}")
    if not folder.exists():
        raise NoWeightsError(folder)
    return load_weights(folder, device)


def report_job_steps(path: str | Path, report):
    """Write a :class:`model.record.report.Report` as PDF (matplotlib, no GUI). Returns the page count."""
    from model.record.report import write_report

    yield Progress(0.0, f"Writing the report {Path(path).name}")
    return write_report(path, report)
