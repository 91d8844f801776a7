"""The supervisor's pages of a campaign (admins see them too)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import (
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from analysis import sample_size
from survey_app.auth.access import current_campaign, staff_blueprint
from survey_app.downloads import attachment
from survey_app.models import Campaign, SamplingPlan
from survey_app.plan import (
    audit,
    campaigns,
    changes,
    code_batches,
    draw,
    fieldwork,
    frame_import,
    lists,
    messages,
    open_links,
    slips,
)
from survey_app.plan.forms import (
    CampaignForm,
    CampaignSettingsForm,
    ClosingForm,
    DrawForm,
    FrameUploadForm,
    IssueCodesForm,
    RevokeCodeForm,
)
from survey_app.untrusted import accepts_upload
from survey_app.vocabulary import RESPONDENT_GROUPS, SCHOOL_GROUPS

bp = staff_blueprint("plan", __name__, roles=("admin", "supervisor"), url_prefix="/plan")
FRAME_UPLOAD_LIMIT = 8 * 1024 * 1024  # a county's frame is tens of KB; a province's a few MB
# CampaignRefused.field → the form's field (weights are refused as a whole: form errors)
_FORM_FIELDS = {"population": "resident_population", "rule": "verdict_rule"}


@bp.route("/new", methods=["GET", "POST"])
def new_campaign() -> ResponseReturnValue:
    form = CampaignForm()
    status = 200
    if form.validate_on_submit():
        settings = _settings_from(form, (form.key.data or "").strip())
        try:
            created = campaigns.create_campaign(settings, creator=current_user)  # type: ignore[arg-type]
        except campaigns.CampaignRefused as refused:
            _show_refusal(form, refused)
            status = 422
        else:
            return redirect(url_for("plan.campaign", key=created.key))
    elif request.method == "POST":
        status = 422
    return render_template("plan/new_campaign.html", form=form, groups=RESPONDENT_GROUPS), status


@bp.route("/<key>/settings", methods=["GET", "POST"])
def campaign_settings(key: str) -> ResponseReturnValue:
    """A campaign in preparation changed (its key stays); refused once fieldwork opens."""
    chosen = current_campaign()
    if request.method == "GET":
        current = campaigns.settings_of(chosen)
        weights = {f"weight_{g}": w for g, w in (current.policy_weights or {}).items()}
        form = CampaignSettingsForm(
            formdata=None, **{n: getattr(current, n) for n in campaigns.SETTINGS}, **weights
        )
    else:
        form = CampaignSettingsForm()
    status = 200
    if form.validate_on_submit():
        try:
            campaigns.change_settings(chosen, _settings_from(form, chosen.key))
        except campaigns.CampaignRefused as refused:
            if refused.code != "not_draft":  # that one the page says above the form
                _show_refusal(form, refused)
            status = 409 if refused.code == "not_draft" else 422
        else:
            return redirect(url_for("plan.campaign", key=chosen.key))
    elif request.method == "POST":
        status = 422
    return render_template(
        "plan/campaign_settings.html", form=form, campaign=chosen, groups=RESPONDENT_GROUPS
    ), status


def _settings_from(form: CampaignForm, key: str) -> campaigns.CampaignSettings:
    weights = {
        group: float(getattr(form, f"weight_{group}").data)
        for group in RESPONDENT_GROUPS
        if getattr(form, f"weight_{group}").data is not None
    }
    return campaigns.CampaignSettings(
        key=key,
        county_code=(form.county_code.data or "").strip(),
        county_name=form.county_name.data or "",
        stage=form.stage.data or "",
        resident_population=form.resident_population.data or 0,
        opens=form.opens.data,  # type: ignore[arg-type]
        closes=form.closes.data,  # type: ignore[arg-type]
        threshold=float(form.threshold.data or 0),
        verdict_rule=form.verdict_rule.data or "",
        policy_weights=weights or None,
    )


def _show_refusal(form: CampaignForm, refused: campaigns.CampaignRefused) -> None:
    """The refusal under the field at fault (else above the form)."""
    field = getattr(form, _FORM_FIELDS.get(refused.field, refused.field), None)
    errors = field.errors if field is not None else form.form_errors
    errors.append(messages.campaign_refused(refused))


@bp.route("/<key>/")
def campaign(key: str) -> ResponseReturnValue:
    """The campaign at a glance: its frame by stratum, its codes in the field, the
    fieldwork's state and the audit log of its plan."""
    return _campaign_page(current_campaign())


