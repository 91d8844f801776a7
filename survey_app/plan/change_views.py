"""The page of changes to a frozen plan: a school that refused is replaced, a population
is corrected (``plan/changes.py``), each with a reason for the audit log.

Its routes are registered on the plan blueprint (imported at the end of ``views.py``), so
they share its access rule: supervisors and admins, of the campaign in the URL.
"""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from survey_app.auth.access import current_campaign
from survey_app.models import Campaign, PlanQuota, PlanSchool, SamplingPlan
from survey_app.plan import audit, changes, draw, messages
from survey_app.plan.forms import CorrectPopulationForm, ReplaceSchoolForm
from survey_app.plan.views import bp

CHANGE_ACTIONS = ("school_replaced", "population_corrected")


@bp.route("/<key>/changes")
def plan_changes(key: str) -> ResponseReturnValue:
    """The drawn schools, marked when one refused or stands in for one, and after the
    freeze a form per school to replace it or correct a population."""
    return _changes_page(current_campaign())


@bp.route("/<key>/changes/replace", methods=["POST"])
def replace_school(key: str) -> ResponseReturnValue:
    chosen = current_campaign()
    form = ReplaceSchoolForm()
    if not form.validate_on_submit():
        return _changes_page(chosen, replace_form=form, refused=_incomplete(), status=422)
    try:
        done = changes.replace_school(
            chosen, form.school.data or "", form.reason.data or "", form.substitute.data
        )
    except changes.ChangeRefused as refused:
        return _changes_page(
            chosen,
            replace_form=form,
            refused=messages.change_refused(refused),
            status=409 if refused.conflict else 422,
        )
    notice = _(
        "%(school)s is replaced by %(substitute)s; %(n)s unused codes of %(school)s are "
        "revoked. Issue the codes of %(substitute)s on the codes page.",
        school=done.refused.school.code,
        substitute=done.substitute.school.code,
        n=str(done.codes_revoked),
    )
    return _changes_page(chosen, notice=notice)


@bp.route("/<key>/changes/population", methods=["POST"])
def correct_population(key: str) -> ResponseReturnValue:
    chosen = current_campaign()
    form = CorrectPopulationForm()
    if not form.validate_on_submit():
        return _changes_page(chosen, population_form=form, refused=_incomplete(), status=422)
    try:
        done = changes.correct_population(
            chosen,
            form.school.data or "",
            form.group.data or "",
            form.population.data or 0,
            form.reason.data or "",
        )
    except changes.ChangeRefused as refused:
        return _changes_page(
            chosen,
            population_form=form,
            refused=messages.change_refused(refused),
            status=409 if refused.conflict else 422,
        )
    values = {
        "school": done.quota.school.code,
        "old": str(done.old_population),
        "new": str(done.quota.population),
        "planned": str(done.quota.planned),
    }
    notice = (
        _(
            "Population corrected at %(school)s: %(old)s → %(new)s; the planned respondents "
            "are lowered to %(planned)s.",
            **values,
        )
        if done.planned_lowered
        else _("Population corrected at %(school)s: %(old)s → %(new)s.", **values)
    )
    return _changes_page(chosen, notice=notice)


def _incomplete() -> str:
    return _("Nothing was changed: give a reason and check what was typed.")


def _changes_page(
    chosen: Campaign,
    replace_form: ReplaceSchoolForm | None = None,
    population_form: CorrectPopulationForm | None = None,
    notice: str | None = None,
    refused: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    """The page; a posted form is shown again on its school's row with what was typed."""
    plan = draw.plan_of(chosen)
    return render_template(
        "plan/changes.html",
        campaign=chosen,
        plan=plan,
        rows=_rows(plan),
        paired=changes.pairs(plan) if plan else {},
        quotas=_quotas(plan),
        frozen=changes.is_frozen(chosen),
        replace_form=replace_form,
        population_form=population_form,
        blank_replace=ReplaceSchoolForm(formdata=None),
        blank_population=CorrectPopulationForm(formdata=None),
        posted_school=(request.form.get("school", "") if request.method == "POST" else None),
        events=[e for e in audit.events(chosen) if e.action in CHANGE_ACTIONS],
        notice=notice,
        refused=refused,
    ), status


def _rows(plan: SamplingPlan | None) -> list[PlanSchool]:
    """Drawn schools, refused ones, and substitutes, in the draw's order."""
    if plan is None:
        return []
    return [row for row in plan.schools if row.selected or row.substitute_for_id is not None]


def _quotas(plan: SamplingPlan | None) -> dict[int, list[PlanQuota]]:
    """Quotas by school id: the planned respondents and population M of each group."""
    by_school: dict[int, list[PlanQuota]] = {}
    for quota in plan.quotas if plan else []:
        by_school.setdefault(quota.school_id, []).append(quota)
    return by_school
