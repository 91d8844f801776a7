"""PDF slips laid out in chunks by worker processes and joined: one PDF, every code on
its page, every QR code the link of its slip (``bench/slips.py`` measures the speed)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
import segno
from pypdf import PdfReader

from survey_app.plan import slips
from survey_app.plan.code_batches import IssuedCode
from tests.factories import make_campaign, make_codes, make_school

NOW = datetime(2026, 12, 2, tzinfo=UTC)
BASE_URL = "https://x.test"


@pytest.fixture
def batch(app_ctx):
    """23 parent codes of one school: three pages, the last with three slips."""
    campaign = make_campaign(open_now=False)
    school = make_school(campaign, code="P1")
    issued = [IssuedCode(school, "parent", None, code) for code in make_codes(school, n=23)]
    return campaign, issued


def qr_pixels(text: str) -> bytes:
    """The grey pixels of the QR code of ``text``, one a module, as the slips draw it."""
    code = segno.make(text, error="m", mask=2, micro=False, boost_error=False)
    return bytes(0 if dark else 255 for row in code.matrix for dark in row)


def test_slips_laid_out_in_chunks_are_one_pdf_with_every_code(app, batch, monkeypatch):
    campaign, issued = batch
    monkeypatch.setattr(slips, "_cpus", lambda: 2)
    monkeypatch.setattr(slips, "PARALLEL_FROM", 0)
    monkeypatch.setattr(slips, "MAX_PAGES_PER_CHUNK", 1)  # a chunk a page: 3 chunks
    joined: list[int] = []
    join = slips._join

    def counting_join(pdfs):
        pdfs = list(pdfs)
        joined.append(len(pdfs))
        return join(pdfs)

    monkeypatch.setattr(slips, "_join", counting_join)
    with app.test_request_context():
        pdf = slips.slips_pdf(issued, BASE_URL, "zh_Hans", campaign, NOW)
    assert joined == [3]
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 3  # 10 + 10 + 3
    assert reader.metadata is not None
    assert reader.metadata.title == f"{campaign.county_name} · {campaign.key}"
    assert reader.root_object["/Lang"] == "zh-Hans"
    for number, page in enumerate(reader.pages):
        on_page = issued[number * 10 : number * 10 + 10]
        text = page.extract_text()
        for entry in on_page:
            assert entry.code in text
            assert slips.link(BASE_URL, entry.code) in text
        assert "扫描二维码" in text
        images = {image.image.convert("L").tobytes() for image in page.images}
        assert images == {qr_pixels(slips.link(BASE_URL, e.code)) for e in on_page}


def test_a_small_batch_is_laid_out_in_this_process(app, batch, monkeypatch):
    campaign, issued = batch

    def no_workers(*args, **kwargs):
        raise AssertionError("a small batch started worker processes")

    monkeypatch.setattr(slips, "_cpus", lambda: 2)
    monkeypatch.setattr(slips, "ProcessPoolExecutor", no_workers)
    assert len(issued) < slips.PARALLEL_FROM
    with app.test_request_context():
        pdf = slips.slips_pdf(issued, BASE_URL, "ug", campaign, NOW)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 3
    assert all(entry.code in reader.pages[2].extract_text() for entry in issued[20:])


def test_a_large_batch_is_split_evenly_between_the_cores(monkeypatch):
    monkeypatch.setattr(slips, "_cpus", lambda: 2)
    assert slips._chunk_slips(1000) == 500  # 50 pages a core
    assert slips._chunk_slips(995) == 500  # whole pages: 50 + 50 (the last 5 slips short)
    assert slips._chunk_slips(5000) == slips.MAX_PAGES_PER_CHUNK * slips.SLIPS_PER_PAGE
    assert slips._chunk_slips(slips.PARALLEL_FROM - 1) == slips.PARALLEL_FROM - 1  # one piece
    monkeypatch.setattr(slips, "_cpus", lambda: 1)
    assert slips._chunk_slips(1000) == 1000
