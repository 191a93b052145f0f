"""Weights on disk: ``model.safetensors`` + ``model_card.json`` in one folder, and MedicalNet import.

A weights folder is what ``python -m model.train`` writes and what the app, ``model.predict`` and
``model.score`` load. Loading never executes code from the files (safetensors + JSON, no pickle),
verifies the SHA-256 of the weights against the card, checks every card field the software depends
on, and loads the state dict strictly; any mismatch raises :class:`~model.errors.CheckpointError`
with the folder and the reason.

The model card follows the spirit of Mitchell et al. 2019 "Model Cards for Model Reporting" and
MONAI bundle ``metadata.json``: architecture, classes, preprocessing, Grad-CAM layer, decision
threshold, training command and data, metrics, intended use, library versions, weights hash.
"""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from model.errors import CheckpointError
from model.fileio import atomic_output, sha256_file, write_bytes_atomic
from model.network import ARCHITECTURES, ResNet3d, encoder_keys
from model.preprocessing import PreprocessConfig
from model.timestamps import utc_now
from model.vocabulary import CLASSES

WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "model_card.json"
OOD_FILE = "ood.safetensors"
CARD_FORMAT_VERSION = 1
#: Card fields a file may lack (added after format 1 was fixed; their defaults apply).
OPTIONAL_CARD_FIELDS = {"ood", "segmentation"}

#: SHA-256 of known MedicalNet ResNet-10 checkpoints (METHOD.md).
MEDICALNET_SHA256 = {
    "afa8055f3e47f4a18239495d92a7abc587902c69c31c743de2b2784653b72605": "MedicalNet resnet_10_23dataset.pth",
    "2824951eaef30e115929b89bec72342380b08d14792bda1449974ac849e497c0": "MedicalNet resnet_10.pth",
}

DEFAULT_INTENDED_USE = (
    "Research use only. A second reader for T2-weighted brain MRI of preterm infants at "
    "term-equivalent age: it estimates the probability of brain injury to prompt a second look. "
    "It does not diagnose, does not outline lesions, and must not replace the radiologist's report."
)


#: The old name of :func:`model.fileio.sha256_file` (kept for callers written before it moved).
sha256_bytes = sha256_file


