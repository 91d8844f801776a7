"""Importing a county's school frame from CSV or XLSX, all or nothing.

The file has a header row and one row per school: ``school_code, name, level,
location, enrolment, teachers`` and, optionally, pupils per grade (``grade_1`` …
``grade_9``). The Chinese headers of the education statistics forms (学校标识码, 学校名称,
学段, 城乡类别, 在校生数, 教师数, 一年级 … 九年级) are accepted too, and so are the Chinese
names of levels and locations (小学, 初中, 九年一贯制学校, 教学点; 城区, 镇区, 乡村). Other columns
are ignored. CSV may be UTF-8 (with or without BOM) or GB18030/GBK, as Excel in China
saves it.

Every problem is reported with its line as a text editor counts them (the header is
line 1), the column and the reason, e.g. ``line 7, enrolment: not a whole number ≥ 0``;
nothing is imported until the file has none. Importing again replaces the frame while
the campaign is in preparation and no code has been issued; after that it is refused.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass

from sqlalchemy import delete, func, select

from survey_app.extensions import db
from survey_app.models import Campaign, SamplingPlan, School, Stratum
from survey_app.plan import audit
from survey_app.plan.code_batches import codes_issued
from survey_app.untrusted import clean_text
from survey_app.vocabulary import LOCATIONS, SCHOOL_LEVELS

MAX_ROWS = 20_000  # a county has hundreds of schools; a province a few tens of thousands
GRADES = tuple(str(grade) for grade in range(1, 10))
_CHINESE_GRADES = ("一", "二", "三", "四", "五", "六", "七", "八", "九")

# Canonical column → the headers accepted for it (compared without case and spaces).
COLUMNS: dict[str, tuple[str, ...]] = {
    "school_code": ("school_code", "学校标识码", "学校代码", "學校標識碼"),
    "name": ("name", "学校名称", "學校名稱"),
    "level": ("level", "学段", "学校类型", "办学类型", "學段"),
    "location": ("location", "城乡类别", "城乡", "城鄉類別"),
    "enrolment": ("enrolment", "enrollment", "在校生数", "学生数", "在校生數"),
    "teachers": ("teachers", "教师数", "专任教师数", "教師數"),
}
for _grade, _chinese in zip(GRADES, _CHINESE_GRADES, strict=True):
    COLUMNS[f"grade_{_grade}"] = (f"grade_{_grade}", f"{_chinese}年级", f"{_chinese}年級")
REQUIRED = ("school_code", "name", "level", "location", "enrolment", "teachers")

LEVEL_NAMES = {
    **{level: level for level in SCHOOL_LEVELS},
    "小学": "primary",
    "小學": "primary",
    "初中": "junior",
    "初级中学": "junior",
    "初級中學": "junior",
    "九年一贯制学校": "nine_year",
    "九年一贯制": "nine_year",
    "九年一貫制學校": "nine_year",
    "教学点": "teaching_point",
    "教學點": "teaching_point",
}
LOCATION_NAMES = {
    **{location: location for location in LOCATIONS},
    "城区": "urban",
    "城區": "urban",
    "镇区": "town",
    "鎮區": "town",
    "乡村": "rural",
    "鄉村": "rural",
}


# Why a row or the file is refused: code → the English text (the command line's; the
# web page shows the same in the staff's language, see ``plan/messages.py``).
REASONS = {
    "text_length": "%(low)d-%(high)d characters",
    "level": f"one of {', '.join(SCHOOL_LEVELS)} (or 小学, 初中, 九年一贯制学校, 教学点)",
    "location": f"one of {', '.join(LOCATIONS)} (or 城区, 镇区, 乡村)",
    "count": "not a whole number ≥ 0",
    "grades_exceed": "smaller than the pupils of its grades (%(pupils)d)",
    "duplicate": "already on line %(first)d",
    "missing_column": "missing column (%(names)s)",
    "twice": "the column appears twice",
    "empty": "the file is empty",
    "no_schools": "the file has no schools",
    "too_many": "more than %(limit)d schools",
    "not_csv": "not readable as CSV",
    "binary": "not a CSV text file (save the sheet as CSV or XLSX)",
    "not_xlsx": "not a readable XLSX workbook",
}


@dataclass(frozen=True)
class Problem:
    """One defect of the file: where (line, column) and why (a code of REASONS)."""

    line: int
    column: str
    code: str
    params: tuple[tuple[str, int | str], ...] = ()

    @property
    def reason(self) -> str:
        return REASONS[self.code] % dict(self.params)

    def __str__(self) -> str:
        where = f"line {self.line}, {self.column}" if self.column else f"line {self.line}"
        return f"{where}: {self.reason}"


class FrameRejected(Exception):
    """The file has problems (all of them in ``problems``); nothing was imported."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


