"""``flask --app wsgi plan replace-school`` and ``plan correct-population``: changes to a
frozen plan, each with a reason for the audit log (thin wrappers over ``changes``)."""

from __future__ import annotations

import click

from survey_app.cli import CommandError
from survey_app.plan import changes, second_stage
from survey_app.plan.cli import _campaign, plan_cli
from survey_app.transactions import committed


@plan_cli.command("replace-school")
@click.option("--campaign", "key", required=True, metavar="KEY")
@click.option("--school", "school_code", required=True, help="The drawn school that refused.")
@click.option(
    "--substitute",
    "substitute_code",
    help="An undrawn school of the same stratum (default: the next in frame order).",
)
@click.option("--reason", required=True, help="Why (kept in the audit log).")
def plan_replace_school(
    key: str, school_code: str, substitute_code: str | None, reason: str
) -> None:
    """Replace a drawn school that refused, once the plan is frozen (plan/changes.py)."""
    try:
        with committed():
            done = changes.replace_school(_campaign(key), school_code, reason, substitute_code)
            refused, substitute = done.refused.school.code, done.substitute.school.code
    except changes.ChangeRefused as error:
        raise CommandError(str(error)) from error
    click.echo(
        f"Replaced {refused} by {substitute} in {key} ({done.codes_revoked} unused codes "
        f"revoked); issue its codes with: flask --app wsgi codes issue --campaign {key}"
    )


@plan_cli.command("correct-population")
@click.option("--campaign", "key", required=True, metavar="KEY")
@click.option("--school", "school_code", required=True)
@click.option("--group", required=True, type=click.Choice(second_stage.SCHOOL_GROUPS))
@click.option("--population", required=True, type=int, help="The group's corrected M.")
@click.option("--reason", required=True, help="Why (kept in the audit log).")
def plan_correct_population(
    key: str, school_code: str, group: str, population: int, reason: str
) -> None:
    """Correct a group's population at a school in the field, once the plan is frozen;
    the planned respondents are lowered to it if they were more."""
    try:
        with committed():
            done = changes.correct_population(
                _campaign(key), school_code, group, population, reason
            )
            planned, old_planned = done.quota.planned, done.old_planned
    except changes.ChangeRefused as error:
        raise CommandError(str(error)) from error
    old = done.old_population
    line = f"Corrected the {group} population of {school_code}: {old} → {population}."
    if planned < old_planned:
        line += f" Planned respondents lowered from {old_planned} to {planned}."
    click.echo(line)
