"""Files: atomic output (results appear whole or not at all, never replacing an input by accident), and SHA-256."""

from __future__ import annotations

import hashlib
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import nibabel as nib


def sha256_file(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 (hex) of a file's bytes, read in chunks (FIPS 180-4 via :mod:`hashlib`).

    The one file hash of the product: weights (model card check, MedicalNet import) and inputs.

    Raises
    ------
    OSError
        The file cannot be read.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(chunk_bytes), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else path.suffix


@contextmanager
def atomic_output(path: str | Path):
    """Yield a temporary path next to ``path``; on success it is renamed onto ``path`` (os.replace).

    The temporary file keeps the final suffix (e.g. ``.nii.gz``) so libraries that choose the
    format from the name behave the same. On any exception the temporary file is removed and
    ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + _suffix(path), dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; results follow the user's umask
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def save_nifti_atomic(img: nib.Nifti1Image, path: str | Path) -> None:
    """``nibabel.save`` to ``path`` atomically (compressed when the name ends in .nii.gz)."""
    with atomic_output(path) as tmp:
        nib.save(img, str(tmp))