class FrameLocked(Exception):
    """The frame can no longer be replaced: its schools have been drawn, codes issued
    (``codes_issued`` > 0), or the campaign is no longer in preparation."""

    def __init__(self, key: str, status: str, codes_issued: int, drawn: bool) -> None:
        if codes_issued:
            why = f"has {codes_issued} codes issued"
        elif drawn:
            why = "has drawn its schools"
        else:
            why = f"is {status}"
        super().__init__(f"campaign {key} {why}: its frame can no longer be replaced")
        self.status = status
        self.codes_issued = codes_issued
        self.drawn = drawn


@dataclass(frozen=True)
class FrameRow:
    """A school as read from the file, checked."""

    line: int
    school_code: str
    name: str
    level: str
    location: str
    enrolment: int
    teachers: int
    grades: dict[str, int] | None


@dataclass(frozen=True)
class ImportSummary:
    schools: int
    strata: int
    replaced: int  # schools of the frame that was replaced


def read_frame(filename: str, content: bytes) -> list[FrameRow]:
    """The schools of a CSV or XLSX file, or :class:`FrameRejected` with every problem."""
    problems: list[Problem] = []
    table = _table(filename, content, problems)
    if problems:
        raise FrameRejected(problems)
    rows = _rows(table, problems)
    if problems:
        raise FrameRejected(problems)
    return rows


def import_frame(campaign: Campaign, filename: str, content: bytes) -> ImportSummary:
    """Replace the campaign's frame with the file's schools and their strata."""
    _check_replaceable(campaign)
    rows = read_frame(filename, content)
    replaced = db.session.scalar(
        select(func.count()).select_from(School).where(School.campaign_id == campaign.id)
    )
    db.session.execute(delete(School).where(School.campaign_id == campaign.id))
    db.session.execute(
        delete(Stratum).where(Stratum.campaign_id == campaign.id, Stratum.kind == "school")
    )
    strata: dict[tuple[str, str], Stratum] = {}
    for row in rows:
        key = (row.location, row.level)
        if key not in strata:
            strata[key] = Stratum.of_schools(campaign.id, row.location, row.level)
    db.session.add_all(strata.values())
    db.session.flush()
    db.session.add_all(
        School(
            campaign_id=campaign.id,
            stratum_id=strata[(row.location, row.level)].id,
            code=row.school_code,
            name=row.name,
            level=row.level,
            location=row.location,
            enrolment=row.enrolment,
            teachers=row.teachers,
            grade_enrolments=row.grades,
        )
        for row in rows
    )
    db.session.flush()
    summary = ImportSummary(schools=len(rows), strata=len(strata), replaced=replaced or 0)
    audit.record(
        campaign,
        "frame_imported",
        {
            "file": clean_text(filename)[-120:],
            "schools": summary.schools,
            "strata": summary.strata,
            "replaced": summary.replaced,
        },
    )
    return summary


def lock_of(campaign: Campaign) -> FrameLocked | None:
    """Why the campaign's frame can no longer be replaced, or None while it can (the
    page says so before a file is chosen, not after it is sent)."""
    issued = codes_issued(campaign)
    drawn = db.session.scalar(
        select(SamplingPlan.id).where(SamplingPlan.campaign_id == campaign.id)
    )
    if issued or drawn is not None or campaign.status != "draft":
        return FrameLocked(campaign.key, campaign.status, issued, drawn is not None)
    return None


def _check_replaceable(campaign: Campaign) -> None:
    locked = lock_of(campaign)
    if locked is not None:
        raise locked


# -- reading the file -----------------------------------------------------------------

Table = list[tuple[int, list[str]]]  # (line number, cells)


def _table(filename: str, content: bytes, problems: list[Problem]) -> Table:
    if filename.lower().endswith(".xlsx") or content[:4] == b"PK\x03\x04":
        return _xlsx_table(content, problems)
    return _csv_table(content, problems)


