"""Training: ``python -m model.train`` (the protocol in :mod:`model.training.train`).

``train`` is the cross-validated protocol on real scans (``fold_eval`` scores a fold's model:
TTA, features, Grad-CAM pointing game); ``synth_train`` the synthetic protocol (``--synthetic``),
with its anatomy bank, sample stream and held-out seed ranges in ``synth_bank`` and its held-out
evaluation in ``synth_eval``; ``fusion_fit`` fits the fused injury call after it. What both
trainers share: ``run_folder`` (run folder rules, ``config.json``, common options, exit codes and
``main``'s error handling) and ``loop`` (AdamW + cosine schedule, EMA, autocast, seeds, resumable
checkpoints). ``dataset`` reads a manifest or a BIDS folder into labelled cases, ``augment`` holds
the training augmentations (flip, rotation, mixup; paper Eq. 9), ``metrics`` the cross-validated
metrics with bootstrap intervals (scikit-learn), ``plots`` the ROC, confusion, curves and t-SNE
figures (matplotlib).

Imports run one way: ``train`` and ``synth_train`` import the shared modules; ``synth_train``
imports ``synth_eval``, ``synth_bank`` and ``fusion_fit``; ``synth_eval`` and ``fusion_fit``
import ``synth_bank``; ``run_folder``, ``loop``, ``metrics``, ``augment`` and ``plots`` import no
other training module. Training may import the core (:mod:`model.network`,
:mod:`model.checkpoint`, :mod:`model.inference`, ...) and :mod:`model.simulation`; the core never
imports training.
"""
