"""The evaluators' pages (评估组; admins see them too): a campaign's results."""

from __future__ import annotations

from flask import current_app, render_template
from flask.typing import ResponseReturnValue
from flask_babel import get_locale

from questionnaires.validation import area_label
from survey_app.auth.access import current_campaign, staff_blueprint
from survey_app.results.evaluation import NoResponses
from survey_app.results.labels import SET_ASIDE_LABELS, VERDICT_LABELS, caveat_text, item_texts
from survey_app.results.page import fetched_page

BUILDING_REFRESH_SECONDS = 10  # the page's refresh until its first figures are built

bp = staff_blueprint("results", __name__, roles=("admin", "evaluator"), url_prefix="/results")


@bp.route("/<key>/")
def campaign_results(key: str) -> ResponseReturnValue:
    """The verdict first, then groups, content areas, breakdowns, items, data quality.
    A large campaign's figures are built in the background: until they are, the page
    shows those built last (saying from how many responses) or says they are coming."""
    chosen = current_campaign()
    language = str(get_locale() or "zh_Hans")
    labels = {
        "verdict_labels": VERDICT_LABELS,
        "set_aside_labels": SET_ASIDE_LABELS,
        "caveat_text": caveat_text,
    }
    try:
        fetched = fetched_page(chosen)
    except NoResponses:
        return render_template("results/campaign.html", campaign=chosen, page=None, **labels)
    if fetched.built is None:  # the first build is still going: the page says so
        return render_template(
            "results/campaign.html",
            campaign=chosen,
            page=None,
            building=True,
            refresh_seconds=BUILDING_REFRESH_SECONDS,
            **labels,
        )
    page = fetched.built.value
    return render_template(
        "results/campaign.html",
        campaign=chosen,
        page=page,
        built=None if fetched.current else fetched.built,
        **labels,
        found=page.found,
        min_n=current_app.config["RESULTS_MIN_N"],
        area_name=lambda area: area_label(area, language),
        item_texts=item_texts(page.items, page.item_versions, language),
    )


# Routes of this blueprint kept in modules of their own (the data exports, the signed
# report); importing them registers them on ``bp``.
from survey_app.results import export_views, integrity_views, report_views  # noqa: E402, F401, I001