def _csv_table(content: bytes, problems: list[Problem]) -> Table:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        problems.append(Problem(1, "", "binary"))
        return []
    if "\x00" in text:
        problems.append(Problem(1, "", "binary"))
        return []
    reader = csv.reader(io.StringIO(text, newline=""))
    table: Table = []
    start = 1
    try:
        for cells in reader:
            table.append((start, cells))
            start = reader.line_num + 1
            if len(table) > MAX_ROWS + 1:
                problems.append(Problem(start, "", "too_many", (("limit", MAX_ROWS),)))
                return []
    except csv.Error:
        problems.append(Problem(start, "", "not_csv"))
    return table


def _xlsx_table(content: bytes, problems: list[Problem]) -> Table:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        problems.append(Problem(1, "", "not_xlsx"))
        return []
    try:
        sheet = workbook.worksheets[0]
        table: Table = []
        for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            table.append((line, [_cell_text(value) for value in values]))
            if line > MAX_ROWS + 1:
                problems.append(Problem(line, "", "too_many", (("limit", MAX_ROWS),)))
                return []
        return table
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _header(cells: list[str], problems: list[Problem]) -> dict[str, int]:
    accepted = {_fold(header): column for column, headers in COLUMNS.items() for header in headers}
    positions: dict[str, int] = {}
    for index, cell in enumerate(cells):
        column = accepted.get(_fold(cell))
        if column is None:
            continue
        if column in positions:
            problems.append(Problem(1, column, "twice"))
        positions[column] = index
    for column in REQUIRED:
        if column not in positions:
            names = " or ".join(COLUMNS[column][:2])
            problems.append(Problem(1, column, "missing_column", (("names", names),)))
    return positions


def _fold(header: str) -> str:
    return "".join(header.split()).lower().lstrip("\ufeff")


def _rows(table: Table, problems: list[Problem]) -> list[FrameRow]:
    if not table:
        problems.append(Problem(1, "", "empty"))
        return []
    positions = _header(table[0][1], problems)
    if problems:
        return []
    rows: list[FrameRow] = []
    first_line: dict[str, int] = {}
    for line, cells in table[1:]:
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        row = _row(line, cells, positions, problems)
        if row is None:
            continue
        if row.school_code in first_line:
            problems.append(
                Problem(line, "school_code", "duplicate", (("first", first_line[row.school_code]),))
            )
            continue
        first_line[row.school_code] = line
        rows.append(row)
    if not rows and not problems:
        problems.append(Problem(2, "", "no_schools"))
    return rows


def _row(
    line: int, cells: list[str], positions: dict[str, int], problems: list[Problem]
) -> FrameRow | None:
    found = len(problems)

    def cell(column: str) -> str:
        index = positions.get(column)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    def report(column: str, code: str, **params: int | str) -> None:
        problems.append(Problem(line, column, code, tuple(params.items())))

    code = cell("school_code")
    if not code or len(code) > 20:
        report("school_code", "text_length", low=1, high=20)
    name = cell("name")
    if not name or len(name) > 120:
        report("name", "text_length", low=1, high=120)
    level = LEVEL_NAMES.get(cell("level"))
    if level is None:
        report("level", "level")
    location = LOCATION_NAMES.get(cell("location"))
    if location is None:
        report("location", "location")
    enrolment = _count(cell("enrolment"))
    if enrolment is None:
        report("enrolment", "count")
    teachers = _count(cell("teachers"))
    if teachers is None:
        report("teachers", "count")
    grades: dict[str, int] = {}
    for grade in GRADES:
        text = cell(f"grade_{grade}")
        if not text:
            continue
        pupils = _count(text)
        if pupils is None:
            report(f"grade_{grade}", "count")
        else:
            grades[grade] = pupils
    if enrolment is not None and sum(grades.values()) > enrolment:
        report("enrolment", "grades_exceed", pupils=sum(grades.values()))
    if len(problems) > found or level is None or location is None:
        return None
    if enrolment is None or teachers is None:
        return None
    return FrameRow(line, code, name, level, location, enrolment, teachers, grades or None)


def _count(text: str) -> int | None:
    """A whole number ≥ 0 as people write them: ``1200``, ``1,200``, ``1200.0``."""
    cleaned = text.replace(",", "").replace("，", "")
    if cleaned.endswith(".0"):
        cleaned = cleaned[:-2]
    if not cleaned.isascii() or not cleaned.isdigit() or len(cleaned) > 9:
        return None
    return int(cleaned)
