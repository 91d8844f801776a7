"""``flask --app wsgi campaign …`` and ``flask --app wsgi plan …`` (thin wrappers)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from survey_app.cli import CommandError
from survey_app.extensions import db
from survey_app.models import Campaign
from survey_app.plan import campaigns, frame_import
from survey_app.transactions import committed
from survey_app.vocabulary import RESPONDENT_GROUPS, STAGES, VERDICT_RULES

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
