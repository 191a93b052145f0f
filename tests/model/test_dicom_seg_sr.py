"""DICOM SEG and TID 1500 Measurement Report of the segmentation (issue 29), ``dciodvfy`` on every object we
write (SR, SC, SEG), and ``--dicom-out`` on a source series that lacks type-2 attributes (AccessionNumber).

The SEG's frames lie on the source series' own frames; it reads back with highdicom and with pydicom
alone to the label map we wrote. The measurement report carries volumes in ml and lengths in mm with
UCUM units, SNOMED CT concepts where they exist, the private scheme ``99GLRN`` only where none does, and
each finding with its location (a 3D point at a lesion's centroid, the source's frame of reference).
"""

import json
import shutil
import subprocess

import highdicom as hd
import numpy as np
import pydicom
import pytest

from model.dicom import find_series, load_series
from model.predict import main as predict
from model.record.dicom_export import export_dicom
from model.record.dicom_seg import LPS, SCHEME, frame_voxels, labels_on_frames, read_seg_labels
from tests.conftest import SHARED_DATA
from tests.model.dicom_series import oblique_affine, slice_datasets, write_patient_series
from tests.model.dicom_series import save as save_series
from tests.model.seg_cases import T2, draw_labels, drawn_head, seg_result

GE_SERIES = SHARED_DATA / "dicom-ge-mprage" / "series"
needs_dciodvfy = pytest.mark.skipif(
    shutil.which("dciodvfy") is None, reason="dciodvfy (apt dicom3tools) is not installed"
)


def _without(datasets, *keywords):
    for ds in datasets:
        for keyword in keywords:
            if keyword in ds:
                delattr(ds, keyword)
    return datasets


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """An oblique anonymised series (no AccessionNumber, ReferringPhysicianName, StudyID, PatientSex),
    a drawn label map on its grid, and what export_dicom writes for it."""
    root = tmp_path_factory.mktemp("dicom-seg")
    data = (np.random.default_rng(4).random((40, 44, 30)) * 800).astype(np.int16)
    datasets = slice_datasets(data, oblique_affine(), number=7, description="T2 ax", patient=("Bébé^Test", "P-7", ""))
    save_series(_without(datasets, "AccessionNumber", "ReferringPhysicianName", "StudyID", "PatientSex"), root / "t2")
    volume = load_series(find_series(root / "t2")[0])
    labels = draw_labels(volume.shape)
    result = seg_result(volume, labels, pma_weeks=40.0)
    files = export_dicom(root / "out", volume, result, None)
    sources = [pydicom.dcmread(p) for p in volume.extra["dicom"].files]
    return {"volume": volume, "labels": labels, "result": result, "files": files, "sources": sources, "root": root}


