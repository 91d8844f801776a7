"""``flask --app wsgi integrity --campaign KEY``: the integrity checks on a stored
campaign, as the JSON of ``python -m analysis integrity`` (thin wrapper)."""

from __future__ import annotations

import json

import click
from sqlalchemy import select

from survey_app.cli import CommandError
from survey_app.extensions import db
from survey_app.models import Campaign


@click.command("integrity")
@click.option("--campaign", "key", required=True, metavar="KEY")
def integrity(key: str) -> None:
    """Flag the schools' groups whose answers look coached or fabricated (template
    copying, erased dissatisfaction, proxy filling) and the responses that sped,
    straight-lined or barely varied; JSON on standard output."""
    from survey_app.integrity.checks import examine_campaign, integrity_json  # its own imports

    campaign = db.session.scalar(select(Campaign).where(Campaign.key == key))
    if campaign is None:
        raise CommandError(f"no campaign with the key {key!r}")
    found = integrity_json(examine_campaign(campaign))
    click.echo(json.dumps(found, ensure_ascii=False, indent=2))
