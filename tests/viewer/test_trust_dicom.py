"""Issue 11 on a DICOM series (issue 9): the PDF keeps the identifiers on page 1 (blanked when hidden)
and adds the reading's record -- PMA with the result, every audit entry for the series with its
hash, the chain head, the site key and the ruler's measurement; the audit entries keep the UIDs
and are signed."""

import json
import shutil
import subprocess

import numpy as np
import pytest

from tests.model.dicom_series import write_patient_series
from tests.viewer.helpers import WAIT_MS, make_result, open_and_wait


def _pdf_text(path, *args):
    return subprocess.run(["pdftotext", *args, str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_dicom_report_has_identifiers_on_page_one_and_the_signed_record(qtbot, window, tmp_path):
    folder = tmp_path / "pacs" / "study"
    write_patient_series(folder)
    scan = open_and_wait(qtbot, window, folder)
    window.settings.reader_name = "Dr Test"
    public = window.recorder.use_key_file(tmp_path / "site.pem", create=True)
    window.state.set_result(make_result(scan.volume, np.full(scan.volume.shape, 0.5, np.float32), 0.8), card=None)
    window.measure.set_pma_weeks(41.0)
    window.record_impression("injury")
    window.record_decision("accept")
    window.measure.place_ruler()
    window.measure.keep()
    entries = [json.loads(line) for line in window.audit_path.read_text(encoding="utf-8").splitlines()]
    assert [e["decision"] for e in entries] == ["impression", "accept", "measurement"]
    assert all(e["series_uid"] and e["study_uid"] and e["signer"] == public and e["signature"] for e in entries)
    assert all(e["pma_weeks"] == 41.0 for e in entries) and window.verify_audit_log().ok

    record = window.exports.reading_record()
    assert [e["hash"] for e in record.history] == [e["hash"] for e in entries]
    assert record.chain_head == entries[-1]["hash"] and record.public_key == public
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    for hidden, name in ((False, "shown.pdf"), (True, "hidden.pdf")):
        window.dicom.set_hidden(hidden)
        with qtbot.waitSignal(window.export_written, timeout=WAIT_MS):
            window.export_report(tmp_path / name)
    first_page = _pdf_text(tmp_path / "shown.pdf", "-l", "1")
    assert "Baby Test" in first_page and "P-0001" in first_page and "Key images with heatmap" in first_page
    assert "PMA at scan" in first_page and "41.0 weeks" in first_page
    for name in ("shown.pdf", "hidden.pdf"):
        text = " ".join(_pdf_text(tmp_path / name).split())
        assert "Decision history" in text and all(e["hash"][:16] in text for e in entries)
        assert "Chain head" in text and public[:16] in text and "Atrial width of the lateral ventricle" in text
    hidden_text = _pdf_text(tmp_path / "hidden.pdf")
    assert "Baby" not in hidden_text and "P-0001" not in hidden_text and str(folder) not in hidden_text