def test_seg_reads_back_with_highdicom_and_pydicom_to_the_same_label_map(exported):
    volume, labels, files, sources = exported["volume"], exported["labels"], exported["files"], exported["sources"]
    assert files.seg_path is not None and files.tid1500_path is not None and files.not_written == ""
    seg = pydicom.dcmread(files.seg_path)
    assert seg.Modality == "SEG" and seg.SegmentationType == "BINARY"
    assert seg.StudyInstanceUID == sources[0].StudyInstanceUID and seg.PatientID == "P-7"
    assert seg.SeriesInstanceUID not in {s.SeriesInstanceUID for s in sources}
    assert seg.AccessionNumber == "" and str(seg.PatientName) == "Bébé^Test"
    # the frames' geometry is the series' own: every source pixel maps onto the voxel with its intensity
    voxels, inside = frame_voxels(sources, volume)
    pixels = np.stack([s.pixel_array for s in sources])
    v = voxels[inside]
    np.testing.assert_array_equal(volume.data[v[:, 0], v[:, 1], v[:, 2]], pixels[inside])
    # highdicom
    np.testing.assert_array_equal(read_seg_labels(files.seg_path, sources, volume), labels)
    # pydicom alone: bit-packed frames, each naming its segment and its source image
    by_number = {int(s.SegmentNumber): int(str(s.TrackingID).split()[1]) for s in seg.SegmentSequence}
    index = {s.SOPInstanceUID: i for i, s in enumerate(sources)}
    frames = np.zeros(pixels.shape, np.uint8)
    for frame, group in zip(seg.pixel_array, seg.PerFrameFunctionalGroupsSequence):
        number = int(group.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        uid = group.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        frames[index[uid]][frame > 0] = by_number[number]
    np.testing.assert_array_equal(frames, labels_on_frames(sources, volume, labels))
    assert sorted(by_number.values()) == sorted(int(v) for v in np.unique(labels) if v)


def test_segments_are_coded_with_snomed_where_a_code_exists(exported):
    seg = pydicom.dcmread(exported["files"].seg_path)
    codes = {
        s.SegmentLabel: (
            s.SegmentedPropertyTypeCodeSequence[0].CodingSchemeDesignator,
            s.SegmentedPropertyTypeCodeSequence[0].CodeValue,
        )
        for s in seg.SegmentSequence
    }
    assert codes["ventricles"] == ("SCT", "35764002") and codes["white matter"] == ("SCT", "68523003")
    assert codes["cyst"] == ("SCT", "367643001") and codes["cortical grey matter"] == ("SCT", "40146001")
    assert codes["cerebellum + brainstem"][0] == SCHEME  # a merged class: no single SNOMED CT concept
    algorithm = seg.SegmentSequence[0].SegmentationAlgorithmIdentificationSequence[0]
    assert seg.SegmentSequence[0].SegmentAlgorithmType == "AUTOMATIC" and algorithm.AlgorithmName.startswith("seg-test")
    assert seg.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == SCHEME


def _num_items(sr):
    """(concept scheme, concept value, value, UCUM unit, finding-site/context names) of every NUM item."""
    out = []

    def walk(items, context):
        for item in items:
            name = item.ConceptNameCodeSequence[0]
            if item.ValueType == "NUM":
                mv = item.MeasuredValueSequence[0]
                unit = mv.MeasurementUnitsCodeSequence[0]
                assert unit.CodingSchemeDesignator == "UCUM"
                sites = [
                    c.ConceptCodeSequence[0].CodeMeaning
                    for c in item.get("ContentSequence", [])
                    if c.ValueType == "CODE" and c.ConceptNameCodeSequence[0].CodeValue == "363698007"
                ]
                out.append(
                    (
                        name.CodingSchemeDesignator,
                        name.CodeValue,
                        float(mv.NumericValue),
                        unit.CodeValue,
                        context,
                        sites,
                    )
                )
            if "ContentSequence" in item:
                tracking = [
                    c.TextValue
                    for c in item.ContentSequence
                    if c.ValueType == "TEXT" and c.ConceptNameCodeSequence[0].CodeValue == "112039"
                ]
                walk(item.ContentSequence, tracking[0] if tracking else context)

    walk(sr.ContentSequence, "")
    return out


def test_measurement_report_has_volumes_in_ml_lengths_in_mm_and_located_findings(exported):
    result, files = exported["result"], exported["files"]
    sr = pydicom.dcmread(files.tid1500_path)
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    assert sr.ConceptNameCodeSequence[0].CodeValue == "126000"  # Imaging Measurement Report (DCM)
    assert sr.StudyInstanceUID == exported["sources"][0].StudyInstanceUID
    nums = _num_items(sr)
    volume_items = {
        ctx: (value, unit) for scheme, code, value, unit, ctx, _ in nums if (scheme, code) == ("SCT", "118565006")
    }
    vent = result.report.measurement("ventricles_ml")
    assert volume_items["Ventricles"] == (pytest.approx(vent.value), "mL")
    wm = result.report.measurement("white_matter_ml")
    assert any(
        v == pytest.approx(wm.value) and u == "mL" and "Cerebral white matter" in s
        for sc, c, v, u, _, s in nums
        if c == "118565006"
    )
    # the age reference and the deviation are with the measure (z-score, centile: DCM codes)
    z = [v for sc, c, v, u, _, _ in nums if (sc, c) == ("DCM", "121416")]
    assert pytest.approx(wm.z) in z
    # each lesion: its volume (mm3), its largest diameter (mm) and its centroid as a 3D point
    report = hd.sr.srread(str(files.tid1500_path))
    groups = report.content.get_volumetric_roi_measurement_groups()
    cyst = next(f for f in result.report.findings if f.kind == "cystic lesion")
    lesion = next(x for x in result.report.lesions if x.label == 10 and x.index == cyst.component)
    group = next(g for g in groups if str(g.tracking_identifier).endswith("cystic lesion"))
    assert group.finding_type.value == "367643001" and group.finding_type.scheme_designator == "SCT"
    surface = group.roi
    assert surface.graphic_type.value == "POINT"
    point = np.asarray(surface.graphic_data, float).reshape(-1, 3)[0]
    np.testing.assert_allclose(point, np.asarray(lesion.centroid_ras_mm) @ LPS.T, atol=1e-3)
    assert surface.frame_of_reference_uid == exported["sources"][0].FrameOfReferenceUID
    measured = {m.name.meaning: (m.value, m.unit.value) for m in group.get_measurements()}
    assert measured["Volume"] == (pytest.approx(lesion.volume_mm3), "mm3")
    assert measured["Diameter"] == (pytest.approx(lesion.diameter_mm), "mm")
    assert any(s.laterality is not None for s in group.finding_sites)
    # structures reference their segment in the SEG we wrote
    seg = pydicom.dcmread(files.seg_path)
    referenced = [g for g in groups if g.referenced_segment is not None]
    assert referenced and all(
        g.referenced_segment.referenced_sop_instance_uid == seg.SOPInstanceUID for g in referenced
    )
    # the comprehensive SR names the findings and points at the SEG
    main = pydicom.dcmread(files.sr_path)
    texts = {i.ConceptNameCodeSequence[0].CodeMeaning: getattr(i, "TextValue", None) for i in main.ContentSequence}
    assert texts["Findings (from the segmentation)"].startswith("cystic lesion")


def test_out_of_distribution_gets_no_seg_or_measurement_report_unless_show_anyway(exported, tmp_path):
    volume, labels = exported["volume"], exported["labels"]
    result = seg_result(volume, labels, pma_weeks=40.0, ood_reasons=["head size 1500 ml"])
    files = export_dicom(tmp_path / "o", volume, result, None)
    assert files.seg_path is None and files.tid1500_path is None and "outside the training domain" in files.not_written
    assert len(list((tmp_path / "o").iterdir())) == 2
    shown = export_dicom(tmp_path / "shown", volume, result, None, show_anyway=True)
    assert shown.seg_path is not None and shown.tid1500_path is not None


def _dciodvfy_errors(path) -> tuple[list, str]:
    proc = subprocess.run(["dciodvfy", str(path)], capture_output=True)
    text = (proc.stdout + proc.stderr).decode("latin-1")
    return [line for line in text.splitlines() if line.startswith("Error")], text


@needs_dciodvfy
def test_every_object_we_write_passes_dciodvfy(exported, tmp_path):
    """SR, SC, SEG and the TID 1500 SR, in distribution and not, from the synthetic anonymised series
    and (when ../shared/data has it) the real GE series."""
    objects = list(exported["files"].paths)
    volume, labels = exported["volume"], exported["labels"]
    ood = export_dicom(tmp_path / "ood", volume, seg_result(volume, labels, ood_reasons=["adult"]), None)
    objects += ood.paths
    if GE_SERIES.is_dir():
        ge = load_series(find_series(GE_SERIES)[0])
        files = export_dicom(tmp_path / "ge", ge, seg_result(ge, draw_labels(ge.shape), pma_weeks=40.0), None)
        assert files.seg_path is not None
        objects += files.paths
    assert len(objects) >= 6
    for path in objects:
        errors, text = _dciodvfy_errors(path)
        assert errors == [], f"{path.name}:\n{text}"


@pytest.fixture
def neonatal_series(tmp_path):
    """The drawn neonatal-sized head as an axial DICOM series without AccessionNumber (in distribution)."""
    volume, labels = drawn_head()
    data = np.clip(volume.data, 0, 3000).astype(np.int16)
    datasets = slice_datasets(data, volume.affine, number=4, description="T2 ax neonate")
    save_series(_without(datasets, "AccessionNumber"), tmp_path / "in" / "t2")
    return tmp_path / "in" / "t2"


def test_predict_dicom_out_with_a_decoder_and_no_accession_number(neonatal_series, seg_weights, tmp_path, capsys):
    """Today's AttributeError ('AccessionNumber' from highdicom) is gone; SEG + TID 1500 are written."""
    out = tmp_path / "pacs"
    code = predict(
        [str(neonatal_series), "--weights", str(seg_weights), "--dicom-out", str(out), "--pma", "40", "--json"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["in_distribution"] is True, summary["ood_reasons"]
    names = sorted(p.name.split("-")[2] for p in out.iterdir())
    assert names == ["SC", "SEG", "SR", "TID1500"]
    seg = pydicom.dcmread(summary["dicom_seg"])
    assert (
        seg.AccessionNumber == ""
        and seg.StudyInstanceUID == pydicom.dcmread(next(neonatal_series.iterdir())).StudyInstanceUID
    )
    assert summary["dicom_measurement_report"].endswith(".dcm")
    assert sorted(p.name for p in neonatal_series.iterdir()) == [f"IM{i:04d}" for i in range(40)]  # input untouched


def test_predict_dicom_out_without_a_decoder_writes_sr_and_sc_without_accession_number(small_weights, tmp_path, capsys):
    folder = tmp_path / "in" / "t2"
    write_patient_series(folder, seed=5, shape=(20, 22, 12), number=2)
    for path in folder.iterdir():
        ds = pydicom.dcmread(path)
        del ds.AccessionNumber
        ds.save_as(path)
    assert predict([str(folder), "--weights", str(small_weights), "--dicom-out", str(tmp_path / "o"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert "dicom_seg" not in summary
    sr = pydicom.dcmread(summary["dicom_sr"])
    assert sr.AccessionNumber == "" and len(list((tmp_path / "o").iterdir())) == 2
    items = {i.ConceptNameCodeSequence[0].CodeMeaning: getattr(i, "TextValue", "") for i in sr.ContentSequence}
    assert items["Measurements"] == "not available with these weights (no segmentation decoder)"


def test_seg_cases_t2_table_covers_every_label():
    assert set(T2) >= {int(v) for v in np.unique(draw_labels())}
