"""Command-line tools: ``flask --app wsgi demo …`` and ``flask --app wsgi questionnaires …``.

Thin wrappers over service functions.
"""

from __future__ import annotations

import random
import secrets

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from survey_app import demo
from survey_app.plan.issuing import issue_codes
from survey_app.plan.slips import link
from survey_app.transactions import committed
from survey_app.vocabulary import READING_LEVELS, RESPONDENT_GROUPS, SCHOOL_GROUPS, STUDENT


class CommandError(click.ClickException):
    """A one-line refusal of bad input, with exit status 2 (as click's usage errors)."""

    exit_code = 2


demo_cli = AppGroup("demo", help="The demo county.")
questionnaires_cli = AppGroup("questionnaires", help="Questionnaire definitions.")


@demo_cli.command("seed")
def demo_seed() -> None:
    """Create the demo county (about 40 schools) with an open campaign."""
    try:
        with committed():
            campaign = demo.seed_demo_county()
    except demo.DemoExists:
        click.echo("The demo county is already seeded.")
        return
    click.echo(f"Seeded {campaign.county_name} ({campaign.county_code}), campaign {campaign.id}.")


@demo_cli.command("link")
def demo_link() -> None:
    """Print the open link of the demo county's residents (城关镇)."""
    from survey_app.plan.open_links import link_url

    campaign = demo.demo_campaign()
    found = demo.demo_open_link(campaign) if campaign else None
    if found is None:
        raise click.ClickException("No demo county: run `flask --app wsgi demo seed` first.")
    click.echo(link_url(current_app.config["PUBLIC_BASE_URL"], found.token))


@demo_cli.command("codes")
@click.option("--group", "respondent_group", type=click.Choice(RESPONDENT_GROUPS), required=True)
@click.option("--n", "count", type=click.IntRange(1, 10_000), default=1, show_default=True)
def demo_codes(respondent_group: str, count: int) -> None:
    """Print unused one-time codes of the demo county with their full links."""
    campaign = demo.demo_campaign()
    if campaign is None:
        raise click.ClickException("No demo county: run `flask --app wsgi demo seed` first.")
    base = current_app.config["PUBLIC_BASE_URL"]
    if respondent_group not in SCHOOL_GROUPS:
        with committed():
            codes = demo.demo_outreach_codes(campaign, respondent_group, count)
        click.echo("\n".join(f"{code}  {link(base, code)}" for code in codes))
        return
    schools = demo.schools_for_group(campaign, respondent_group)
    chooser = random.Random(secrets.randbits(64))  # noqa: S311 - picks a school, not a secret
    lines = []
    with committed():
        for _index in range(count):
            school = chooser.choice(schools)
            level = None
            if respondent_group == STUDENT and school.level == "nine_year":
                level = chooser.choice(READING_LEVELS)  # grades 3-6 or 7-9
            (code,) = issue_codes(school, respondent_group, 1, reading_level=level)
            lines.append(f"{code}  {link(base, code)}")
    click.echo("\n".join(lines))  # printed once stored: a printed code always works


@demo_cli.command("fieldwork")
@click.option("--campaign", "key", required=True, help="The campaign's key (the demo's: demo).")
@click.option("--responses", "count", type=int, required=True, help="How many responses.")
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same answers.")
@click.option("--if-empty", is_flag=True, help="Do nothing if the campaign has responses.")
@click.option(
    "--coach",
    "coached",
    type=int,
    default=0,
    show_default=True,
    help="Coach this many schools' groups (template, erased dissatisfaction, proxy filling "
    "in turn), for demos of the integrity checks.",
)
def demo_fieldwork(key: str, count: int, seed: int, if_empty: bool, coached: int) -> None:
    """Fill a drawn, open campaign with COUNT simulated responses, spread over its plan and
    stored through the respondents' own services (see survey_app/demo_fieldwork.py)."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from survey_app import demo_fieldwork
    from survey_app.extensions import db
    from survey_app.models import Campaign

    if not 1 <= count <= demo_fieldwork.MAX_RESPONSES:
        raise CommandError(f"--responses is 1 to {demo_fieldwork.MAX_RESPONSES}, not {count}")
    if not 0 <= seed < 2**63:
        raise CommandError("--seed is a whole number from 0 to 2**63 - 1")
    if not 0 <= coached <= 1000:
        raise CommandError(f"--coach is 0 to 1000, not {coached}")
    campaign = db.session.scalar(select(Campaign).where(Campaign.key == key))
    if campaign is None:
        raise CommandError(f"no campaign {key!r}")
    if if_empty:
        stored = demo_fieldwork.responses_of(campaign)
        if stored:
            click.echo(f"Campaign {key} has {stored} responses already: nothing simulated.")
            return
    try:
        with committed():
            result = demo_fieldwork.simulate_fieldwork(
                campaign,
                count,
                seed=seed,
                now=datetime.now(UTC),
                items_per_page=current_app.config["ITEMS_PER_PAGE"],
                coached=coached,
            )
    except demo_fieldwork.FieldworkRefused as refused:
        raise CommandError(str(refused)) from refused
    groups = ", ".join(
        f"{group} {result.per_group[group]}"
        for group in RESPONDENT_GROUPS
        if result.per_group.get(group)
    )
    click.echo(f"Stored {result.responses} simulated responses in {key}: {groups}.")
    for school, group, style in result.coached:
        click.echo(f"Coached: school {school}, {group}, {style}.")


@questionnaires_cli.command("check")
def questionnaires_check() -> None:
    """Validate every questionnaire file; print each problem with file, item and field."""
    from questionnaires import check_all

    problems = check_all()
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        raise SystemExit(1)
    click.echo("All questionnaires are valid.")


@questionnaires_cli.command("publish")
@click.argument("key")
def questionnaires_publish(key: str) -> None:
    """Freeze the current version of questionnaire KEY before it is first answered."""
    from questionnaires import QuestionnaireError, publish

    try:
        path = publish(key)
    except (QuestionnaireError, FileNotFoundError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Published {path.name}.")


@demo_cli.command("logins")
def demo_logins() -> None:
    """Give the demo's admin, supervisor and evaluator new random passwords and print them
    (made if missing; no password is kept anywhere but in this output)."""
    if demo.demo_campaign() is None:
        raise click.ClickException("No demo county: run `flask --app wsgi demo seed` first.")
    with committed():
        logins = demo.reset_demo_accounts()
    for role, email, password in logins:
        click.echo(f"{role:<10}  {email:<26}  {password}")


def init_app(app: Flask) -> None:
    from survey_app.auth.cli import users_cli
    from survey_app.integrity.cli import integrity
    from survey_app.plan.cli import campaign_cli, codes_cli, plan_cli
    from survey_app.results.cli import results
    from survey_app.results.export_cli import export
    from survey_app.results.report_cli import report_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(results)
    app.cli.add_command(integrity)
    app.cli.add_command(export)
    app.cli.add_command(report_cli)
    app.cli.add_command(campaign_cli)
    app.cli.add_command(plan_cli)
    app.cli.add_command(codes_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(questionnaires_cli)
