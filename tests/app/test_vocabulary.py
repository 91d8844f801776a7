"""One vocabulary: the codes the models, questionnaires, command line and demo share."""

from __future__ import annotations

from sqlalchemy import select

from questionnaires import load_all, vocabulary
from survey_app.extensions import db
from survey_app.models import Stratum
from survey_app.vocabulary import (
    GROUP_LABELS,
    LANGUAGES,
    LIST_GROUPS,
    READING_LEVELS,
    RESPONDENT_GROUPS,
    area_stratum_code,
    list_stratum_code,
    stratum_code,
    stratum_label,
)


def test_who_answers_is_defined_once_by_the_questionnaire_schema():
    assert vocabulary("group") == RESPONDENT_GROUPS
    assert vocabulary("reading_level") == READING_LEVELS
    assert vocabulary("language") == LANGUAGES
    assert LANGUAGES[0] == "zh_Hans"  # the primary language
    assert set(GROUP_LABELS) == set(RESPONDENT_GROUPS)


def test_every_questionnaire_speaks_the_vocabulary():
    for questionnaire in load_all().values():
        assert set(questionnaire.groups) <= set(RESPONDENT_GROUPS)
        assert set(questionnaire.languages) <= set(LANGUAGES)


def test_strata_are_named_location_level(campaign):
    strata = db.session.scalars(select(Stratum).filter_by(campaign_id=campaign.id)).all()
    assert {stratum.kind for stratum in strata} == {"school", "list", "area"}
    for stratum in strata:
        if stratum.kind == "school":
            assert stratum.code == stratum_code(stratum.location, stratum.school_level)
        elif stratum.kind == "list":
            assert stratum.code in {list_stratum_code(group) for group in LIST_GROUPS}
        else:
            assert stratum.code == area_stratum_code("chengguan")
    assert stratum_code("rural", "primary") == "rural-primary"


def test_a_stratum_is_named_for_people_in_their_language(app):
    from flask_babel import force_locale

    with app.test_request_context():
        with force_locale("zh_Hans"):
            assert stratum_label(stratum_code("rural", "nine_year")) == "乡村九年一贯制学校"
            assert stratum_label(list_stratum_code("deputy")) == "人大代表名单"
            assert stratum_label(area_stratum_code("chengguan")) == "片区 chengguan"
            areas = {"area-chengguan": "城关镇"}
            assert stratum_label(area_stratum_code("chengguan"), areas) == "片区 城关镇"
        with force_locale("en"):
            assert stratum_label("town-primary") == "Primary school (Town)"
            assert stratum_label("list-member") == "Political consultative member list"
        # a code of no known form is shown as it is
        assert stratum_label("H1") == "H1"
        assert stratum_label("rural-college") == "rural-college"
