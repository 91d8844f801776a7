"""Downloads of the results page: the campaign's anonymous response data as CSV, XLSX,
SPSS .sav and the reproducibility bundle (``results/exports.py``).

Each download is recorded in the audit log (who, which format): a GET that writes, but
only that record, committed with the request at the app's boundary. The blueprint admits
admins and evaluators of the campaign only. Without a response that can be weighted there
is nothing to export: the results page is shown instead (it says so).
"""

from __future__ import annotations

from flask import abort
from flask.typing import ResponseReturnValue

from survey_app.auth.access import current_campaign
from survey_app.downloads import attachment
from survey_app.results import exports
from survey_app.results.evaluation import NoResponses
from survey_app.results.views import bp, campaign_results


def _download(key: str, fmt: str) -> ResponseReturnValue:
    try:
        exported = exports.export_campaign(current_campaign(), fmt)
    except NoResponses:
        return campaign_results(key)
    except exports.ExportTooLarge:
        abort(409)
    return attachment(exported.body, exported.mimetype, exported.filename, no_store=True)


@bp.route("/<key>/export.csv")
def export_csv(key: str) -> ResponseReturnValue:
    return _download(key, "csv")


@bp.route("/<key>/export.xlsx")
def export_xlsx(key: str) -> ResponseReturnValue:
    return _download(key, "xlsx")


@bp.route("/<key>/export.sav")
def export_sav(key: str) -> ResponseReturnValue:
    return _download(key, "sav")


@bp.route("/<key>/export.zip")
def export_bundle(key: str) -> ResponseReturnValue:
    return _download(key, "bundle")
