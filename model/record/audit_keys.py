"""The site signing key of the audit log: Ed25519 (RFC 8032, via the ``cryptography`` package).

Part of the audit log (:mod:`model.record.audit` describes what the signatures show and re-exports
the public names here). A key is made once (:func:`generate_signing_key`, PEM, mode 0600, never
replaced), loaded to sign (:func:`load_signing_key`), and its public half, base64 of its 32 raw
bytes (:func:`public_key_text`), is what a verifier needs. Imports only
:mod:`model.record.audit_entry` of the audit log's parts.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from model.record.audit_entry import AuditLogError


def generate_signing_key(path: str | Path) -> str:
    """Create a new Ed25519 site key as unencrypted PKCS#8 PEM at ``path`` (mode 0600, never replaced).

    Returns
    -------
    str
        The public key as base64 of its 32 raw bytes (:func:`public_key_text`).

    Raises
    ------
    AuditLogError
        ``path`` exists or cannot be written.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise AuditLogError(path, "a key file already exists here; it is never replaced") from exc
    except OSError as exc:
        raise AuditLogError(path, f"the key cannot be written ({exc.strerror or exc})") from exc
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return public_key_text(key)


def load_signing_key(path: str | Path):
    """The Ed25519 private key in the PEM file at ``path``.

    Raises
    ------
    AuditLogError
        Missing, unreadable, or not an unencrypted Ed25519 private key.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuditLogError(path, f"the signing key cannot be read ({exc.strerror or exc})") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise AuditLogError(path, "not an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditLogError(path, f"the key is {type(key).__name__}, an Ed25519 key is needed")
    return key


def public_key_text(key) -> str:
    """Base64 of the 32 raw bytes of an Ed25519 public key (or of a private key's public half)."""
    from cryptography.hazmat.primitives import serialization

    public = key.public_key() if hasattr(key, "public_key") else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def _public_key(text: str):
    """Ed25519 public key from :func:`public_key_text` output. Raises ValueError when malformed."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        raw = base64.b64decode(str(text).strip(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an Ed25519 public key (base64 of 32 bytes): {text!r}") from exc


def _signature_ok(public, entry: dict) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        public.verify(
            base64.b64decode(str(entry.get("signature", "")), validate=True), str(entry["hash"]).encode("ascii")
        )
    except (InvalidSignature, ValueError, TypeError, UnicodeEncodeError):
        return False
    return True
