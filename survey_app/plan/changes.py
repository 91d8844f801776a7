"""Changes to a frozen plan: a school that refused is replaced, a population is corrected.

Once codes are issued or the fieldwork opens, the frame and the draw are frozen
(``draw._check_drawable``): drawing again would change schools that already hold codes.
What still has to change then is changed here, one named change at a time, each with a
reason, each recorded in the append-only audit log (``audit.record``: who, when, what,
why). Before the freeze there is nothing to record: the frame is imported again or the
schools are drawn again, and these changes are refused, saying so.

**Replacing a school that refused.** Only a drawn school (``PlanSchool.selected``) in
the field can be replaced, and only while the campaign is not closed; a substitute
that refuses in turn is not replaced again here (it stays in the field with what it
answered). The substitute is a frame school of the *same stratum* that was not drawn,
is no other school's substitute and has pupils. Unless one is named, it is the **next
undrawn school in frame order after the refused one, wrapping around to the start of
the stratum** (:func:`default_substitute`): the frame is ordered by 学校标识码, which
follows the administrative divisions, so the next school is a neighbour of the same
kind, and the rule leaves nobody a choice of a convenient school.

The change: the refused school's row is marked ``refused``; the substitute's row names
it (``substitute_for_id``); the refused school's quotas are replaced by the
substitute's, the same number planned per group but never more than the substitute has
(``second_stage.population``), with the substitute's population M; the refused school's
unused codes are revoked (``void``, as ``code_batches.revoke_unused``) and
``flask codes issue`` then issues the substitute's. Codes it already answered stay, and
so do their responses: they were given in good faith and are kept (an analysis may drop
them; nothing is deleted here).

**Weights.** The draw stays as drawn: ``selected`` and each row's π never change, and
``flask plan export`` still shows the draw R can redo, with two columns added at the
end (``refused``, ``substitute_for``). For the analysis, the substitute *takes the
refused school's inclusion probability* (substitution within the stratum: it stands in
the refused school's place in the design, so its first-stage weight is 1/π of the
refused school, not 1/π of its own); the refused school leaves the sample (its
respondents, if any, carry no first-stage weight of their own).
:func:`first_stage_probabilities` gives the π for each school in the field under this
rule. The second stage is the substitute's own: M/m with its M from its quotas.

**Correcting a population.** A school's group population M (``PlanQuota.population``),
e.g. when the frame had the wrong enrolment, may be corrected after the freeze, also
after the fieldwork closed (the weights are computed then). The frame itself keeps what
was imported. If the new M is below the planned respondents, ``planned`` is lowered to
M, since no school can answer with more people than it has (the check constraint says
the same); codes already issued beyond it stay valid, and their answers count (the
weight is M/m with the m actually answering).
"""

from __future__ import annotations

from dataclasses import dataclass

from survey_app.extensions import db
from survey_app.models import Campaign, PlanQuota, PlanSchool, SamplingPlan
from survey_app.plan import audit, second_stage
from survey_app.plan.code_batches import codes_issued
from survey_app.plan.draw import plan_of
from survey_app.plan.issuing import void_unused
from survey_app.refusals import Refusal
from survey_app.untrusted import clean_text
from survey_app.vocabulary import SCHOOL_GROUPS

MAX_POPULATION = 1_000_000  # far above any school; keeps the column's integers sane

