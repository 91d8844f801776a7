"""The anonymous response data of a campaign as files for the evaluators: CSV, XLSX, SPSS
``.sav`` and a reproducibility bundle (the data, the report and an R script that redoes
the report's main figures with R's ``survey`` package).

One row per response **kept for the analysis** (the loader's rows; responses set aside
because they cannot be weighted are not in it), with the columns

``stratum``
    the sampling stratum's code (``rural-primary``, ``list-deputy``, ``area-town`` …);
``school``
    the school's code (学校标识码), empty for lists and open links;
``group``
    the respondent group (``student``, ``parent`` … ``resident``);
``questionnaire``, ``version``
    the questionnaire key and the version the response answered;
``weight``
    the final analysis weight, exactly the loader's (1/π of the school × the group's
    population over its respondents there; N/m for a list; the area's residents / m for
    an open link);
``psu``
    the primary sampling unit of the design: the school's code for schools' groups; for
    lists and open links each respondent is a unit of their own, labelled
    ``<stratum>-<n>`` (a running number of the export, not a response id);
``pi``
    the first-stage inclusion probability of the row's PSU, as R's
    ``svydesign(fpc=~pi+f2, pps="brewer")`` takes it: the school's π (a substitute
    carries the π of the school it replaced; 1 for a school taken with certainty); for
    a list m/N (its respondents over the list's size); 1e-300 for an open link (no
    frame: no finite-population correction, 1 − π is exactly 1);
``f2``
    the second-stage sampling fraction within the PSU: m/M, the group's respondents at
    the school over its population there (the same m and M as the weight); 1 for lists
    and open links (each respondent is a PSU of their own);

then one column per item, ``<questionnaire>.<item id>``, holding the option code the
respondent chose (0 = 不了解), empty where the item was not asked.

What is not in any export: no code or anything derived from one, no response id (rows
are sorted by their cell and answers, not by arrival; a PSU's rows are together, in
stratum and PSU order, as R's ``svydesign`` pairs each PSU with its π), no time (not
even the minute of submission), no comment (free text can name people), no language or
duration. Keep the files with the same care as the database: a group of one per school
(the principal) is identified by its school.

In CSV, text that a spreadsheet would take for a formula (starting with ``=``, ``+``,
``-``, ``@``) gets a leading ``'``; in XLSX every text cell is stored as text.

Plain functions that return bytes; :func:`export_campaign` also records the export in
the campaign's audit log (``data_exported``) and leaves the commit to its caller.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from questionnaires import load_version
from survey_app.downloads import spreadsheet_text
from survey_app.models import Campaign
from survey_app.plan import audit
from survey_app.results.evaluation import (
    NoResponses,
    evaluate_campaign,
)
from survey_app.results.loader import CampaignData, load_campaign

FIXED_COLUMNS = (
    "stratum",
    "school",
    "group",
    "questionnaire",
    "version",
    "weight",
    "psu",
    "pi",
    "f2",
)
FORMATS = ("csv", "xlsx", "sav", "bundle")
LANGUAGE = "zh_Hans"  # labels in the files
XLSX_MAX_ROWS = 1_048_575  # Excel's sheet, less the header
MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "sav": "application/x-spss-sav",
    "bundle": "application/zip",
}
FIXED_LABELS = {
    "stratum": "抽样层 (stratum)",
    "school": "学校标识码 (school code)",
    "group": "调查对象群体 (respondent group)",
    "questionnaire": "问卷 (questionnaire)",
    "version": "问卷版本 (questionnaire version)",
    "weight": "最终分析权重 (final analysis weight)",
    "psu": "初级抽样单位 (primary sampling unit)",
    "pi": "初级抽样单位的入样概率 π (pi: first-stage inclusion probability of the PSU)",
    "f2": "第二阶段抽样比 m/M (f2: second-stage sampling fraction within the PSU)",
}

Cell = str | int | float | None


class ExportTooLarge(Exception):
    """More responses than the format holds (XLSX: one sheet of Excel's rows)."""


@dataclass(frozen=True)
class ItemInfo:
    column: str  # <questionnaire>.<item id>
    questionnaire: str
    item_id: str
    area: str
    text: str  # the question in LANGUAGE
    labels: dict[int, str]  # option code → label in LANGUAGE (0 = 不了解)


@dataclass(frozen=True)
class ExportTable:
    """The rows of an export (plain values: text, int, float, None for empty)."""

    columns: tuple[str, ...]
    rows: list[tuple[Cell, ...]]
    items: tuple[ItemInfo, ...]
    versions: tuple[tuple[str, int], ...]  # questionnaire versions answered


@dataclass(frozen=True)
class Exported:
    body: bytes
    filename: str
    mimetype: str
    responses: int


def export_campaign(campaign: Campaign, fmt: str) -> Exported:
    """The campaign's data in ``fmt`` (one of :data:`FORMATS`), recorded in the audit
    log. Raises :class:`NoResponses` when no response can be weighted,
    :class:`ExportTooLarge` when the format cannot hold them."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    if fmt == "bundle":
        evaluation = evaluate_campaign(campaign)
        table = export_table(campaign, evaluation.data)
        from survey_app.results.bundle import bundle_bytes  # it builds on this module

        body = bundle_bytes(table, evaluation)
    else:
        table = export_table(campaign)
        body = {"csv": csv_bytes, "xlsx": xlsx_bytes, "sav": sav_bytes}[fmt](table)
    audit.record(campaign, "data_exported", {"format": fmt, "responses": len(table.rows)})
    return Exported(body, export_filename(campaign, fmt), MIMETYPES[fmt], len(table.rows))


def export_filename(campaign: Campaign, fmt: str) -> str:
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in campaign.key)
    extension = "zip" if fmt == "bundle" else fmt
    stem = "reproduce" if fmt == "bundle" else "responses"
    return f"{safe}-{stem}.{extension}"


# --- the rows ------------------------------------------------------------------------


def export_table(campaign: Campaign, data: CampaignData | None = None) -> ExportTable:
    """The loader's rows with their raw option codes, in an order that says nothing of
    when each was stored."""
    if data is None:
        data = load_campaign(campaign)
    if data.n == 0:
        raise NoResponses(f"campaign {campaign.key} has no responses to export")
    unsorted = []
    for index in range(data.n):
        unsorted.append(
            (
                str(data.strata[index]),
                str(data.school_codes[index]),
                str(data.groups[index]),
                str(data.questionnaires[index]),
                int(data.versions[index]),
                float(data.weights[index]),
                float(data.pi[index]),
                float(data.f2[index]),
                tuple(int(c) for c in data.codes[index]),
            )
        )
    # Not arrival order; by stratum and school first, so that a PSU's rows are together.
    unsorted.sort(key=lambda r: (r[0], r[1], r[2], r[3], r[4], r[8]))
    rows: list[tuple[Cell, ...]] = []
    numbered: Counter[str] = Counter()
    for stratum, school, group, key, version, weight, pi, f2, answered in unsorted:
        if school:
            psu = school
        else:
            numbered[stratum] += 1
            psu = f"{stratum}-{numbered[stratum]}"
        rows.append(
            (
                stratum,
                school or None,
                group,
                key,
                version,
                weight,
                psu,
                _fraction_cell(pi),
                _fraction_cell(f2),
                *(None if code < 0 else code for code in answered),
            )
        )
    versions = tuple(
        sorted({(str(k), int(v)) for k, v in zip(data.questionnaires, data.versions, strict=True)})
    )
    return ExportTable(
        columns=(*FIXED_COLUMNS, *data.items),
        rows=rows,
        items=_item_infos(data),
        versions=versions,
    )


def _fraction_cell(fraction: float) -> Cell:
    """1 (a certainty, a census) as the integer 1, any other fraction as it is."""
    return 1 if fraction == 1 else fraction


def _item_infos(data: CampaignData) -> tuple[ItemInfo, ...]:
    infos = []
    for name, source in zip(data.items, data.item_versions, strict=True):
        key = source[0]
        item_id = name[len(key) + 1 :]
        item = load_version(*source).item(item_id)
        infos.append(
            ItemInfo(
                column=name,
                questionnaire=key,
                item_id=item_id,
                area=item.area,
                text=item.text(LANGUAGE),
                labels={option.code: option.label(LANGUAGE) for option in item.all_options()},
            )
        )
    return tuple(infos)


# --- CSV, XLSX, SAV ----------------------------------------------------------------


def _text_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as the same double
    return spreadsheet_text(value) if isinstance(value, str) else str(value)


def csv_bytes(table: ExportTable) -> bytes:
    """UTF-8 with a byte-order mark, so that Excel (zh-CN) opens it as UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow([_text_cell(value) for value in row])
    return out.getvalue().encode("utf-8-sig")


def xlsx_bytes(table: ExportTable) -> bytes:
    """Sheet ``data`` (the rows) and sheet ``items`` (each item's question and options)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    if len(table.rows) > XLSX_MAX_ROWS:
        raise ExportTooLarge(
            f"{len(table.rows)} responses are more than an Excel sheet holds: use csv or sav"
        )
    book = Workbook(write_only=True)
    sheet = book.create_sheet("data")

    def cells(values: tuple[Cell, ...] | list[Cell]) -> list[Any]:
        out: list[Any] = []
        for value in values:
            if isinstance(value, str):
                cell = WriteOnlyCell(sheet, value=value)
                cell.data_type = "s"  # never a formula
                out.append(cell)
            else:
                out.append(value)
        return out

    sheet.append(cells(list(table.columns)))
    for row in table.rows:
        sheet.append(cells(row))
    codebook = book.create_sheet("items")
    codebook.append(["item", "area", "question", "options"])
    for info in table.items:
        options = "; ".join(f"{code} = {label}" for code, label in info.labels.items())
        codebook.append([info.column, info.area, info.text, options])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def sav_bytes(table: ExportTable) -> bytes:
    """SPSS: variable labels (the question in zh_Hans), value labels (the options;
    0 = 不了解, not declared missing); empty cells are system-missing."""
    import pandas as pd
    import pyreadstat

    frame = pd.DataFrame.from_records(table.rows, columns=list(table.columns))
    for name in ("stratum", "school", "group", "questionnaire", "psu"):
        frame[name] = frame[name].fillna("").astype(object)
    numeric = ["version", "weight", "pi", "f2", *(info.column for info in table.items)]
    for name in numeric:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    labels = {name: FIXED_LABELS[name] for name in FIXED_COLUMNS}
    labels |= {info.column: info.text for info in table.items}
    formats = {"version": "F4.0", "weight": "F18.6", "pi": "F12.10", "f2": "F12.10"}
    formats |= {info.column: "F2.0" for info in table.items}
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "data.sav")
        pyreadstat.write_sav(
            frame,
            path,
            column_labels=[labels[name] for name in table.columns],
            variable_value_labels={
                info.column: {float(code): label for code, label in info.labels.items()}
                for info in table.items
            },
            variable_format=formats,
        )
        return Path(path).read_bytes()
