"""Measuring label maps for the references: the bundled table's rows from the Serag templates, and a
site's own fit from its normal scans.

Part of :mod:`model.norms` (the package docstring says what each part holds). It measures with
:func:`model.measure.report_from_labels` and writes :mod:`model.norms_table` tables; the command line
is :mod:`model.norms.cli`.

Where the bundled numbers come from
-----------------------------------
* ``mean`` of every measure at every week: a summary statistic of the Serag et al. spatio-temporal
  neonatal template of that week (NeuroImage 2012;59:2255-2265; tissue maps of Makropoulos et al.,
  NeuroImage 2015;125:456-478), measured by :func:`model.measure.report_from_labels` on
  :func:`model.segmentation.from_serag` of ``tissue-labels/template-NN.nii.gz``. A template is an
  average brain: it has no spread, and its thin cortex is blurred (fewer cortex voxels, more white
  matter than an individual brain has).
* ``sd`` of ``brain_ml``, ``cortex_ml`` and ``white_matter_ml`` at 37-42 weeks only: the template
  mean times the coefficient of variation (SD / mean) reported by Romberg et al., "MRI-based brain
  volumes of preterm infants at term: a systematic review and meta-analysis", Arch Dis Child Fetal
  Neonatal Ed 2022;107:520-526: total brain volume 379 ml (SD 72, n = 756), cortical grey matter
  140 ml (SD 47, n = 572), unmyelinated white matter 195 ml (SD 38, n = 499), very preterm infants at
  term-equivalent age (defined there as 37-42 weeks mean PMA at MRI). That spread is pooled over 13
  studies with different segmentation methods, so it is wide (conservative: fewer flags). Their
  cerebellar SD is not used for our cerebellum + brainstem class (a different structure).
* Every other measure (intracranial volume, deep grey matter, cerebellum + brainstem, ventricles,
  extra-cerebral CSF, the linear ventricular measures), and every measure outside 37-42 weeks: no
  published spread that we could cite for an MRI label-map measure of this definition, so ``sd`` is
  empty: the reference gives the expected value and no z-score (the screen says "no published
  spread"). The ultrasound tables of Brouwer et al. (Radiology 2012) are not used for the automated
  linear measures: those are ultrasound readings of another definition.

Regenerate the Serag rows (not run in CI; needs ``../shared/data``)::

    python -m model.norms serag --templates ../shared/data/neonatal-serag/tissue-labels --out model/data/norms.csv

A site fits its own reference from its own normal scans (label maps in our convention, e.g. from the
app's ``--seg-out`` or a dHCP pipeline mapped onto it)::

    python -m model.norms fit --manifest normals.csv --out site_norms.csv

``normals.csv`` has the columns ``labels`` (a NIfTI label map; relative paths are relative to the
manifest's folder) and ``pma_weeks``. Each measure is fitted by Gaussian process regression on PMA
(scikit-learn ``GaussianProcessRegressor``, constant x RBF + WhiteKernel, ``normalize_y``; the
normative-modelling approach of Dimitrova et al., Cereb Cortex 2021), and written for every whole
week from the rounded youngest to the rounded oldest PMA of the manifest (within 28-44): ``mean``
is the predictive mean and ``sd`` the square root of the predictive variance *including* the noise
term, i.e. the spread of individual normal infants.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from model.measure import REFERENCED_KEYS, UNITS, report_from_labels
from model.norms_table import WEEKS, NormError, NormRow, NormTable, _number, read_csv_rows

#: Fewest normal scans ``fit`` accepts (per measure).
MIN_FIT_SCANS = 5

ROMBERG = "Romberg et al., Arch Dis Child Fetal Neonatal Ed 2022;107:520-526"
#: key -> (published mean ml, published SD ml, what they measured); the CV = SD / mean.
ROMBERG_CV = {
    "brain_ml": (379.0, 72.0, "total brain volume, n=756"),
    "cortex_ml": (140.0, 47.0, "cortical grey matter volume, n=572"),
    "white_matter_ml": (195.0, 38.0, "unmyelinated white matter volume, n=499"),
}
#: Weeks at which Romberg et al.'s spread applies (term-equivalent age as they define it).
ROMBERG_WEEKS = (37, 42)
SERAG = (
    "mean: Serag et al. NeuroImage 2012;59:2255-2265 template of week {week} (Draw-EM tissue maps, "
    "Makropoulos et al. NeuroImage 2015;125:456-478) measured by model.measure; a template is an average brain "
    "and has no spread of its own"
)


# ----------------------------------------------------------------------------------------------
# Measuring label maps (Serag templates, a site's normals)
# ----------------------------------------------------------------------------------------------


def _load_label_map(path: Path, where: str):
    import nibabel as nib
    import numpy as np

    if not path.is_file():
        raise NormError(f"{where}: label map {path}: no such file")
    try:
        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj)  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one message naming it
        raise NormError(f"{where}: label map {path} cannot be read as NIfTI ({exc})") from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    return data, img.affine  # type: ignore[attr-defined]


def measure_values(labels, affine) -> dict[str, float]:
    """Values of the referenced measures (:data:`model.measure.REFERENCED_KEYS`) of one label map."""
    report = report_from_labels(labels, affine, pma_weeks=None)
    return {m.key: m.value for m in report.measurements if m.key in REFERENCED_KEYS}


def serag_table(templates: str | Path, weeks=WEEKS) -> NormTable:
    """The bundled table's rows, measured on the Serag template label maps (see the module docstring).

    Parameters
    ----------
    templates : folder with ``template-NN.nii.gz`` (Serag / Draw-EM 0-9 labels)

    Raises
    ------
    NormError
        A template missing or unreadable.
    """
    from model.segmentation import from_serag

    templates = Path(templates)
    rows = []
    for week in weeks:
        path = templates / f"template-{week}.nii.gz"
        data, affine = _load_label_map(path, str(templates))
        values = measure_values(from_serag(data), affine)
        for key, value in values.items():
            sd, source = None, SERAG.format(week=week)
            if key in ROMBERG_CV and ROMBERG_WEEKS[0] <= week <= ROMBERG_WEEKS[1]:
                mean_p, sd_p, what = ROMBERG_CV[key]
                sd = value * sd_p / mean_p
                source += (
                    f"; sd = mean x {sd_p:g}/{mean_p:g} (coefficient of variation of {what}, very preterm infants "
                    f"at term-equivalent age 37-42 weeks, {ROMBERG}; pooled over 13 studies)"
                )
            rows.append(NormRow(key, UNITS[key], float(week), float(value), sd, source))
    return NormTable(rows)


def serag_header() -> list[str]:
    return [
        "GloResNet second reader: age references by post-menstrual age (weeks), one row per measure and week.",
        "mean: Serag template of that week measured by model.measure; sd: empty where no published spread exists",
        f"(no z-score then); brain/cortex/white matter at 37-42 weeks: sd from the coefficient of variation of {ROMBERG}.",
        "See model/norms/fit.py for the sources. Regenerate (not in CI):",
        "python -m model.norms serag --templates ../shared/data/neonatal-serag/tissue-labels --out model/data/norms.csv",
    ]


# ----------------------------------------------------------------------------------------------
# A site's own fit
# ----------------------------------------------------------------------------------------------


def read_manifest(manifest: str | Path) -> list[tuple[Path, float, str]]:
    """``(label map path, pma_weeks, where)`` for every row of a manifest.

    Raises
    ------
    NormError
        Missing manifest, missing ``labels``/``pma_weeks`` column, an empty path, a PMA that is not
        a number or not in 20-60 weeks.
    """
    manifest = Path(manifest)
    rows = read_csv_rows(manifest, "manifest", ("labels", "pma_weeks"), empty="empty", encoding="utf-8-sig", strip=True)
    out = []
    for where, rec in rows:
        if not rec["labels"]:
            raise NormError(f"{where}: empty labels path")
        pma = _number(rec["pma_weeks"], "pma_weeks", where)
        if not 20.0 <= pma <= 60.0:
            raise NormError(f"{where}: pma_weeks {pma:g} is not a post-menstrual age in weeks (20-60)")
        path = Path(rec["labels"]).expanduser()
        out.append((path if path.is_absolute() else manifest.parent / path, pma, where))
    return out


def fit_site(manifest: str | Path, log=None) -> NormTable:
    """Fit a site's reference from its normal scans (see the module docstring).

    Raises
    ------
    NormError
        Bad manifest or label map (named), or fewer than :data:`MIN_FIT_SCANS` scans.
    """
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    entries = read_manifest(manifest)
    if len(entries) < MIN_FIT_SCANS:
        raise NormError(f"{manifest}: {len(entries)} scan(s); a fit needs at least {MIN_FIT_SCANS} normal scans")
    per_key: dict[str, list[tuple[float, float]]] = {k: [] for k in REFERENCED_KEYS}
    for path, pma, where in entries:
        data, affine = _load_label_map(path, where)
        try:
            values = measure_values(data, affine)
        except ValueError as exc:
            raise NormError(f"{where}: label map {path}: {exc}") from None
        for key, value in values.items():
            per_key[key].append((pma, value))
    pmas = [pma for _, pma, _ in entries]
    lo, hi = max(WEEKS[0], round(min(pmas))), min(WEEKS[-1], round(max(pmas)))
    if lo > hi:
        raise NormError(f"{manifest}: the scans' PMA ({min(pmas):g}-{max(pmas):g} weeks) is outside 28-44 weeks")
    weeks = np.arange(lo, hi + 1, dtype=float)
    source = (
        f"site fit from {len(entries)} normal scans, {manifest}, GPR "
        "(scikit-learn GaussianProcessRegressor, constant x RBF + WhiteKernel; sd includes the noise term)"
    )
    rows = []
    for key in REFERENCED_KEYS:
        pairs = per_key[key]
        if len(pairs) < MIN_FIT_SCANS:
            if log:
                log(f"{key}: measured on {len(pairs)} scan(s), fewer than {MIN_FIT_SCANS}: not fitted")
            continue
        x = np.array([p for p, _ in pairs])[:, None]
        y = np.array([v for _, v in pairs])
        kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(
            length_scale=8.0, length_scale_bounds=(2.0, 100.0)
        ) + WhiteKernel(noise_level=0.1, noise_level_bounds=(1e-6, 10.0))
        gpr = GaussianProcessRegressor(kernel=kernel, normalize_y=True, n_restarts_optimizer=1, random_state=0)
        with warnings.catch_warnings():  # a hyperparameter at its bound is expected with a few scans
            warnings.simplefilter("ignore", ConvergenceWarning)
            gpr.fit(x, y)
        mean, std = gpr.predict(weeks[:, None], return_std=True)
        for week, m, s in zip(weeks, mean, std):
            rows.append(NormRow(key, UNITS[key], float(week), float(m), float(s), source))
    return NormTable(rows)
