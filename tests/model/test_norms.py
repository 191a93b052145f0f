"""model.norms: the bundled reference table, lookup and interpolation, z/centile/flag, and a site's fit."""

from __future__ import annotations

import math

import nibabel as nib
import numpy as np
import pytest

from model.findings_types import Measurement, Reference
from model.measure import REFERENCED_KEYS
from model.norms.cli import main
from model.norms_table import (
    BUNDLED_PATH,
    NormError,
    NormRow,
    NormTable,
    centile,
    flag,
    z_score,
)
from tests.model.test_measure import phantom, ras_affine

# ----------------------------------------------------------------------------------------------
# The bundled table
# ----------------------------------------------------------------------------------------------


def test_bundled_table_covers_every_measure_and_week_with_a_source():
    table = NormTable.load()
    assert table.path == BUNDLED_PATH
    assert set(REFERENCED_KEYS) <= set(table.keys())
    for key in REFERENCED_KEYS:
        rows = [r for r in table.rows() if r.key == key]
        assert [r.pma_weeks for r in rows] == list(range(28, 45)), key
        assert all(r.source and "Serag" in r.source for r in rows), key
        assert all(r.mean > 0 for r in rows), key
    # a spread only where one is published: Romberg et al. 2022 at term-equivalent age (37-42 weeks)
    with_sd = {(r.key, int(r.pma_weeks)) for r in table.rows() if r.sd is not None}
    assert with_sd == {(k, w) for k in ("brain_ml", "cortex_ml", "white_matter_ml") for w in range(37, 43)}
    for r in table.rows():
        if r.sd is not None:
            assert "Romberg" in r.source
    brain40 = table.reference("brain_ml", 40)
    assert brain40.sd == pytest.approx(brain40.mean * 72 / 379, rel=1e-5)  # 6 significant digits in the csv
    assert BUNDLED_PATH.read_text().startswith("#")  # the header says how it was made


def test_bundled_table_has_no_spread_for_ventricles():
    ref = NormTable.load().reference("ventricles_ml", 40)
    assert ref is not None and ref.sd is None and ref.mean > 0


# ----------------------------------------------------------------------------------------------
# Lookup, interpolation, z, centile, flag
# ----------------------------------------------------------------------------------------------


def small_table() -> NormTable:
    return NormTable(
        [
            NormRow("a_ml", "ml", 30, 100.0, 10.0, "paper A"),
            NormRow("a_ml", "ml", 31, 120.0, 14.0, "paper A"),
            NormRow("a_ml", "ml", 32, 130.0, None, "template B"),
        ]
    )


def test_reference_interpolates_linearly_between_weeks():
    t = small_table()
    ref = t.reference("a_ml", 30.25)
    assert ref == Reference(source="paper A", pma_weeks=30.25, mean=105.0, sd=11.0)
    assert t.reference("a_ml", 31).mean == 120.0 and t.reference("a_ml", 31).sd == 14.0
    half = t.reference("a_ml", 31.5)
    assert half.mean == pytest.approx(125.0) and half.sd is None  # one side without a spread: none
    assert half.source == "paper A; template B"
    assert t.reference("a_ml", 32).sd is None


def test_reference_outside_the_table_is_none_with_a_reason():
    t = small_table()
    ref, why = t.lookup("a_ml", 33)
    assert ref is None and "outside the reference's range (30-32 weeks" in why
    assert t.reference("a_ml", 29.9) is None
    ref, why = t.lookup("b_ml", 31)
    assert ref is None and "no age reference" in why


def test_z_centile_and_flags():
    ref = Reference("paper", 40, 100.0, 10.0)
    assert z_score(125, ref) == pytest.approx(2.5)
    assert z_score(125, Reference("template", 40, 100.0, None)) is None
    assert z_score(125, None) is None
    assert centile(0.0) == pytest.approx(50.0)
    assert centile(2.5) == pytest.approx(99.379, abs=1e-3)
    assert centile(None) is None
    assert [flag(z) for z in (None, 0.0, 2.0, 2.01, -2.5, 3.1, 3.2, -3.5)] == [
        "",
        "",
        "",
        "high",
        "low",
        "high",
        "extreme high",
        "extreme low",
    ]


def test_apply_sets_reference_z_centile_flag():
    m = Measurement("a_ml", "A", 134.0, "ml")
    assert small_table().apply(m, 30.5) == ""
    assert m.reference.mean == pytest.approx(110.0) and m.reference.sd == pytest.approx(12.0)
    assert m.z == pytest.approx(2.0) and m.flag == ""
    m2 = Measurement("a_ml", "A", 160.0, "ml")
    small_table().apply(m2, 30.5)
    assert m2.flag == "extreme high" and m2.centile == pytest.approx(100 * 0.5 * (1 + math.erf(50 / 12 / 2**0.5)))


