"""Age references of the measurements by post-menstrual age (PMA), and a site's own fit.

The bundled table ``model/data/norms.csv`` has one row per measure and week (28-44): ``key``,
``unit``, ``pma_weeks``, ``mean``, ``sd`` (empty where no published spread exists) and ``source``
(every row says where its numbers come from). Lines starting with ``#`` are comments.

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
term, i.e. the spread of individual normal infants. Exit codes: 0 written, 1 bad input (the message
names the file and line), 2 usage.

z-scores and flags: ``z = (value - mean) / sd``; centile = 100 x the standard normal CDF of z
(:data:`scipy.stats.norm`); flag "high"/"low" beyond |z| > 2, "extreme high"/"extreme low" beyond
|z| > 3.1 (the extreme-deviation threshold of Dimitrova et al., Cereb Cortex 2021).
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from model.fileio import write_bytes_atomic
from model.findings_types import Measurement, Reference

#: The table shipped in the package.
BUNDLED_PATH = Path(__file__).resolve().parent / "data" / "norms.csv"
COLUMNS = ("key", "unit", "pma_weeks", "mean", "sd", "source")
#: |z| beyond which a measure is outside its reference.
Z_LIMIT = 2.0
#: |z| beyond which a deviation is extreme (Dimitrova et al., Cereb Cortex 2021).
EXTREME_Z = 3.1
#: Weeks of the bundled table (the Serag templates).
WEEKS = tuple(range(28, 45))
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


class NormError(ValueError):
    """A reference table or manifest that cannot be used; the message names the file."""


@dataclass(frozen=True)
class NormRow:
    """One row of a reference table (one measure at one week)."""

    key: str
    unit: str
    pma_weeks: float
    mean: float
    sd: float | None
    source: str


def z_score(value: float, reference: Reference | None) -> float | None:
    """(value - mean) / sd, or None without a reference or without a spread."""
    if reference is None or reference.sd is None or not reference.sd > 0:
        return None
    return (float(value) - reference.mean) / reference.sd


def centile(z: float | None) -> float | None:
    """Centile (0-100) of a z-score under the standard normal distribution (scipy.stats.norm)."""
    if z is None:
        return None
    from scipy.stats import norm

    return float(100.0 * norm.cdf(z))


def flag(z: float | None) -> str:
    """``""``, ``"high"``/``"low"`` (|z| > 2) or ``"extreme high"``/``"extreme low"`` (|z| > 3.1)."""
    if z is None or abs(z) <= Z_LIMIT:
        return ""
    word = "high" if z > 0 else "low"
    return f"extreme {word}" if abs(z) > EXTREME_Z else word


def _number(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise NormError(f"{where}: {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise NormError(f"{where}: {what} {text!r} is not a finite number")
    return value


def _data_lines(text: str) -> list[tuple[int, str]]:
    return [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.startswith("#")]


class NormTable:
    """Age references by PMA: per measure, rows at whole weeks, linearly interpolated between them.

    Build with :meth:`load` (the bundled table or a site's csv) or from :class:`NormRow` s.
    """

    def __init__(self, rows: list[NormRow], path: str | Path | None = None):
        self.path = None if path is None else Path(path)
        self._rows: dict[str, list[NormRow]] = {}
        for row in rows:
            self._rows.setdefault(row.key, []).append(row)
        for key, items in self._rows.items():
            items.sort(key=lambda r: r.pma_weeks)
            weeks = [r.pma_weeks for r in items]
            if len(set(weeks)) != len(weeks):
                raise NormError(f"{self.name}: measure {key} has two rows for one week")

    @property
    def name(self) -> str:
        return str(self.path) if self.path is not None else "reference table"

    @classmethod
    def load(cls, path: str | Path | None = None) -> NormTable:
        """Read a table (default: the bundled ``model/data/norms.csv``, cached).

        Raises
        ------
        NormError
            Missing file, missing column, a value that is not a number, a negative spread, two rows
            for one measure and week; the message names the file and line.
        """
        if path is None:
            return _bundled()
        return cls._read(Path(path))

    @classmethod
    def _read(cls, path: Path) -> NormTable:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NormError(f"{path}: no such reference table") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise NormError(f"{path}: cannot be read ({exc})") from None
        lines = _data_lines(text)
        if not lines:
            raise NormError(f"{path}: no rows (expected the columns {', '.join(COLUMNS)})")
        reader = csv.DictReader(io.StringIO("\n".join(line for _, line in lines)))
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise NormError(
                f"{path}: missing column(s) {', '.join(missing)} (has: {', '.join(reader.fieldnames or [])})"
            )
        rows = []
        for (n, _), rec in zip(lines[1:], reader):
            where = f"{path}, line {n}"
            sd_text = (rec["sd"] or "").strip()
            sd = None if sd_text == "" else _number(sd_text, "sd", where)
            if sd is not None and sd < 0:
                raise NormError(f"{where}: sd {sd_text} is negative")
            if not (rec["key"] or "").strip():
                raise NormError(f"{where}: empty key")
            if not (rec["source"] or "").strip():
                raise NormError(f"{where}: every row needs its source")
            rows.append(
                NormRow(
                    key=rec["key"].strip(),
                    unit=(rec["unit"] or "").strip(),
                    pma_weeks=_number(rec["pma_weeks"], "pma_weeks", where),
                    mean=_number(rec["mean"], "mean", where),
                    sd=sd,
                    source=rec["source"].strip(),
                )
            )
        return cls(rows, path)

    def keys(self) -> list[str]:
        """The measures this table has references for."""
        return list(self._rows)

    def rows(self) -> list[NormRow]:
        """Every row, by measure then week."""
        return [r for items in self._rows.values() for r in items]

    def lookup(self, key: str, pma_weeks: float) -> tuple[Reference | None, str]:
        """The reference of ``key`` at ``pma_weeks`` and, when there is none, why.

        Linear interpolation between the two whole-week rows around ``pma_weeks`` (mean and sd; the
        sd only when both rows have one). None outside the table's weeks for that measure.
        """
        items = self._rows.get(key)
        if not items:
            return None, f"no age reference for this measure in {self.name}"
        pma = float(pma_weeks)
        lo, hi = items[0].pma_weeks, items[-1].pma_weeks
        if not (lo <= pma <= hi):
            return None, f"PMA {pma:g} weeks is outside the reference's range ({lo:g}-{hi:g} weeks, {self.name})"
        j = next(i for i, r in enumerate(items) if r.pma_weeks >= pma)
        b = items[j]
        a = items[j - 1] if j > 0 and b.pma_weeks > pma else b
        t = 0.0 if b.pma_weeks == a.pma_weeks else (pma - a.pma_weeks) / (b.pma_weeks - a.pma_weeks)
        mean = a.mean + t * (b.mean - a.mean)
        sd = None if a.sd is None or b.sd is None else a.sd + t * (b.sd - a.sd)
        source = a.source if a.source == b.source else f"{a.source}; {b.source}"
        return Reference(source=source, pma_weeks=pma, mean=float(mean), sd=None if sd is None else float(sd)), ""

    def reference(self, key: str, pma_weeks: float) -> Reference | None:
        """:meth:`lookup` without the reason."""
        return self.lookup(key, pma_weeks)[0]

    def apply(self, measurement: Measurement, pma_weeks: float) -> str:
        """Set ``reference``, ``z``, ``centile`` and ``flag`` of a measurement; return why not ("" if set)."""
        ref, reason = self.lookup(measurement.key, pma_weeks)
        measurement.reference = ref
        measurement.z = z_score(measurement.value, ref)
        measurement.centile = centile(measurement.z)
        measurement.flag = flag(measurement.z)
        return reason

    def to_csv(self, header: list[str] | None = None) -> str:
        """The table as csv text (``#`` comment lines first)."""
        buf = io.StringIO()
        for line in header or []:
            buf.write(f"# {line}\n" if line else "#\n")
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(COLUMNS)
        for r in self.rows():
            sd = "" if r.sd is None else f"{r.sd:.6g}"
            writer.writerow([r.key, r.unit, f"{r.pma_weeks:g}", f"{r.mean:.6g}", sd, r.source])
        return buf.getvalue()

    def write(self, path: str | Path, header: list[str] | None = None) -> None:
        """Write :meth:`to_csv` atomically (the file appears whole or not at all)."""
        write_bytes_atomic(path, self.to_csv(header).encode("utf-8"))


@lru_cache(maxsize=1)
def _bundled() -> NormTable:
    return NormTable._read(BUNDLED_PATH)


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
    from model.measure import REFERENCED_KEYS, report_from_labels

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
    from model.measure import UNITS
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
        "See model/norms.py for the sources. Regenerate (not in CI):",
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
    try:
        text = manifest.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise NormError(f"{manifest}: no such manifest") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise NormError(f"{manifest}: cannot be read ({exc})") from None
    lines = _data_lines(text)
    if not lines:
        raise NormError(f"{manifest}: empty (expected the columns labels, pma_weeks)")
    reader = csv.DictReader(io.StringIO("\n".join(line for _, line in lines)))
    fields = [f.strip() for f in reader.fieldnames or []]
    missing = [c for c in ("labels", "pma_weeks") if c not in fields]
    if missing:
        raise NormError(f"{manifest}: missing column(s) {', '.join(missing)} (has: {', '.join(fields)})")
    out = []
    for (n, _), rec in zip(lines[1:], reader):
        rec = {(k or "").strip(): (v or "").strip() for k, v in rec.items()}
        where = f"{manifest}, line {n}"
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

    from model.measure import REFERENCED_KEYS, UNITS

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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model.norms", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help="fit a site's own reference from its normal scans (Gaussian process regression)")
    fit.add_argument("--manifest", required=True, help="csv with the columns labels (NIfTI label map) and pma_weeks")
    fit.add_argument("--out", required=True, help="reference table to write (csv, the bundled table's format)")
    serag = sub.add_parser("serag", help="regenerate the bundled table from the Serag template label maps")
    serag.add_argument("--templates", required=True, help="folder with template-28.nii.gz ... template-44.nii.gz")
    serag.add_argument("--out", default=str(BUNDLED_PATH), help="table to write (default: the bundled one)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring); returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "fit":
            out = Path(args.out)
            if out.resolve() == Path(args.manifest).resolve():
                print(f"{out}: --out must not be the manifest", file=sys.stderr)
                return 2
            table = fit_site(args.manifest, log=lambda msg: print(msg, file=sys.stderr))
            header = [
                f"Site reference fitted by: python -m model.norms fit --manifest {args.manifest} --out {args.out}",
                "mean = GPR predictive mean, sd = sqrt(predictive variance incl. noise) at each whole week.",
            ]
        else:
            table = serag_table(args.templates)
            header = serag_header()
        table.write(args.out, header)
    except NormError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {args.out}: cannot be written ({exc})", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: {len(table.keys())} measures, {len(table.rows())} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
