"""The data structures of measurements and findings (issue 28), shared by the core and the viewer.

A :class:`SegmentationReport` is what one label map says about one scan: its tissue volumes and
linear measures (:class:`Measurement`, each with its age reference when the post-menstrual age is
known), its focal lesions (:class:`Lesion`, connected components of the cyst and punctate classes)
and the :class:`Finding` s a reader can step through. It is produced by
:func:`model.measure.report_from_labels` from a label map in the Draw-EM convention of
:mod:`model.segmentation`, whether the map came from the network or from a file (a site's dHCP
pipeline output), so both give the same numbers.

Everything here is plain data (JSON-ready through ``to_dict``); nothing imports Qt.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

#: Finding kinds (the vocabulary of the reading room, the PDF, the CSV and the DICOM SR).
VENTRICULAR_DILATATION = "ventricular dilatation"
CYSTIC_LESION = "cystic lesion"
PUNCTATE_LESION = "punctate white-matter lesion"
WM_VOLUME_REDUCTION = "white-matter volume reduction"
ENLARGED_EXTRACEREBRAL_SPACE = "enlarged extra-cerebral space"
FINDING_KINDS = (
    VENTRICULAR_DILATATION,
    CYSTIC_LESION,
    PUNCTATE_LESION,
    WM_VOLUME_REDUCTION,
    ENLARGED_EXTRACEREBRAL_SPACE,
)


@dataclass
class Reference:
    """An age reference of one measure at one post-menstrual age.

    Attributes
    ----------
    source : str
        Who the numbers come from (citation, or "summary statistics of the Serag templates", or a
        site's own fit), shown wherever the reference is shown.
    pma_weeks : float
        The age the reference was evaluated at.
    mean : float
        Expected value at that age, in the measure's unit.
    sd : float or None
        Spread (one standard deviation) at that age; None where no published spread exists (then no
        z-score is given, and the screen says so).
    """

    source: str
    pma_weeks: float
    mean: float
    sd: float | None = None


@dataclass
class Measurement:
    """One measure of one scan.

    Attributes
    ----------
    key : str
        Machine name (``"ventricles_ml"``, ``"white_matter_ml"``, ``"anterior_horn_width_left_mm"`` ...).
    name : str
        What the reader sees ("Ventricles", "Anterior horn width, left").
    value : float
    unit : str
        UCUM unit: ``"ml"``, ``"mm"``, ``"mm3"``, ``"1"`` (count).
    definition : str
        How it is measured and the source of the definition (e.g. Brouwer et al., Radiology 2012).
    reference : Reference or None
        The age reference at the infant's PMA; None when the PMA is unknown or the measure has none.
    z : float or None
        (value - mean) / sd when the reference has a spread.
    centile : float or None
        Normal-distribution centile of ``z`` (0-100).
    flag : str
        ``""`` (within the reference or no reference), ``"high"`` or ``"low"`` (|z| > 2),
        ``"extreme high"`` / ``"extreme low"`` (|z| > 3.1, Dimitrova et al. 2021).
    """

    key: str
    name: str
    value: float
    unit: str
    definition: str = ""
    reference: Reference | None = None
    z: float | None = None
    centile: float | None = None
    flag: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Lesion:
    """One connected component of a focal injury class (26-connectivity).

    Attributes
    ----------
    kind : str
        :data:`CYSTIC_LESION` or :data:`PUNCTATE_LESION`.
    label : int
        The label value (10 cyst, 11 punctate).
    index : int
        1-based component number within its kind (largest first).
    volume_mm3 : float
        Through the affine (voxel count x |det(affine[:3, :3])|).
    diameter_mm : float
        Largest distance between two voxel centres of the component, in mm (world).
    centroid_ras_mm : tuple of 3 float
        Centre of mass in RAS+ world coordinates (mm).
    centroid_voxel : tuple of 3 float
        The same in voxel coordinates of the label map.
    """

    kind: str
    label: int
    index: int
    volume_mm3: float
    diameter_mm: float
    centroid_ras_mm: tuple
    centroid_voxel: tuple

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Finding:
    """One located finding the reader can go to and agree or disagree with.

    Attributes
    ----------
    kind : str
        One of :data:`FINDING_KINDS`.
    summary : str
        One line for lists ("Cyst 6.2 mm, 48 mm3, right periventricular").
    evidence : list of str
        Measurement keys (and lesion references) behind it, e.g. ``["ventricles_ml"]``.
    value, unit : float or None, str
        The main measure behind it.
    reference : Reference or None
    location_ras_mm : tuple of 3 float
        Where to go (RAS+ mm): a lesion's centroid, or the centre of the structure measured.
    location_voxel : tuple of 3 float
        The same in voxel coordinates of the label map.
    confidence : float
        0-1: for lesions the mean class probability inside the component (1.0 for a label map
        read from a file); for measures, how far beyond the reference limit the value lies
        (1 - 2 * (1 - Phi(|z|)) where a spread exists).
    label : int or None
        The label value to highlight (10, 11, 5 ...), None for whole-brain findings.
    component : int or None
        For lesions, the component index (:attr:`Lesion.index`).
    """

    kind: str
    summary: str
    evidence: list = field(default_factory=list)
    value: float | None = None
    unit: str = ""
    reference: Reference | None = None
    location_ras_mm: tuple = (0.0, 0.0, 0.0)
    location_voxel: tuple = (0.0, 0.0, 0.0)
    confidence: float = 1.0
    label: int | None = None
    component: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SegmentationReport:
    """Everything one label map says about one scan.

    Attributes
    ----------
    measurements : list of Measurement
    lesions : list of Lesion
    findings : list of Finding
    pma_weeks : float or None
        The age the references were evaluated at (None = "PMA unknown": values only).
    pma_source : str
        Where the PMA came from ("reader", "sessions.tsv", "JSON sidecar", "DICOM header", "").
    source : str
        ``"model"`` (the weights' decoder) or the label-map file it was read from.
    notes : list of str
        What the reader should know about the numbers: why a measure is missing, "PMA unknown",
        which references have no published spread, a PMA outside a reference's range.
    """

    measurements: list = field(default_factory=list)
    lesions: list = field(default_factory=list)
    findings: list = field(default_factory=list)
    pma_weeks: float | None = None
    pma_source: str = ""
    source: str = "model"
    notes: list = field(default_factory=list)

    def measurement(self, key: str) -> Measurement | None:
        """The measurement named ``key``, or None."""
        return next((m for m in self.measurements if m.key == key), None)

    def to_dict(self) -> dict:
        return {
            "pma_weeks": self.pma_weeks,
            "pma_source": self.pma_source,
            "source": self.source,
            "measurements": {m.key: m.to_dict() for m in self.measurements},
            "lesions": [lesion.to_dict() for lesion in self.lesions],
            "findings": [f.to_dict() for f in self.findings],
            "notes": list(self.notes),
        }