def _campaign_page(
    chosen: Campaign,
    refused: str | None = None,
    status: int = 200,
    closing_form: ClosingForm | None = None,
) -> ResponseReturnValue:
    if closing_form is None:
        closing_form = ClosingForm(formdata=None, closes=campaigns.last_day(chosen))
    return render_template(
        "plan/campaign.html",
        campaign=chosen,
        closing_form=closing_form,
        strata=fieldwork.frame_by_stratum(chosen),
        codes=fieldwork.code_counts(chosen),
        areas=open_links.area_labels(chosen),
        drawn=draw.plan_of(chosen) is not None,
        events=audit.events(chosen),
        refused=refused,
    ), status


@bp.route("/<key>/frame", methods=["GET", "POST"])
@accepts_upload(FRAME_UPLOAD_LIMIT)
def import_frame(key: str) -> ResponseReturnValue:
    """Upload the school frame; every problem of a rejected file is listed."""
    chosen = current_campaign()
    form = FrameUploadForm()
    problems: list[str] = []
    locked = None
    status = 200
    if form.validate_on_submit():
        upload = form.frame.data
        try:
            frame_import.import_frame(chosen, upload.filename or "", upload.read())
        except frame_import.FrameRejected as rejected:
            problems, status = [messages.frame_problem(p) for p in rejected.problems], 422
        except frame_import.FrameLocked as error:
            locked, status = messages.frame_locked(error), 409
        else:
            return redirect(url_for("plan.campaign", key=chosen.key))
    elif request.method == "POST":
        status = 422
    if locked is None and (lock := frame_import.lock_of(chosen)) is not None:
        locked = messages.frame_locked(lock)
    return render_template(
        "plan/frame.html",
        campaign=chosen,
        form=form,
        problems=problems,
        locked=locked,
        columns=frame_import.COLUMNS,
    ), status


@bp.route("/<key>/draw", methods=["GET", "POST"])
def draw_schools(key: str) -> ResponseReturnValue:
    """The allocation of schools to strata, the seed, and the draw they make."""
    chosen = current_campaign()
    strata = draw.frame_strata(chosen)
    plan = draw.plan_of(chosen)
    defaults = draw.default_allocation(strata) if strata else {}
    current = {entry.stratum.code: entry.schools_drawn for entry in plan.strata} if plan else {}
    typed = {code: request.form.get(f"n-{code}", "") for code in defaults}
    typed_respondents = {group: request.form.get(f"r-{group}", "") for group in SCHOOL_GROUPS}
    form = DrawForm()
    if request.method == "GET":
        form.seed.data = plan.seed if plan else secrets.randbelow(10**9)
    refused: str | None = None
    status = 200
    if form.validate_on_submit():
        allocation, refused = _counts_from(typed, messages.not_a_count)
        respondents, refused_respondents = _counts_from(
            typed_respondents, messages.not_a_respondent_count
        )
        refused = refused or refused_respondents
        if refused is None:
            try:
                draw.draw_schools(
                    chosen, form.seed.data or 0, datetime.now(UTC), allocation, respondents
                )
            except draw.DrawRefused as error:
                refused = messages.draw_refused(error)
            else:
                return redirect(url_for("plan.draw_schools", key=chosen.key))
        status = 422
    elif request.method == "POST":
        status = 422
    allocation_shown = typed if request.method == "POST" else {**defaults, **current}
    drawn = draw.respondents_drawn(chosen)
    respondents_shown = (
        typed_respondents
        if request.method == "POST"
        else {group: str(n) for group, n in drawn.items()}
    )
    sizing = _sample_size(chosen, drawn)
    if sizing.error and status == 200:
        status = 422
    return render_template(
        "plan/draw.html",
        frozen=changes.is_frozen(chosen),
        sizing=sizing,
        campaign=chosen,
        strata=strata,
        allocation=allocation_shown,
        respondents=respondents_shown,
        defaults=defaults,
        plan=plan,
        selected=[row for row in plan.schools if row.selected] if plan else [],
        form=form,
        refused=refused,
    ), status


@dataclass(frozen=True)
class Sizing:
    """The sample-size panel of the draw page: its inputs as typed, and the result."""

    inputs: dict[str, str]
    size: sample_size.SampleSize | None = None
    practice: sample_size.NationalPractice | None = None
    error: str | None = None


SIZING_DEFAULTS = {"p1": "0.90", "rho": "0.05", "cv": "0.3"}