@dataclass
class ModelCard:
    """Everything the software needs to use a set of weights, and what a reader needs to trust them.

    Attributes
    ----------
    name, version : str
    architecture : str
        Key of :data:`model.network.ARCHITECTURES` (``"resnet10"``).
    classes : list of str
        Softmax index -> class name; must be ``["normal", "injury"]`` (P(injury) = index 1).
    preprocessing : PreprocessConfig
    gradcam_layer : str
        Dotted module name of the Grad-CAM target layer (``"layer4"``).
    decision_threshold : float
        P(injury) at or above which a case is flagged.
    indeterminate_band : float
        Half-width around the threshold within which a case is called indeterminate.
    tta : str
        Test-time augmentation, ``"mean_softmax_identity_flipLR"`` (paper Eq. 12).
    intended_use : str
    demonstration : bool
        True for weights trained on simulated data; the app says so on screen.
    training : dict
        ``command``, ``data`` (description), ``seed`` and the resolved training settings.
    metrics : dict
        Evaluation results and how they were obtained.
    library_versions : dict
    weights_sha256 : str
    created_utc : str
    ood : dict
        Out-of-distribution feature gate (:mod:`model.ood_gate`): ``file`` (``ood.safetensors``), its
        ``sha256``, the ``weights_sha256`` it was fitted for, ``threshold`` and how it was fitted.
        Empty = feature gate not fitted. Optional in the file (older cards lack it).
    segmentation : dict
        The segmentation decoder (issue 28): ``labels`` (the label table of
        :func:`model.segmentation.label_table`), ``grid`` (the network grid it predicts on),
        ``loss`` and its weights, and optionally ``fusion`` (the call's logistic model over the
        classifier and the measurements). Empty = weights without a decoder (the paper's network):
        they still load and run, and measurements are not available. Optional in the file.
    """

    name: str
    version: str
    architecture: str
    classes: list
    preprocessing: PreprocessConfig
    gradcam_layer: str
    decision_threshold: float
    indeterminate_band: float
    tta: str
    intended_use: str
    demonstration: bool
    training: dict
    metrics: dict
    library_versions: dict = field(default_factory=dict)
    weights_sha256: str = ""
    created_utc: str = ""
    format_version: int = CARD_FORMAT_VERSION
    ood: dict = field(default_factory=dict)
    segmentation: dict = field(default_factory=dict)

    @property
    def seg_widths(self) -> tuple:
        """The decoder's widths (``segmentation.widths``; cards without them are the first decoder's)."""
        from model.network import LEGACY_WIDTHS

        return tuple(self.segmentation.get("widths") or LEGACY_WIDTHS) if self.segmentation else ()

    @property
    def seg_classes(self) -> int:
        """Channels of the segmentation decoder (0 = none)."""
        return len(self.segmentation.get("labels", {}).get("labels", [])) if self.segmentation else 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["preprocessing"] = self.preprocessing.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict, where: Path) -> "ModelCard":
        """Parse and validate a card; raises :class:`CheckpointError` naming the bad field."""
        if not isinstance(d, dict):
            raise CheckpointError(where, "the model card is not a JSON object")
        fields = set(cls.__dataclass_fields__)
        missing = sorted(fields - set(d) - OPTIONAL_CARD_FIELDS)
        if missing:
            raise CheckpointError(where, f"the model card lacks required field(s): {', '.join(missing)}")
        unknown = sorted(set(d) - fields)
        if unknown:
            raise CheckpointError(where, f"the model card has unknown field(s): {', '.join(unknown)}")
        if d["format_version"] != CARD_FORMAT_VERSION:
            raise CheckpointError(
                where, f"model card format {d['format_version']!r} is not supported (expected {CARD_FORMAT_VERSION})"
            )
        if d["architecture"] not in ARCHITECTURES:
            raise CheckpointError(
                where, f"unknown architecture {d['architecture']!r} (known: {', '.join(ARCHITECTURES)})"
            )
        if list(d["classes"]) != list(CLASSES):
            raise CheckpointError(where, f"classes must be {list(CLASSES)} (got {d['classes']!r})")
        try:
            pre = PreprocessConfig.from_dict(dict(d["preprocessing"]))
        except (TypeError, ValueError) as exc:
            raise CheckpointError(where, f"model card preprocessing: {exc}") from exc
        thr = d["decision_threshold"]
        if not isinstance(thr, (int, float)) or not 0.0 < float(thr) < 1.0:
            raise CheckpointError(where, f"decision_threshold must be a number in (0, 1), got {thr!r}")
        band = d["indeterminate_band"]
        if not isinstance(band, (int, float)) or not 0.0 <= float(band) < 0.5:
            raise CheckpointError(where, f"indeterminate_band must be a number in [0, 0.5), got {band!r}")
        if d["tta"] != "mean_softmax_identity_flipLR":
            raise CheckpointError(where, f"unsupported test-time augmentation {d['tta']!r}")
        _check_field_types(d, where)
        d = dict(d)
        d["preprocessing"] = pre
        d["decision_threshold"] = float(thr)
        d["indeterminate_band"] = float(band)
        return cls(**d)


