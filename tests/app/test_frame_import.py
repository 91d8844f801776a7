"""Importing the school frame: CSV (UTF-8, GBK) and XLSX, Chinese headers, every bad row
reported with its line and column, nothing imported until the file is clean."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import School, Stratum
from survey_app.plan.frame_import import FrameLocked, FrameRejected, import_frame, read_frame
from tests.factories import make_campaign, make_codes, make_school

GOOD = """school_code,name,level,location,enrolment,teachers
2659990001,城关第一小学,primary,urban,1850,96
2659990002,红星中学,junior,town,"1,204",88
2659990003,沙河九年一贯制学校,nine_year,rural,430,41
2659990004,黑山教学点,teaching_point,rural,18,2
"""
CHINESE = """学校标识码,学校名称,学段,城乡类别,在校生数,教师数,三年级,四年级
2659990101,城关第二小学,小学,城区,1200,70,200,210
2659990102,东沟教学点,教学点,乡村,15,2,,
"""


def _problems(text: str | bytes, name: str = "frame.csv") -> list[str]:
    content = text.encode() if isinstance(text, str) else text
    with pytest.raises(FrameRejected) as rejected:
        read_frame(name, content)
    return [str(problem) for problem in rejected.value.problems]


def test_a_clean_csv_becomes_schools_in_strata(app_ctx):
    campaign = make_campaign(open_now=False)
    summary = import_frame(campaign, "frame.csv", GOOD.encode())
    assert (summary.schools, summary.strata, summary.replaced) == (4, 4, 0)
    schools = db.session.scalars(select(School).filter_by(campaign_id=campaign.id)).all()
    by_code = {school.code: school for school in schools}
    assert by_code["2659990002"].enrolment == 1204  # "1,204" as Excel writes it
    assert by_code["2659990003"].level == "nine_year"
    strata = db.session.scalars(select(Stratum).filter_by(campaign_id=campaign.id)).all()
    assert {s.code for s in strata} == {
        "urban-primary",
        "town-junior",
        "rural-nine_year",
        "rural-teaching_point",
    }
    assert by_code["2659990001"].stratum.code == "urban-primary"


def test_chinese_headers_names_grades_and_a_gbk_file(app_ctx):
    campaign = make_campaign(open_now=False)
    import_frame(campaign, "名录.csv", CHINESE.encode("gbk"))  # Excel's CSV in China
    school = db.session.scalar(select(School).filter_by(code="2659990101"))
    assert (school.level, school.location) == ("primary", "urban")
    assert school.grade_enrolments == {"3": 200, "4": 210}
    assert db.session.scalar(select(School).filter_by(code="2659990102")).grade_enrolments is None


def test_an_xlsx_workbook(app_ctx):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["学校标识码", "学校名称", "学段", "城乡类别", "在校生数", "教师数"])
    sheet.append([2659990201, "西关小学", "小学", "城区", 980.0, 55])
    sheet.append([2659990202, "北山初中", "初中", "乡村", "x", 30])
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert _problems(buffer.getvalue(), "frame.xlsx") == [
        "line 3, enrolment: not a whole number ≥ 0"
    ]
    sheet.delete_rows(3)
    buffer = io.BytesIO()
    workbook.save(buffer)
    rows = read_frame("frame.xlsx", buffer.getvalue())
    assert [(r.line, r.school_code, r.enrolment) for r in rows] == [(2, "2659990201", 980)]


def test_every_bad_row_is_reported_with_its_line_and_column():
    text = (
        GOOD
        + "\n".join(
            [
                "2659990005,,primary,urban,100,5",  # line 6
                "2659990006,甲校,college,urban,100,5",  # line 7
                "2659990007,乙校,primary,suburb,100,5",  # line 8
                "2659990008,丙校,primary,rural,-3,5",  # line 9
                "2659990001,丁校,primary,rural,100,2.5",  # line 10: duplicate code, teachers
                '"2659990009","戊校,多行',  # lines 11-12: a quoted name over two lines
                '名",primary,rural,abc,5',
                "2659990010,己校,primary,rural,100,5",  # line 13
            ]
        )
        + "\n"
    )
    assert _problems(text) == [
        "line 6, name: 1-120 characters",
        "line 7, level: one of primary, junior, nine_year, teaching_point"
        " (or 小学, 初中, 九年一贯制学校, 教学点)",
        "line 8, location: one of urban, town, rural (or 城区, 镇区, 乡村)",
        "line 9, enrolment: not a whole number ≥ 0",
        "line 10, teachers: not a whole number ≥ 0",
        "line 11, enrolment: not a whole number ≥ 0",
    ]
    assert _problems(GOOD + "2659990001,又一校,primary,rural,10,1\n") == [
        "line 6, school_code: already on line 2"
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", ["line 1: the file is empty"]),
        (
            b"school_code,name,level,location,enrolment,teachers\n",
            ["line 2: the file has no schools"],
        ),
        (
            b"school_code,name,level,location,teachers\n1,a,primary,urban,3\n",
            ["line 1, enrolment: missing column (enrolment or enrollment)"],
        ),
        (b"\x00\x01\x02binary", ["line 1: not a CSV text file (save the sheet as CSV or XLSX)"]),
        (b"PK\x03\x04 not really a zip", ["line 1: not a readable XLSX workbook"]),
        (
            "school_code,name,level,location,enrolment,teachers,三年级\n1,a,primary,urban,10,1,11\n".encode(),
            ["line 2, enrolment: smaller than the pupils of its grades (11)"],
        ),
    ],
)
def test_files_that_are_not_frames(content, expected):
    assert _problems(content) == expected


def test_nothing_is_imported_from_a_file_with_problems(app_ctx):
    campaign = make_campaign(open_now=False)
    import_frame(campaign, "frame.csv", GOOD.encode())
    with pytest.raises(FrameRejected):
        import_frame(campaign, "frame.csv", (GOOD + "x,y,primary,urban,-1,1\n").encode())
    count = select(func.count()).select_from(School).where(School.campaign_id == campaign.id)
    assert db.session.scalar(count) == 4  # the frame before, untouched


def test_importing_again_replaces_the_frame_until_codes_are_issued(app_ctx):
    campaign = make_campaign(open_now=False)
    import_frame(campaign, "frame.csv", GOOD.encode())
    summary = import_frame(campaign, "frame.csv", CHINESE.encode())
    assert (summary.schools, summary.replaced) == (2, 4)
    strata = db.session.scalars(select(Stratum.code).filter_by(campaign_id=campaign.id)).all()
    assert sorted(strata) == ["rural-teaching_point", "urban-primary"]
    make_codes(db.session.scalar(select(School).filter_by(campaign_id=campaign.id)))
    with pytest.raises(FrameLocked, match="1 codes issued"):
        import_frame(campaign, "frame.csv", GOOD.encode())


def test_a_campaign_in_fieldwork_keeps_its_frame(app_ctx):
    campaign = make_campaign(open_now=True)
    make_school(campaign)
    with pytest.raises(FrameLocked, match="is open"):
        import_frame(campaign, "frame.csv", GOOD.encode())
