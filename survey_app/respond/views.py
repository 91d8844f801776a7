"""Respondent pages: code entry, welcome, question screens, review, thanks.

The code travels once in the QR link (``/r/<code>``); from then on the session holds the
code's row id, so the code does not sit in every URL of the questionnaire.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf
from markupsafe import escape

from questionnaires import Item, Questionnaire
from survey_app.respond import code_entry_limits, open_links, page_cache, services
from survey_app.respond.code_entry_limits import TooManyLookUps, TooManyWrongCodes
from survey_app.respond.forms import CodeEntryForm, ConfirmForm
from survey_app.respond.screens import item_views
from survey_app.respond.services import CodeState
from survey_app.transactions import reads_only_on_get, statements_stand_alone

bp = Blueprint("respond", __name__)

SESSION_CODE = "code_id"
SESSION_RESUME = "resume_token"  # proves this browser started the code (see claim_draft)
SESSION_LINK = "open_link"  # the open link whose slot the session's code holds
SESSION_ANSWERED = "answered_links"  # open links this phone has answered through


def _now() -> datetime:
    return datetime.now(UTC)


def _language() -> str:
    return str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])


@bp.before_app_request
def remember_language() -> None:
    chosen = request.args.get("lang")
    if chosen in current_app.config["LANGUAGES"]:
        session["lang"] = chosen


@bp.errorhandler(TooManyLookUps)
def too_many_look_ups(error: TooManyLookUps) -> ResponseReturnValue:
    headers = {"Retry-After": str(error.retry_after)}
    if isinstance(error, TooManyWrongCodes):
        return render_template("respond/code_refused.html", reason="throttled"), 429, headers
    return render_template("errors.html", kind="too_many"), 429, headers


@bp.errorhandler(services.CodeRefused)
def code_refused(error: services.CodeRefused) -> ResponseReturnValue:
    if error.reason == "used" and request.endpoint == "respond.submit" and SESSION_CODE in session:
        return _thank()  # a double tap: the first tap stored the response
    status = 404 if error.reason == "unknown" else 410
    return render_template("respond/code_refused.html", reason=error.reason), status


def _leave_if_no_code() -> None:
    """Without a code in the session, back to where the browser belongs: the thank-you
    page after submitting (e.g. after pressing Back), else code entry."""
    if SESSION_CODE not in session:
        target = "respond.thanks" if session.get("submitted") else "respond.enter_code"
        abort(redirect(url_for(target)))


def _session_code() -> CodeState:
    """The code this browser is answering with."""
    _leave_if_no_code()
    return services.usable_code(session.get(SESSION_CODE), _now())


def _sees_answers(code: CodeState) -> bool:
    return services.may_see_answers(code, session.get(SESSION_RESUME))


def _screens(code: CodeState) -> tuple[Questionnaire, tuple[Item, ...], list[tuple[Item, ...]]]:
    """The code's questionnaire, the items its group sees, and those items by screen."""
    questionnaire = services.questionnaire_of(code)
    items = questionnaire.items_for(code.respondent_group)
    return questionnaire, items, services.paginate(items, current_app.config["ITEMS_PER_PAGE"])


def _comment_to_save(code: CodeState, questionnaire: Questionnaire, sent: object) -> str | None:
    """The comment to store, or None to keep the saved one: a visitor (who was shown
    an empty box, see ``may_see_answers``) must not erase a comment saved earlier."""
    text = services.clean_comment(sent, questionnaire.comment_max_length)
    if text is None or (not text and not _sees_answers(code)):
        return None
    return text


@bp.route("/", methods=["GET", "POST"])
def enter_code() -> ResponseReturnValue:
    form = CodeEntryForm()
    if form.validate_on_submit():
        return _begin(_look_up(form.code.data or ""))
    status = 400 if request.method == "POST" else 200
    return render_template("respond/enter_code.html", form=form), status


@bp.route("/r/<string:typed>")
@statements_stand_alone
def open_link(typed: str) -> ResponseReturnValue:
    return _begin(_look_up(typed))


def _look_up(typed: str) -> CodeState:
    """The code typed or scanned; a wrong one counts against this address's limit
    (see ``code_entry_limits``: a valid code is never refused for others' mistakes)."""
    code_entry_limits.count_look_up()
    try:
        return services.find_code(typed)
    except services.CodeRefused:
        code_entry_limits.count_wrong_code()
        raise


def _begin(code: CodeState) -> ResponseReturnValue:
    services.check_usable(code, _now())
    if session.get(SESSION_CODE) not in (None, code.id):
        # A new code on a shared phone starts a clean session (but for the soft memory
        # of the open links answered on it, see open_links).
        answered = session.get(SESSION_ANSWERED)
        session.clear()
        if answered:
            session[SESSION_ANSWERED] = answered
    session.permanent = True  # survives closing the browser, so the same phone resumes
    session[SESSION_CODE] = code.id
    token = services.claim_draft(code, _now())
    if token:
        session[SESSION_RESUME] = token
    draft = services.Draft.of(code)
    if draft.language and "lang" not in session:
        session["lang"] = draft.language
    return redirect(url_for("respond.welcome"))


