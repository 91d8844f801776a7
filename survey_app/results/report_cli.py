"""``flask --app wsgi report …``: the certification report from the command line.

* ``report keygen --out instance/signing.p12``: a self-signed key and certificate for
  the demo (a real installation uses the one its certification authority issued).
* ``report make --campaign KEY --out FILE.pdf``: issue a report, as the results page's
  button does (stored, signed, in the audit log), and write it to FILE.
* ``report verify FILE.pdf``: exit 0 for a genuine, unchanged report of this
  installation, 1 otherwise, with a one-line reason.
* ``report worker [--burst]``: run the reports the results page queues in Redis
  (``JOBS_REDIS_URL``, RQ; see ``report_jobs.py``), one at a time, in this app.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from survey_app.cli import CommandError
from survey_app.extensions import db
from survey_app.models import Campaign
from survey_app.results import report
from survey_app.results.evaluation import NoResponses
from survey_app.results.report_signing import SigningKeyMissing, make_self_signed
from survey_app.transactions import committed

report_cli = AppGroup("report", help="The signed certification report.")


@report_cli.command("keygen")
@click.option(
    "--out",
    "path",
    type=click.Path(dir_okay=False, writable=True),
    help="Where to write the PKCS#12 file (default: REPORT_SIGNING_P12).",
)
@click.option(
    "--name",
    default="Survey platform report signing (demo)",
    show_default=True,
    help="The certificate's common name.",
)
def keygen(path: str | None, name: str) -> None:
    """Make a self-signed signing key and certificate (RSA 3072, ten years), encrypted
    with REPORT_SIGNING_PASSWORD when it is set. Never overwrites a file."""
    target = path or current_app.config["REPORT_SIGNING_P12"]
    if os.path.exists(target):
        raise CommandError(f"{target} exists: remove it first to make a new key")
    password = current_app.config["REPORT_SIGNING_PASSWORD"]
    fingerprint = make_self_signed(target, password, name, datetime.now(UTC))
    click.echo(f"Wrote {target}: self-signed certificate {name!r}, SHA-256 {fingerprint}.")


@report_cli.command("make")
@click.option("--campaign", "key", required=True, metavar="KEY")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True))
def make(key: str, out: str) -> None:
    """Issue the campaign's signed report and write it to OUT."""
    campaign = db.session.scalar(select(Campaign).where(Campaign.key == key))
    if campaign is None:
        raise CommandError(f"no campaign with the key {key!r}")
    try:
        with committed():
            issued = report.issue_report(
                campaign,
                report.SigningKey.from_config(current_app.config),
                base_url=current_app.config["PUBLIC_BASE_URL"],
                min_n=current_app.config["RESULTS_MIN_N"],
                now=datetime.now(UTC),
            )
            body = issued.pdf
            public_id, digest = issued.public_id, issued.sha256
    except (NoResponses, SigningKeyMissing) as error:
        raise CommandError(str(error)) from error
    with open(out, "wb") as handle:
        handle.write(body)
    click.echo(f"Wrote {out}: report {public_id}, SHA-256 {digest}.")


@report_cli.command("verify")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def verify(path: str) -> None:
    """Check that FILE is a report this installation issued, signed and unchanged."""
    with open(path, "rb") as handle:
        body = handle.read()
    try:
        found = report.check_file(body, report.SigningKey.from_config(current_app.config))
    except SigningKeyMissing as error:
        click.echo(f"cannot check: {error}", err=True)
        sys.exit(1)
    if not found.genuine or found.report is None:
        click.echo(f"NOT GENUINE: {found.reason}")
        sys.exit(1)
    issued = found.report
    campaign = db.session.get(Campaign, issued.campaign_id)
    click.echo(
        f"GENUINE: report {issued.public_id} of campaign {campaign.key if campaign else '?'}, "
        f"issued {issued.issued_at:%Y-%m-%d %H:%M} UTC by {issued.issued_by}, "
        f"SHA-256 {issued.sha256}."
    )


@report_cli.command("worker")
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
def worker(burst: bool) -> None:
    """Make the reports queued by the results page (RQ on JOBS_REDIS_URL, queue
    "reports"), one at a time, with this app's settings."""
    url = current_app.config["JOBS_REDIS_URL"]
    if not url:
        raise CommandError("JOBS_REDIS_URL is not set: the web process makes the reports itself")
    from redis import Redis
    from rq import Queue, SimpleWorker

    from survey_app.results import report_jobs, report_layout, report_signing

    report_layout.preload()  # the first job need not wait for WeasyPrint's imports
    report_signing.preload()
    connection = Redis.from_url(url)
    queue = Queue(report_jobs.QUEUE, connection=connection)
    # SimpleWorker: the jobs run in this process, in its app (no fork per job, which
    # would import WeasyPrint again and share the database pool with its parent).
    SimpleWorker([queue], connection=connection).work(burst=burst)
