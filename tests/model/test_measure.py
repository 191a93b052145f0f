"""model.measure: volumes through the affine, lesion components, linear ventricular measures, findings."""

from __future__ import annotations

import math
import time

import nibabel as nib
import numpy as np
import pytest
from scipy.spatial.distance import pdist

from model import findings_types as ft
from model.measure import MIN_LESION_MM3, REFERENCED_KEYS, lesion_components, report_from_labels, volumes_ml
from model.norms_table import NormRow, NormTable
from model.segmentation import CHANNEL_VALUES, N_SEG_CLASSES, from_serag
from tests.conftest import serag_path

SPACING = (0.8, 1.0, 1.2)


def phantom(tod_right_start: int = 20, wm_y_end: int = 95) -> np.ndarray:
    """A drawn brain on a RAS grid of voxel size :data:`SPACING` with known ventricular geometry.

    Intracranial box x 8..71 (centre 39.5), deep grey matter both sides (posterior face y = 40),
    a third ventricle x 39-40 whose anterior end is y = 57 (the plane of Monro), lateral ventricles
    of 7 (right, x 43-49) and 5 (left, x 31-35) columns by 9 rows (z 30-38), occipital tips at
    y = ``tod_right_start`` (right) and 25 (left).
    """
    lab = np.zeros((80, 100, 60), np.uint8)
    lab[8:10, 5:95, 5:55] = 1  # extra-cerebral CSF, symmetric about x = 39.5
    lab[70:72, 5:95, 5:55] = 1
    lab[10:70, 5:wm_y_end, 5:55] = 3
    lab[42:52, 40:60, 18:29] = 7  # right deep grey
    lab[27:37, 40:60, 18:29] = 7  # left deep grey
    lab[39:41, 45:58, 20:28] = 5  # third ventricle
    lab[43:50, tod_right_start:70, 30:39] = 5  # right lateral ventricle
    lab[31:36, 25:70, 30:39] = 5  # left lateral ventricle
    return lab


def ras_affine(spacing=SPACING, origin=(-30.0, -50.0, -20.0)) -> np.ndarray:
    aff = np.diag([*spacing, 1.0])
    aff[:3, 3] = origin
    return aff


