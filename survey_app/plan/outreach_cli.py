"""``flask --app wsgi plan list …`` and ``plan open-link …``: the groups not reached
through schools (thin wrappers over ``lists`` and ``open_links``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app

from survey_app.cli import CommandError
from survey_app.plan import lists, open_links
from survey_app.plan.cli import _campaign, plan_cli
from survey_app.transactions import committed
from survey_app.vocabulary import LIST_GROUPS


@plan_cli.command("list")
@click.option("--campaign", "key", required=True, metavar="KEY")
@click.option("--group", type=click.Choice(LIST_GROUPS), required=True)
@click.option("--size", type=int, help="How many people the list has (numbered 1…N).")
@click.option(
    "--ids",
    "ids_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The list's anonymous ids in list order, one per line (never names).",
)
@click.option("--n", "planned", type=int, help="How many to draw (default: ±10 points at 85%).")
def plan_list(
    key: str, group: str, size: int | None, ids_file: Path | None, planned: int | None
) -> None:
    """Set (or replace) the list of deputies or members; drawn with the plan's seed."""
    if (size is None) == (ids_file is None):
        raise CommandError("give the list as --size N or as --ids FILE (one of them)")
    try:
        with committed():
            ids = lists.parse_member_ids(ids_file.read_bytes()) if ids_file else None
            frame = lists.set_list(
                _campaign(key),
                group,
                list_size=size,
                member_ids=ids,
                planned=planned,
                now=datetime.now(UTC),
            )
            drawn = frame.drawn_positions
            message = f"The {group} list of {key}: {frame.planned} of {frame.list_size} to draw"
    except lists.ListRefused as refused:
        raise CommandError(str(refused)) from refused
    if drawn is None:
        click.echo(message + "; drawn with the schools (flask plan draw).")
    else:
        click.echo(message + f"; drawn: positions {', '.join(map(str, drawn))}.")


@plan_cli.command("open-link")
@click.option("--campaign", "key", required=True, metavar="KEY")
@click.option("--area", "slug", required=True, help="The area's short name, e.g. chengguan.")
@click.option("--label", required=True, help="The area's name as people know it.")
@click.option("--quota", type=int, required=True, help="At most this many answers.")
@click.option("--population", type=int, help="Residents of the area (for the weights).")
def plan_open_link(key: str, slug: str, label: str, quota: int, population: int | None) -> None:
    """Make an open link for the residents of an area; prints the link to post."""
    try:
        with committed():
            link = open_links.create_open_link(
                _campaign(key),
                slug=slug,
                label=label,
                quota=quota,
                population=population,
                now=datetime.now(UTC),
            )
            token = link.token
    except open_links.OpenLinkRefused as refused:
        raise CommandError(str(refused)) from refused
    click.echo(open_links.link_url(current_app.config["PUBLIC_BASE_URL"], token))


@plan_cli.command("close-link")
@click.option("--campaign", "key", required=True, metavar="KEY")
@click.option("--area", "slug", required=True)
def plan_close_link(key: str, slug: str) -> None:
    """Stop an open link taking new respondents (those answering may finish)."""
    try:
        with committed():
            open_links.close_open_link(_campaign(key), slug)
    except open_links.OpenLinkRefused as refused:
        raise CommandError(str(refused)) from refused
    click.echo(f"The open link {slug} of {key} takes no new respondents.")
