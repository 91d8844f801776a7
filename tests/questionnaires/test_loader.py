"""The questionnaire data and its loader: every shipped file is valid, every defect is named."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from questionnaires import (
    Problem,
    Questionnaire,
    QuestionnaireError,
    area_label,
    check_all,
    content_hash,
    load_all,
    load_questionnaire,
    load_version,
    publish,
    questionnaire_for,
    vocabulary,
)
from questionnaires.loader import DEFAULT_DIRECTORY

FIXTURES = Path(__file__).parent / "fixtures"
SHIPPED_KEYS = ("public", "staff", "student_junior", "student_primary")


def problems_of(fixture: str) -> list[Problem]:
    with pytest.raises(QuestionnaireError) as raised:
        load_questionnaire(FIXTURES / f"{fixture}.yaml")
    return raised.value.problems


def all_texts(questionnaire: Questionnaire) -> Iterator[tuple[str, dict[str, str]]]:
    """Every translated text of a questionnaire as ``(where, {language: text})``."""
    yield "title", dict(questionnaire.titles.pairs)
    yield "intro", dict(questionnaire.intros.pairs)
    for scale in questionnaire.scales:
        for option in scale.all_options():
            yield f"{scale.key}.{option.code}", dict(option.labels.pairs)
    for item in questionnaire.items:
        yield item.id, dict(item.texts.pairs)
    assert questionnaire.comment is not None
    yield "comment", dict(questionnaire.comment.texts.pairs)


@pytest.fixture
def copied(tmp_path: Path) -> Path:
    """A writable copy of the shipped questionnaire directory (data files only)."""
    for path in DEFAULT_DIRECTORY.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    shutil.copytree(DEFAULT_DIRECTORY / "published", tmp_path / "published")
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), "utf-8")


# --- the shipped questionnaires ---------------------------------------------------------


def test_shipped_questionnaires_have_no_problems() -> None:
    assert check_all() == []


def test_one_working_file_per_questionnaire() -> None:
    assert tuple(load_all()) == SHIPPED_KEYS


@pytest.mark.parametrize("key", SHIPPED_KEYS)
def test_shipped_questionnaire_meets_the_survey_rules(key: str) -> None:
    questionnaire = load_all()[key]
    assert questionnaire.languages == ("zh_Hans", "zh_Hant", "en", "ug")
    for group in questionnaire.groups:
        assert 10 <= len(questionnaire.items_for(group)) <= 20
    for item in questionnaire.items:
        assert item.area in vocabulary("area")
        assert questionnaire.recognised_codes(item.id) == frozenset({2, 3, 4})
        assert questionnaire.dont_know_code(item.id) == 0
    assert questionnaire.comment is not None
    assert questionnaire.comment.optional
    assert questionnaire.comment_max_length > 0


@pytest.mark.parametrize("key", SHIPPED_KEYS)
def test_every_text_is_translated_into_every_language(key: str) -> None:
    questionnaire = load_all()[key]
    for where, texts in all_texts(questionnaire):
        assert set(texts) == set(questionnaire.languages), where
        assert all(text.strip() for text in texts.values()), where


# Characters that exist only in simplified Chinese: a zh_Hant text containing one was
# copied from zh_Hans instead of being converted.
SIMPLIFIED_ONLY = set(
    "们对满学师资县务价减双这说级让统经设门问题该总条发实现优乡辅导课书图电网线运动术艺劳办规择试绩读写时间长数机会样点过还没质够给儿兴团业负担轻国际专验体"
)


@pytest.mark.parametrize("key", SHIPPED_KEYS)
def test_traditional_chinese_uses_traditional_characters(key: str) -> None:
    for where, texts in all_texts(load_all()[key]):
        assert not SIMPLIFIED_ONLY & set(texts["zh_Hant"]), (where, texts["zh_Hant"])


@pytest.mark.parametrize("key", SHIPPED_KEYS)
def test_uyghur_is_written_in_arabic_script(key: str) -> None:
    for where, texts in all_texts(load_all()[key]):
        text = texts["ug"]
        assert any("\u0600" <= char <= "\u06ff" for char in text), where
        assert not any("\u4e00" <= char <= "\u9fff" for char in text), where


def test_every_area_is_named_in_every_language() -> None:
    for area in vocabulary("area"):
        for lang in vocabulary("language"):
            assert area_label(area, lang).strip()
    assert area_label("equity", "fr") == "教育公平"


# --- finding the right questionnaire ----------------------------------------------------


@pytest.mark.parametrize(
    ("group", "reading_level", "key"),
    [
        ("student", "primary", "student_primary"),
        ("student", "junior", "student_junior"),
        ("teacher", None, "staff"),
        ("principal", None, "staff"),
        ("parent", None, "public"),
        ("deputy", None, "public"),
        ("member", None, "public"),
        ("resident", None, "public"),
        ("parent", "primary", "public"),  # a school's level is ignored for adults
    ],
)
def test_questionnaire_for_maps_each_group(group: str, reading_level: str | None, key: str) -> None:
    assert questionnaire_for(group, reading_level).key == key


@pytest.mark.parametrize(("group", "reading_level"), [("student", None), ("pupil", None)])
def test_questionnaire_for_refuses_what_it_cannot_place(
    group: str, reading_level: str | None
) -> None:
    with pytest.raises(ValueError, match="group|reading level"):
        questionnaire_for(group, reading_level)


def test_staff_items_depend_on_the_audience() -> None:
    staff = questionnaire_for("teacher")
    teacher = {item.id for item in staff.items_for("teacher")}
    principal = {item.id for item in staff.items_for("principal")}
    assert "t01" in teacher - principal
    assert "p01" in principal - teacher
    assert {"q01", "q12"} <= teacher & principal
    with pytest.raises(ValueError, match="does not answer"):
        staff.items_for("parent")


def test_items_offer_ordered_options_with_dont_know_last() -> None:
    item = questionnaire_for("parent").item("q03")
    assert item.options("zh_Hans") == (
        (4, "满意"),
        (3, "比较满意"),
        (2, "基本满意"),
        (1, "不满意"),
        (0, "不了解"),
    )
    assert item.option_label(0, "ug") == "بىلمەيمەن"
    assert [option.recognised for option in item.all_options()] == [True, True, True, False, None]
    assert item.text("fr") == item.text("zh_Hans")  # unknown language: source text


# --- defects, each reported with file, item and field -----------------------------------


def test_missing_translation_names_file_item_and_field() -> None:
    (problem,) = problems_of("missing_translation")
    assert problem == Problem("missing_translation.yaml", "q03", "text.ug", "missing translation")
    assert str(problem) == "missing_translation.yaml: item q03: text.ug: missing translation"
    assert problem.location == "items[q03].text.ug"


@pytest.mark.parametrize(
    ("fixture", "item", "field", "message"),
    [
        ("duplicate_item_id", "q05", "id", "duplicate item id"),
        ("unknown_scale", "q04", "scale", "unknown scale 'agreement'"),
        ("unknown_area", "q02", "area", "unknown area 'sports'"),
        ("too_few_items", None, "items", "has 9 items; at least 10"),
        ("too_many_items", None, "items", "has 21 items; at most 20"),
        ("no_recognised_option", None, "scales.satisfaction.options", "no answer counts"),
        ("no_dont_know", None, "scales.satisfaction.dont_know", "不了解"),
        ("scale_out_of_order", None, "scales.satisfaction.options", "recognised answers"),
        ("unknown_audience_group", "q01", "audience[0]", "unknown group 'teachers'"),
        ("audience_outside_groups", "q01", "audience[0]", "'teacher' does not answer"),
        ("schema_violation", None, "version", "must be of type integer"),
        ("schema_violation", "q06", "colour", "unknown field"),
        ("schema_violation", None, "comment.optional", "must be true"),
        ("duplicate_yaml_key", "q02", "text.ug", "given twice"),
        ("key_mismatch", None, "key", "does not match the file name"),
        ("invalid_yaml", None, "", "not valid YAML"),
    ],
)
def test_defect_is_reported_where_it_is(
    fixture: str, item: str | None, field: str, message: str
) -> None:
    problems = problems_of(fixture)
    matching = [
        problem
        for problem in problems
        if (problem.file, problem.item, problem.field) == (f"{fixture}.yaml", item, field)
    ]
    assert matching, problems
    assert any(message in problem.message for problem in matching), matching


def test_every_defect_of_a_file_is_reported() -> None:
    found = {(problem.item, problem.field) for problem in problems_of("many_defects")}
    assert found >= {
        ("q03", "text.ug"),
        ("q05", "id"),
        ("q04", "scale"),
        ("q02", "area"),
        (None, "scales.satisfaction.dont_know"),
        (None, "title.ug"),
    }


def test_the_valid_fixture_loads() -> None:
    questionnaire = load_questionnaire(FIXTURES / "valid_minimal.yaml")
    assert questionnaire.key == "valid_minimal"
    assert len(questionnaire.items) == 10


def test_check_all_reports_every_file(tmp_path: Path) -> None:
    for name in ("missing_translation", "unknown_area", "valid_minimal"):
        shutil.copy(FIXTURES / f"{name}.yaml", tmp_path)
    files = {problem.file for problem in check_all(tmp_path)}
    assert {"missing_translation.yaml", "unknown_area.yaml"} <= files
    assert "valid_minimal.yaml" not in files


def test_load_all_refuses_a_directory_with_a_bad_file(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "missing_translation.yaml", tmp_path)
    with pytest.raises(QuestionnaireError, match="text.ug: missing translation"):
        load_all(tmp_path)


# --- determinism and published versions -------------------------------------------------


def test_content_hash_is_stable_and_ignores_layout(tmp_path: Path) -> None:
    source = DEFAULT_DIRECTORY / "public.yaml"
    first, again = load_questionnaire(source), load_questionnaire(source)
    assert first == again
    assert first.content_hash == again.content_hash
    document = yaml.safe_load(source.read_text("utf-8"))
    assert content_hash(document) == first.content_hash
    relaid = tmp_path / "public.yaml"
    relaid.write_text(yaml.safe_dump(document, allow_unicode=True, width=60), "utf-8")
    assert load_questionnaire(relaid).content_hash == first.content_hash
    lock = json.loads((DEFAULT_DIRECTORY / "published" / "lock.json").read_text("utf-8"))
    assert lock["versions"]["public"][str(first.version)] == first.content_hash


def test_changed_content_without_version_bump_is_refused(copied: Path) -> None:
    edit(copied / "public.yaml", "是否满意？", "是否非常满意？")
    problems = check_all(copied)
    assert [(p.file, p.item, p.field) for p in problems] == [("public.yaml", None, "version")]
    assert "bump version to 2" in problems[0].message
    with pytest.raises(QuestionnaireError, match="published versions are frozen"):
        load_all(copied)
    with pytest.raises(QuestionnaireError):
        publish("public", copied)


def test_an_answer_code_must_fit_in_a_byte(copied: Path) -> None:
    """Responses keep their answers one byte per item, 255 meaning "not asked"."""
    edit(copied / "public.yaml", "      - code: 4", "      - code: 255")
    edit(copied / "public.yaml", "version: 1", "version: 2")
    (problem,) = check_all(copied)
    assert problem.field == "scales.satisfaction.options[0].code"
    assert problem.message == "must be at most 254"


def test_a_new_version_is_published_and_the_old_one_kept(copied: Path) -> None:
    edit(copied / "public.yaml", "是否满意？", "是否非常满意？")
    edit(copied / "public.yaml", "version: 1", "version: 2")
    assert check_all(copied) == []
    target = publish("public", copied)
    assert target == copied / "published" / "public.v2.yaml"
    assert publish("public", copied) == target  # publishing again changes nothing
    assert check_all(copied) == []
    assert load_version("public", 2, copied).content_hash == load_all(copied)["public"].content_hash
    old = load_version("public", 1, copied)
    assert old.version == 1
    assert "非常" not in old.item("q01").text("zh_Hans")


def test_an_edited_published_copy_is_reported(copied: Path) -> None:
    edit(copied / "published" / "staff.v1.yaml", "满意", "很满意")
    problems = check_all(copied)
    assert any(p.file == "published/staff.v1.yaml" and "changed" in p.message for p in problems), (
        problems
    )


def test_a_version_older_than_the_published_one_is_reported(copied: Path) -> None:
    edit(copied / "staff.yaml", "version: 1", "version: 2")
    publish("staff", copied)
    edit(copied / "staff.yaml", "version: 2", "version: 1")  # rolled back: same text as v1
    messages = [p.message for p in check_all(copied) if p.file == "staff.yaml"]
    assert any("older than published version 2" in m for m in messages), messages


def test_a_missing_published_copy_is_reported(copied: Path) -> None:
    (copied / "published" / "student_junior.v1.yaml").unlink()
    problems = check_all(copied)
    assert (
        Problem(
            "published/lock.json",
            None,
            "versions.student_junior.1",
            "student_junior.v1.yaml is missing",
        )
        in problems
    )


def test_a_group_without_a_questionnaire_is_reported(copied: Path) -> None:
    (copied / "staff.yaml").unlink()
    messages = {p.message for p in check_all(copied) if p.field == "groups"}
    assert messages == {"no questionnaire for teacher", "no questionnaire for principal"}


def test_the_package_never_imports_the_web_app() -> None:
    code = (
        "import sys, questionnaires; questionnaires.load_all(); "
        "assert not {'flask', 'sqlalchemy', 'survey_app'} & set(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_an_unpublished_working_version_is_not_served(tmp_path):
    from questionnaires import published_for

    root = tmp_path / "q"
    shutil.copytree(DEFAULT_DIRECTORY, root)
    working = root / "public.yaml"
    text = working.read_text("utf-8")
    working.write_text(text.replace("version: 1", "version: 2", 1), "utf-8")
    assert questionnaire_for("parent", directory=root).version == 2
    served = published_for("parent", directory=root)
    assert served.version == 1
    assert served.content_hash == questionnaire_for("parent").content_hash
