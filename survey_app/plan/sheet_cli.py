"""``flask --app wsgi plan sheets``: the supervisor's sheets as one PDF (thin wrapper)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app

from survey_app.cli import CommandError
from survey_app.plan import draw, sheets
from survey_app.plan.cli import _campaign, plan_cli
from survey_app.vocabulary import LANGUAGES


@plan_cli.command("sheets")
@click.option("--campaign", "key", required=True, metavar="KEY")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--school", "school", metavar="CODE", help="Only this school's sheet.")
@click.option(
    "--language",
    type=click.Choice(LANGUAGES),
    default=LANGUAGES[0],
    show_default=True,
    help="Language of the sheets.",
)
def plan_sheets(key: str, out: Path, school: str | None, language: str) -> None:
    """Write the supervisor's sheet of every selected school (how to pick its
    respondents on site) as one PDF."""
    campaign = _campaign(key)
    plan = draw.plan_of(campaign)
    if plan is None:
        raise CommandError(f"campaign {key} has not drawn its schools yet (flask plan draw)")
    config = current_app.config
    try:
        found = sheets.school_sheets(
            campaign, plan, config["SECRET_KEY"], config["PUBLIC_BASE_URL"], school
        )
    except sheets.UnknownSchool as unknown:
        raise CommandError(str(unknown)) from unknown
    pdf = sheets.sheets_pdf(campaign, found, language, datetime.now(UTC))
    try:
        out.write_bytes(pdf)
    except OSError as error:
        raise CommandError(f"--out {out}: {error.strerror}") from error
    click.echo(f"Wrote {len(found)} sheets for {key} to {out}.")
