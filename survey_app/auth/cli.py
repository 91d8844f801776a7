"""``flask --app wsgi users …``: staff accounts from the command line (thin wrappers)."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from survey_app.auth import services
from survey_app.cli import CommandError
from survey_app.extensions import db
from survey_app.models import User
from survey_app.transactions import committed
from survey_app.vocabulary import STAFF_ROLES

users_cli = AppGroup("users", help="Staff accounts.")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_cli.command("create")
@click.option("--role", type=click.Choice(STAFF_ROLES), required=True)
@click.option("--email", required=True, help="The login name.")
@click.option(
    "--campaign", "campaigns", multiple=True, metavar="KEY", help="Grant a campaign (repeat)."
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_create(role: str, email: str, campaigns: tuple[str, ...], password_stdin: bool) -> None:
    """Create a staff account (the password is prompted for unless --password-stdin)."""
    password = _password(password_stdin)
    try:
        with committed():
            user = services.create_user(email, role, password, campaigns)
    except services.AccountRefused as refused:
        raise CommandError(str(refused)) from refused
    granted = ", ".join(c.key for c in user.campaigns) or "none"
    click.echo(f"Created {user.role} {user.email} (campaigns: {granted}).")
    if role != "admin" and not campaigns:
        click.echo("Note: without a campaign this account sees nothing yet.", err=True)


@users_cli.command("list")
def users_list() -> None:
    """Every account with its role and campaigns."""
    for user in db.session.scalars(select(User).order_by(User.email)):
        keys = ", ".join(c.key for c in user.campaigns) or ("all" if user.role == "admin" else "-")
        state = "" if user.active else "  (disabled)"
        click.echo(f"{user.email}  {user.role}  {keys}{state}")