def _check_field_types(d: dict, where: Path) -> None:
    """The card's string, object, boolean and ``ood`` fields have the right types (else CheckpointError)."""
    for key in ("name", "version", "gradcam_layer", "intended_use", "weights_sha256"):
        if not isinstance(d[key], str) or not d[key]:
            raise CheckpointError(where, f"model card field {key!r} must be a non-empty string")
    for key in ("training", "metrics", "library_versions"):
        if not isinstance(d[key], dict):
            raise CheckpointError(where, f"model card field {key!r} must be an object")
    if not isinstance(d["demonstration"], bool):
        raise CheckpointError(where, "model card field 'demonstration' must be true or false")
    ood = d.get("ood", {})
    if not isinstance(ood, dict) or (ood and not {"file", "sha256", "weights_sha256", "threshold"} <= set(ood)):
        raise CheckpointError(
            where, "model card field 'ood' must be an object with file, sha256, weights_sha256, threshold"
        )
    seg = d.get("segmentation", {})
    if not isinstance(seg, dict) or (seg and not isinstance(seg.get("labels", {}).get("labels"), list)):
        raise CheckpointError(where, "model card field 'segmentation' must be an object with a 'labels' table")
    if seg:
        from model.segmentation import label_table

        if seg["labels"]["labels"] != label_table()["labels"]:
            raise CheckpointError(
                where, "the segmentation label table differs from this software's (model.segmentation.SEG_CLASSES)"
            )


@dataclass
class LoadedModel:
    """A network in eval mode with the card it was loaded with and the folder it came from."""

    model: ResNet3d
    card: ModelCard
    folder: Path
    #: ``{"means", "precision"}`` float64 tensors of the fitted feature gate (model.ood_gate), or None.
    ood_tensors: dict | None = None

    @property
    def short_hash(self) -> str:
        return self.card.weights_sha256[:12]


def library_versions() -> dict:
    """Versions of the libraries that determine the numbers (for the card)."""
    import nibabel
    import numpy
    import safetensors

    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "nibabel": nibabel.__version__,
        "safetensors": safetensors.__version__,
    }
    try:
        from importlib.metadata import version

        versions["grad-cam"] = version("grad-cam")
    except Exception:  # noqa: BLE001 - metadata lookup is best effort only
        pass
    return versions


def save_weights(folder: str | Path, model: torch.nn.Module, card: ModelCard) -> Path:
    """Write ``model.safetensors`` and ``model_card.json`` into ``folder`` (created), atomically.

    The card's ``weights_sha256``, ``library_versions`` and ``created_utc`` are filled in here.

    Returns
    -------
    Path
        The folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_output(folder / WEIGHTS_FILE) as tmp:
        save_file(state, str(tmp), metadata={"format": "pt", "architecture": card.architecture})
        card.weights_sha256 = sha256_file(tmp)
    if card.ood and card.ood.get("weights_sha256") != card.weights_sha256:
        card.ood = {}  # the feature gate belongs to other weights: refit it (python -m model.ood fit)
    card.library_versions = library_versions()
    card.created_utc = utc_now()
    write_bytes_atomic(folder / CARD_FILE, (json.dumps(card.to_dict(), indent=2) + "\n").encode())
    return folder


def read_card(folder: str | Path) -> ModelCard:
    """Read and validate ``model_card.json`` of a weights folder (no weights are loaded)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(folder, "is not a folder with model.safetensors and model_card.json")
    card_path = folder / CARD_FILE
    if not card_path.is_file():
        raise CheckpointError(folder, f"no {CARD_FILE} in this folder; it is not a GloResNet weights folder")
    try:
        raw = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(card_path, f"the model card is not valid JSON ({exc})") from exc
    return ModelCard.from_dict(raw, card_path)


