"""Plain functions for the respondent's path; views call these and commit once.

Nothing here touches ``request`` or ``session``: callers pass codes, answers and the time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.engine import Connection

from questionnaires import Item, Questionnaire, load_version, published_for
from survey_app import answer_codes
from survey_app.codes import code_digest, normalise_code
from survey_app.extensions import db
from survey_app.models import Answer, Campaign, OneTimeCode, Response
from survey_app.models.base import as_utc
from survey_app.models.campaign import is_collecting
from survey_app.respond.statements import Statement
from survey_app.untrusted import clean_text

COMMENT_FIELD = "comment"


class CodeRefused(Exception):
    """A code that cannot be used; ``reason`` is one of unknown, used, expired, closed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DraftConflict(Exception):
    """A draft that other requests kept writing while this one tried to save it
    (``SAVE_ATTEMPTS`` times in a row): nothing was saved, the respondent may resend."""


class IncompleteResponse(Exception):
    """Submission was attempted with unanswered items (listed in ``missing``)."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(", ".join(missing))
        self.missing = missing


@dataclass
class CodeState:
    """A code as the respondent's path needs it, with its campaign's fieldwork window:
    one row read with Core on every step, no ORM object (it is the hottest statement of
    the platform, and an ORM load costs more than the query)."""

    id: int
    campaign_id: int
    school_id: int | None
    stratum_id: int
    open_link_id: int | None
    respondent_group: str
    reading_level: str | None
    status: str
    expires_at: datetime | None
    draft: dict[str, Any] | None
    resume_digest: bytes | None
    revision: int
    campaign_status: str
    opens_at: datetime
    closes_at: datetime


_code = cast(Table, OneTimeCode.__table__)
_campaign = cast(Table, Campaign.__table__)
_CODE_COLUMNS = (
    _code.c.id,
    _code.c.campaign_id,
    _code.c.school_id,
    _code.c.stratum_id,
    _code.c.open_link_id,
    _code.c.respondent_group,
    _code.c.reading_level,
    _code.c.status,
    _code.c.expires_at,
    _code.c.draft,
    _code.c.resume_digest,
    _code.c.revision,
    _campaign.c.status.label("campaign_status"),
    _campaign.c.opens_at,
    _campaign.c.closes_at,
)
# Built once, run on the DBAPI cursor (``statements``); the lock, when asked for, is on
# the code's row only. A row of these is a CodeState, field for column.
_CODE = select(*_CODE_COLUMNS).join_from(_code, _campaign, _code.c.campaign_id == _campaign.c.id)
if [f.name for f in fields(CodeState)] != [c.name for c in _CODE.selected_columns]:
    raise TypeError("CodeState's fields must be _CODE_COLUMNS, in order")
_CODE_BY_DIGEST = Statement(_CODE.where(_code.c.digest == bindparam("digest")))
_CODE_BY_ID_SELECT = _CODE.where(_code.c.id == bindparam("code_id"))
_CODE_BY_ID = Statement(_CODE_BY_ID_SELECT)
_CODE_BY_ID_FOR_UPDATE = Statement(_CODE_BY_ID_SELECT.with_for_update(of=_code))
# The writes of the path, built once too (building a statement costs more than running
# it): values come as parameters.
_response = cast(Table, Response.__table__)
_answer = cast(Table, Answer.__table__)
_THIS_CODE = _code.c.id == bindparam("code_id")
_NEW_DRAFT = bindparam("new_draft", type_=_code.c.draft.type)
# Writes of the draft are compare-and-swap: only the row as it was read (its revision,
# still issued) is written, and the write moves the revision on. See save_draft.
_AS_READ = (_THIS_CODE, _code.c.revision == bindparam("read_revision"), _code.c.status == "issued")
_NEXT_REVISION = _code.c.revision + 1
_CLAIM_DRAFT = Statement(
    update(_code)
    .where(*_AS_READ, _code.c.resume_digest.is_(None))
    .values(
        resume_digest=bindparam("new_digest", type_=_code.c.resume_digest.type),
        draft=_NEW_DRAFT,
        revision=_NEXT_REVISION,
    )
)
_SAVE_DRAFT_UPDATE = (
    update(_code).where(*_AS_READ).values(draft=_NEW_DRAFT, revision=_NEXT_REVISION)
)
_SAVE_DRAFT = Statement(_SAVE_DRAFT_UPDATE)
_SAVE_DRAFT_AND_HOLD = Statement(
    _SAVE_DRAFT_UPDATE.values(held_until=bindparam("held_until_new", type_=_code.c.held_until.type))
)
_USE_CODE = Statement(
    update(_code)
    .where(_THIS_CODE, _code.c.status == "issued")
    .values(status="used", draft=None, resume_digest=None, held_until=None, revision=_NEXT_REVISION)
)
# How often a save reads the draft again after another request wrote it in between. A
# save loses a race only to another save that won: of k saves of one draft in flight at
# once, the last may lose k - 1 times. Ten covers a page save with the autosaves of a
# burst of taps (the PostgreSQL test runs six at once); each retry is two statements.
SAVE_ATTEMPTS = 10
_RESPONSE_COLUMNS = (
    "campaign_id",
    "respondent_group",
    "school_id",
    "stratum_id",
    "reading_level",
    "questionnaire_key",
    "questionnaire_version",
    "language",
    "submitted_minute",
    "duration_seconds",
    "comment",
    "answer_codes",
)
_INSERT_RESPONSE = Statement(
    insert(_response)
    .values({name: bindparam(name, type_=_response.c[name].type) for name in _RESPONSE_COLUMNS})
    .returning(_response.c.id)
)


@lru_cache(maxsize=32)
def _insert_answers(n: int) -> Statement:
    """One INSERT of ``n`` answer rows: one statement at the server (an executemany
    sends ``n``). Written as text: SQLAlchemy cannot cache the compiled form of a
    multi-row ``insert().values([...])``, and compiled it again on every submit (a third
    of the submit's CPU). The response and campaign are one parameter each, used in
    every row: psycopg parses a statement of more than 50 parameters again on every run
    (it caches only smaller ones), and converts each parameter on its own."""
    rows = ", ".join(
        f"(:response_id, :item_id_{row}, :campaign_id, :value_{row})" for row in range(n)
    )
    # Only the table's own name and row numbers go into the text.
    return Statement(
        text(
            f"INSERT INTO {_answer.name} (response_id, item_id, campaign_id, value) VALUES {rows}"  # noqa: S608
        )
    )


def _connection() -> Connection:
    """The request's connection: the Session's, so its transaction (and the request's one
    commit) covers the path's statements."""
    return db.session.connection()


def _read_code(statement: Statement, parameters: dict[str, object]) -> CodeState | None:
    rows = statement.rows(_connection(), parameters)
    return CodeState(*rows[0]) if rows else None


def find_code(typed: str) -> CodeState:
    """The issued code for what was typed or scanned, or :class:`CodeRefused` ('unknown')."""
    canonical = normalise_code(typed)
    if canonical is None:
        raise CodeRefused("unknown")
    code = _read_code(_CODE_BY_DIGEST, {"digest": code_digest(canonical)})
    if code is None or code.status == "void":
        raise CodeRefused("unknown")
    return code


def check_usable(code: CodeState, now: datetime) -> None:
    """Raise :class:`CodeRefused` unless ``code`` may still be answered at ``now``."""
    if code.status == "void":  # revoked, or an open link's slot given back
        raise CodeRefused("released" if code.open_link_id is not None else "unknown")
    if code.status == "used":
        raise CodeRefused("used")
    if code.expires_at is not None and now >= as_utc(code.expires_at):
        raise CodeRefused("expired")
    if not is_collecting(code.campaign_status, code.opens_at, code.closes_at, now):
        raise CodeRefused("closed")


def usable_code(code_id: int | None, now: datetime) -> CodeState:
    """The code held in a respondent's session, checked again on every step (no lock:
    its draft is written by compare-and-swap, see :func:`save_draft`)."""
    return _usable(_CODE_BY_ID, code_id, now)


def _usable(statement: Statement, code_id: int | None, now: datetime) -> CodeState:
    if code_id is None:
        raise CodeRefused("unknown")
    code = _read_code(statement, {"code_id": code_id})
    if code is None:
        raise CodeRefused("unknown")
    check_usable(code, now)
    return code


def _token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii")).digest()


def claim_draft(code: CodeState, now: datetime) -> str | None:
    """Make the browser that opens a code first the one that may see its saved answers.

    That browser gets a fresh token (returned, for its cookie); later browsers get None
    and remain visitors who may answer but not read. The first opening also starts the
    draft: the questionnaire version is pinned and the clock of the response's duration
    starts (it includes reading the welcome screen).
    """
    if code.resume_digest is not None:
        return None
    token = secrets.token_urlsafe(24)
    digest, draft = _token_digest(token), _started(code, now)
    if not _write(_CLAIM_DRAFT, code, {"new_digest": digest, "new_draft": draft}):
        return None  # another browser opened the code at the same moment, and holds it
    code.resume_digest, code.draft = digest, draft
    return token


def _write(statement: Statement, code: CodeState, values: dict[str, object]) -> bool:
    """Run a compare-and-swap write of ``code``'s row: True if the row was still as
    read (same revision, still issued) and is now written, one revision on."""
    parameters = {"code_id": code.id, "read_revision": code.revision, **values}
    if statement.rowcount(_connection(), parameters) != 1:
        return False
    code.revision += 1
    return True


def may_see_answers(code: CodeState, token: str | None) -> bool:
    """True for the browser that started the code (constant-time comparison)."""
    if code.resume_digest is None or not token:
        return False
    return hmac.compare_digest(code.resume_digest, _token_digest(token))


class AnsweringCode(Protocol):
    """What the questionnaire and the draft of a code are read from (a row or an object)."""

    respondent_group: str
    reading_level: str | None
    draft: dict[str, Any] | None


def questionnaire_of(code: AnsweringCode) -> Questionnaire:
    """The version this code answers: pinned in the draft at the first save, so a new
    version published mid-way does not change the questions (or the stored version)
    under a respondent; until then the newest published version."""
    pinned = (code.draft or {}).get("questionnaire")
    if pinned:
        key, version = pinned
        return _version(str(key), int(version))
    return _newest_published(code.respondent_group, code.reading_level)


# A version published while the app runs reaches each worker within this many seconds.
# Finding the newest one reads the directory, the lock and every file's status (a few
# hundred µs); without this it was done for every code opened, though versions are
# published a few times a year.
PUBLISHED_RECHECK_SECONDS = 5.0
_newest: dict[tuple[str, str | None], tuple[float, Questionnaire]] = {}


def _newest_published(group: str, reading_level: str | None) -> Questionnaire:
    key, now = (group, reading_level), time.monotonic()
    seen = _newest.get(key)
    if seen is not None and now - seen[0] < PUBLISHED_RECHECK_SECONDS:
        return seen[1]
    questionnaire = published_for(group, reading_level)
    _newest[key] = (now, questionnaire)
    return questionnaire


@lru_cache(maxsize=64)
def _version(key: str, version: int) -> Questionnaire:
    """A version once answered never changes (published copies are hash-locked), so
    each worker reads it once, not on every page."""
    return load_version(key, version)


def paginate(items: tuple[Item, ...], per_page: int) -> list[tuple[Item, ...]]:
    """Split items into screens of ``per_page``; the open comment goes on the last one."""
    return [items[i : i + per_page] for i in range(0, len(items), per_page)] or [()]


@dataclass(frozen=True)
class Draft:
    """What a respondent has answered so far (item id → option code) and their comment."""

    answers: dict[str, int]
    comment: str
    language: str | None
    started_at: str | None

    @classmethod
    def of(cls, code: AnsweringCode) -> Draft:
        data: dict[str, Any] = code.draft or {}
        answers = {str(k): int(v) for k, v in (data.get("answers") or {}).items()}
        return cls(answers, data.get("comment") or "", data.get("lang"), data.get("started_at"))


def clean_answers(items: tuple[Item, ...], sent: Mapping[str, object]) -> dict[str, int]:
    """The well-formed answers among ``sent`` (field name → value): the one check of
    answers at the boundary, for page forms and the JSON autosave alike.

    An answer is an option code of that item, written as the page writes it: ASCII
    digits, or a JSON integer. Anything else (``"²"``, ``"--4"``, ``"٣"``, a 5,000-digit
    number, a list) is dropped without a word, and the other answers are kept: a
    browser never sends such values from our radio buttons, so they are not a
    respondent's choice, and nothing a respondent did choose may be lost because of
    them. Arabic-Indic digits are refused on purpose: ``int()`` reads them, but no
    page of ours writes them, so accepting them would only widen what a tool can send.
    """
    cleaned: dict[str, int] = {}
    for item in items:
        number = _option_code(sent.get(item.id))
        if number is not None and number in item.scale.codes:
            cleaned[item.id] = number
    return cleaned


def _option_code(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if 0 < len(text) <= 3 and text.isascii() and text.isdigit():
            return int(text)
    return None


def clean_comment(sent: object, max_length: int) -> str | None:
    """The comment as it is stored, or None when ``sent`` is not text at all.

    Line breaks are normalised (browsers count CRLF as one character but send two),
    characters no database or page can hold are dropped (:func:`clean_text`), and the
    text is cut to ``max_length``: the box does not let a person type more.
    """
    if not isinstance(sent, str):
        return None
    text = clean_text(sent.replace("\r\n", "\n")).strip()
    return text[:max_length].rstrip()


def save_draft(
    code: CodeState,
    answers: dict[str, int],
    now: datetime,
    *,
    language: str | None = None,
    comment: str | None = None,
    hold: timedelta | None = None,
) -> Draft:
    """Merge answers into the server-side draft so a dropped connection loses nothing.

    The row is written only if it is still as ``code`` was read (compare-and-swap on its
    revision), so a save needs neither a row lock nor a transaction of its own: one
    UPDATE, atomic by itself. If another request (a second tab, a per-tap autosave)
    wrote the draft in between, the row is read again and these answers are merged
    into what that request wrote; after ``SAVE_ATTEMPTS`` lost races,
    :class:`DraftConflict`. ``code`` is left as written (or as read again).

    A code of an open link keeps its slot for ``hold`` from now (``respond/open_links``).
    """
    for _attempt in range(SAVE_ATTEMPTS):
        data = _merged(code, answers, now, language, comment)
        if code.open_link_id is not None and hold is not None:
            values = {"new_draft": data, "held_until_new": now + hold}
            written = _write(_SAVE_DRAFT_AND_HOLD, code, values)
        else:
            written = _write(_SAVE_DRAFT, code, {"new_draft": data})
        if written:
            code.draft = data
            return Draft.of(code)
        fresh = usable_code(code.id, now)  # CodeRefused if submitted meanwhile
        vars(code).update(vars(fresh))
    raise DraftConflict()


def _merged(
    code: CodeState,
    answers: dict[str, int],
    now: datetime,
    language: str | None,
    comment: str | None,
) -> dict[str, Any]:
    """The code's draft with ``answers`` merged in and the language and comment set."""
    data = _started(code, now)
    merged = dict(data.get("answers") or {})
    merged.update(answers)
    data["answers"] = merged
    if language:
        data["lang"] = language
    if comment is not None:
        data["comment"] = clean_comment(comment, questionnaire_of(code).comment_max_length)
    return data


def _started(code: AnsweringCode, now: datetime) -> dict[str, Any]:
    """A copy of the code's draft with its questionnaire version, start time and answers
    set (kept if they already are)."""
    questionnaire = questionnaire_of(code)
    data: dict[str, Any] = dict(code.draft or {})
    data.setdefault("questionnaire", [questionnaire.key, questionnaire.version])
    data.setdefault("started_at", now.isoformat())
    data.setdefault("answers", {})
    return data


def missing_items(items: tuple[Item, ...], draft: Draft) -> list[str]:
    return [item.id for item in items if item.id not in draft.answers]


def first_open_page(pages: list[tuple[Item, ...]], draft: Draft) -> int:
    """1-based number of the first screen with an unanswered item (the last if all done)."""
    for number, page in enumerate(pages, start=1):
        if missing_items(page, draft):
            return number
    return len(pages)


def submit_response(code_id: int | None, now: datetime, language: str) -> int:
    """Store the draft as an anonymous response, exactly once per code; returns its id.

    The code is claimed with a conditional UPDATE (``status = 'issued'``): of two
    simultaneous submissions (a double tap) only one changes a row; the other gets
    :class:`CodeRefused` ('used'). The draft is erased in the same statement.
    """
    code = _usable(_CODE_BY_ID_FOR_UPDATE, code_id, now)
    questionnaire = questionnaire_of(code)
    items = tuple(questionnaire.items_for(code.respondent_group))
    draft = Draft.of(code)
    missing = missing_items(items, draft)
    if missing:
        raise IncompleteResponse(missing)
    if _USE_CODE.rowcount(_connection(), {"code_id": code.id}) != 1:
        raise CodeRefused("used")
    started = datetime.fromisoformat(draft.started_at) if draft.started_at else None
    answered = {item.id: draft.answers[item.id] for item in items}
    # Core statements: one INSERT of the response, one multi-row INSERT of its answers.
    ((response_id,),) = _INSERT_RESPONSE.rows(
        _connection(),
        {
            "campaign_id": code.campaign_id,
            "respondent_group": code.respondent_group,
            "school_id": code.school_id,
            "stratum_id": code.stratum_id,
            "reading_level": code.reading_level,
            "questionnaire_key": questionnaire.key,
            "questionnaire_version": questionnaire.version,
            "language": language,
            "submitted_minute": now.replace(second=0, microsecond=0),
            "duration_seconds": int((now - started).total_seconds()) if started else None,
            "comment": clean_text(draft.comment) or None,
            "answer_codes": answer_codes.pack([item.id for item in questionnaire.items], answered),
        },
    )
    answers: dict[str, object] = {"response_id": response_id, "campaign_id": code.campaign_id}
    for row, (item_id, value) in enumerate(answered.items()):
        answers[f"item_id_{row}"] = item_id
        answers[f"value_{row}"] = value
    _insert_answers(len(items)).rowcount(_connection(), answers)
    return int(response_id)
