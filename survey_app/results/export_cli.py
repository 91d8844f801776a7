"""``flask --app wsgi export --campaign KEY --format csv|xlsx|sav|bundle --out PATH``: the
anonymous response data of a campaign, as on the results page's downloads (thin wrapper
over ``results/exports.py``; each export is recorded in the audit log)."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select

from survey_app.cli import CommandError
from survey_app.extensions import db
from survey_app.models import Campaign
from survey_app.results import exports
from survey_app.results.evaluation import NoResponses
from survey_app.transactions import committed


@click.command("export")
@click.option("--campaign", "key", required=True, metavar="KEY")
@click.option("--format", "fmt", type=click.Choice(exports.FORMATS), required=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def export(key: str, fmt: str, out: Path) -> None:
    """Write the campaign's anonymous responses (one row per weighted response: stratum,
    school, group, questionnaire, version, weight, psu, pi, f2 and the option code of
    each item) as CSV, XLSX or SPSS .sav, or a zip that R reproduces the report from."""
    campaign = db.session.scalar(select(Campaign).where(Campaign.key == key))
    if campaign is None:
        raise CommandError(f"no campaign with the key {key!r}")
    try:
        with committed():  # the audit record is kept only if the file was written
            exported = exports.export_campaign(campaign, fmt)
            try:
                out.write_bytes(exported.body)
            except OSError as error:
                raise CommandError(f"--out {out}: {error.strerror or error}") from error
    except (NoResponses, exports.ExportTooLarge) as error:
        raise CommandError(str(error)) from error
    click.echo(f"Wrote {exported.responses} responses of {key} to {out} ({fmt}).")
