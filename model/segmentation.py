"""The segmentation head's label table (dHCP / Draw-EM tissue convention) and its maps.

The decoder (:class:`model.network.SegDecoder`) predicts :data:`N_SEG_CLASSES` channels; channel
``k`` is the label value ``SEG_CLASSES[k].value`` of the Draw-EM neonatal tissue convention
(Makropoulos et al., NeuroImage 125, 2015; the dHCP structural pipeline's 9 tissue classes, as in
the Serag and ALBERT label maps) with two injury classes added above 9:

====== ===================================== =================================================
value  name                                  notes
====== ===================================== =================================================
0      outside the head                      background
1      extra-cerebral CSF
2      cortical grey matter
3      white matter
4      skull, scalp, non-brain               Draw-EM "background" inside the head
5      ventricles                            lateral, third and fourth
6      cerebellum + brainstem                Draw-EM 6 and 8 merged: the network does not separate them
7      deep grey matter                      Draw-EM 7 and 9 (hippocampi and amygdalae) merged
10     cyst                                  injury: T2-bright cavity in the parenchyma
11     punctate white-matter lesion          injury: small T2-dark focus
====== ===================================== =================================================

The Serag templates' maps (``../shared/data/neonatal-serag/tissue-labels``) use 6 for cerebellum
+ brainstem and 8/9 for high/low-intensity white matter: :func:`from_serag` maps them onto this
table. Our renderer's classes (:data:`model.simulation.synth.RENDER_LABELS`) map through
:data:`RENDER_TO_CHANNEL`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class SegClass:
    """One output channel: its Draw-EM label ``value``, a ``name`` and a display ``colour`` (RGB 0-255)."""

    value: int
    name: str
    colour: tuple


#: The decoder's channels, in order (channel index -> label).
SEG_CLASSES = (
    SegClass(0, "outside the head", (0, 0, 0)),
    SegClass(1, "extra-cerebral CSF", (120, 18, 134)),
    SegClass(2, "cortical grey matter", (220, 180, 140)),
    SegClass(3, "white matter", (245, 245, 245)),
    SegClass(4, "skull, scalp and non-brain", (120, 120, 120)),
    SegClass(5, "ventricles", (60, 120, 240)),
    SegClass(6, "cerebellum + brainstem", (230, 148, 34)),
    SegClass(7, "deep grey matter", (0, 118, 14)),
    SegClass(10, "cyst", (255, 230, 0)),
    SegClass(11, "punctate white-matter lesion", (255, 0, 0)),
)
N_SEG_CLASSES = len(SEG_CLASSES)
#: Label values of the output channels, shape (N_SEG_CLASSES,), uint8.
CHANNEL_VALUES = np.array([c.value for c in SEG_CLASSES], np.uint8)
#: Label value -> name, for every value a label map of ours may hold.
LABEL_NAMES = {c.value: c.name for c in SEG_CLASSES}
CSF, CORTEX, WHITE_MATTER, NON_BRAIN, VENTRICLES, CEREBELLUM_BRAINSTEM, DEEP_GREY, CYST, PUNCTATE = (
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    10,
    11,
)
#: Label values inside the brain (tissue and injuries; not CSF outside it, not non-brain).
BRAIN_VALUES = (CORTEX, WHITE_MATTER, VENTRICLES, CEREBELLUM_BRAINSTEM, DEEP_GREY, CYST, PUNCTATE)
#: Label values inside the intracranial volume (brain + extra-cerebral CSF).
INTRACRANIAL_VALUES = (CSF,) + BRAIN_VALUES

#: Render class of :mod:`model.simulation.synth` -> decoder channel (sub-classes merged; see
#: ``RENDER_LABELS``: 0-7 tissue, 8 cyst, 9 punctate, 12/13 cortex/WM sub-classes).
RENDER_TO_CHANNEL = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 9: 9, 12: 2, 13: 3}

#: Serag / Draw-EM template label -> our label value (6 is already cerebellum + brainstem there;
#: 8 and 9 are high- and low-intensity white matter).
SERAG_TO_LABEL = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 3, 9: 3}


def label_table() -> dict:
    """The JSON label table written beside every label map and into the model card.

    Returns
    -------
    dict
        ``{"convention": ..., "labels": [{"value", "name", "colour"}, ...], "merged": ...}``.
    """
    return {
        "convention": "dHCP / Draw-EM neonatal tissue labels (Makropoulos et al. 2015) + 10 cyst, 11 punctate lesion",
        "labels": [{"value": c.value, "name": c.name, "colour": list(c.colour)} for c in SEG_CLASSES],
        "merged": {
            "6": "Draw-EM 6 (cerebellum) and 8 (brainstem)",
            "7": "Draw-EM 7 (deep grey matter) and 9 (hippocampi and amygdalae)",
        },
    }


def render_fractions_to_channels(fractions: torch.Tensor) -> torch.Tensor:
    """Collapse renderer partial-volume fractions onto the decoder's channels (soft targets).

    Parameters
    ----------
    fractions : torch.Tensor, shape (M, R, X, Y, Z), float
        :func:`model.simulation.synth.class_fractions` over the R render classes.

    Returns
    -------
    torch.Tensor, shape (M, N_SEG_CLASSES, X, Y, Z), float32; sums to 1 over channels
    """
    m, r = fractions.shape[:2]
    index = torch.zeros(r, dtype=torch.long, device=fractions.device)
    for render, channel in RENDER_TO_CHANNEL.items():
        if render < r:
            index[render] = channel
    out = torch.zeros((m, N_SEG_CLASSES, *fractions.shape[2:]), dtype=torch.float32, device=fractions.device)
    out.index_add_(1, index, fractions.float())
    return out


def render_labels_to_values(labels: np.ndarray) -> np.ndarray:
    """Render class map -> label values of this table, same shape, uint8."""
    lut = np.zeros(max(RENDER_TO_CHANNEL) + 1, np.uint8)
    for render, channel in RENDER_TO_CHANNEL.items():
        lut[render] = CHANNEL_VALUES[channel]
    return lut[np.asarray(labels, np.int64)]


def from_serag(labels: np.ndarray) -> np.ndarray:
    """A Serag / Draw-EM 9-class template map -> label values of this table (uint8, same shape).

    Raises
    ------
    ValueError
        For values outside 0-9.
    """
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"Draw-EM template labels are 0-9, got {labels.min()}-{labels.max()}")
    lut = np.array([SERAG_TO_LABEL[k] for k in range(10)], np.uint8)
    return lut[labels.astype(np.int64)]


def probabilities_to_labels(probs: torch.Tensor | np.ndarray) -> np.ndarray:
    """Argmax over channels -> label values.

    Parameters
    ----------
    probs : shape (N_SEG_CLASSES, X, Y, Z), float

    Returns
    -------
    np.ndarray, shape (X, Y, Z), uint8 (label values of :data:`SEG_CLASSES`)
    """
    t = torch.as_tensor(probs)
    return CHANNEL_VALUES[t.argmax(0).cpu().numpy()]


def resample_probabilities(probs: torch.Tensor, box: tuple | None, full_shape: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Network-grid class probabilities -> a label map (and its confidence) on the input's voxel grid.

    Trilinear resampling of the probabilities (``align_corners=True``, the inverse of
    :func:`model.preprocessing.preprocess`'s resampling) into the crop box, then the argmax
    (the usual way to bring a soft segmentation to another grid, as nnU-Net does); voxels outside
    the box are "outside the head" with confidence 1.

    Parameters
    ----------
    probs : torch.Tensor, shape (K, x, y, z), float
    box : tuple of 3 slice or None
        The crop box of the preprocessing (None = the whole volume).
    full_shape : tuple of 3 int
        The input volume's shape.

    Returns
    -------
    labels : np.ndarray, shape ``full_shape``, uint8
    confidence : np.ndarray, shape ``full_shape``, float16
        The resampled probability of each voxel's label.
    """
    full_shape = tuple(int(n) for n in full_shape)
    labels = np.zeros(full_shape, np.uint8)
    confidence = np.ones(full_shape, np.float16)
    if box is None:
        box = tuple(slice(0, n) for n in full_shape)
    target = tuple(int(s.stop - s.start) for s in box)
    up = F.interpolate(probs.float()[None], size=target, mode="trilinear", align_corners=True)[0]
    best, index = up.max(0)
    labels[box] = CHANNEL_VALUES[index.numpy()]
    confidence[box] = best.numpy().astype(np.float16)
    return labels, confidence