@bp.route("/start", methods=["GET", "POST"])
@statements_stand_alone
def welcome() -> ResponseReturnValue:
    code = _session_code()
    questionnaire, items, pages = _screens(code)
    draft = services.Draft.of(code)
    first_open = services.first_open_page(pages, draft)
    if request.method == "POST":
        # The welcome screen's button is a link to the first open screen (one round trip
        # less on a slow network); a welcome page served before it was a link posts here.
        services.save_draft(code, {}, _now(), language=_language())
        return redirect(url_for("respond.answer_page", number=first_open))
    resuming = bool(draft.answers)
    answers_hidden = resuming and not _sees_answers(code)
    return page_cache.render(
        "respond/welcome.html",
        questionnaire,
        (first_open, resuming, answers_hidden, len(items)),
        {},
        first_open=first_open,
        resuming=resuming,
        answers_hidden=answers_hidden,
        n_items=len(items),
    )


@bp.route("/q/<int:number>", methods=["GET", "POST"])
@statements_stand_alone
def answer_page(number: int) -> ResponseReturnValue:
    code = _session_code()
    questionnaire, _items, pages = _screens(code)
    if not 1 <= number <= len(pages):
        abort(404)
    page_items = pages[number - 1]
    last = number == len(pages)
    draft = services.Draft.of(code)
    sees_answers = _sees_answers(code)
    shown = draft.answers if sees_answers else {}
    comment = draft.comment if sees_answers else ""
    if request.method == "POST":
        # CSRF is checked by CSRFProtect before this view. Every well-formed answer is
        # saved, whatever else is wrong with the page: nothing the respondent chose is lost.
        answers = services.clean_answers(page_items, request.form)
        sent_comment = request.form.get(services.COMMENT_FIELD)
        to_save = _comment_to_save(code, questionnaire, sent_comment) if last else None
        draft = services.save_draft(
            code, answers, _now(), language=_language(), comment=to_save, hold=_hold()
        )
        if request.form.get("nav") == "back":
            if number == 1:
                return redirect(url_for("respond.welcome"))
            return redirect(url_for("respond.answer_page", number=number - 1))
        missing = services.missing_items(page_items, draft)
        if not missing:
            if last:
                return redirect(url_for("respond.review"))
            return redirect(url_for("respond.answer_page", number=number + 1))
        shown = {**shown, **answers}
        comment = to_save or ""  # what was just sent, cleaned as it was saved
        return _render_page(questionnaire, number, pages, shown, comment, missing, draft), 422
    return _render_page(questionnaire, number, pages, shown, comment, [], draft)


def _render_page(
    questionnaire: Questionnaire,
    number: int,
    pages: list[tuple[Item, ...]],
    chosen: dict[str, int],
    comment: str,
    missing: list[str],
    draft: services.Draft,
) -> str:
    """One screen of questions, laid out once per screen and language
    (``page_cache``) with this respondent's choices, comment and CSRF token filled in."""
    page_items = pages[number - 1]
    with_comment = number == len(pages) and questionnaire.comment is not None
    language = _language()
    views = item_views(questionnaire, language)
    hidden = tuple(i.id for i in page_items if i.id in draft.answers and i.id not in chosen)
    answered_before = sum(len(page) for page in pages[: number - 1])
    total = sum(len(page) for page in pages)
    holes = {
        f"options:{item.id}": views[item.id].options_html(chosen.get(item.id))
        for item in page_items
    }
    holes["csrf"] = escape(generate_csrf())
    holes["comment"] = escape(comment)
    key = (
        number,
        len(pages),
        tuple(i.id for i in page_items),
        answered_before,
        total,
        tuple(missing),
        hidden,
        with_comment,
    )
    return page_cache.render(
        "respond/page.html",
        questionnaire,
        key,
        holes,
        number=number,
        n_pages=len(pages),
        items=page_items,
        views=views,
        missing=set(missing),
        hidden=set(hidden),
        answered_before=answered_before,
        total=total,
        with_comment=with_comment,
        comment_label=questionnaire.comment_text(language),
        comment_max_length=questionnaire.comment_max_length,
    )


@bp.route("/review")
@reads_only_on_get
def review() -> ResponseReturnValue:
    code = _session_code()
    questionnaire, items, pages = _screens(code)
    draft = services.Draft.of(code)
    page_of = {item.id: n for n, page in enumerate(pages, start=1) for item in page}
    missing = services.missing_items(items, draft)
    sees_answers = _sees_answers(code)
    shows_comment = bool(draft.comment) and sees_answers
    views = item_views(questionnaire, _language())
    holes = {
        f"answer:{item_id}": escape(views[item_id].labels.get(value, ""))
        for item_id, value in (draft.answers.items() if sees_answers else ())
        if item_id in views
    }
    holes["csrf"] = escape(generate_csrf())
    holes["comment"] = escape(draft.comment if shows_comment else "")
    key = (
        tuple(i.id for i in items),
        tuple(page_of.values()),
        tuple(missing),
        sees_answers,
        shows_comment,
    )
    return page_cache.render(
        "respond/review.html",
        questionnaire,
        key,
        holes,
        items=items,
        sees_answers=sees_answers,
        shows_comment=shows_comment,
        page_of=page_of,
        missing=set(missing),
        n_pages=len(pages),
    )