# Why a change is refused: code → the English text (the command line's; pages show the
# same in the staff's language, ``plan/messages.py``).
REASONS = {
    "no_plan": "campaign %(key)s has not drawn its schools yet",
    "not_frozen": (
        "campaign %(key)s is in preparation and has no codes issued: "
        "its plan is not frozen, import the frame or draw the schools again instead"
    ),
    "closed": "campaign %(key)s is closed: its schools can no longer be replaced",
    **audit.REASON_TEXTS,
    "unknown_school": "no school %(school)s in the draw of campaign %(key)s",
    "not_selected": "school %(school)s was not drawn: only a drawn school can be replaced",
    "refused_already": "school %(school)s has refused already and was replaced",
    "not_stratum": "substitute %(substitute)s is not in stratum %(stratum)s of %(school)s",
    "substitute_selected": "substitute %(substitute)s was drawn itself",
    "substitute_taken": "substitute %(substitute)s replaces another school already",
    "substitute_empty": "substitute %(substitute)s has no pupils",
    "no_substitute": "stratum %(stratum)s has no undrawn school with pupils left",
    "not_in_field": "school %(school)s is not in the field (not drawn, or refused)",
    "group": "%(group)s is not a group of the schools' quotas",
    "population": "a population is a whole number from 0 to %(limit)s",
    "unchanged": "the population of %(group)s at %(school)s is %(population)s already",
}


class ChangeRefused(Refusal):
    """A change to the frozen plan cannot be made: ``code`` (see :data:`REASONS`) and
    ``params`` say why, for the command line (English) and for pages (translated)."""

    REASONS = REASONS
    CONFLICTS = frozenset(("no_plan", "not_frozen", "closed"))


@dataclass(frozen=True)
class Replacement:
    refused: PlanSchool
    substitute: PlanSchool
    codes_revoked: int


@dataclass(frozen=True)
class PopulationCorrection:
    quota: PlanQuota
    old_population: int
    old_planned: int

    @property
    def planned_lowered(self) -> bool:
        return self.quota.planned < self.old_planned


def is_frozen(campaign: Campaign) -> bool:
    """The frame and the draw are frozen once codes are issued or the fieldwork opened."""
    return campaign.status != "draft" or codes_issued(campaign) > 0


def replace_school(
    campaign: Campaign, school_code: str, reason: str, substitute_code: str | None = None
) -> Replacement:
    """Replace a drawn school that refused (see the module's docstring for the rule)."""
    plan = _frozen_plan(campaign)
    if campaign.status == "closed":
        raise ChangeRefused("closed", key=campaign.key)
    why = audit.checked_reason(reason, ChangeRefused)
    refused = _row(plan, campaign, school_code)
    if not refused.selected:
        raise ChangeRefused("not_selected", school=refused.school.code)
    if refused.refused:
        raise ChangeRefused("refused_already", school=refused.school.code)
    if substitute_code is None or not substitute_code.strip():
        substitute = default_substitute(plan, refused)
    else:
        substitute = _row(plan, campaign, substitute_code)
        _check_substitute(refused, substitute)
    refused.refused = True
    substitute.substitute_for_id = refused.id
    _move_quotas(plan, refused, substitute)
    revoked = void_unused(refused.school)  # answered ones stay (the module's docstring)
    db.session.flush()
    audit.record(
        campaign,
        "school_replaced",
        {
            "school": refused.school.code,
            "substitute": substitute.school.code,
            "codes_revoked": revoked,
        },
        reason=why,
    )
    return Replacement(refused, substitute, revoked)


def default_substitute(plan: SamplingPlan, refused: PlanSchool) -> PlanSchool:
    """The next undrawn school with pupils after ``refused`` in frame order within its
    stratum, wrapping around; not one that is another school's substitute already."""
    stratum = sorted(
        (row for row in plan.schools if row.stratum_id == refused.stratum_id),
        key=lambda row: row.frame_order,
    )
    at = stratum.index(refused)
    for row in stratum[at + 1 :] + stratum[:at]:
        if _free(row):
            return row
    raise ChangeRefused("no_substitute", stratum=refused.school.stratum.code)


