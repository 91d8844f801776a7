"""Signing the certification report (PAdES, pyHanko) and checking a signed file.

The installation's key and certificate are one PKCS#12 file (``REPORT_SIGNING_P12``,
default ``instance/signing.p12``; its password ``REPORT_SIGNING_PASSWORD``, empty for
an unencrypted file). ``flask report keygen`` makes a self-signed one for the demo; a
real installation puts the file its certification authority issued there instead.

The signature is a certification signature (DocMDP: no changes allowed) of the subfilter
``ETSI.CAdES.detached`` (PAdES B-B), SHA-256: Adobe Reader and poppler's ``pdfsig`` show
it, and any byte changed afterwards breaks it.
"""

from __future__ import annotations

import io
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

SIGNATURE_FIELD = "CertificationSignature"
KEY_BITS = 3072
# Room for the CMS signature (one 3072-bit certificate: about 2.5 KB). Reserved up front,
# pyHanko does not sign twice to measure it (each signature loads the key: 0.3 s).
SIGNATURE_BYTES = 8192
CERTIFICATE_YEARS = 10


class SigningKeyMissing(Exception):
    """No usable signing key: the file is missing, or its password is wrong."""


@dataclass(frozen=True)
class SignatureCheck:
    """What a file's signature says: ``ok`` only when it is intact, covers the whole
    file, and was made with this installation's certificate."""

    ok: bool
    reason: str  # one line, English (the command line and the logs)
    signer: str | None = None
    signed_at: datetime | None = None


def make_self_signed(path: str, password: str, common_name: str, now: datetime) -> str:
    """Write a new RSA key and a self-signed certificate as PKCS#12 to ``path`` (mode
    0600; never over an existing file). Returns the certificate's SHA-256 fingerprint."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Survey platform (demo, self-signed)"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * CERTIFICATE_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # non-repudiation: what a signed report is for
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode())
        if password
        else serialization.NoEncryption()
    )
    body = pkcs12.serialize_key_and_certificates(
        common_name.encode(), key, certificate, None, encryption
    )
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(body)
    return certificate.fingerprint(hashes.SHA256()).hex()


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


_signers: dict[tuple[str, float, str], Any] = {}
_signers_lock = threading.Lock()


def _signer(path: str, password: str) -> Any:
    """pyHanko's signer of the PKCS#12 file, loaded once per file version."""
    from pyhanko.sign import signers

    try:
        modified = os.stat(path).st_mtime
    except OSError as error:
        raise SigningKeyMissing(f"no signing key at {path}: run `flask report keygen`") from error
    key = (os.path.abspath(path), modified, password)
    with _signers_lock:
        found = _signers.get(key)
    if found is not None:
        return found
    try:
        loaded = signers.SimpleSigner.load_pkcs12(path, passphrase=password.encode() or None)
    except (ValueError, TypeError) as error:  # a wrong password or not a PKCS#12 file
        raise SigningKeyMissing(f"the signing key at {path} cannot be read: {error}") from error
    if loaded is None:
        raise SigningKeyMissing(f"the signing key at {path} cannot be read (wrong password?)")
    with _signers_lock:
        _signers.clear()
        _signers[key] = loaded
    return loaded


def preload() -> None:
    """Import pyHanko's signer now, not in the first report's time."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: F401
    from pyhanko.sign import fields, signers  # noqa: F401


def installation_certificate(path: str, password: str) -> Any:
    """The certificate reports of this installation are signed with (asn1crypto)."""
    return _signer(path, password).signing_cert


def sign_pdf(pdf: bytes, path: str, password: str, *, reason: str, location: str) -> bytes:
    """``pdf`` with a certification signature of the installation's key appended."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    signer = _signer(path, password)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    metadata = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        certify=True,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
        reason=reason,
        location=location,
    )
    output = io.BytesIO()
    signers.sign_pdf(writer, metadata, signer=signer, output=output, bytes_reserved=SIGNATURE_BYTES)
    return output.getvalue()


def check_signature(pdf: bytes, path: str, password: str) -> SignatureCheck:
    """Validate the file's one signature against this installation's certificate."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    certificate = installation_certificate(path, password)
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError) as error:
        return SignatureCheck(False, f"not a readable PDF ({type(error).__name__})")
    if len(signatures) != 1:
        return SignatureCheck(False, f"expected one signature, found {len(signatures)}")
    embedded = signatures[0]
    context = ValidationContext(
        trust_roots=[certificate], allow_fetching=False, moment=datetime.now(UTC)
    )
    try:
        with _quiet("pyhanko"):  # an untrusted signer is logged as a traceback
            status = validate_pdf_signature(embedded, signer_validation_context=context)
    except Exception as error:  # noqa: BLE001 - a hostile file may break the validator anywhere
        return SignatureCheck(False, f"the signature cannot be validated ({type(error).__name__})")
    signer = status.signing_cert.subject.human_friendly if status.signing_cert else None
    if not status.intact or not status.valid:
        return SignatureCheck(False, "the signature does not match the file's contents", signer)
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        return SignatureCheck(False, "the file was changed after it was signed", signer)
    if status.signing_cert is None or status.signing_cert.dump() != certificate.dump():
        return SignatureCheck(False, "signed, but not with this installation's certificate", signer)
    if not status.trusted:
        return SignatureCheck(False, "the signing certificate is not valid now", signer)
    return SignatureCheck(True, "signature valid", signer, status.signer_reported_dt)
