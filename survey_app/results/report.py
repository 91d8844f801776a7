"""The certification report (认定报告) of a campaign: the evaluation as a signed PDF.

One report is the numbers of the results page (``page.build_page``, the same
``evaluation_json``) laid out by WeasyPrint in zh_Hans with Noto CJK: a cover with the
verdict, a summary, the group, content-area, location, school-level and item tables with
their interval charts (SVG, readable in black and white), responses and coverage by
stratum, a methodology appendix (design and seed, weights, estimator, interval, verdict
rule, software versions) and a sign-off block. The PDF is signed with the installation's
key (``report_signing.py``) and stored with the SHA-256 of the signed bytes; its QR code
links to ``/verify/<public id>``, where anyone holding the file can check it.

Services here flush and never commit: the request (or ``committed()`` on the command
line) decides.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from survey_app.extensions import db
from survey_app.models import (
    Campaign,
    CertificationReport,
)
from survey_app.plan import audit
from survey_app.results import report_layout
from survey_app.results.page import build_page
from survey_app.results.report_signing import (
    SignatureCheck,
    check_signature,
    installation_certificate,
    sign_pdf,
)
from survey_app.untrusted import is_url_token

VERIFY_PATH = "/verify"
PUBLIC_ID_BYTES = 16
MAX_PUBLIC_ID = 64  # a longer one names no report (and is not looked up)
ISSUED = "report_issued"
DOWNLOADED = "report_downloaded"
# Told the stage a report's making has reached (report_jobs shows it on the progress page).
Progress = Callable[[str], None]


@dataclass(frozen=True)
class SigningKey:
    """Where the installation's PKCS#12 file is, and its password ("" for none)."""

    path: str
    password: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SigningKey:
        return cls(
            str(config["REPORT_SIGNING_P12"]), str(config.get("REPORT_SIGNING_PASSWORD") or "")
        )


@dataclass(frozen=True)
class FileCheck:
    """Whether a file is a genuine, unchanged report of this platform, and why not."""

    genuine: bool
    reason: str
    report: CertificationReport | None = None
    signature: SignatureCheck | None = None


def new_public_id() -> str:
    return secrets.token_urlsafe(PUBLIC_ID_BYTES)


def verify_url(base_url: str, public_id: str) -> str:
    return f"{base_url.rstrip('/')}{VERIFY_PATH}/{public_id}"


def sha256_hex(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class PreparedReport:
    """A report evaluated, laid out and signed, not yet stored (``store_report``)."""

    public_id: str
    issued_at: datetime
    issued_by: str
    evaluation: dict[str, Any]
    pdf: bytes


def issue_report(campaign: Campaign, key: SigningKey, **options: Any) -> CertificationReport:
    """Evaluate, lay out, sign and store a report (``prepare_report``, whose keyword
    arguments these are, then ``store_report``); the issue goes to the audit log.

    Raises ``NoResponses`` (nothing to evaluate) and ``SigningKeyMissing``.
    """
    return store_report(campaign, prepare_report(campaign, key, **options))


def prepare_report(
    campaign: Campaign,
    key: SigningKey,
    *,
    base_url: str,
    min_n: int,
    now: datetime,
    issued_by: str | None = None,
    progress: Progress | None = None,
) -> PreparedReport:
    """The signed PDF of the campaign's results as they are now; reads only, so that a
    background job can let go of its (SQLite) transaction before it stores the file.

    ``progress`` is told each stage as it begins: ``loading`` (the responses and the
    evaluation), ``computing`` (the breakdowns), ``laying_out`` and ``signing``.
    Raises ``NoResponses`` (nothing to evaluate) and ``SigningKeyMissing``.
    """
    tell = progress or _silent
    certificate = installation_certificate(key.path, key.password)  # fails before the work
    tell("loading")
    page = build_page(campaign, progress=tell)
    public_id = new_public_id()
    who = issued_by or audit.actor()
    tell("laying_out")
    html = report_layout.report_html(
        campaign,
        page,
        public_id=public_id,
        issued_at=now,
        issued_by=who,
        verify_link=verify_url(base_url, public_id),
        min_n=min_n,
        signer=certificate.subject.human_friendly,
        fingerprint=certificate.sha256.hex(),
    )
    unsigned = report_layout.render_pdf(html, verify_url(base_url, public_id))
    tell("signing")
    pdf = sign_pdf(
        unsigned,
        key.path,
        key.password,
        reason=f"Certification report {public_id} of campaign {campaign.key}",
        location=base_url,
    )
    return PreparedReport(public_id, now, who, page.found, pdf)


def store_report(campaign: Campaign, prepared: PreparedReport) -> CertificationReport:
    """Keep the signed file with its hash and evaluation; the issue goes to the audit log
    in the name of whoever issued it."""
    report = CertificationReport(
        public_id=prepared.public_id,
        campaign_id=campaign.id,
        issued_at=prepared.issued_at,
        issued_by=prepared.issued_by,
        sha256=sha256_hex(prepared.pdf),
        evaluation=prepared.evaluation,
        pdf=prepared.pdf,
    )
    db.session.add(report)
    db.session.flush()
    details = {"report": prepared.public_id, "sha256": report.sha256, "bytes": len(prepared.pdf)}
    audit.record(campaign, ISSUED, details, by=prepared.issued_by)
    return report


def _silent(stage: str) -> None:
    """No one is watching the stages (the command line, the tests)."""


def issued_reports(campaign: Campaign) -> list[CertificationReport]:
    """The campaign's reports, newest first (their PDFs are not read)."""
    query = select(CertificationReport).where(CertificationReport.campaign_id == campaign.id)
    return list(
        db.session.scalars(
            query.order_by(CertificationReport.issued_at.desc(), CertificationReport.id.desc())
        )
    )


def report_of(public_id: str, campaign: Campaign | None = None) -> CertificationReport | None:
    if not is_url_token(public_id, max_length=MAX_PUBLIC_ID):
        return None
    query = select(CertificationReport).where(CertificationReport.public_id == public_id)
    if campaign is not None:
        query = query.where(CertificationReport.campaign_id == campaign.id)
    return db.session.scalar(query)


def download(campaign: Campaign, report: CertificationReport) -> bytes:
    """The stored bytes of an issued report; the download goes to the audit log."""
    audit.record(campaign, DOWNLOADED, {"report": report.public_id})
    return report.pdf


def matches(report: CertificationReport, body: bytes) -> bool:
    """Whether ``body`` is, byte for byte, the file issued as ``report``."""
    return hmac.compare_digest(sha256_hex(body), report.sha256)


def check_file(body: bytes, key: SigningKey) -> FileCheck:
    """A file is genuine when its signature is intact, covers the whole file and is
    this installation's, and its hash is that of a report issued here."""
    signature = check_signature(body, key.path, key.password)
    if not signature.ok:
        return FileCheck(False, signature.reason, signature=signature)
    report = db.session.scalar(
        select(CertificationReport).where(CertificationReport.sha256 == sha256_hex(body))
    )
    if report is None:
        return FileCheck(
            False, "signed by this installation, but not a report it issued", None, signature
        )
    return FileCheck(True, "genuine and unchanged", report, signature)


def filename(campaign: Campaign, report: CertificationReport) -> str:
    return f"report-{campaign.key}-{report.issued_at:%Y%m%d}-{report.public_id[:8]}.pdf"
