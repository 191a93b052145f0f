"""Analysis of one scan: preprocessing, TTA (paper Eq. 12) and Grad-CAM, as a cancellable generator.

:func:`analyse_steps` is a plain generator: it yields :class:`Progress` between steps and returns
an :class:`AnalysisResult` (``StopIteration.value``). The GUI wraps it in a worker thread and stops
iterating to cancel (napari/superqt ``GeneratorWorker`` pattern); :func:`analyse` drives it to the
end for scripts. Device choice is the caller's (:func:`select_device`), never hidden in here.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generator, TypeVar, cast

import numpy as np
import torch

from model.checkpoint import LoadedModel
from model.fusion import FusionModel
from model.fusion import features as fusion_features
from model.gradcam import cam_pass, gradcam_session, upsample_cell_centred
from model.network import ResNet3d
from model.ood_gate import OODVerdict, capture_features, feature_verdict, measure_head, rule_reasons, statistics_from
from model.preprocessing import preprocess_with_box, resample_to_grid
from model.segmentation import resample_probabilities
from model.vocabulary import INJURY, Flag, flag_for
from model.volume import Volume

__all__ = [
    "INJURY",
    "AnalysisResult",
    "Progress",
    "TTAPasses",
    "analyse",
    "analyse_steps",
    "flag_for",
    "flip_lr",
    "run_to_end",
    "segmentation_capture",
    "select_device",
    "tta_forward",
    "tta_mean",
    "tta_probabilities",
]
#: Tensor dimension of the anatomical left-right axis in an (N, C, X, Y, Z) RAS+ batch.
LR_DIM = 2


def select_device(requested: str = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available else CPU; ``"cpu"``; ``"cuda"`` (ValueError if absent)."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA was requested but no CUDA device is available")
    if requested not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {requested!r} (use auto, cpu or cuda)")
    return torch.device(requested)


def flip_lr(x: torch.Tensor) -> torch.Tensor:
    """Mirror an (N, C, X, Y, Z) RAS+ batch across the left-right axis (X)."""
    return torch.flip(x, dims=(LR_DIM,))


def tta_mean(p_identity, p_flipped):
    """P(injury): the mean of the identity and the left-right flipped pass (paper Eq. 12).

    Works elementwise on floats, numpy arrays or tensors; every P(injury) the product reports (app,
    ``model.predict``, ``model.score``, training's out-of-fold metrics) is this mean.
    """
    return 0.5 * (p_identity + p_flipped)


@dataclass
class TTAPasses:
    """The two TTA passes of a batch (:func:`tta_forward`).

    Attributes
    ----------
    p_identity, p_flipped : np.ndarray, shape (N,), float64
        P(injury) (softmax index :data:`INJURY`) of each item and of its left-right mirror.
    features : np.ndarray or None, shape (N, F), float32
        Pooled encoder features of the identity pass, when asked for.
    """

    p_identity: np.ndarray
    p_flipped: np.ndarray
    features: np.ndarray | None = None

    @property
    def probability(self) -> np.ndarray:
        """P(injury) of each item, :func:`tta_mean` of the two passes, shape (N,)."""
        return tta_mean(self.p_identity, self.p_flipped)


@torch.no_grad()
def tta_forward(
    model: torch.nn.Module, x: torch.Tensor, *, with_features: bool = False, channels_last: bool = False
) -> TTAPasses:
    """The network on a batch and on its left-right mirror, in one forward call of 2N items (Eq. 12).

    Parameters
    ----------
    model : torch.nn.Module
        In eval mode; with ``with_features`` it needs ``forward_features``/``forward_head``
        (:class:`model.network.ResNet3d`).
    x : torch.Tensor, shape (N, 1, X, Y, Z)
        Preprocessed RAS+ inputs on the model's device. Any autocast context is the caller's.
    with_features : bool
        Also return the identity pass's pooled features (training's t-SNE).
    channels_last : bool
        Run in ``torch.channels_last_3d`` memory format (CUDA training speed-up; same numbers).

    Returns
    -------
    TTAPasses
    """
    both = torch.cat([x, flip_lr(x)], dim=0)
    if channels_last:
        both = both.contiguous(memory_format=torch.channels_last_3d)
    features = None
    if with_features:
        net = cast(ResNet3d, model)  # any module with the ResNet3d feature/head split
        f = net.forward_features(both)
        logits = net.forward_head(f)
        features = f[: x.shape[0]].float().cpu().numpy().astype(np.float32)
    else:
        logits = model(both)
    p = torch.softmax(logits.float(), dim=1)[:, INJURY].cpu().numpy().astype(np.float64)
    n = x.shape[0]
    return TTAPasses(p_identity=p[:n], p_flipped=p[n:], features=features)


def tta_probabilities(model: torch.nn.Module, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """``(p_identity, p_flipped)`` of :func:`tta_forward`, each shape (N,) float64; their mean is P(injury)."""
    passes = tta_forward(model, x)
    return passes.p_identity, passes.p_flipped


@contextmanager
def segmentation_capture(model: torch.nn.Module):
    """Collect the segmentation decoder's logits of every forward pass while inside the context.

    Yields a list that receives one (N, K, X, Y, Z) tensor per forward call (empty for a network
    without a decoder). The decoder runs without gradients inside the same pass, so Grad-CAM's
    passes give the segmentation at no extra encoder cost.
    """
    got: list = []
    has_decoder = getattr(model, "decoder", None) is not None
    if has_decoder:
        model.captured_segmentation = got  # type: ignore[assignment]
    try:
        yield got
    finally:
        if has_decoder:
            model.captured_segmentation = None  # type: ignore[assignment]


def tta_segmentation(captured: list) -> torch.Tensor | None:
    """Class probabilities of the TTA passes: softmax of each, the flipped pass flipped back, mean
    (Eq. 12 applied to every voxel).

    Parameters
    ----------
    captured : list of torch.Tensor
        :func:`segmentation_capture`'s logits; concatenated they are (2, K, X, Y, Z): identity, flipped.

    Returns
    -------
    torch.Tensor, shape (K, X, Y, Z), float32, or None when nothing was captured
    """
    if not captured:
        return None
    logits = torch.cat(captured, 0).float()
    if logits.shape[0] != 2:
        raise RuntimeError(f"expected the two TTA passes' segmentations, got {logits.shape[0]}")
    p = torch.softmax(logits, dim=1)
    return 0.5 * (p[0] + torch.flip(p[1], dims=(LR_DIM - 1,)))


#: Flag of a scan outside what the weights were trained on (model.ood_gate); its probability is not a call.
OUT_OF_DISTRIBUTION = Flag.OUT_OF_DISTRIBUTION


@dataclass
class Progress:
    """A step of an analysis: ``fraction`` in [0, 1] done, ``message`` for the status line."""

    fraction: float
    message: str


@dataclass
class AnalysisResult:
    """What one analysis shows the reader.

    Attributes
    ----------
    probability : float
        P(injury) = mean over TTA passes of softmax index 1 (Eq. 12).
    pass_probabilities : tuple of float
        P(injury) of the identity pass and of the left-right flipped pass.
    heatmap : np.ndarray or None, shape (X, Y, Z), float32 in [0, 1]
        Grad-CAM on the volume's RAS+ grid (``affine``), mean of both passes (flipped one flipped
        back); None when Grad-CAM was not asked for.
    affine : np.ndarray, shape (4, 4)
        Voxel -> world (mm) of ``heatmap`` (the displayed volume's affine).
    decision_threshold, indeterminate_band : float
        From the model card (``threshold`` is the old name of ``decision_threshold``, read-only).
    model_name, model_version, weights_sha256 : str
    demonstration : bool
    device : str
    timings_s : dict
        Seconds per step (``preprocess``, ``inference``, ``gradcam``, ``total``).
    ood : OODVerdict or None
        Out-of-distribution verdict (:mod:`model.ood_gate`); None for results made without the gate.
    labels : np.ndarray or None, shape (X, Y, Z), uint8
        The decoder's label map on the volume's grid (Draw-EM values of
        :data:`model.segmentation.SEG_CLASSES`); None for weights without a decoder.
    label_confidence : np.ndarray or None, shape (X, Y, Z), float16
        The TTA-mean probability of each voxel's chosen label.
    report : SegmentationReport or None
        Measurements, lesions and findings of ``labels`` (:func:`model.measure.report_from_labels`)
        at ``pma_weeks``; None for weights without a decoder.
    p_classifier : float or None
        The classifier's own P(injury) (TTA mean) when the card's fused call
        (:mod:`model.fusion`) is used, in which case ``probability`` is the fused P(injury) and
        ``decision_threshold`` the fusion's; None otherwise (``probability`` is the classifier's).
    call_drivers : list of dict
        What drives the call (:meth:`model.fusion.FusionModel.drivers`), largest first; empty
        without a fitted fusion.
    """

    probability: float
    pass_probabilities: tuple
    heatmap: np.ndarray | None
    affine: np.ndarray
    decision_threshold: float
    indeterminate_band: float
    model_name: str
    model_version: str
    weights_sha256: str
    demonstration: bool
    device: str
    timings_s: dict = field(default_factory=dict)
    ood: OODVerdict | None = None
    labels: np.ndarray | None = None
    label_confidence: np.ndarray | None = None
    report: Any = None
    p_classifier: float | None = None
    call_drivers: list = field(default_factory=list)

    @property
    def has_segmentation(self) -> bool:
        """True when the weights have a segmentation decoder (measurements available)."""
        return self.labels is not None

    @property
    def in_distribution(self) -> bool:
        """False when the out-of-distribution gate flagged the scan (True when it was not run)."""
        return self.ood is None or self.ood.in_distribution

    @property
    def disagreement(self) -> float:
        """|P(identity) - P(flipped)|: how much the two TTA passes disagree (an uncertainty cue)."""
        return float(abs(self.pass_probabilities[0] - self.pass_probabilities[1]))

    @property
    def threshold(self) -> float:
        """The old name of :attr:`decision_threshold` (kept for callers written before the rename)."""
        return self.decision_threshold

    @property
    def threshold_flag(self) -> Flag:
        """:class:`model.vocabulary.Flag`: above, indeterminate (within the band) or below the threshold."""
        return flag_for(self.probability, self.decision_threshold, self.indeterminate_band)

    @property
    def flag(self) -> Flag:
        """:attr:`threshold_flag`, or ``Flag.OUT_OF_DISTRIBUTION`` when the gate flagged the scan."""
        return self.threshold_flag if self.in_distribution else Flag.OUT_OF_DISTRIBUTION

    def to_dict(self) -> dict:
        """JSON-ready summary (no heatmap array)."""
        return {
            "p_injury": round(self.probability, 6),
            "p_injury_identity": round(float(self.pass_probabilities[0]), 6),
            "p_injury_flipped": round(float(self.pass_probabilities[1]), 6),
            "tta_disagreement": round(self.disagreement, 6),
            "decision_threshold": self.decision_threshold,
            "indeterminate_band": self.indeterminate_band,
            "flag": str(self.flag),
            "flag_if_in_distribution": str(self.threshold_flag),
            **(self.ood.to_dict() if self.ood is not None else {}),
            "model": self.model_name,
            "model_version": self.model_version,
            "weights_sha256": self.weights_sha256,
            "demonstration_weights": self.demonstration,
            "device": self.device,
            "timings_s": {k: round(v, 3) for k, v in self.timings_s.items()},
            **self._segmentation_dict(),
        }

    def _segmentation_dict(self) -> dict:
        if self.report is None:
            return {"segmentation": "not available with these weights (no segmentation decoder)"}
        d = self.report.to_dict()
        return {
            "segmentation": "available",
            "call": "fused (classifier + measurements)" if self.p_classifier is not None else "classifier",
            "p_injury_classifier": None if self.p_classifier is None else round(self.p_classifier, 6),
            "call_drivers": self.call_drivers,
            "pma_weeks": d["pma_weeks"],
            "pma_source": d["pma_source"],
            "measurements": d["measurements"],
            "lesions": d["lesions"],
            "findings": d["findings"],
        }


def analyse_steps(
    volume: Volume,
    loaded: LoadedModel,
    with_cam: bool = True,
    pma_weeks: float | None = None,
    pma_source: str = "",
) -> Generator[Progress, None, AnalysisResult]:
    """Analyse one scan step by step.

    Parameters
    ----------
    volume : Volume
        RAS+ volume from :func:`model.volume.load_volume`.
    loaded : LoadedModel
        Weights and card; the network's device is used.
    with_cam : bool
        Compute Grad-CAM (the probability is the same either way).
    pma_weeks : float, optional
        Post-menstrual age (weeks) the measurements are compared with their references at
        (None: values only, "PMA unknown").
    pma_source : str
        Where ``pma_weeks`` came from (shown with it).

    Yields
    ------
    Progress

    Returns
    -------
    AnalysisResult
    """
    model, card = loaded.model, loaded.card
    device = next(model.parameters()).device
    model.eval()
    t0 = time.perf_counter()
    timings = {}
    yield Progress(0.0, "Checking the scan against what the weights were trained on")
    measures = measure_head(volume)
    reasons = rule_reasons(volume, measures)
    timings["ood_rules"] = time.perf_counter() - t0
    yield Progress(0.05, "Preprocessing: resampling to the network grid and z-scoring")
    x, box = preprocess_with_box(volume.data, card.preprocessing)
    x = x.to(device)
    timings["preprocess"] = time.perf_counter() - t0
    inputs = (x, flip_lr(x))

    if with_cam:
        probs, maps = [], []
        with (
            gradcam_session(model, card.gradcam_layer) as cam,
            capture_features(model) as feats,
            segmentation_capture(model) as segs,
        ):
            for i, inp in enumerate(inputs):
                yield Progress(0.1 + 0.4 * i, f"Network + Grad-CAM, TTA pass {i + 1} of 2")
                p, m = cam_pass(cam, inp, target_class=INJURY)
                probs.append(float(p[INJURY]))
                maps.append(m)
        t1 = time.perf_counter()
        timings["inference_and_gradcam"] = t1 - t0 - timings["preprocess"]
        yield Progress(0.9, "Mapping the heatmap onto the scan")
        # The flipped pass saw a mirrored input: mirror its map back before averaging (Eq. 12).
        grid_mean = 0.5 * (maps[0] + np.flip(maps[1], axis=0))
        net_map = upsample_cell_centred(grid_mean, card.preprocessing.target_shape)
        heatmap = resample_to_grid(net_map, volume.shape, card.preprocessing, box)
        np.clip(heatmap, 0.0, 1.0, out=heatmap)
        timings["heatmap_mapping"] = time.perf_counter() - t1
    else:
        yield Progress(0.1, "Network, both TTA passes")
        with capture_features(model) as feats, segmentation_capture(model) as segs:  # identity rows first
            passes = tta_forward(model, x)
        probs = [float(passes.p_identity[0]), float(passes.p_flipped[0])]
        timings["inference"] = time.perf_counter() - t0 - timings["preprocess"]
        heatmap = None
    verdict = feature_verdict(statistics_from(loaded), feats[0][0] if feats else None, reasons)  # identity pass
    verdict.measures = measures.to_dict()
    labels = confidence = report = None
    seg_probs = tta_segmentation(segs)
    if seg_probs is not None:
        t2 = time.perf_counter()
        yield Progress(0.95, "Segmenting and measuring")
        labels, confidence = resample_probabilities(seg_probs.cpu(), box, volume.shape)
        from model.measure import report_from_labels

        report = report_from_labels(
            labels, volume.affine, pma_weeks=pma_weeks, pma_source=pma_source, confidence=confidence
        )
        timings["segmentation"] = time.perf_counter() - t2
    probability = float(tta_mean(probs[0], probs[1]))
    threshold, p_classifier, drivers = card.decision_threshold, None, []
    fusion = FusionModel.from_card(card.segmentation.get("fusion")) if labels is not None else None
    if fusion is not None and labels is not None:
        f = fusion_features(probability, labels)
        drivers = fusion.drivers(f)
        if fusion.used:
            p_classifier, probability, threshold = probability, fusion.probability(f), fusion.threshold
    timings["total"] = time.perf_counter() - t0
    yield Progress(1.0, "Done")
    return AnalysisResult(
        probability=probability,
        pass_probabilities=(float(probs[0]), float(probs[1])),
        heatmap=heatmap,
        affine=volume.affine.copy(),
        decision_threshold=threshold,
        indeterminate_band=card.indeterminate_band,
        model_name=card.name,
        model_version=card.version,
        weights_sha256=card.weights_sha256,
        demonstration=card.demonstration,
        device=str(device),
        timings_s=timings,
        ood=verdict,
        labels=labels,
        label_confidence=confidence,
        report=report,
        p_classifier=p_classifier,
        call_drivers=drivers,
    )


_T = TypeVar("_T")


def run_to_end(gen: Generator[Any, Any, _T]) -> _T:
    """Drive a step generator to completion and return its value."""
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def analyse(
    volume: Volume,
    loaded: LoadedModel,
    with_cam: bool = True,
    pma_weeks: float | None = None,
    pma_source: str = "",
) -> AnalysisResult:
    """:func:`analyse_steps` run to the end."""
    return run_to_end(analyse_steps(volume, loaded, with_cam=with_cam, pma_weeks=pma_weeks, pma_source=pma_source))