# The review's form posts to the thank-you page's own address and gets that page in
# the answer: no redirect, one round trip less on a slow network. A reload of it posts
# again, which is harmless (the code is used: the thank-you page again), and the
# address in the bar stays one a browser may open later (WeChat restores tabs by it).
# /submit is where review pages served before 2026-12-06 post.
@bp.route("/submit", methods=["POST"])
@bp.route("/thanks", methods=["POST"])
def submit() -> ResponseReturnValue:
    form = ConfirmForm()
    if not form.validate_on_submit():
        return redirect(url_for("respond.review"))
    _leave_if_no_code()  # a tap after the thank-you page arrived: show it again
    services.submit_response(session.get(SESSION_CODE), _now(), _language())
    return _thank()


@bp.errorhandler(services.DraftConflict)
def draft_conflict(error: services.DraftConflict) -> ResponseReturnValue:
    return render_template("errors.html", kind="conflict"), 409


@bp.errorhandler(services.IncompleteResponse)
def incomplete(error: services.IncompleteResponse) -> ResponseReturnValue:
    return redirect(url_for("respond.review"))


def _thank() -> ResponseReturnValue:
    """The thank-you page, for the submitting tap and for a second tap alike."""
    session.pop(SESSION_CODE, None)
    link = session.pop(SESSION_LINK, None)
    if isinstance(link, int):
        answered = [i for i in session.get(SESSION_ANSWERED, []) if isinstance(i, int)]
        session[SESSION_ANSWERED] = sorted({*answered, link})[-20:]
    session["submitted"] = True
    return _thank_you_page()


@bp.route("/thanks", methods=["GET"])
def thanks() -> ResponseReturnValue:
    if not session.get("submitted"):
        return redirect(url_for("respond.enter_code"))
    return _thank_you_page()


def _thank_you_page() -> str:
    """The same for everyone in a language: laid out once (``page_cache``)."""
    return page_cache.render("respond/thanks.html", None, (), {})


@bp.route("/draft", methods=["POST"])
@statements_stand_alone
def autosave() -> ResponseReturnValue:
    """JavaScript enhancement: save each choice as it is made (JSON, CSRF header)."""
    code = _session_code()
    payload = request.get_json(silent=True)  # bounded depth: see untrusted.BoundedJSONProvider
    if not isinstance(payload, dict) or not isinstance(payload.get("answers"), dict):
        abort(400)
    questionnaire, items, _pages = _screens(code)
    answers = services.clean_answers(items, payload["answers"])
    comment = _comment_to_save(code, questionnaire, payload.get("comment"))
    services.save_draft(code, answers, _now(), language=_language(), comment=comment, hold=_hold())
    return jsonify(saved=sorted(answers))


def _hold() -> timedelta:
    return timedelta(minutes=current_app.config["OPEN_LINK_HOLD_MINUTES"])


@bp.errorhandler(open_links.LinkRefused)
def link_refused(error: open_links.LinkRefused) -> ResponseReturnValue:
    status = {"unknown": 404, "closed": 410, "full": 409}[error.reason]
    return render_template("respond/link_refused.html", reason=error.reason), status


@bp.route("/o/<string:token>", methods=["GET", "POST"])
def open_link_start(token: str) -> ResponseReturnValue:
    """An open link (residents): a page to start on (link previews must not take
    slots), then one slot of the link's quota for this phone."""
    link = open_links.find_link(token)
    if session.get(SESSION_LINK) == link.id and SESSION_CODE in session:
        try:
            services.usable_code(session[SESSION_CODE], _now())
        except services.CodeRefused:  # its slot was given back, or the window closed
            session.pop(SESSION_CODE, None)
            session.pop(SESSION_LINK, None)
        else:
            return redirect(url_for("respond.welcome"))  # this phone's slot: carry on
    answered_before = link.id in session.get(SESSION_ANSWERED, [])
    status = 200
    if request.method == "POST":
        code_entry_limits.count_look_up()
        if not answered_before or request.form.get("someone_else") == "1":
            code_id = open_links.reserve_slot(link, _now(), _hold())
            response = _begin(services.usable_code(code_id, _now()))
            session[SESSION_LINK] = link.id
            return response
        status = 409  # the same phone again: ask whether someone else is answering
    elif not link.collecting(_now()):
        raise open_links.LinkRefused("closed")
    return render_template(
        "respond/open_link.html",
        link=link,
        answered_before=answered_before,
        asked=status == 409,
    ), status