def correct_population(
    campaign: Campaign, school_code: str, group: str, population: int, reason: str
) -> PopulationCorrection:
    """Correct M of one group at a school in the field (see the module's docstring)."""
    plan = _frozen_plan(campaign)
    why = audit.checked_reason(reason, ChangeRefused)
    if group not in SCHOOL_GROUPS:
        raise ChangeRefused("group", group=clean_text(group)[:40])
    if not 0 <= population <= MAX_POPULATION:
        raise ChangeRefused("population", limit=MAX_POPULATION)
    row = _row(plan, campaign, school_code)
    quota = next(
        (q for q in plan.quotas if q.school_id == row.school_id and q.respondent_group == group),
        None,
    )
    if quota is None:  # only schools in the field have quotas
        raise ChangeRefused("not_in_field", school=row.school.code)
    if quota.population == population:
        raise ChangeRefused("unchanged", group=group, school=row.school.code, population=population)
    correction = PopulationCorrection(quota, quota.population, quota.planned)
    quota.planned = min(quota.planned, population)
    quota.population = population
    db.session.flush()
    audit.record(
        campaign,
        "population_corrected",
        {
            "school": row.school.code,
            "group": group,
            "old": correction.old_population,
            "new": population,
            "planned_old": correction.old_planned,
            "planned_new": quota.planned,
        },
        reason=why,
    )
    return correction


def first_stage_probabilities(plan: SamplingPlan) -> dict[int, float]:
    """π of each school in the field (by school id): a drawn school's own, a
    substitute's that of the school it replaces (the module's weighting rule)."""
    rows = {row.id: row for row in plan.schools}
    probabilities: dict[int, float] = {}
    for row in plan.schools:
        if row.substitute_for_id is not None:
            probabilities[row.school_id] = rows[row.substitute_for_id].inclusion_probability
        elif row.selected and not row.refused:
            probabilities[row.school_id] = row.inclusion_probability
    return probabilities


def pairs(plan: SamplingPlan) -> dict[int, PlanSchool]:
    """Plan rows by id → the row they are paired with: a refused school's row → its
    substitute's, a substitute's row → the refused school's (for marking lists)."""
    rows = {row.id: row for row in plan.schools}
    paired: dict[int, PlanSchool] = {}
    for row in plan.schools:
        if row.substitute_for_id is not None:
            paired[row.id] = rows[row.substitute_for_id]
            paired[row.substitute_for_id] = row
    return paired


def _frozen_plan(campaign: Campaign) -> SamplingPlan:
    plan = plan_of(campaign)
    if plan is None:
        raise ChangeRefused("no_plan", key=campaign.key)
    if not is_frozen(campaign):
        raise ChangeRefused("not_frozen", key=campaign.key)
    return plan


def _row(plan: SamplingPlan, campaign: Campaign, school_code: str) -> PlanSchool:
    code = (school_code or "").strip()
    for row in plan.schools:
        if row.school.code == code:
            return row
    raise ChangeRefused("unknown_school", school=clean_text(code)[:40], key=campaign.key)


def _free(row: PlanSchool) -> bool:
    """Could stand in for a school that refused: undrawn, no substitute yet, has pupils."""
    return not row.selected and row.substitute_for_id is None and row.size > 0


def _check_substitute(refused: PlanSchool, substitute: PlanSchool) -> None:
    named = {"substitute": substitute.school.code}
    if substitute.stratum_id != refused.stratum_id:
        raise ChangeRefused(
            "not_stratum",
            **named,
            stratum=refused.school.stratum.code,
            school=refused.school.code,
        )
    if substitute.selected:
        raise ChangeRefused("substitute_selected", **named)
    if substitute.substitute_for_id is not None:
        raise ChangeRefused("substitute_taken", **named)
    if substitute.size <= 0 or substitute.school.enrolment <= 0:
        raise ChangeRefused("substitute_empty", **named)


def _move_quotas(plan: SamplingPlan, refused: PlanSchool, substitute: PlanSchool) -> None:
    """The refused school's quotas become the substitute's: as many planned per group,
    never more than the substitute has; its own population M."""
    for quota in [q for q in plan.quotas if q.school_id == refused.school_id]:
        size = second_stage.population(substitute.school, quota.respondent_group)
        plan.quotas.remove(quota)  # delete-orphan: the row goes
        plan.quotas.append(
            PlanQuota(
                school_id=substitute.school_id,
                school=substitute.school,
                respondent_group=quota.respondent_group,
                planned=min(quota.planned, size),
                population=size,
            )
        )
