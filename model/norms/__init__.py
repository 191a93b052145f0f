"""Where the age references come from, and a site's own fit (``python -m model.norms``).

The reference table itself (:class:`model.norms_table.NormTable`, the bundled
``model/data/norms.csv`` or a site's csv, its lookup by post-menstrual age, and the z-score,
centile and flag of a measurement) is :mod:`model.norms_table`, which :mod:`model.measure` applies.
This package makes tables, so it sits above the measurements:

* :mod:`model.norms.fit`: the bundled numbers and how to remake them (the Serag templates measured,
  Romberg et al.'s spread), and a site's own fit from its normal scans (Gaussian process
  regression). Imports :mod:`model.measure` and :mod:`model.norms_table`.
* :mod:`model.norms.cli`: the command line ``python -m model.norms fit|serag``
  (:mod:`model.norms.__main__`). Imports ``fit`` and :mod:`model.norms_table`.

Nothing below imports this package, so there is no circle between the references, the measurements
and their fitting.
"""