def _sample_size(chosen: Campaign, drawn: Mapping[str, int]) -> Sizing:
    """The test of the 85% line against p1 (the planning design effect from m̄, ρ and
    CV_w) beside the national practice for the campaign's residents.  m̄ starts as the
    most respondents of one group a school gives in the last draw (``drawn``, else the
    defaults): that group's clusters have the largest design effect."""
    largest = max(drawn.values(), default=1)
    defaults = {**SIZING_DEFAULTS, "m": str(max(1, largest))}
    inputs = {name: request.args.get(name, default)[:20] for name, default in defaults.items()}
    try:
        p1, m, rho, cv = (float(inputs[name]) for name in ("p1", "m", "rho", "cv"))
        deff = sample_size.design_effect(m, rho, cv)
        size = sample_size.for_test(p1, p0=chosen.threshold, deff=deff)
    except (ValueError, sample_size.SampleSizeError):
        return Sizing(
            inputs, error=_("Give rates between 0 and 1, respondents per school of 1 or more.")
        )
    return Sizing(inputs, size, sample_size.national_practice(chosen.resident_population))


def _counts_from(
    typed: dict[str, str], refusal: Callable[[str], str]
) -> tuple[dict[str, int], str | None]:
    """The fields as whole numbers of at most six digits (ASCII: int() would read other
    digits), or ``refusal`` of the first field that is not one."""
    counts: dict[str, int] = {}
    for name, text in typed.items():
        text = text.strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 6):
            return {}, refusal(name)
        counts[name] = int(text)
    return counts, None


@bp.route("/<key>/audit.csv")
def export_audit(key: str) -> ResponseReturnValue:
    """The campaign's audit log, whole, as codes (``audit.events_csv``)."""
    return attachment(audit.events_csv(current_campaign()), "text/csv", f"audit-{key}.csv")


@bp.route("/<key>/draw.csv")
def export_draw(key: str) -> ResponseReturnValue:
    """The draw as ``flask plan export`` writes it, for checking in R."""
    plan = draw.plan_of(current_campaign())
    if plan is None:
        abort(404)
    return attachment(draw.export_csv(plan), "text/csv", f"draw-{key}.csv")


@bp.route("/<key>/codes", methods=["GET"])
def codes(key: str) -> ResponseReturnValue:
    """Codes per selected school and group: planned, issued, answered, revoked."""
    return _codes_page(current_campaign(), IssueCodesForm(), RevokeCodeForm())