def load_weights(folder: str | Path, device: torch.device | str = "cpu") -> LoadedModel:
    """Load a weights folder, verifying the card, the weights hash and every state-dict key.

    Parameters
    ----------
    folder : str or Path
    device : torch.device or str
        Where the network is put (the caller decides; see :func:`model.inference.select_device`).

    Returns
    -------
    LoadedModel
        Network in eval mode.

    Raises
    ------
    CheckpointError
        Missing files, invalid card, SHA-256 mismatch, missing/unexpected/mis-shaped tensors, or a
        Grad-CAM layer the network does not have.
    """
    folder = Path(folder)
    card = read_card(folder)
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(folder, f"no {WEIGHTS_FILE} in this folder")
    actual = sha256_file(weights)
    if actual != card.weights_sha256:
        raise CheckpointError(
            weights,
            f"SHA-256 {actual[:12]}... does not match the model card ({card.weights_sha256[:12]}...); "
            "the weights were changed or belong to another card",
        )
    try:
        state = load_file(str(weights), device="cpu")
    except Exception as exc:  # noqa: BLE001 - safetensors raises several private error types
        raise CheckpointError(weights, f"cannot be read as safetensors ({exc})") from exc
    model = ARCHITECTURES[card.architecture](
        num_classes=len(card.classes), seg_classes=card.seg_classes, seg_widths=card.seg_widths
    )
    _load_state_strict(model, state, weights)
    try:
        model.get_submodule(card.gradcam_layer)
    except AttributeError as exc:
        raise CheckpointError(
            folder, f"Grad-CAM layer {card.gradcam_layer!r} does not exist in {card.architecture}"
        ) from exc
    model.eval().to(device)
    return LoadedModel(model=model, card=card, folder=folder, ood_tensors=_load_ood(folder, card))


def _load_ood(folder: Path, card: ModelCard) -> dict | None:
    """The feature gate's tensors, verified against the card (None when the card has none)."""
    if not card.ood:
        return None
    path = folder / Path(str(card.ood["file"])).name
    if not path.is_file():
        raise CheckpointError(
            folder, f"the model card names {path.name} (out-of-distribution statistics) but it is missing"
        )
    if sha256_file(path) != card.ood["sha256"]:
        raise CheckpointError(
            path, "SHA-256 does not match the model card; the out-of-distribution statistics were changed"
        )
    if card.ood["weights_sha256"] != card.weights_sha256:
        raise CheckpointError(path, "the out-of-distribution statistics were fitted for other weights; refit them")
    try:
        tensors = load_file(str(path), device="cpu")
    except Exception as exc:  # noqa: BLE001 - safetensors raises several private error types
        raise CheckpointError(path, f"cannot be read as safetensors ({exc})") from exc
    if set(tensors) != {"means", "precision"} or tensors["precision"].shape != (tensors["means"].shape[1],) * 2:
        raise CheckpointError(path, "does not hold class means (C, D) and a precision matrix (D, D)")
    return tensors


def write_ood(folder: str | Path, tensors: dict, info: dict) -> dict:
    """Write the feature gate (``ood.safetensors``) and record it in the card, both atomically.

    Parameters
    ----------
    tensors : dict
        ``{"means": (C, D), "precision": (D, D)}`` float64 tensors.
    info : dict
        ``threshold`` and how the statistics were fitted; ``file``, ``sha256`` and
        ``weights_sha256`` are filled in here.

    Returns
    -------
    dict
        The card's new ``ood`` field.
    """
    folder = Path(folder)
    card = read_card(folder)
    with atomic_output(folder / OOD_FILE) as tmp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata={"format": "pt"})
        digest = sha256_file(tmp)
    card.ood = {**info, "file": OOD_FILE, "sha256": digest, "weights_sha256": card.weights_sha256}
    write_bytes_atomic(folder / CARD_FILE, (json.dumps(card.to_dict(), indent=2) + "\n").encode())
    return card.ood


def _load_state_strict(model: torch.nn.Module, state: dict, where: Path) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            where,
            f"weights do not fit the network: {len(missing)} missing key(s) {missing[:5]}, "
            f"{len(unexpected)} unexpected key(s) {unexpected[:5]}",
        )
    wrong = [k for k in expected if tuple(expected[k].shape) != tuple(state[k].shape)]
    if wrong:
        k = wrong[0]
        raise CheckpointError(
            where, f"tensor {k} has shape {tuple(state[k].shape)}, the network needs {tuple(expected[k].shape)}"
        )
    model.load_state_dict(state, strict=True)


