"""Training: ``python -m model.train`` (the protocol in :mod:`model.training.train`).

``dataset`` reads a manifest or a BIDS folder into labelled cases, ``augment`` holds the training
augmentations (flip, rotation, mixup; paper Eq. 9), ``metrics`` the cross-validated metrics with
bootstrap intervals (scikit-learn), ``plots`` the ROC, confusion, curves and t-SNE figures
(matplotlib). Training may import the core (:mod:`model.network`, :mod:`model.checkpoint`,
:mod:`model.inference`, ...) and :mod:`model.simulation`; the core never imports training.
"""
