"""The age-reference table: rows by measure and week, lookup with interpolation, z-score, centile, flag.

Imports nothing of :mod:`model.measure`, which applies it; the tables are made by :mod:`model.norms`
(from the Serag templates, or a site's own fit), which sits above both.

The bundled table ``model/data/norms.csv`` has one row per measure and week (28-44): ``key``,
``unit``, ``pma_weeks``, ``mean``, ``sd`` (empty where no published spread exists) and ``source``
(every row says where its numbers come from). Lines starting with ``#`` are comments.

z-scores and flags: ``z = (value - mean) / sd``; centile = 100 x the standard normal CDF of z
(:data:`scipy.stats.norm`); flag "high"/"low" beyond |z| > 2, "extreme high"/"extreme low" beyond
|z| > 3.1 (the extreme-deviation threshold of Dimitrova et al., Cereb Cortex 2021).
"""

from __future__ import annotations

import csv
import io
import math
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


def read_csv_rows(
    path: Path, what: str, columns, *, empty: str, encoding: str = "utf-8", strip: bool = False
) -> list[tuple[str, dict]]:
    """``(where, record)`` for every data row of a csv file (``#`` lines and blank lines left out).

    ``where`` is ``"<path>, line <n>"`` (the line number in the file). Used for the reference tables
    and for a site's manifest (:func:`model.norms.fit.read_manifest`).

    Parameters
    ----------
    path : Path
    what : str
        What the file is, for the message when it is missing (``"reference table"``, ``"manifest"``).
    columns : sequence of str
        The columns the file must have.
    empty : str
        The message's first words when the file has no rows (``"no rows"``, ``"empty"``).
    encoding : str
        ``"utf-8-sig"`` accepts a byte-order mark (a manifest saved by a spreadsheet).
    strip : bool
        Strip spaces around the column names and the values.

    Raises
    ------
    NormError
        Missing or unreadable file, no rows, or a missing column; the message names the file.
    """
    try:
        text = path.read_text(encoding=encoding)
    except FileNotFoundError:
        raise NormError(f"{path}: no such {what}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise NormError(f"{path}: cannot be read ({exc})") from None
    lines = _data_lines(text)
    if not lines:
        raise NormError(f"{path}: {empty} (expected the columns {', '.join(columns)})")
    reader = csv.DictReader(io.StringIO("\n".join(line for _, line in lines)))
    fields = [f.strip() for f in reader.fieldnames or []] if strip else list(reader.fieldnames or [])
    missing = [c for c in columns if c not in fields]
    if missing:
        raise NormError(f"{path}: missing column(s) {', '.join(missing)} (has: {', '.join(fields)})")
    rows = []
    for (n, _), rec in zip(lines[1:], reader):
        if strip:
            rec = {(k or "").strip(): (v or "").strip() for k, v in rec.items()}
        rows.append((f"{path}, line {n}", rec))
    return rows


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
        rows = []
        for where, rec in read_csv_rows(path, "reference table", COLUMNS, empty="no rows"):
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
