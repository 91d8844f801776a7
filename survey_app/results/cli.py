"""``flask --app wsgi results --campaign KEY [--json]``: the full evaluation of a campaign,
the same numbers the pages and the report show (thin wrapper)."""

from __future__ import annotations

import json

import click
from sqlalchemy import select

from survey_app.cli import CommandError
from survey_app.extensions import db
from survey_app.models import Campaign
from survey_app.results.evaluation import NoResponses, evaluate_campaign, evaluation_json


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


@click.command("results")
@click.option("--campaign", "key", required=True, metavar="KEY")
@click.option("--json", "as_json", is_flag=True, help="Print the whole evaluation as JSON.")
def results(key: str, as_json: bool) -> None:
    """Weighted recognition per group, content area and item, and the county's verdict
    against the campaign's threshold."""
    campaign = db.session.scalar(select(Campaign).where(Campaign.key == key))
    if campaign is None:
        raise CommandError(f"no campaign with the key {key!r}")
    try:
        found = evaluation_json(evaluate_campaign(campaign))
    except NoResponses as error:
        raise CommandError(str(error)) from error
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    county = found["county"]
    click.echo(
        f"{key}: county {_percent(county['estimate'])} "
        f"[{_percent(county['ci_low'])}, {_percent(county['ci_high'])}] "
        f"against {_percent(found['threshold'])}: {county['verdict']}"
    )
    for group in found["groups"]:
        click.echo(
            f"  {group['group']:<10} {_percent(group['estimate']):>7} "
            f"[{_percent(group['ci_low'])}, {_percent(group['ci_high'])}] "
            f"n={group['n']} weight={group['policy_weight']:.3f} {group['verdict']}"
        )
