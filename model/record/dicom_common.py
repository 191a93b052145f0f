"""What the DICOM objects we write share: the private coding scheme and coded concepts, the character
set, and a new Structured Report series.

Used by the Structured Report (:mod:`model.record.dicom_export`), the Segmentation
(:mod:`model.record.dicom_seg`) and the TID 1500 Measurement Report
(:mod:`model.record.dicom_tid1500`). Concepts without a standard code use the private (local) scheme
``99GLRN`` (the "99" prefix DICOM PS3.16 reserves for local schemes), named in every object by
:func:`private_scheme_identification`; the others SNOMED CT (``SCT``) and UCUM units. highdicom and
pydicom are imported when called. Imports nothing of the project.
"""

from __future__ import annotations

#: Private (local) coding scheme of concepts without a standard code (the SR's, the SEG's, TID 1500's).
SCHEME = "99GLRN"
#: Text of the objects (UTF-8: "±" and patient names in any script).
CHARACTER_SET = "ISO_IR 192"


def private_scheme_identification():
    """The Coding Scheme Identification Sequence (0008,0110) that names our private scheme ``99GLRN``."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    item = Dataset()
    item.CodingSchemeDesignator = SCHEME
    item.CodingSchemeName = "GloResNet second reader local concepts (no standard code exists)"
    item.CodingSchemeResponsibleOrganization = "GloResNet second reader project"
    return Sequence([item])


def concept(triple):
    """A highdicom ``CodedConcept`` from ``(scheme designator, value, meaning)``."""
    from highdicom.sr import CodedConcept

    scheme, value, meaning = triple
    return CodedConcept(value=value, scheme_designator=scheme, meaning=meaning)


def private_code(value: str, meaning: str):
    """A concept of our private scheme :data:`SCHEME`."""
    return concept((SCHEME, value, meaning))


def sct(value: str, meaning: str):
    """A SNOMED CT concept."""
    return concept(("SCT", value, meaning))


def ucum(value: str, meaning: str):
    """A UCUM unit."""
    return concept(("UCUM", value, meaning))


def structured_report(cls, *, evidence, content, series_number: int, manufacturer: str, description: str):
    """A new highdicom Structured Report (``cls``: ``ComprehensiveSR``, ``Comprehensive3DSR``) in a series of
    its own: new Series and SOP Instance UIDs, instance 1, complete but neither final nor verified (a
    program's result, for a reader to check), UTF-8 text (:data:`CHARACTER_SET`)."""
    import highdicom as hd

    sr = cls(
        evidence=evidence,
        content=content,
        series_instance_uid=hd.UID(),
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=manufacturer,
        is_complete=True,
        is_final=False,
        is_verified=False,
    )
    sr.SeriesDescription = description
    sr.SpecificCharacterSet = CHARACTER_SET
    return sr
