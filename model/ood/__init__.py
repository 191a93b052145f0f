"""Fitting and checking the out-of-distribution gate (``python -m model.ood``); the gate is :mod:`model.ood_gate`.

* :mod:`model.ood.fit` -- the feature gate's statistics for a weights folder, from renders of the
  training generator, phantom volumes or a manifest of held-out scans;
* :mod:`model.ood.cli` -- ``python -m model.ood fit`` / ``check``.

May import the inference core (:mod:`model.inference`, :mod:`model.checkpoint`), the gate and, inside
functions, :mod:`model.simulation`; the core never imports this package (the run-time gate it uses
is :mod:`model.ood_gate`), so there is no circle between them.
"""
