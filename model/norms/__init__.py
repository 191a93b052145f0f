"""Age references of the measurements by post-menstrual age (PMA), and a site's own fit.

* :mod:`model.norms.table`: the reference table (:class:`NormTable`, the bundled
  ``model/data/norms.csv`` and a site's csv), its lookup with linear interpolation between weeks,
  and the z-score, centile and flag of a measurement. Imports nothing of :mod:`model.measure`.
* :mod:`model.norms.fit`: where the bundled numbers come from and how to remake them (the Serag
  templates measured, Romberg et al.'s spread), and a site's own fit from its normal scans
  (Gaussian process regression). Imports :mod:`model.measure` and ``table``.
* :mod:`model.norms.cli`: the command line ``python -m model.norms fit|serag``
  (:mod:`model.norms.__main__`). Imports ``fit`` and ``table``.

This package re-exports the table only: :mod:`model.measure` applies the references through it,
so importing ``model.norms`` never imports :mod:`model.measure` back (import ``fit`` or ``cli``
by their own names).
"""

from model.norms.table import (
    BUNDLED_PATH,
    COLUMNS,
    EXTREME_Z,
    WEEKS,
    Z_LIMIT,
    NormError,
    NormRow,
    NormTable,
    centile,
    flag,
    read_csv_rows,
    z_score,
)

__all__ = [
    "BUNDLED_PATH",
    "COLUMNS",
    "EXTREME_Z",
    "WEEKS",
    "Z_LIMIT",
    "NormError",
    "NormRow",
    "NormTable",
    "centile",
    "flag",
    "read_csv_rows",
    "z_score",
]