def reoriented(lab: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same image stored flipped in x and with y/z swapped (an L-S-A grid): same world geometry."""
    x = lab.shape[0]
    new = np.ascontiguousarray(np.flip(lab, 0).transpose(0, 2, 1))
    m = np.array([[-1, 0, 0, x - 1], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], float)
    return new, affine @ m


def rotation_z(degrees: float) -> np.ndarray:
    a = math.radians(degrees)
    r = np.eye(4)
    r[:2, :2] = [[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]
    return r


# ----------------------------------------------------------------------------------------------
# Volumes
# ----------------------------------------------------------------------------------------------


def test_volumes_in_ml_through_an_anisotropic_oblique_affine():
    lab = np.zeros((20, 16, 12), np.uint8)
    lab[2:18, 2:14, 2:10] = 3  # 16*12*8 = 1536 voxels of white matter
    lab[5:9, 5:9, 4:6] = 5  # 32 ventricle voxels (replace white matter)
    lab[10:12, 4:6, 3:4] = 11  # 4 punctate voxels (white matter with its lesion)
    lab[13:16, 9:12, 6:8] = 10  # 18 cyst voxels (not tissue)
    lab[0, :, :] = 1  # 16*12 = 192 CSF voxels
    lab[19, :, :] = 4  # non-brain, outside the ICV
    voxel_mm3 = 0.5 * 1.3 * 2.2
    affine = rotation_z(30) @ np.diag([0.5, 1.3, 2.2, 1.0])  # oblique: the determinant is the voxel volume
    affine[:3, 3] = (10, -4, 7)
    v = volumes_ml(lab, affine)
    ml = voxel_mm3 / 1000
    wm = 1536 - 32 - 4 - 18
    assert v["white_matter_ml"] == pytest.approx((wm + 4) * ml)
    assert v["ventricles_ml"] == pytest.approx(32 * ml)
    assert v["csf_ml"] == pytest.approx(192 * ml)
    assert v["brain_ml"] == pytest.approx((wm + 4) * ml)  # tissue: no CSF spaces, no cyst
    assert v["icv_ml"] == pytest.approx((1536 + 192) * ml)  # everything inside the skull, cysts too
    assert v["cortex_ml"] == v["deep_grey_ml"] == v["cerebellum_brainstem_ml"] == 0.0
    assert v["ventricles_fraction_icv"] == pytest.approx(32 / (1536 + 192))
    report = report_from_labels(lab, affine)
    assert report.measurement("white_matter_ml").value == pytest.approx((wm + 4) * ml)
    assert report.measurement("white_matter_ml").unit == "ml"
    assert report.measurement("cyst_total_mm3").value == pytest.approx(18 * voxel_mm3)


def test_whole_number_float_maps_are_accepted_and_bad_maps_refused():
    lab = phantom()
    a = report_from_labels(lab.astype(np.float64), ras_affine())
    b = report_from_labels(lab, ras_affine())
    assert a.to_dict()["measurements"] == b.to_dict()["measurements"]
    empty = report_from_labels(np.zeros((4, 4, 4), np.uint8), np.eye(4), pma_weeks=40)
    assert empty.findings == [] and any("no intracranial volume" in n for n in empty.notes)
    with pytest.raises(ValueError, match="from_serag"):
        report_from_labels(np.full((4, 4, 4), 8, np.uint8), np.eye(4))
    with pytest.raises(ValueError, match="3-D"):
        report_from_labels(np.zeros((4, 4, 4, 2), np.uint8), np.eye(4))
    with pytest.raises(ValueError, match="whole numbers"):
        report_from_labels(np.full((4, 4, 4), 2.5), np.eye(4))
    with pytest.raises(ValueError, match="affine"):
        report_from_labels(np.zeros((4, 4, 4), np.uint8), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="probabilities"):
        report_from_labels(np.zeros((4, 4, 4), np.uint8), np.eye(4), probabilities=np.zeros((3, 4, 4, 4)))
    with pytest.raises(ValueError, match="post-menstrual"):
        report_from_labels(np.zeros((4, 4, 4), np.uint8), np.eye(4), pma_weeks=float("nan"))


# ----------------------------------------------------------------------------------------------
# Lesions
# ----------------------------------------------------------------------------------------------


def lesion_map() -> tuple[np.ndarray, np.ndarray]:
    lab = np.zeros((50, 50, 20), np.uint8)
    lab[1:49, 1:49, 1:19] = 3
    lab[10:13, 10:13, 10:13] = 10  # cyst: 27 voxels = 54 mm3
    lab[40:42, 40:42, 15:16] = 10  # 4 voxels = 8 mm3 < 10: dropped
    lab[30, 30, 5] = lab[31, 31, 6] = 11  # touching by a corner: one 26-connected component, 4 mm3
    lab[40, 5, 5] = 11  # single voxel, 2 mm3 < 3: dropped
    lab[5, 40, 2:6] = 11  # line of 4 along z: 8 mm3, 6 mm long
    affine = np.diag([1.0, 1.0, 2.0, 1.0])
    affine[:3, 3] = (-20, 5, -10)
    return lab, affine


def test_lesion_components_count_volume_diameter_and_centroid():
    lab, affine = lesion_map()
    report = report_from_labels(lab, affine)
    cysts = [x for x in report.lesions if x.label == 10]
    punctate = [x for x in report.lesions if x.label == 11]
    assert len(cysts) == 1 and len(punctate) == 2
    cyst = cysts[0]
    assert cyst.kind == ft.CYSTIC_LESION and cyst.index == 1
    assert cyst.volume_mm3 == pytest.approx(54.0)
    assert cyst.diameter_mm == pytest.approx(math.sqrt(2**2 + 2**2 + 4**2))  # corner centres, z is 2 mm
    assert cyst.centroid_voxel == pytest.approx((11, 11, 11))
    assert cyst.centroid_ras_mm == pytest.approx((11 - 20, 11 + 5, 22 - 10))
    line, pair = punctate  # largest first
    assert (line.index, pair.index) == (1, 2)
    assert line.volume_mm3 == pytest.approx(8.0) and line.diameter_mm == pytest.approx(6.0)
    assert pair.volume_mm3 == pytest.approx(4.0) and pair.diameter_mm == pytest.approx(math.sqrt(1 + 1 + 4))
    assert pair.centroid_ras_mm == pytest.approx((30.5 - 20, 30.5 + 5, 11 - 10))
    assert report.measurement("cyst_count").value == 1 and report.measurement("punctate_count").value == 2
    assert MIN_LESION_MM3[10] > 8.0 and MIN_LESION_MM3[11] > 2.0
    # every lesion is a finding, located at its centroid, with or without the PMA
    kinds = [f.kind for f in report.findings]
    assert kinds == [ft.CYSTIC_LESION, ft.PUNCTATE_LESION, ft.PUNCTATE_LESION]
    assert report.findings[0].location_ras_mm == cyst.centroid_ras_mm
    assert report.findings[0].location_voxel == cyst.centroid_voxel
    assert report.findings[0].confidence == 1.0 and report.findings[0].component == 1


def test_lesion_confidence_from_probabilities_or_the_confidence_map():
    lab, affine = lesion_map()
    probs = np.zeros((N_SEG_CLASSES, *lab.shape), np.float32)
    probs[list(CHANNEL_VALUES).index(10)][lab == 10] = 0.8
    probs[list(CHANNEL_VALUES).index(11)][lab == 11] = 0.6
    report = report_from_labels(lab, affine, probabilities=probs)
    assert [round(f.confidence, 6) for f in report.findings] == [0.8, 0.6, 0.6]
    conf = np.ones(lab.shape, np.float16)
    conf[lab == 10] = 0.7
    report = report_from_labels(lab, affine, confidence=conf)
    assert report.findings[0].confidence == pytest.approx(0.7, abs=1e-3)


def test_large_lesion_diameter_through_the_convex_hull_equals_brute_force():
    lab = np.zeros((30, 30, 30), np.uint8)
    g = np.indices(lab.shape) - 15
    sphere = (g**2).sum(0) <= 9.3**2
    lab[sphere] = 10
    assert sphere.sum() > 1500  # the hull path
    affine = np.diag([0.7, 0.9, 1.1, 1.0])
    lesions, _ = lesion_components(lab, affine)
    pts = np.argwhere(sphere) @ affine[:3, :3].T
    assert len(lesions) == 1
    assert lesions[0].diameter_mm == pytest.approx(pdist(pts).max())


# ----------------------------------------------------------------------------------------------
# Linear ventricular measures
# ----------------------------------------------------------------------------------------------

EXPECTED_LINEAR = {
    "ventricular_index_right_mm": (49 - 39.5) * 0.8 + 0.4,  # midline to the outer face of the lateral wall
    "ventricular_index_left_mm": (39.5 - 31) * 0.8 + 0.4,
    "anterior_horn_width_right_mm": 7 * 0.8,  # 7 columns of 0.8 mm (9 rows of 1.2 mm are wider)
    "anterior_horn_width_left_mm": 5 * 0.8,
    "thalamo_occipital_distance_right_mm": (40 - 20) * 1.0,
    "thalamo_occipital_distance_left_mm": (40 - 25) * 1.0,
}


def test_linear_ventricular_measures_on_a_drawn_geometry():
    report = report_from_labels(phantom(), ras_affine())
    got = {k: report.measurement(k).value for k in EXPECTED_LINEAR}
    assert got == pytest.approx(EXPECTED_LINEAR)
    assert "Levene" in report.measurement("ventricular_index_left_mm").definition
    assert "Brouwer" in report.measurement("thalamo_occipital_distance_right_mm").definition
    assert not [n for n in report.notes if "not measured" in n or "no lateral" in n]


def test_linear_measures_do_not_depend_on_how_the_grid_is_stored():
    lab, affine = reoriented(phantom(), ras_affine())
    assert nib.aff2axcodes(affine) == ("L", "S", "A")
    report = report_from_labels(lab, affine)
    assert {k: report.measurement(k).value for k in EXPECTED_LINEAR} == pytest.approx(EXPECTED_LINEAR)
    base = report_from_labels(phantom(), ras_affine())
    assert report.measurement("icv_ml").value == pytest.approx(base.measurement("icv_ml").value)


def test_linear_measures_left_out_with_a_reason_when_not_measurable():
    lab = phantom()
    lab[lab == 7] = 3  # no deep grey matter: no plane of Monro, no thalamus
    report = report_from_labels(lab, ras_affine())
    assert report.measurement("ventricular_index_left_mm") is None
    assert report.measurement("thalamo_occipital_distance_left_mm") is None
    assert any("foramina of Monro" in n for n in report.notes)
    assert any("no deep grey matter" in n for n in report.notes)


# ----------------------------------------------------------------------------------------------
# References and findings
# ----------------------------------------------------------------------------------------------


def table(values: dict, sd_fraction: float | None = 0.1) -> NormTable:
    """A reference at 39 and 41 weeks centred on ``values`` (key -> mean), sd = mean x sd_fraction."""
    rows = []
    for key, mean in values.items():
        for week in (39, 41):
            sd = None if sd_fraction is None else mean * sd_fraction
            rows.append(NormRow(key, "ml", week, mean, sd, "test reference"))
    return NormTable(rows)


def test_volume_findings_against_a_reference():
    lab = phantom()
    base = report_from_labels(lab, ras_affine())
    vent = base.measurement("ventricles_ml").value
    wm = base.measurement("white_matter_ml").value
    csf = base.measurement("csf_ml").value
    norms = table({"ventricles_ml": vent / 1.3, "white_matter_ml": wm / 0.7, "csf_ml": csf / 1.25})
    report = report_from_labels(lab, ras_affine(), pma_weeks=40, pma_source="reader", norms=norms)
    by_kind = {f.kind: f for f in report.findings}
    assert set(by_kind) == {ft.VENTRICULAR_DILATATION, ft.WM_VOLUME_REDUCTION, ft.ENLARGED_EXTRACEREBRAL_SPACE}
    dil = by_kind[ft.VENTRICULAR_DILATATION]
    m = report.measurement("ventricles_ml")
    assert m.z == pytest.approx(3.0) and m.flag == "high" and m.centile == pytest.approx(99.865, abs=1e-3)
    assert dil.evidence == ["ventricles_ml"] and dil.label == 5 and dil.reference.source == "test reference"
    assert dil.confidence == pytest.approx(math.erf(3 / math.sqrt(2)))
    wm_m = report.measurement("white_matter_ml")
    assert wm_m.z == pytest.approx((0.7 - 1) / 0.1) and wm_m.flag == "low"
    assert by_kind[ft.WM_VOLUME_REDUCTION].value == pytest.approx(wm)
    csf_m = report.measurement("csf_ml")
    assert csf_m.z == pytest.approx(2.5)
    # located at the centre of the structure: the CSF is symmetric about the midline x = 39.5
    assert by_kind[ft.ENLARGED_EXTRACEREBRAL_SPACE].location_voxel[0] == pytest.approx(39.5)
    assert report.pma_weeks == 40 and report.pma_source == "reader"
    assert report.to_dict()["findings"][0]["kind"] in ft.FINDING_KINDS


def test_no_z_score_and_no_finding_without_a_spread_or_without_the_pma():
    lab = phantom()
    vent = report_from_labels(lab, ras_affine()).measurement("ventricles_ml").value
    report = report_from_labels(lab, ras_affine(), pma_weeks=40, norms=table({"ventricles_ml": vent / 2}, None))
    m = report.measurement("ventricles_ml")
    assert m.reference.mean == pytest.approx(vent / 2) and m.reference.sd is None
    assert m.z is None and m.centile is None and m.flag == ""
    assert report.findings == []
    assert any("no published spread" in n and "Ventricles" in n for n in report.notes)
    unknown = report_from_labels(lab, ras_affine(), norms=table({"ventricles_ml": vent / 2}))
    assert unknown.pma_weeks is None and all(m.reference is None for m in unknown.measurements)
    assert unknown.findings == [] and any("PMA unknown" in n for n in unknown.notes)
    outside = report_from_labels(lab, ras_affine(), pma_weeks=45, norms=table({"ventricles_ml": vent / 2}))
    assert outside.measurement("ventricles_ml").reference is None
    assert any("outside the reference's range (39-41 weeks" in n for n in outside.notes)


def test_declared_ratio_rule_calls_dilatation_where_no_spread_exists():
    lab = phantom()
    base = report_from_labels(lab, ras_affine())
    vent, icv = base.measurement("ventricles_ml").value, base.measurement("icv_ml").value
    big = report_from_labels(
        lab, ras_affine(), pma_weeks=40, norms=table({"ventricles_ml": vent / 2, "icv_ml": icv}, None)
    )
    (finding,) = [f for f in big.findings if f.kind == ft.VENTRICULAR_DILATATION]
    assert "2.0x the expected fraction" in finding.summary and "rule of this software" in finding.summary
    assert finding.label == 5 and finding.evidence == ["ventricles_ml", "icv_ml"]
    # the same fraction in a head twice as large is no different; below the rule, no finding
    near = report_from_labels(
        lab, ras_affine(), pma_weeks=40, norms=table({"ventricles_ml": vent / 1.3, "icv_ml": icv}, None)
    )
    assert not [f for f in near.findings if f.kind == ft.VENTRICULAR_DILATATION]


def test_bundled_references_are_used_by_default():
    report = report_from_labels(phantom(), ras_affine(), pma_weeks=40)
    m = report.measurement("brain_ml")
    assert m.reference is not None and "Romberg" in m.reference.source and m.z is not None
    assert report.measurement("cyst_count").reference is None


def test_report_on_a_template_sized_map():
    lab = np.zeros((117, 159, 126), np.uint8)
    lab[10:107, 10:149, 10:116] = 3
    small = phantom()[8:72, 5:95, 5:55]
    lab[25 : 25 + small.shape[0], 30 : 30 + small.shape[1], 30 : 30 + small.shape[2]] = small
    lab[50:53, 60:63, 70:73] = 10
    affine = np.diag([0.859, 0.859, 0.859, 1.0])
    report_from_labels(lab, affine)  # warm-up (imports)
    t = time.perf_counter()
    report = report_from_labels(lab, affine, pma_weeks=40)
    elapsed = time.perf_counter() - t
    assert len(report.lesions) == 1
    print(f"report_from_labels: {elapsed:.3f} s on a 117x159x126 map")  # speed is benchmarked, not asserted


# ----------------------------------------------------------------------------------------------
# Real data
# ----------------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_serag_template_within_its_reference_no_lesions_no_findings():
    img = nib.load(serag_path("tissue-labels", 40))
    labels = from_serag(np.asarray(img.dataobj))
    report = report_from_labels(labels, img.affine, pma_weeks=40, pma_source="template")
    assert report.lesions == [] and report.findings == []
    keys = {m.key for m in report.measurements if m.reference is not None}
    assert set(REFERENCED_KEYS) <= keys  # every volume and linear measure has its reference at 40 weeks
    for m in report.measurements:
        if m.reference is None:
            continue
        if m.reference.sd is not None:
            assert abs(m.z) <= 2, m.key
        assert m.value == pytest.approx(m.reference.mean, rel=1e-4), m.key  # the table's means are these templates
    assert 300 < report.measurement("brain_ml").value < 450  # Romberg et al. 2022: 379 +/- 72 ml at term