def load_medicalnet_encoder(model: ResNet3d, path: str | Path) -> dict:
    """Load a MedicalNet ResNet-10 checkpoint into the encoder; the ``fc`` head stays fresh.

    The file is read with ``torch.load(weights_only=True)``, PyTorch's restricted unpickler that
    only rebuilds tensors and plain containers and never executes code from the file. The
    ``{"state_dict": ...}`` wrapper is unwrapped and the ``module.`` (DataParallel) prefix stripped.
    MedicalNet's segmentation decoder (``conv_seg.*``) is ignored. Every encoder key must be present
    with the right shape; anything else is an error (no silent partial loads, unlike
    ``strict=False``).

    Parameters
    ----------
    model : ResNet3d
    path : str or Path

    Returns
    -------
    dict
        ``{"sha256", "known_as" (name or None), "keys_loaded", "ignored"}``.

    Raises
    ------
    CheckpointError
        Unreadable file, or missing / unexpected / mis-shaped encoder keys (listed).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "pretrained checkpoint not found")
    digest = sha256_file(path)
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad file
        raise CheckpointError(
            path, f"cannot be read as a PyTorch checkpoint of tensors ({str(exc).splitlines()[0][:200]})"
        ) from exc
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(path, "does not contain a state dict of tensors")
    state = {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in state.items()}
    ignored = sorted(k for k in state if k.startswith("conv_seg.") or k.startswith("fc."))
    state = {k: v for k, v in state.items() if k not in set(ignored)}
    needed = encoder_keys(model)
    optional = {k for k in needed if k.endswith("num_batches_tracked")}  # absent in pre-0.4.1 files
    missing = sorted(set(needed) - set(state) - optional)
    unexpected = sorted(set(state) - set(needed))
    if missing or unexpected:
        raise CheckpointError(
            path,
            f"is not a MedicalNet ResNet-10 encoder: missing {len(missing)} key(s) {missing[:8]}, "
            f"unexpected {len(unexpected)} key(s) {unexpected[:8]}",
        )
    current = model.state_dict()
    wrong = [k for k in state if tuple(current[k].shape) != tuple(state[k].shape)]
    if wrong:
        k = wrong[0]
        raise CheckpointError(
            path, f"tensor {k} has shape {tuple(state[k].shape)}, the encoder needs {tuple(current[k].shape)}"
        )
    result = model.load_state_dict(state, strict=False)
    left = set(result.missing_keys) - optional
    if left != {"fc.weight", "fc.bias"} or result.unexpected_keys:  # guarded above; kept as a hard check
        raise CheckpointError(path, f"partial load: missing {sorted(left)}, unexpected {result.unexpected_keys}")
    model.reset_head()
    return {"sha256": digest, "known_as": MEDICALNET_SHA256.get(digest), "keys_loaded": len(state), "ignored": ignored}


def new_card(
    name: str,
    version: str,
    preprocessing: PreprocessConfig | None = None,
    *,
    demonstration: bool,
    training: dict | None = None,
    metrics: dict | None = None,
    decision_threshold: float = 0.5,
    indeterminate_band: float = 0.1,
    intended_use: str = DEFAULT_INTENDED_USE,
) -> ModelCard:
    """A model card for a ResNet-10 GloResNet with the method's defaults (weights hash filled on save)."""
    return ModelCard(
        name=name,
        version=version,
        architecture="resnet10",
        classes=list(CLASSES),
        preprocessing=preprocessing or PreprocessConfig(),
        gradcam_layer="layer4",
        decision_threshold=float(decision_threshold),
        indeterminate_band=float(indeterminate_band),
        tta="mean_softmax_identity_flipLR",
        intended_use=intended_use,
        demonstration=demonstration,
        training=training or {},
        metrics=metrics or {},
        weights_sha256="unsaved",
    )
