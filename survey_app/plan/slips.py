"""Printing a batch of codes: a CSV and PDF slips to cut (``code_batches`` issues them).

A thousand slips are a hundred pages of WeasyPrint layout (``bench/slips.py``): large
batches are laid out in chunks of whole pages by forked worker processes, one per core,
and their PDFs joined by pypdf. The workers get plain HTML and links, never the app.
"""

from __future__ import annotations

import base64
import csv
import gc
import io
import multiprocessing
import os
import re
import struct
import zlib
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

import segno
from flask import render_template
from flask_babel import force_locale

from survey_app.models import Campaign
from survey_app.plan.code_batches import IssuedCode

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from weasyprint.document import Document

# ``member``: for a list's people (deputies, members), the drawn member's id or list
# position the slip is for (empty for a replacement slip and for schools' codes).
CSV_COLUMNS = (
    "school_code",
    "school_name",
    "stratum",
    "group",
    "reading_level",
    "code",
    "link",
    "member",
)
SLIPS_PER_PAGE = 10  # 2 × 5 on A4, cut along the dashed lines
# Below this many slips one process is as quick: each worker's fonts and PDF, and joining
# them, cost ~0.7 s of CPU (bench/slips.py).
PARALLEL_FROM = 200
# Pages a worker lays out at once (memory); batches are split evenly between the cores.
MAX_PAGES_PER_CHUNK = 50

# The template prints ``src="qr:N"``; the QR code of link N replaces it where the page is
# laid out, so that encoding the QR codes is shared between the workers too.
_QR_SRC = re.compile(r'src="qr:(\d+)"')


def link(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/r/{code}"


def codes_csv(issued: list[IssuedCode], base_url: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for entry in issued:
        school = entry.school
        writer.writerow(
            [
                school.code if school is not None else "",
                school.name if school is not None else "",
                entry.stratum,
                entry.respondent_group,
                entry.reading_level or "",
                entry.code,
                link(base_url, entry.code),
                entry.member or "",
            ]
        )
    return buffer.getvalue()


def slips_pdf(
    issued: list[IssuedCode], base_url: str, language: str, campaign: Campaign, now: datetime
) -> bytes:
    """PDF slips: a QR code of the link, the code, the link and two lines of instructions
    in ``language``, ten to an A4 page (WeasyPrint; Noto CJK for Chinese).

    Large batches are laid out in parallel chunks of whole pages (the cut lines and the
    page breaks are the same as in one piece) and joined into one PDF.
    """
    slips = _slip_data(issued, base_url)
    chunks = _chunks(slips)
    workers = min(_cpus(), len(chunks))
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return _render_pdf(_html(slips, language, campaign, now), [s["link"] for s in slips])
    htmls = [_html(chunk, language, campaign, now) for chunk in chunks]
    links = [[s["link"] for s in chunk] for chunk in chunks]
    import weasyprint  # noqa: F401  (once here, not in every worker)

    # fork: the workers start at once with WeasyPrint loaded, and lay out the HTML they
    # are given: no app context, no database (gunicorn's sync workers have one thread,
    # so no lock is held by another thread). Chunks are joined as they come back.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return _join(pool.map(_render_pdf, htmls, links))


def slips_document(
    issued: list[IssuedCode], base_url: str, language: str, campaign: Campaign, now: datetime
) -> Document:
    """The laid-out slips (pages to count or write), in this process."""
    from weasyprint import HTML

    slips = _slip_data(issued, base_url)
    html = _html(slips, language, campaign, now)
    with no_cycle_collection():
        return HTML(string=_with_qr_codes(html, [s["link"] for s in slips])).render()


def _slip_data(issued: list[IssuedCode], base_url: str) -> list[dict[str, str]]:
    """What each slip prints (plain strings: chunks of them go to the workers)."""
    return [
        {
            "code": entry.code,
            "link": link(base_url, entry.code),
            "school": entry.school.name if entry.school is not None else "",
            "member": entry.member or "",
            "group": entry.respondent_group,
        }
        for entry in issued
    ]


def _cpus() -> int:
    """Cores this process may use (its affinity, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _chunk_slips(count: int) -> int:
    """Slips per chunk: whole pages, the batch split evenly between the cores."""
    if count < PARALLEL_FROM or _cpus() < 2:
        return max(count, 1)
    pages = -(-count // SLIPS_PER_PAGE)
    per_core = -(-pages // _cpus())
    return max(1, min(MAX_PAGES_PER_CHUNK, per_core)) * SLIPS_PER_PAGE


def _chunks(slips: list[dict[str, str]]) -> list[list[dict[str, str]]]:
    size = _chunk_slips(len(slips))
    return [slips[i : i + size] for i in range(0, len(slips), size)] or [[]]


def _html(slips: list[dict[str, str]], language: str, campaign: Campaign, now: datetime) -> str:
    """The slips' page, the QR code of the n-th slip as a placeholder (``qr:n``)."""
    numbered = [{**slip, "qr": f"qr:{n}"} for n, slip in enumerate(slips)]
    pages = [numbered[i : i + SLIPS_PER_PAGE] for i in range(0, len(slips), SLIPS_PER_PAGE)]
    with force_locale(language):
        return render_template(
            "plan/slips.html", pages=pages, campaign=campaign, language=language, now=now
        )


def _render_pdf(html: str, links: list[str]) -> bytes:
    """Lay out and write one piece of slips (in a worker process, or in this one)."""
    from weasyprint import HTML

    with no_cycle_collection():
        return HTML(string=_with_qr_codes(html, links)).write_pdf()  # type: ignore[no-any-return]


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """WeasyPrint makes millions of objects: the garbage collector's passes over them
    cost a quarter of the layout, while the cycles it would free are a few MB (collected
    after, bench/slips.py)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _with_qr_codes(html: str, links: list[str]) -> str:
    return _QR_SRC.sub(lambda match: f'src="{qr_data_uri(links[int(match[1])])}"', html)


def _join(pdfs: Iterable[bytes]) -> bytes:
    """One PDF of the chunks' pages, with the first chunk's title and language."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject

    writer = PdfWriter()
    first: PdfReader | None = None
    for pdf in pdfs:
        reader = PdfReader(io.BytesIO(pdf))
        writer.append(reader, import_outline=False)
        first = first or reader
    if first is not None:
        if first.metadata:
            writer.add_metadata(dict(first.metadata))
        language = first.root_object.get("/Lang")
        if language is not None:
            writer.root_object[NameObject("/Lang")] = language
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def qr_data_uri(text: str) -> str:
    """The link as a QR code (a PNG data URI, one pixel a module, drawn sharp by CSS).

    The mask is fixed: segno otherwise scores all eight, which is a third of the time
    of a thousand slips; any mask gives a valid code that phones read. The PNG is 8-bit
    grey, which WeasyPrint embeds as it is (segno's 1-bit PNG it converts to RGB first).
    """
    code = segno.make(text, error="m", mask=2, micro=False, boost_error=False)
    rows = [bytes(0 if dark else 255 for dark in row) for row in code.matrix]
    return "data:image/png;base64," + base64.b64encode(_grey_png(rows)).decode("ascii")


def _grey_png(rows: list[bytes]) -> bytes:
    """An 8-bit greyscale PNG of these rows of pixels (no filter: the images are tiny)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", len(rows[0]), len(rows), 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + row for row in rows), 6)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
