"""The signed certification report: its text and figures, glyphs that print, a signature
that validates and breaks at one changed byte, the command line and ``/verify``."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from survey_app.auth import services as auth_services
from survey_app.extensions import db
from survey_app.models import AuditEvent, CertificationReport
from survey_app.results import page as results_page
from survey_app.results import report, report_jobs
from survey_app.results.report_signing import make_self_signed
from tests.app.conftest import EVALUATOR_PASSWORD, csrf_token, pdf_text
from tests.app.test_report_jobs import InlineJobs
from tests.factories import replace_a_drawn_school

HEADINGS = (
    "Certification report on social recognition",
    "Summary",
    "By respondent group",
    "By content area",
    "By item",
    "Responses and coverage",
    "Appendix: methodology",
    "Sign-off",
)
CJK = re.compile(r"[\u4e00-\u9fff]")


def _issue(app, campaign, signing) -> CertificationReport:
    results_page.forget()
    found = report.issue_report(
        campaign,
        signing,
        base_url="http://survey.test",
        min_n=app.config["RESULTS_MIN_N"],
        now=datetime.now(UTC),
    )
    db.session.flush()
    return found


@pytest.fixture
def issued(app, surveyed_county, signing) -> CertificationReport:
    return _issue(app, surveyed_county, signing)


def _flipped(pdf: bytes) -> bytes:
    """The file with one byte of its content (not the signature) changed."""
    changed = bytearray(pdf)
    at = len(pdf) // 3
    changed[at] ^= 0x01
    return bytes(changed)


def test_the_pdf_holds_the_chinese_headings_and_the_figures_computed(issued, surveyed_county):
    text = pdf_text(issued.pdf)
    squeezed = re.sub(r"\s+", "", text)
    found = issued.evaluation
    assert found["county"]["estimate"] is not None
    for key in ("estimate", "ci_low", "ci_high"):
        assert f"{100 * found['county'][key]:.1f}%" in text
    for group in found["groups"]:
        if group["n"] >= 10:
            assert f"{100 * group['estimate']:.1f}%" in text
    with force_locale("zh_Hans"):
        headings = [_(heading) for heading in HEADINGS]
        groups = [_("Parent"), _("Student"), _("People's congress deputy")]
    for heading in headings:
        assert re.sub(r"\s+", "", heading) in squeezed, heading
    for label in ("测试县", "学生", "家长", "人大代表", *groups):
        assert label in squeezed, label
    assert CJK.search(text)
    assert "抽样设计提示" not in squeezed  # the platform's design raises no caveat
    assert issued.public_id in squeezed
    assert "http://survey.test/verify/" + issued.public_id in squeezed
    assert issued.sha256 == report.sha256_hex(issued.pdf)


def test_the_report_lists_the_changes_to_the_frozen_plan_with_their_reasons(
    app, issued, surveyed_county, signing
):
    squeezed = re.sub(r"\s+", "", pdf_text(issued.pdf))
    assert "抽样后未替换学校，也未更正总体人数。" in squeezed
    done = replace_a_drawn_school(surveyed_county, "rural-primary", "学校整体搬迁，无法组织调查")
    found = _issue(app, surveyed_county, signing)
    squeezed = re.sub(r"\s+", "", pdf_text(found.pdf))
    assert "抽样方案变更" in squeezed
    assert "替换学校" in squeezed
    assert "学校整体搬迁，无法组织调查" in squeezed
    assert f"学校：{done.refused.school.code}" in squeezed
    assert f"替补学校：{done.substitute.school.code}" in squeezed
    assert "抽样后未替换学校" not in squeezed


def test_a_design_caveat_is_printed_in_chinese(first_stage_only, app, surveyed_county, signing):
    """A design that ``analysis`` flags (here Brewer without the second stage): the
    caveat is in the report, translated (labels.py), not in its English."""
    found = _issue(app, surveyed_county, signing)
    squeezed = re.sub(r"\s+", "", pdf_text(found.pdf))
    assert "抽样设计提示" in squeezed
    assert "Design caveat" not in squeezed


def test_a_rendered_page_has_dark_cjk_glyphs(issued, tmp_path):
    """The county's name on the cover (Noto CJK), rasterised by poppler: dark pixels
    where pdftotext says the word is, not blank boxes or a missing font."""
    if shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None:
        pytest.fail("poppler-utils is missing: ./dev setup installs it")
    from PIL import Image

    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(issued.pdf)
    layout = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", "-bbox", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    page = re.search(r'<page width="([\d.]+)" height="([\d.]+)"', layout)
    words = re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
        layout,
    )
    boxes = [tuple(map(float, w[:4])) for w in words if "测试县" in w[4]]
    assert page, layout[:2000]
    assert boxes, layout[:2000]
    dpi = 100
    subprocess.run(
        [
            "pdftoppm",
            "-f",
            "1",
            "-l",
            "1",
            "-r",
            str(dpi),
            "-gray",
            "-png",
            str(pdf),
            str(tmp_path / "p"),
        ],
        check=True,
    )
    (png,) = tmp_path.glob("p*.png")
    image = Image.open(png).convert("L")
    scale = dpi / 72
    x0, y0, x1, y1 = (round(v * scale) for v in boxes[0])
    pixels = image.crop((x0, y0, x1, y1)).tobytes()
    dark = sum(1 for value in pixels if value < 96)
    assert dark > 0.08 * len(pixels), (dark, len(pixels))
    everywhere = image.tobytes()
    assert sum(1 for value in everywhere if value < 96) < 0.2 * len(everywhere)


def test_the_signature_validates_and_fails_after_a_one_byte_change(issued, signing):
    genuine = report.check_file(issued.pdf, signing)
    assert genuine.genuine, genuine.reason
    assert genuine.report is not None
    assert genuine.report.public_id == issued.public_id
    changed = report.check_file(_flipped(issued.pdf), signing)
    assert not changed.genuine
    appended = report.check_file(issued.pdf + b"%\n", signing)
    assert not appended.genuine
    assert "changed" in appended.reason
    if shutil.which("pdfsig"):  # poppler, independently of pyHanko
        checked = subprocess.run(
            ["pdfsig", "-"], input=issued.pdf, capture_output=True, check=False
        )
        output = checked.stdout.decode()
        if "Signature Validation" in output:
            assert "Signature is Valid" in output
            assert "Total document signed" in output


def test_a_file_signed_with_another_key_is_not_genuine(issued, tmp_path, signing):
    other = tmp_path / "other.p12"
    make_self_signed(str(other), "", "Someone else", datetime.now(UTC))
    check = report.check_file(issued.pdf, report.SigningKey(str(other), ""))
    assert not check.genuine
    assert "certificate" in check.reason


def test_the_command_line_makes_and_verifies(runner, surveyed_county, signing, tmp_path):
    out = tmp_path / "report.pdf"
    made = runner.invoke(
        args=["report", "make", "--campaign", surveyed_county.key, "--out", str(out)]
    )
    assert made.exit_code == 0, made.output
    stored = db.session.scalar(
        select(CertificationReport).where(CertificationReport.campaign_id == surveyed_county.id)
    )
    assert stored is not None
    assert stored.issued_by == "command line"
    assert out.read_bytes() == stored.pdf
    genuine = runner.invoke(args=["report", "verify", str(out)])
    assert genuine.exit_code == 0, genuine.output
    assert stored.public_id in genuine.output
    changed = tmp_path / "changed.pdf"
    changed.write_bytes(_flipped(out.read_bytes()))
    refused = runner.invoke(args=["report", "verify", str(changed)])
    assert refused.exit_code == 1
    assert refused.output.startswith("NOT GENUINE:")
    assert len(refused.output.strip().splitlines()) == 1
    unknown = runner.invoke(args=["report", "make", "--campaign", "nope", "--out", str(out)])
    assert unknown.exit_code == 2
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.campaign_id == surveyed_county.id)
    ).all()
    assert report.ISSUED in actions


def test_keygen_writes_a_key_once(runner, tmp_path):
    path = tmp_path / "key.p12"
    first = runner.invoke(args=["report", "keygen", "--out", str(path)])
    assert first.exit_code == 0, first.output
    assert path.stat().st_mode & 0o077 == 0
    again = runner.invoke(args=["report", "keygen", "--out", str(path)])
    assert again.exit_code == 2


def test_verify_page_tells_whether_an_upload_matches(client, issued):
    page = client.get(f"/verify/{issued.public_id}")
    assert page.status_code == 200
    assert issued.sha256 in page.text
    token = csrf_token(page.text)

    def upload(body: bytes):
        """A browser's multipart body, encoded here: werkzeug's test client leaves the
        temporary file of a body over 500 KB open."""
        boundary = "report-boundary-7d2f"
        parts = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
                f"{token}\r\n--{boundary}\r\n"
                'Content-Disposition: form-data; name="file"; filename="report.pdf"\r\n'
                "Content-Type: application/pdf\r\n\r\n"
            ).encode()
            + body
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return client.post(
            f"/verify/{issued.public_id}",
            data=parts,
            content_type=f"multipart/form-data; boundary={boundary}",
        )

    same = upload(issued.pdf)
    assert same.status_code == 200
    assert 'class="outcome matches"' in same.text
    changed = upload(_flipped(issued.pdf))
    assert changed.status_code == 200
    assert 'class="outcome differs"' in changed.text
    missing = client.post(f"/verify/{issued.public_id}", data={"csrf_token": token})
    assert missing.status_code == 400
    assert client.get("/verify/no-such-report-id-at-all").status_code == 404
    assert client.get("/verify/" + "x" * 300).status_code == 404
    assert client.get("/verify/x%00y").status_code == 404  # PostgreSQL cannot compare NUL


def test_evaluators_issue_list_and_download_reports(evaluator, surveyed_county, signing):
    """The button starts a job (here the in-process one, run at once: see
    test_report_jobs.py for the progress page, the thread and RQ), then the report is
    listed and downloaded as stored."""
    evaluator.application.extensions[report_jobs.EXTENSION] = InlineJobs()
    try:
        page = evaluator.get(f"/results/{surveyed_county.key}/")
        token = csrf_token(page.text)
        reply = evaluator.post(f"/results/{surveyed_county.key}/report", data={"csrf_token": token})
    finally:
        del evaluator.application.extensions[report_jobs.EXTENSION]
    assert reply.status_code == 303, reply.text[:500]
    assert "/report/jobs/" in reply.location
    stored = db.session.scalar(
        select(CertificationReport).where(CertificationReport.campaign_id == surveyed_county.id)
    )
    assert stored is not None
    assert stored.issued_by == "eval@example.org"
    listed = evaluator.get(f"/results/{surveyed_county.key}/").text
    assert stored.public_id in listed
    again = evaluator.post(
        f"/results/{surveyed_county.key}/reports/download",
        data={"csrf_token": token, "report": stored.public_id},
    )
    assert again.status_code == 200
    assert again.data == stored.pdf
    assert report.sha256_hex(again.data) == stored.sha256
    unknown = evaluator.post(
        f"/results/{surveyed_county.key}/reports/download",
        data={"csrf_token": token, "report": "nope"},
    )
    assert unknown.status_code == 404
    events = db.session.execute(
        select(AuditEvent.action, AuditEvent.actor, AuditEvent.details).where(
            AuditEvent.campaign_id == surveyed_county.id
        )
    ).all()
    assert (report.ISSUED, "eval@example.org") in [(a, who) for a, who, _d in events]
    downloads = [d for a, _w, d in events if a == report.DOWNLOADED]
    assert downloads == [{"report": stored.public_id}]


def test_issuing_without_a_signing_key_is_refused(app, evaluator, surveyed_county, monkeypatch):
    monkeypatch.setitem(app.config, "REPORT_SIGNING_P12", "/nonexistent/signing.p12")
    token = csrf_token(evaluator.get(f"/results/{surveyed_county.key}/").text)
    reply = evaluator.post(f"/results/{surveyed_county.key}/report", data={"csrf_token": token})
    assert reply.status_code == 503
    assert db.session.scalar(select(CertificationReport)) is None


def test_a_supervisor_may_not_issue_a_report(app, client, surveyed_county, signing):
    auth_services.create_user(
        "sup@example.org", "supervisor", EVALUATOR_PASSWORD, [surveyed_county.key]
    )
    db.session.commit()
    token = csrf_token(client.get("/staff/login").text)
    data = {"csrf_token": token, "email": "sup@example.org", "password": EVALUATOR_PASSWORD}
    assert client.post("/staff/login", data=data).status_code == 302
    token = csrf_token(client.get("/staff/").text)
    reply = client.post(f"/results/{surveyed_county.key}/report", data={"csrf_token": token})
    assert reply.status_code == 403
    reply = client.post(
        f"/results/{surveyed_county.key}/reports/download",
        data={"csrf_token": token, "report": "x"},
    )
    assert reply.status_code == 403
    assert db.session.scalar(select(CertificationReport)) is None


def test_the_report_template_has_no_text_outside_gettext():
    """Headings come from the catalogs (zh_Hans in the PDF), not typed in the template."""
    template = Path(__file__).resolve().parents[2] / "templates" / "results" / "report.html"
    body = re.sub(r"<style>.*?</style>", "", template.read_text(), flags=re.S)
    for heading in re.findall(r"<h[123][^>]*>([^<{]+)<", body):
        assert not heading.strip(), heading
