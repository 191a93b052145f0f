"""Simulated neonatal T2 data: the phantom (:mod:`model.simulation.phantom`) and labelled cohorts
(:mod:`model.simulation.cohort`, ``python -m model.simulation``).

Used for the app's built-in sample, for tests with known anatomy, and for training the shipped
demonstration weights. It imports only the core's file helpers; the inference core never imports it
(the viewer imports it only for the built-in sample).
"""