def test_table_round_trip_and_bad_tables_named(tmp_path):
    path = tmp_path / "t.csv"
    small_table().write(path, ["made by a test"])
    back = NormTable.load(path)
    assert back.rows() == small_table().rows()
    assert path.read_text().splitlines()[0] == "# made by a test"
    with pytest.raises(NormError, match="missing.csv: no such reference table"):
        NormTable.load(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("key,unit,pma_weeks,mean,source\na,ml,30,1,x\n")
    with pytest.raises(NormError, match=r"bad.csv: missing column\(s\) sd"):
        NormTable.load(bad)
    bad.write_text("# c\nkey,unit,pma_weeks,mean,sd,source\na,ml,30,1,,x\na,ml,thirty,1,,x\n")
    with pytest.raises(NormError, match="bad.csv, line 4: pma_weeks 'thirty' is not a number"):
        NormTable.load(bad)
    bad.write_text("key,unit,pma_weeks,mean,sd,source\na,ml,30,1,,\n")
    with pytest.raises(NormError, match="bad.csv, line 2: every row needs its source"):
        NormTable.load(bad)
    bad.write_text("key,unit,pma_weeks,mean,sd,source\na,ml,30,1,-2,x\n")
    with pytest.raises(NormError, match="negative"):
        NormTable.load(bad)


# ----------------------------------------------------------------------------------------------
# A site's own fit
# ----------------------------------------------------------------------------------------------


def write_normals(folder, pmas, seed=0):
    """Phantom label maps whose white matter grows with PMA (y extent 60 + 3/week, +/- 1 voxel noise)."""
    rng = np.random.default_rng(seed)
    lines = ["labels,pma_weeks"]
    for i, pma in enumerate(pmas):
        lab = phantom(wm_y_end=int(60 + 3 * (pma - 30) + rng.integers(-1, 2)))
        name = f"normal-{i}.nii.gz"
        nib.save(nib.Nifti1Image(lab, ras_affine()), folder / name)
        lines.append(f"{name},{pma}")
    manifest = folder / "normals.csv"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def test_fit_end_to_end(tmp_path, capsys):
    pmas = [30.0, 31.5, 33.0, 34.0, 35.5, 37.0]
    manifest = write_normals(tmp_path, pmas)
    out = tmp_path / "site" / "site_norms.csv"
    assert main(["fit", "--manifest", str(manifest), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    table = NormTable.load(out)
    assert set(REFERENCED_KEYS) <= set(table.keys())
    weeks = sorted({r.pma_weeks for r in table.rows()})
    assert weeks == list(range(30, 38))  # the manifest's rounded PMA range
    assert all("site fit from 6 normal scans" in r.source and "GPR" in r.source for r in table.rows())
    assert all(r.sd is not None and r.sd > 0 for r in table.rows())
    # the fitted mean follows the growth: white matter of a phantom drawn at 34 weeks (no noise)
    from model.measure import report_from_labels

    truth = report_from_labels(phantom(wm_y_end=72), ras_affine()).measurement("white_matter_ml").value
    ref = table.reference("white_matter_ml", 34)
    assert ref.mean == pytest.approx(truth, rel=0.03)
    assert table.reference("white_matter_ml", 37).mean > table.reference("white_matter_ml", 30).mean
    # a measure that does not change with age: mean equal to it, a small spread
    vi = report_from_labels(phantom(), ras_affine()).measurement("ventricular_index_left_mm").value
    assert table.reference("ventricular_index_left_mm", 33).mean == pytest.approx(vi, rel=1e-3)
    assert out.read_text().startswith("# Site reference fitted by: python -m model.norms fit")


def test_fit_bad_input_exit_1_naming_the_file(tmp_path, capsys):
    out = tmp_path / "site.csv"
    assert main(["fit", "--manifest", str(tmp_path / "nope.csv"), "--out", str(out)]) == 1
    assert "nope.csv: no such manifest" in capsys.readouterr().err
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,pma_weeks\na.nii.gz,40\n")
    assert main(["fit", "--manifest", str(manifest), "--out", str(out)]) == 1
    assert "m.csv: missing column(s) labels" in capsys.readouterr().err
    manifest.write_text("labels,pma_weeks\na.nii.gz,40\nb.nii.gz,forty\n")
    assert main(["fit", "--manifest", str(manifest), "--out", str(out)]) == 1
    assert "m.csv, line 3: pma_weeks 'forty' is not a number" in capsys.readouterr().err
    manifest.write_text("labels,pma_weeks\n" + "".join(f"x{i}.nii.gz,{36 + i}\n" for i in range(5)))
    assert main(["fit", "--manifest", str(manifest), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "m.csv, line 2: label map" in err and "x0.nii.gz: no such file" in err
    manifest.write_text("labels,pma_weeks\nx.nii.gz,40\n")
    assert main(["fit", "--manifest", str(manifest), "--out", str(out)]) == 1
    assert "at least 5 normal scans" in capsys.readouterr().err
    assert not out.exists()  # nothing written on failure


def test_fit_unreadable_label_map_named(tmp_path, capsys):
    manifest = write_normals(tmp_path, [36, 37, 38, 39, 40])
    (tmp_path / "normal-2.nii.gz").write_bytes(b"not a nifti")
    assert main(["fit", "--manifest", str(manifest), "--out", str(tmp_path / "o.csv")]) == 1
    assert "normal-2.nii.gz cannot be read as NIfTI" in capsys.readouterr().err


def test_fit_usage_errors_exit_2(tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["fit", "--out", str(tmp_path / "o.csv")])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