def _codes_page(
    chosen: Campaign,
    issue_form: IssueCodesForm,
    revoke_form: RevokeCodeForm,
    notice: str | None = None,
    refused: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    plan = draw.plan_of(chosen)
    progress = _by_school(plan)
    list_rows = lists.list_progress(chosen) if plan else []
    return render_template(
        "plan/codes.html",
        campaign=chosen,
        plan=plan,
        progress=progress,
        list_rows=list_rows,
        missing=sum(max(0, row.planned - row.issued) for row in progress)
        + sum(max(0, row.planned - row.issued) for row in list_rows),
        issue_form=issue_form,
        revoke_form=revoke_form,
        notice=notice,
        refused=refused,
    ), status


def _by_school(plan: SamplingPlan | None) -> list[code_batches.QuotaProgress]:
    """The codes of each school and group, by school code, each school's groups in the
    vocabulary's order (学生, 家长, 教师, 校长)."""
    rows = code_batches.quota_progress(plan) if plan is not None else []
    return sorted(
        rows, key=lambda row: (row.school.code, RESPONDENT_GROUPS.index(row.respondent_group))
    )


@bp.route("/<key>/codes/issue", methods=["POST"])
def issue_codes(key: str) -> ResponseReturnValue:
    """Issue the missing codes and send them at once as slips or CSV: the plain codes
    are never stored, so this download is the only copy (committed before it is sent)."""
    chosen = current_campaign()
    form = IssueCodesForm()
    if not form.validate_on_submit():
        return _codes_page(chosen, form, RevokeCodeForm(), status=422)
    try:
        issued = code_batches.issue_planned_codes(chosen, draw.plan_of(chosen))
    except code_batches.NothingToIssue:
        return _codes_page(
            chosen,
            form,
            RevokeCodeForm(),
            refused=_("Nothing to issue: every planned code has been issued."),
            status=409,
        )
    base_url = current_app.config["PUBLIC_BASE_URL"]
    stamp = datetime.now(UTC)
    name = f"codes-{chosen.key}-{stamp:%Y%m%d-%H%M%S}"
    body: str | bytes
    if form.output.data == "csv":
        body, mimetype, name = slips.codes_csv(issued, base_url), "text/csv", name + ".csv"
    else:
        language = form.language.data or "zh_Hans"
        body = slips.slips_pdf(issued, base_url, language, chosen, stamp)
        mimetype, name = "application/pdf", name + ".pdf"
    return attachment(body, mimetype, name)


@bp.route("/<key>/codes/revoke", methods=["POST"])
def revoke_code(key: str) -> ResponseReturnValue:
    chosen = current_campaign()
    form = RevokeCodeForm()
    if not form.validate_on_submit():
        return _codes_page(chosen, IssueCodesForm(), form, status=422)
    try:
        code_batches.revoke_code(chosen, form.code.data or "")
    except code_batches.RevokeRefused as error:
        message = (
            _("This code has been answered: it cannot be revoked.")
            if error.answered
            else _("No such code in this campaign.")
        )
        return _codes_page(chosen, IssueCodesForm(), form, refused=message, status=422)
    return _codes_page(
        chosen,
        IssueCodesForm(),
        RevokeCodeForm(formdata=None),
        notice=_("The code is revoked: it no longer opens the questionnaire."),
    )


@bp.route("/<key>/fieldwork")
def fieldwork_progress(key: str) -> ResponseReturnValue:
    """Responses against targets per stratum and group, and per school: counts only."""
    chosen = current_campaign()
    plan = draw.plan_of(chosen)
    report = fieldwork.progress(chosen, plan, datetime.now(UTC))
    integrity = None
    if chosen.status == "open" and plan is not None:
        from survey_app.integrity import checks  # scipy.stats: imported when first asked

        integrity = checks.fetched_summary(chosen)
    return render_template(
        "plan/fieldwork.html",
        campaign=chosen,
        report=report,
        schools=_by_school(plan),
        areas=open_links.area_labels(chosen),
        integrity=integrity,
    )


@bp.route("/<key>/fieldwork.json")
def fieldwork_json(key: str) -> ResponseReturnValue:
    """The fieldwork table's counts, for its refresh without a reload."""
    chosen = current_campaign()
    report = fieldwork.progress(chosen, draw.plan_of(chosen), datetime.now(UTC))
    return jsonify(fieldwork.progress_json(report))


@bp.route("/<key>/fieldwork.csv")
def fieldwork_csv(key: str) -> ResponseReturnValue:
    chosen = current_campaign()
    report = fieldwork.progress(chosen, draw.plan_of(chosen), datetime.now(UTC))
    return attachment(fieldwork.progress_csv(report), "text/csv", f"fieldwork-{key}.csv")


@bp.route("/<key>/fieldwork-schools.csv")
def fieldwork_schools_csv(key: str) -> ResponseReturnValue:
    rows = _by_school(draw.plan_of(current_campaign()))
    return attachment(fieldwork.schools_csv(rows), "text/csv", f"fieldwork-schools-{key}.csv")


@bp.route("/<key>/open", methods=["POST"])
def open_fieldwork(key: str) -> ResponseReturnValue:
    return _change_fieldwork(campaigns.open_fieldwork)


@bp.route("/<key>/close", methods=["POST"])
def close_fieldwork(key: str) -> ResponseReturnValue:
    return _change_fieldwork(campaigns.close_fieldwork)


@bp.route("/<key>/closing", methods=["POST"])
def move_closing(key: str) -> ResponseReturnValue:
    """Move the fieldwork's last day (extend it, usually), with a reason."""
    chosen = current_campaign()
    form = ClosingForm()
    if not form.validate_on_submit() or form.closes.data is None:
        return _campaign_page(chosen, status=422, closing_form=form)
    try:
        campaigns.move_closing(chosen, form.closes.data, form.reason.data or "", datetime.now(UTC))
    except campaigns.ClosingRefused as refused:
        form.closes.errors = [*form.closes.errors, messages.closing_refused(refused)]
        status = 409 if refused.conflict else 422
        return _campaign_page(chosen, status=status, closing_form=form)
    return redirect(url_for("plan.campaign", key=chosen.key))


def _change_fieldwork(change: Callable[[Campaign], None]) -> ResponseReturnValue:
    """Open or close the fieldwork (CSRF is checked before the view)."""
    chosen = current_campaign()
    try:
        change(chosen)
    except campaigns.FieldworkRefused:
        return _campaign_page(
            chosen,
            refused=_(
                "This cannot be done now: draw the schools first, and open a campaign only once."
            ),
            status=409,
        )
    return redirect(url_for("plan.campaign", key=chosen.key))


# Routes of this blueprint kept in modules of their own: changes to a frozen plan
# (replaced schools, corrected populations), the lists and open links, the supervisor's
# sheets. Importing them registers their routes on ``bp``.
from survey_app.plan import change_views, integrity_views, outreach_views, sheet_views  # noqa: E402, F401, I001
