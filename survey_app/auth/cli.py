"""``flask --app wsgi users …``: staff accounts from the command line (thin wrappers)."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click
from flask.cli import AppGroup
from sqlalchemy import select

from survey_app.auth import accounts, services
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
            user = accounts.create(email, role, password, campaigns)
    except (services.AccountRefused, accounts.AccountChangeRefused) as refused:
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


def _account_option(command: Callable[..., None]) -> Callable[..., None]:
    return click.option("--email", required=True, help="The account's login name.")(command)


def _changed(change: Callable[[], str]) -> None:
    """Run a change of an account in one transaction and print what it did, or refuse in
    one line."""
    try:
        with committed():
            message = change()
    except (services.AccountRefused, accounts.AccountChangeRefused) as refused:
        raise CommandError(str(refused)) from refused
    click.echo(message)


@users_cli.command("grant")
@_account_option
@click.option("--campaign", "campaigns", multiple=True, required=True, metavar="KEY")
def users_grant(email: str, campaigns: tuple[str, ...]) -> None:
    """Give an account more campaigns (each grant goes into the campaign's audit log)."""

    def change() -> str:
        done = accounts.grant(accounts.account(email), campaigns)
        return f"Granted to {email}: {', '.join(done.granted) or 'nothing new'}."

    _changed(change)


@users_cli.command("withdraw")
@_account_option
@click.option("--campaign", "campaigns", multiple=True, required=True, metavar="KEY")
def users_withdraw(email: str, campaigns: tuple[str, ...]) -> None:
    """Take campaigns away from an account (into each campaign's audit log)."""

    def change() -> str:
        done = accounts.withdraw(accounts.account(email), campaigns)
        return f"Withdrawn from {email}: {', '.join(done.withdrawn) or 'nothing it had'}."

    _changed(change)


@users_cli.command("role")
@_account_option
@click.option("--role", type=click.Choice(STAFF_ROLES), required=True)
def users_role(email: str, role: str) -> None:
    """Give an account another role (its campaigns record it; made admin, it gives up its
    grants: an administrator sees every campaign)."""

    def change() -> str:
        accounts.set_role(accounts.account(email), role)
        return f"{email} is now {role}."

    _changed(change)


@users_cli.command("disable")
@_account_option
def users_disable(email: str) -> None:
    """Disable an account: it can no longer sign in, and its sessions end."""
    _set_active(email, False)


@users_cli.command("enable")
@_account_option
def users_enable(email: str) -> None:
    """Enable a disabled account again."""
    _set_active(email, True)


def _set_active(email: str, active: bool) -> None:
    def change() -> str:
        accounts.set_active(accounts.account(email), active)
        return f"{'Enabled' if active else 'Disabled'} {email}."

    _changed(change)


@users_cli.command("password")
@_account_option
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
def users_password(email: str, password_stdin: bool) -> None:
    """Set an account's password (prompted for unless --password-stdin); its sessions end."""
    password = _password(password_stdin)

    def change() -> str:
        accounts.set_password(accounts.account(email), password)
        return f"New password set for {email}."

    _changed(change)
