"""``flask --app wsgi campaign …`` and ``flask --app wsgi plan …`` (thin wrappers)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from analysis import sample_size
from survey_app.cli import CommandError
from survey_app.extensions import db
from survey_app.models import Campaign
from survey_app.plan import (
    campaigns,
    code_batches,
    draw,
    frame_import,
    second_stage,
    slips,
)
from survey_app.transactions import committed
from survey_app.vocabulary import LANGUAGES, RESPONDENT_GROUPS, STAGES, VERDICT_RULES

campaign_cli = AppGroup("campaign", help="Campaigns (one county's evaluation round).")
plan_cli = AppGroup("plan", help="The school frame and the sampling plan of a campaign.")
DATE = click.DateTime(formats=["%Y-%m-%d"])


def _weights(values: tuple[str, ...]) -> dict[str, float] | None:
    weights: dict[str, float] = {}
    for value in values:
        group, _, share = value.partition("=")
        if group not in RESPONDENT_GROUPS:
            raise CommandError(
                f"--weight {value}: the group is one of {', '.join(RESPONDENT_GROUPS)}"
            )
        try:
            weights[group] = float(share)
        except ValueError:
            raise CommandError(f"--weight {value}: give GROUP=SHARE, e.g. parent=0.5") from None
    return weights or None


@campaign_cli.command("create")
@click.option("--key", required=True, help="How the campaign is named, e.g. 2026-hx-self.")
@click.option("--county-code", required=True, help="The county's six-digit GB/T 2260 code.")
@click.option("--county-name", required=True)
@click.option("--stage", type=click.Choice(STAGES), required=True)
@click.option("--population", type=int, required=True, help="Resident population.")
@click.option("--opens", type=DATE, required=True, help="First day of fieldwork (YYYY-MM-DD).")
@click.option("--closes", type=DATE, required=True, help="Last day of fieldwork (YYYY-MM-DD).")
@click.option("--threshold", type=float, default=0.85, show_default=True)
@click.option("--rule", type=click.Choice(VERDICT_RULES), default="confidence", show_default=True)
@click.option(
    "--weight",
    "weights",
    multiple=True,
    metavar="GROUP=SHARE",
    help="Policy weight of a group in the county score (repeat; default: national).",
)
def campaign_create(
    key: str,
    county_code: str,
    county_name: str,
    stage: str,
    population: int,
    opens: datetime,
    closes: datetime,
    threshold: float,
    rule: str,
    weights: tuple[str, ...],
) -> None:
    """Create a campaign in preparation (fieldwork dates are days in China's time)."""
    settings = campaigns.CampaignSettings(
        key=key,
        county_code=county_code,
        county_name=county_name,
        stage=stage,
        resident_population=population,
        opens=opens.date(),
        closes=closes.date(),
        threshold=threshold,
        verdict_rule=rule,
        policy_weights=_weights(weights),
    )
    try:
        with committed():
            campaign = campaigns.create_campaign(settings)
    except campaigns.CampaignRefused as refused:
        raise CommandError(f"--{refused.field.replace('_', '-')}: {refused.reason}") from refused
    click.echo(f"Created campaign {campaign.key}: {campaign.county_name} ({campaign.stage}).")


def _campaign(key: str) -> Campaign:
    campaign = db.session.scalar(select(Campaign).where(Campaign.key == key))
    if campaign is None:
        raise CommandError(f"no campaign with the key {key!r}")
    return campaign


@plan_cli.command("import-frame")
@click.option("--campaign", "key", required=True, metavar="KEY")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def plan_import_frame(key: str, file: Path) -> None:
    """Import (or replace) the school frame from a CSV or XLSX file.

    Nothing is imported unless every row is right; each problem is printed on a line of
    its own (exit status 2).
    """
    try:
        with committed():
            imported = frame_import.import_frame(_campaign(key), file.name, file.read_bytes())
    except frame_import.FrameRejected as rejected:
        for problem in rejected.problems:
            click.echo(str(problem), err=True)
        raise SystemExit(2) from rejected
    except frame_import.FrameLocked as locked:
        raise CommandError(str(locked)) from locked
    click.echo(
        f"Imported {imported.schools} schools in {imported.strata} strata into {key}"
        + (f" (replacing {imported.replaced})." if imported.replaced else ".")
    )


@plan_cli.command("size")
@click.option("--p", "p", type=float, help="Anticipated rate, for a margin of error.")
@click.option("--margin", type=float, help="Half-width of the interval, e.g. 0.05.")
@click.option("--p0", type=float, default=0.85, show_default=True, help="The threshold tested.")
@click.option("--p1", type=float, help="The true rate the test should detect, e.g. 0.90.")
@click.option("--alpha", type=float, default=0.05, show_default=True, help="One-sided level.")
@click.option("--power", type=float, default=0.8, show_default=True)
@click.option("--deff", type=float, help="Planning design effect (default: from --m and --rho).")
@click.option("--m", "cluster_size", type=float, default=1.0, help="Respondents per school.")
@click.option("--rho", type=float, default=0.0, help="Intra-school correlation.")
@click.option("--cv-weights", type=float, default=0.0, help="CV of the weights.")
@click.option(
    "--population", type=int, help="N of the group, for the finite-population correction."
)
@click.option("--level", type=float, default=0.95, show_default=True)
@click.option("--residents", type=int, help="Resident population, for the national practice.")
@click.option("--campaign", "key", metavar="KEY", help="Take --residents from a campaign.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plan_size(
    p: float | None,
    margin: float | None,
    p0: float,
    p1: float | None,
    alpha: float,
    power: float,
    deff: float | None,
    cluster_size: float,
    rho: float,
    cv_weights: float,
    population: int | None,
    level: float,
    residents: int | None,
    key: str | None,
    as_json: bool,
) -> None:
    """How many respondents: the statistical requirement (a margin, or the test of the
    85% line) beside the national practice (1.5‰ of residents), and the larger."""
    if (p is None) != (margin is None) or (margin is None) == (p1 is None):
        raise CommandError("give --p and --margin (a margin of error) or --p1 (the test of --p0)")
    if key is not None:
        residents = _campaign(key).resident_population
    try:
        effect = (
            deff if deff is not None else sample_size.design_effect(cluster_size, rho, cv_weights)
        )
        if margin is not None and p is not None:
            size = sample_size.for_margin(
                p, margin, deff=effect, level=level, population=population
            )
        else:
            assert p1 is not None  # noqa: S101 - checked above
            size = sample_size.for_test(
                p1, p0=p0, alpha=alpha, power=power, deff=effect, population=population
            )
        practice = sample_size.national_practice(residents) if residents is not None else None
    except sample_size.SampleSizeError as error:
        raise CommandError(str(error)) from error
    required = max(size.n, practice.total if practice else 0)
    if as_json:
        payload: dict[str, object] = {
            **size.as_dict(),
            "national": practice.as_dict() if practice else None,
            "required": required,
        }
        click.echo(json.dumps(payload))
        return
    what = (
        f"±{margin:g} at p = {p:g}, level {level:g}"
        if size.rule == "margin"
        else f"test of {p0:g} against {p1:g}, α = {alpha:g}, power {power:g}"
    )
    click.echo(f"statistical requirement ({what}, deff {size.deff:.4g}):")
    fpc = f", N = {population}: n = {size.n}" if population else ""
    click.echo(f"  n0 = {size.n0:.1f} → {math.ceil(size.n0 - 1e-9)}{fpc}")
    if practice:
        click.echo(
            f"national practice (1.5‰ of {residents} residents): {practice.total}, "
            f"parents at least {practice.parents}"
        )
    click.echo(f"required: {required}")


def _counts_option(option: str, values: tuple[str, ...], example: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        name, _, count = value.partition("=")
        if not name or not count.isascii() or not count.isdigit():
            raise CommandError(f"{option} {value}: give NAME=N, e.g. {example}")
        counts[name] = int(count)
    return counts


@plan_cli.command("draw")
@click.option("--campaign", "key", required=True, metavar="KEY")
@click.option(
    "--seed",
    type=click.IntRange(0, draw.MAX_SEED),
    required=True,
    help="Recorded; the same seed draws the same schools.",
)
@click.option(
    "--schools-per-stratum",
    "allocation",
    multiple=True,
    metavar="STRATUM=N",
    help="Schools to draw in a stratum (repeat); the others take the default allocation.",
)
@click.option(
    "--respondents",
    "respondents",
    multiple=True,
    metavar="GROUP=N",
    help="Respondents of a group per selected school (repeat; default: students 15, "
    "parents 15, teachers 5, principal 1).",
)
def plan_draw(
    key: str, seed: int, allocation: tuple[str, ...], respondents: tuple[str, ...]
) -> None:
    """Draw the campaign's schools: PPS by enrolment, systematic in each stratum."""
    campaign = _campaign(key)
    try:
        with committed():
            plan = draw.draw_schools(
                campaign,
                seed,
                datetime.now(UTC),
                _counts_option("--schools-per-stratum", allocation, "rural-primary=4"),
                _counts_option("--respondents", respondents, "parent=15"),
            )
            lines = [
                f"{entry.stratum.code}: {entry.schools_drawn} of "
                f"{sum(1 for s in plan.schools if s.stratum_id == entry.stratum_id)} schools"
                f" (start {entry.random_start:.6f})"
                for entry in plan.strata
            ]
            selected = sum(1 for school in plan.schools if school.selected)
    except draw.DrawRefused as refused:
        raise CommandError(str(refused)) from refused
    click.echo("\n".join(lines))
    click.echo(f"Drew {selected} schools for {key} with seed {seed}.")


@plan_cli.command("export")
@click.option("--campaign", "key", required=True, metavar="KEY")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def plan_export(key: str, out: Path) -> None:
    """Write the draw, one row per frame school, as CSV for checking it in R."""
    plan = draw.plan_of(_campaign(key))
    if plan is None:
        raise CommandError(f"campaign {key} has not drawn its schools yet (flask plan draw)")
    try:
        out.write_text(draw.export_csv(plan), encoding="utf-8")
    except OSError as error:
        raise CommandError(f"--out {out}: {error.strerror}") from error
    click.echo(f"Wrote {len(plan.schools)} schools to {out}.")


codes_cli = AppGroup("codes", help="One-time codes of a campaign's plan.")


@codes_cli.command("issue")
@click.option("--campaign", "key", required=True, metavar="KEY")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the codes and links as CSV (default: standard output).",
)
@click.option(
    "--slips",
    "slips_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write PDF slips to cut (QR code, code, link, instructions).",
)
@click.option(
    "--language",
    type=click.Choice(LANGUAGES),
    default=LANGUAGES[0],
    show_default=True,
    help="Language of the slips' instructions.",
)
def codes_issue(key: str, csv_path: Path | None, slips_path: Path | None, language: str) -> None:
    """Issue the codes the drawn plan calls for that are not issued yet.

    The plain codes are printed only now (the database keeps digests): keep the CSV or
    the slips; a lost batch is revoked and issued again.
    """
    campaign = _campaign(key)
    base_url = current_app.config["PUBLIC_BASE_URL"]
    try:
        with committed():
            issued = code_batches.issue_planned_codes(campaign, draw.plan_of(campaign))
            table = slips.codes_csv(issued, base_url)
            pdf = (
                slips.slips_pdf(issued, base_url, language, campaign, datetime.now(UTC))
                if slips_path
                else None
            )
            if csv_path:
                csv_path.write_text(table, encoding="utf-8")
            if slips_path and pdf is not None:
                slips_path.write_bytes(pdf)
    except code_batches.NothingToIssue as nothing:
        raise CommandError(str(nothing)) from nothing
    except OSError as error:
        raise CommandError(f"{error.filename}: {error.strerror}") from error
    if not csv_path:
        click.echo(table, nl=False)
    click.echo(f"Issued {len(issued)} codes for {key}.", err=not csv_path)


@codes_cli.command("revoke")
@click.option("--campaign", "key", required=True, metavar="KEY")
@click.option("--code", "typed", help="One code (a lost or misprinted slip).")
@click.option("--school", "school_code", help="With --group: every unused code of a school.")
@click.option("--group", type=click.Choice(second_stage.SCHOOL_GROUPS))
def codes_revoke(key: str, typed: str | None, school_code: str | None, group: str | None) -> None:
    """Revoke codes so they no longer open; `codes issue` then issues replacements."""
    if (typed is None) == (school_code is None) or (school_code is None) != (group is None):
        raise CommandError("give --code, or --school with --group")
    campaign = _campaign(key)
    try:
        with committed():
            if typed is not None:
                code_batches.revoke_code(campaign, typed)
                revoked = 1
            elif school_code is not None and group is not None:
                revoked = code_batches.revoke_unused(campaign, school_code, group)
    except code_batches.RevokeRefused as refused:
        raise CommandError(str(refused)) from refused
    click.echo(f"Revoked {revoked} codes.")


@campaign_cli.command("open")
@click.option("--campaign", "key", required=True, metavar="KEY")
def campaign_open(key: str) -> None:
    """Open the fieldwork: codes start to work; the frame and the draw are frozen."""
    try:
        with committed():
            campaigns.open_fieldwork(_campaign(key))
    except campaigns.FieldworkRefused as refused:
        raise CommandError(str(refused)) from refused
    click.echo(f"Fieldwork of {key} is open.")


@campaign_cli.command("close")
@click.option("--campaign", "key", required=True, metavar="KEY")
def campaign_close(key: str) -> None:
    """Close the fieldwork before the end of its window."""
    try:
        with committed():
            campaigns.close_fieldwork(_campaign(key))
    except campaigns.FieldworkRefused as refused:
        raise CommandError(str(refused)) from refused
    click.echo(f"Fieldwork of {key} is closed.")


@campaign_cli.command("closing")
@click.option("--campaign", "key", required=True, metavar="KEY")
@click.option("--closes", type=DATE, required=True, help="New last day of fieldwork (YYYY-MM-DD).")
@click.option("--reason", required=True, help="Why (kept in the audit log).")
def campaign_closing(key: str, closes: datetime, reason: str) -> None:
    """Move the fieldwork's last day (extend it, usually); codes issued for the window
    keep working to its new end."""
    try:
        with committed():
            moved = campaigns.move_closing(_campaign(key), closes.date(), reason, datetime.now(UTC))
    except campaigns.ClosingRefused as refused:
        raise CommandError(str(refused)) from refused
    click.echo(
        f"Fieldwork of {key} now closes at the end of {moved.closes.isoformat()} "
        f"(was {moved.previous.isoformat()}); {moved.codes} unused codes follow."
    )


# Commands of ``plan`` kept in modules of their own: changes to a frozen plan, the lists
# and open links, the supervisor's sheets. Importing them registers the commands.
from survey_app.plan import change_cli, outreach_cli, sheet_cli  # noqa: E402, F401, I001
