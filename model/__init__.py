"""Headless core of the GloResNet second reader (no Qt, no viewer imports).

Data flow, one scan:

``volume.load_volume`` reads a NIfTI file with nibabel and reorients it once to closest canonical
RAS+ (a ``Volume``: data (X, Y, Z) float32 + affine in mm). ``preprocessing.preprocess`` is THE
preprocessing (trilinear resampling of the whole volume to 128^3, align_corners=True, then z-score;
paper Eq. 3-4) with settings read from the model card. ``network.resnet10`` is the 3D ResNet-10
classifier. ``checkpoint`` loads weights (safetensors) + model card (JSON), verifying the hash and
every field it depends on. ``inference.analyse_steps`` runs test-time augmentation (identity and
left-right flip, mean of softmax; Eq. 12) and ``gradcam`` (pytorch-grad-cam on ``layer4``) as a
cancellable generator and maps the heatmap back onto the scan's own grid.

One home per rule: ``vocabulary`` holds the product's words (classes, the ``Flag``, impressions,
decisions, banners), ``heatmap`` the heatmap's colour table, head mask and "maximum inside the
head", ``inference`` the one TTA (``tta_forward``/``tta_mean``), ``fileio`` atomic writes and the
file SHA-256, ``timestamps`` the UTC format, ``score`` the batch policy. Everything else imports
them rather than restating them.

Sub-packages by concern: ``training`` (``python -m model.train``: protocol, dataset, augmentation,
metrics, plots) writes a weights folder that the app, ``predict`` and batch scoring load unchanged;
``simulation`` makes redistributable simulated data; ``record`` holds the audit log and the PDF
report. ``bids`` finds scans in a folder for both scoring and training.

What may import what (checked by ``lint-imports``, contracts in pyproject.toml): the core modules at
the top never import ``training`` or ``simulation``; ``record`` may use the core; ``training`` and
``simulation`` may use the core. Nothing in ``model`` imports PyQt6, pyqtgraph or ``viewer``:
``main -> viewer -> model``.
"""

from pathlib import Path

#: The demonstration weights bundled with the app (trained on simulated data; see resources/README.md).
DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "resources" / "weights" / "demo"
