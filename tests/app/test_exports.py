"""Exports of the anonymous response data (CSV, XLSX, SPSS, the reproducibility bundle)
on the hand-built surveyed_county of test_results: the rows against the database, the weights
against the loader's, nothing that names a code or a person, R's survey package
recomputing the report from the bundle alone, the command line and the downloads."""

from __future__ import annotations

import csv
import io
import json
import math
import random
import shutil
import subprocess
import zipfile
from collections import Counter
from pathlib import Path

import pyreadstat
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from questionnaires import load_version
from survey_app.auth import services as staff_services
from survey_app.extensions import db
from survey_app.models import AuditEvent, OneTimeCode, PlanSchool, Response, School, Stratum
from survey_app.plan.issuing import issue_codes
from survey_app.respond import services
from survey_app.results import exports
from survey_app.results import page as results_page
from survey_app.results.evaluation import evaluate_campaign, evaluation_json
from survey_app.results.loader import load_campaign
from tests.app.conftest import csrf_token, same_as_r
from tests.factories import answer_as_phone, make_campaign

PASSWORD = "export password"
SECRET_COMMENT = "张小明的妈妈：食堂太贵"


def _csv_rows(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")  # BOM: Excel opens it as UTF-8
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _kept_responses() -> list[Response]:
    selected = {r.school_id for r in db.session.scalars(select(PlanSchool)) if r.selected}
    return [
        r
        for r in db.session.scalars(select(Response).order_by(Response.id))
        if r.school_id is None or r.school_id in selected
    ]


def _events(campaign) -> list[AuditEvent]:
    query = select(AuditEvent).where(
        AuditEvent.campaign_id == campaign.id, AuditEvent.action == "data_exported"
    )
    return list(db.session.scalars(query.order_by(AuditEvent.id)))


def test_the_csv_holds_each_kept_response_with_its_codes(surveyed_county):
    exported = exports.export_campaign(surveyed_county, "csv")
    assert exported.filename == f"{surveyed_county.key}-responses.csv"
    header, *rows = _csv_rows(exported.body)
    data = load_campaign(surveyed_county)
    assert header == [*exports.FIXED_COLUMNS, *data.items]
    assert header[:6] == ["stratum", "school", "group", "questionnaire", "version", "weight"]
    assert len(rows) == data.n == exported.responses

    # Each kept response of the database is one row: its cell and its answers' codes.
    school_codes = {s.id: s.code for s in db.session.scalars(select(School))}
    stratum_codes = {s.id: s.code for s in db.session.scalars(select(Stratum))}
    expected: Counter[tuple[str, ...]] = Counter()
    for response in _kept_responses():
        answers = {f"{response.questionnaire_key}.{a.item_id}": a.value for a in response.answers}
        expected[
            (
                stratum_codes[response.stratum_id],
                school_codes.get(response.school_id, ""),
                response.respondent_group,
                response.questionnaire_key,
                str(response.questionnaire_version),
                *(str(answers[item]) if item in answers else "" for item in data.items),
            )
        ] += 1
    found = Counter((*row[:5], *row[len(exports.FIXED_COLUMNS) :]) for row in rows)
    assert found == expected

    items = header[len(exports.FIXED_COLUMNS) :]
    cells = [cell for row in rows for cell in row[len(exports.FIXED_COLUMNS) :]]
    assert "0" in cells  # 不了解 is its code, 0
    assert "" in cells  # items a questionnaire did not ask
    parent_row = next(row for row in rows if row[2] == "parent")
    for item, cell in zip(items, parent_row[len(exports.FIXED_COLUMNS) :], strict=True):
        if not item.startswith(parent_row[3] + "."):
            assert cell == ""

    # The weights are the loader's, to the last bit; psu, pi and f2 as the design has them.
    assert sorted(float(row[5]) for row in rows) == sorted(data.weights.tolist())
    by_cell = Counter((row[0], row[2], float(row[5])) for row in rows)
    loader = Counter(
        (s, g, float(w)) for s, g, w in zip(data.strata, data.groups, data.weights, strict=True)
    )
    assert by_cell == loader
    fractions = Counter((row[1], row[2], float(row[7]), float(row[8])) for row in rows)
    assert fractions == Counter(
        (str(c), str(g), float(p), float(f))
        for c, g, p, f in zip(data.school_codes, data.groups, data.pi, data.f2, strict=True)
    )
    for row in rows:
        stratum, school, group, psu, pi, f2 = row[0], row[1], row[2], row[6], row[7], row[8]
        if group == "deputy":
            assert (school, pi, f2) == ("", repr(5 / 40), "1")
            assert psu.startswith("list-deputy-")
        elif group == "resident":
            assert (school, pi, f2) == ("", "1e-300", "1")
            assert psu.startswith("area-town-")
        else:
            assert school
            assert psu == school
            assert 0 < float(pi) <= 1
            assert 0 < float(f2) <= 1
            assert stratum in ("rural-primary", "town-junior")
    separate = [row[6] for row in rows if not row[1]]
    assert len(separate) == len(set(separate))  # each respondent of a list or link a PSU
    # R pairs a PSU with its π by row order: each PSU's rows are together.
    runs = [
        psu for at, psu in enumerate(row[6] for row in rows) if at == 0 or rows[at - 1][6] != psu
    ]
    assert len(runs) == len(set(runs))


def test_nothing_in_any_format_names_a_code_a_comment_or_a_response(surveyed_county, tmp_path):
    school = db.session.scalar(
        select(School).where(School.id.in_(select(PlanSchool.school_id).where(PlanSchool.selected)))
    )
    typed = issue_codes(school, "parent", 2)
    rng = random.Random(3)  # noqa: S311 - simulated answers
    for code in typed:
        answer_as_phone(services.find_code(code), rng, 0.5)
    for response in db.session.scalars(select(Response)):
        response.comment = SECRET_COMMENT
    db.session.flush()
    digests = [row.digest for row in db.session.scalars(select(OneTimeCode))]
    assert digests
    forbidden_text = [SECRET_COMMENT, *typed, *(d.hex() for d in digests), "response-", "school-"]
    forbidden_bytes = [*(t.encode() for t in forbidden_text), *digests]

    texts: list[str] = []
    blobs: list[bytes] = []
    for fmt in exports.FORMATS:
        body = exports.export_campaign(surveyed_county, fmt).body
        blobs.append(body)
        if fmt == "csv":
            texts.append(body.decode("utf-8-sig"))
        elif fmt == "xlsx":
            book = load_workbook(io.BytesIO(body), read_only=True)
            texts += [
                str(c) for s in book.worksheets for r in s.iter_rows(values_only=True) for c in r
            ]
            with zipfile.ZipFile(io.BytesIO(body)) as inner:
                texts += [inner.read(name).decode("utf-8", "replace") for name in inner.namelist()]
        elif fmt == "sav":
            path = tmp_path / "data.sav"
            path.write_bytes(body)
            frame, meta = pyreadstat.read_sav(str(path))
            texts += [str(v) for v in frame.to_numpy().ravel()]
            texts += [str(label) for label in meta.column_labels]
        else:
            with zipfile.ZipFile(io.BytesIO(body)) as bundle:
                for name in bundle.namelist():
                    texts.append(bundle.read(name).decode("utf-8"))
    joined = "\n".join(texts)
    for text in forbidden_text:
        assert text not in joined
    for blob in blobs:
        for raw in forbidden_bytes:
            assert raw not in blob
    assert "comment" not in _csv_rows(blobs[0])[0]
    assert not any("minute" in column or "time" in column for column in _csv_rows(blobs[0])[0])


def test_the_xlsx_has_the_csvs_cells(surveyed_county):
    rows = _csv_rows(exports.export_campaign(surveyed_county, "csv").body)
    body = exports.export_campaign(surveyed_county, "xlsx").body
    book = load_workbook(io.BytesIO(body), read_only=True)
    assert book.sheetnames == ["data", "items"]
    cells = [list(row) for row in book["data"].iter_rows(values_only=True)]
    assert len(cells) == len(rows)
    for theirs, ours in zip(cells, rows, strict=True):
        theirs += [None] * (len(ours) - len(theirs))  # a row's trailing empty cells
        for value, cell in zip(theirs, ours, strict=True):
            if isinstance(value, int | float):
                # 625.0 reads back as 625; openpyxl writes 16 significant digits
                assert value == pytest.approx(float(cell), rel=1e-15)
            else:
                assert (value or "") == cell
    schools = [row[1] for row in cells[1:] if row[1]]
    assert schools
    assert all(isinstance(school, str) for school in schools)
    codebook = [list(row) for row in book["items"].iter_rows(values_only=True)]
    assert codebook[0] == ["item", "area", "question", "options"]
    assert all("0 = 不了解" in row[3] or "0 = 不知道" in row[3] for row in codebook[1:])


def test_the_sav_has_labels_and_the_same_values(surveyed_county, tmp_path):
    header, *rows = _csv_rows(exports.export_campaign(surveyed_county, "csv").body)
    path = tmp_path / "data.sav"
    path.write_bytes(exports.export_campaign(surveyed_county, "sav").body)
    frame, meta = pyreadstat.read_sav(str(path))
    assert list(frame.columns) == header
    data = load_campaign(surveyed_county)
    first = data.items[0]
    key, version = data.item_versions[0]
    item = load_version(key, version).item(first.partition(".")[2])
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    assert labels[first] == item.text("zh_Hans")
    assert labels["weight"].startswith("最终分析权重")
    value_labels = meta.variable_value_labels[first]
    assert value_labels[0] in ("不了解", "不知道")  # 不知道: the primary pupils' wording
    assert value_labels == {o.code: o.label("zh_Hans") for o in item.all_options()}
    for index, row in enumerate(rows):
        for column, cell in enumerate(row):
            value = frame.iat[index, column]
            if header[column] in ("stratum", "school", "group", "questionnaire", "psu"):
                assert value == cell
            elif cell == "":
                assert math.isnan(value)
            else:
                assert value == float(cell)


def test_the_bundle_reproduces_the_report_in_r(surveyed_county, tmp_path):
    if shutil.which("Rscript") is None:
        pytest.fail("Rscript is missing: ./dev setup installs R (r-cran-survey, r-cran-jsonlite)")
    exported = exports.export_campaign(surveyed_county, "bundle")
    assert exported.filename == f"{surveyed_county.key}-reproduce.zip"
    with zipfile.ZipFile(io.BytesIO(exported.body)) as bundle:
        assert set(bundle.namelist()) == {
            "README.txt",
            "data.csv",
            "recognised.csv",
            "report.json",
            "reproduce.R",
        }
        bundle.extractall(tmp_path / "bundle")
    folder = tmp_path / "bundle"
    found = evaluation_json(evaluate_campaign(surveyed_county))
    assert json.loads((folder / "report.json").read_text("utf-8")) == found
    readme = (folder / "README.txt").read_text("utf-8")
    assert "不了解" in readme
    assert "Reproducibility bundle" in readme
    recognised = list(csv.DictReader(io.StringIO((folder / "recognised.csv").read_text("utf-8"))))
    assert {row["item"] for row in recognised} == set(load_campaign(surveyed_county).items)

    out = tmp_path / "r.json"
    ran = subprocess.run(  # noqa: S603 - the bundle's own script on its own files
        ["Rscript", str(folder / "reproduce.R"), str(out)],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,  # not the bundle's folder: the script finds its files itself
    )
    assert ran.returncode == 0, ran.stderr
    assert "county estimate" in ran.stdout
    assert "difference" in ran.stdout
    r = json.loads(out.read_text())
    same_as_r(found, r)


def test_the_command_writes_the_file_and_records_it(surveyed_county, runner, tmp_path):
    db.session.commit()
    out = tmp_path / "data.csv"
    done = runner.invoke(
        args=["export", "--campaign", surveyed_county.key, "--format", "csv", "--out", str(out)]
    )
    assert done.exit_code == 0, done.output
    assert out.read_bytes() == exports.csv_bytes(exports.export_table(surveyed_county))
    (event,) = _events(surveyed_county)
    assert event.actor == "command line"
    assert event.details["format"] == "csv"
    for fmt in ("xlsx", "sav", "bundle"):
        path = tmp_path / f"out.{fmt}"
        args = ["export", "--campaign", surveyed_county.key, "--format", fmt, "--out", str(path)]
        assert runner.invoke(args=args).exit_code == 0
        assert path.stat().st_size > 0
    assert [e.details["format"] for e in _events(surveyed_county)] == [
        "csv",
        "xlsx",
        "sav",
        "bundle",
    ]


def test_the_command_refuses_in_one_line(surveyed_county, runner, tmp_path):
    empty = make_campaign()
    db.session.commit()
    out = str(tmp_path / "x.csv")

    def run(*args: str):
        return runner.invoke(args=["export", *args])

    unknown = run("--campaign", "nope", "--format", "csv", "--out", out)
    assert unknown.exit_code == 2
    assert "no campaign" in unknown.output
    nothing = run("--campaign", empty.key, "--format", "csv", "--out", out)
    assert nothing.exit_code == 2
    assert "no responses" in nothing.output
    unwritable = str(tmp_path / "no-such-folder" / "x.csv")
    refused = run("--campaign", surveyed_county.key, "--format", "csv", "--out", unwritable)
    assert refused.exit_code == 2
    assert "--out" in refused.output
    assert len(refused.output.strip().splitlines()) == 1
    assert run("--campaign", surveyed_county.key, "--format", "pdf", "--out", out).exit_code == 2
    assert not Path(out).exists()
    assert _events(surveyed_county) == []  # nothing was written, nothing recorded


def _signed_in(app, role: str, key: str):
    email = f"{role}-export@example.org"
    staff_services.create_user(email, role, PASSWORD, [key])
    db.session.commit()
    client = app.test_client()
    token = csrf_token(client.get("/staff/login").text)
    data = {"csrf_token": token, "email": email, "password": PASSWORD}
    assert client.post("/staff/login", data=data).status_code == 302
    return client, email


def test_evaluators_download_and_each_download_is_recorded(app, surveyed_county):
    results_page.forget()
    client, email = _signed_in(app, "evaluator", surveyed_county.key)
    page = client.get(f"/results/{surveyed_county.key}/").text
    suffixes = {"csv": "csv", "xlsx": "xlsx", "sav": "sav", "bundle": "zip"}
    for suffix in suffixes.values():
        assert f"/results/{surveyed_county.key}/export.{suffix}" in page
    for fmt, suffix in suffixes.items():
        reply = client.get(f"/results/{surveyed_county.key}/export.{suffix}")
        assert reply.status_code == 200, fmt
        disposition = reply.headers["Content-Disposition"]
        assert disposition.startswith("attachment;")
        assert disposition.endswith(f'.{suffix}"')
        assert reply.headers["Cache-Control"] == "no-store"
        assert reply.mimetype == exports.MIMETYPES[fmt].split(";")[0]
    csv_reply = client.get(f"/results/{surveyed_county.key}/export.csv")
    assert _csv_rows(csv_reply.data)[0][:6] == list(exports.FIXED_COLUMNS[:6])
    events = _events(surveyed_county)
    assert [e.details["format"] for e in events] == [*suffixes, "csv"]
    assert {e.actor for e in events} == {email}


def test_other_roles_cannot_download(app, surveyed_county):
    client, _email = _signed_in(app, "supervisor", surveyed_county.key)
    for suffix in ("csv", "xlsx", "sav", "zip"):
        assert client.get(f"/results/{surveyed_county.key}/export.{suffix}").status_code == 403
    assert _events(surveyed_county) == []


def test_a_campaign_without_responses_downloads_nothing(app, app_ctx):
    empty = make_campaign()
    client, _email = _signed_in(app, "evaluator", empty.key)
    reply = client.get(f"/results/{empty.key}/export.csv")
    assert reply.status_code == 200  # the results page, which says there is nothing yet
    assert "Content-Disposition" not in reply.headers
    assert reply.mimetype == "text/html"
    assert _events(empty) == []
