"""Simulated respondents: phones without JavaScript walking the real HTML forms.

Shared by ``bench/load.py`` and ``bench/crash.py``. Each respondent has its own
``aiohttp.ClientSession`` (own cookie jar, hence own Flask session) and follows
redirects itself, so every HTTP request is sent, timed and counted. Pages are read
with regular expressions, not an HTML parser: the client shares the machine's two
cores with the server and should cost it as little as possible.

The walk, for the parent questionnaire at 5 items a screen::

    GET /r/<code> -302-> GET /start -link-> GET /q/1 -> POST /q/1 -302-> GET /q/2 ...
    POST /q/3 -302-> GET /review -> POST /thanks

(10 requests; until 2026-12-06 the review posted to /submit, which redirected to GET
/thanks, 11 requests; until 2026-12-02 the welcome screen was a form too: POST /start
-302-> GET /q/1, 12 requests. All are followed, so older trees can still be measured.)

A respondent is *acknowledged* when it got the thank-you page in the answer to its
submit (or, on older trees, after the submit's redirect).
"""

from __future__ import annotations

import asyncio
import html
import random
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp

_FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
_INPUT = re.compile(r"<input\b([^>]*)>", re.I)
_BUTTON = re.compile(r"<button\b([^>]*)>", re.I)
_ATTR = re.compile(r'([\w:-]+)="([^"]*)"')
_NEXT_LINK = re.compile(r'<a\b[^>]*\brel="next"[^>]*\bhref="([^"]+)"', re.I)

# The review's form posts to /thanks (to /submit before 2026-12-06).
SUBMIT_PATHS = ("/submit", "/thanks")
MAX_REQUESTS = 60  # per respondent: a walk that loops is a failure, not a hang


def is_submit(method: str, path: str) -> bool:
    return method == "POST" and path in SUBMIT_PATHS


def _attrs(tag: str) -> dict[str, str]:
    return {name.lower(): html.unescape(value) for name, value in _ATTR.findall(tag)}


@dataclass(frozen=True)
class Form:
    action: str
    hidden: dict[str, str]
    radios: dict[str, list[str]]  # name -> option values, in page order
    nav: str | None  # value of the "next" button (name="nav"), if the form has one

    def answers(self, rng: random.Random) -> dict[str, str]:
        """What a phone sends: hidden fields, one random option per question, Next."""
        data = dict(self.hidden)
        data.update({name: rng.choice(values) for name, values in self.radios.items()})
        if self.nav is not None:
            data["nav"] = self.nav
        return data


def parse_form(page: str, current_path: str) -> Form | None:
    """The page's POST form (the language links are plain links), or None."""
    for form_attrs, body in _FORM.findall(page):
        attrs = _attrs(form_attrs)
        if attrs.get("method", "get").lower() != "post":
            continue
        hidden: dict[str, str] = {}
        radios: dict[str, list[str]] = {}
        for tag in _INPUT.findall(body):
            field_attrs = _attrs(tag)
            name, kind = field_attrs.get("name"), field_attrs.get("type", "text").lower()
            if name is None:
                continue
            if kind == "hidden":
                hidden[name] = field_attrs.get("value", "")
            elif kind == "radio":
                radios.setdefault(name, []).append(field_attrs.get("value", "on"))
        nav = None
        for tag in _BUTTON.findall(body):
            button = _attrs(tag)
            if button.get("name") == "nav" and button.get("value") == "next":
                nav = "next"
        return Form(attrs.get("action") or current_path, hidden, radios, nav)
    return None


def next_step(
    page: str, current_path: str, rng: random.Random
) -> tuple[str, str, dict[str, str] | None] | None:
    """What a respondent does on ``page``: post its form with answers, or follow its
    next link (the welcome screen's start button); None if the page offers neither."""
    form = parse_form(page, current_path)
    if form is not None:
        return "POST", form.action, form.answers(rng)
    onward = _NEXT_LINK.search(page)
    return None if onward is None else ("GET", html.unescape(onward.group(1)), None)


def endpoint(path: str) -> str:
    """A path without the code in it, for per-endpoint counts (/r/<code> -> /r/*)."""
    return "/r/*" if path.startswith("/r/") else path


@dataclass
class Outcome:
    """One respondent's walk."""

    started: float
    finished: float = 0.0
    requests: int = 0
    acknowledged: bool = False
    # The submit was sent but its answer never came (or was a 5xx): stored or not?
    submit_cut_off: bool = False
    result: str = "unfinished"  # acknowledged, code used, failed: <why>, unfinished


@dataclass
class Stats:
    """Everything the client saw; times are ``time.monotonic()``."""

    outcomes: list[Outcome] = field(default_factory=list)
    statuses: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    # (method, endpoint, "refused" before connecting or "dropped" after)
    connection_errors: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    # (finished at, endpoint, seconds) for every HTTP response received
    requests: list[tuple[float, str, float]] = field(default_factory=list)
    ran_out_of_codes: bool = False


class Stop(Exception):
    """This respondent gives up (reason in the message)."""


@dataclass
class Client:
    """Runs respondents against ``base_url`` until ``stop_at``.

    ``retry`` (crash.py): a connection error or a 5xx answer is "try again": the same
    request (the link, the page, or the form with the same answers) is sent again
    after a short pause, until ``give_up_at``. Without it the respondent fails.
    """

    base_url: str
    stats: Stats
    codes: Iterator[str]
    stop_at: float
    give_up_at: float
    retry: bool = False
    rng: random.Random = field(default_factory=random.Random)
    timeout: aiohttp.ClientTimeout = field(
        default_factory=lambda: aiohttp.ClientTimeout(total=60, connect=10)
    )

    async def run(self, concurrency: int, ramp: float = 0.0) -> None:
        """``concurrency`` respondents at a time, each slot starting a new one as soon as
        the last finished, until ``stop_at``; those under way then finish their walk.

        Slots start spread evenly over ``ramp`` seconds: started all at once, the
        respondents would move in lockstep waves (all 100 finish within a second, then
        none for ten), and a fixed window would count a whole wave more or less.
        """
        # gunicorn's sync workers close every connection, so nothing is pooled anyway.
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        delays = [ramp * index / concurrency for index in range(concurrency)]
        try:
            await asyncio.gather(*(self._slot(connector, delay) for delay in delays))
        finally:
            await connector.close()

    async def _slot(self, connector: aiohttp.TCPConnector, delay: float) -> None:
        await asyncio.sleep(delay)
        while time.monotonic() < self.stop_at:
            code = next(self.codes, None)
            if code is None:
                self.stats.ran_out_of_codes = True  # the run measured less than asked
                return
            outcome = Outcome(started=time.monotonic())
            self.stats.outcomes.append(outcome)
            try:
                await self._walk(connector, code, outcome)
            except Stop as stop:
                outcome.result = f"failed: {stop}"
            outcome.finished = time.monotonic()

    async def _send(
        self,
        session: aiohttp.ClientSession,
        method: str,
        path: str,
        data: dict[str, str] | None,
        outcome: Outcome,
    ) -> tuple[int, str, str | None]:
        """One request (again, while ``retry`` allows): status, body, redirect path."""
        attempt = 0
        while True:
            if outcome.requests >= MAX_REQUESTS:
                raise Stop("too many requests")
            outcome.requests += 1
            sent = time.monotonic()
            try:
                async with session.request(
                    method, self.base_url + path, data=data, allow_redirects=False
                ) as response:
                    body = await response.text()
                    status = response.status
                    location = response.headers.get("Location")
            except (aiohttp.ClientError, TimeoutError, ConnectionError) as error:
                # Refused: the request never left; otherwise it may have been handled.
                in_flight = not isinstance(error, aiohttp.ClientConnectorError)
                kind = "dropped" if in_flight else "refused"
                self.stats.connection_errors[(method, endpoint(path), kind)] += 1
                if is_submit(method, path) and in_flight:
                    outcome.submit_cut_off = True
                if not self.retry or time.monotonic() > self.give_up_at:
                    raise Stop(f"{method} {endpoint(path)}: {type(error).__name__}") from error
                attempt += 1
                await asyncio.sleep(min(0.2 * attempt, 1.0) * (0.5 + self.rng.random()))
                continue
            now = time.monotonic()
            self.stats.requests.append((now, endpoint(path), now - sent))
            self.stats.statuses[(method, endpoint(path), status)] += 1
            if status >= 500 and is_submit(method, path):
                outcome.submit_cut_off = True  # committed before failing? Unknown too.
            if status >= 500 and self.retry and attempt < 10 and now < self.give_up_at:
                attempt += 1
                await asyncio.sleep(0.2 * attempt)
                continue
            redirect = urlsplit(location).path if location else None
            return status, body, redirect

    async def _walk(self, connector: aiohttp.TCPConnector, code: str, outcome: Outcome) -> None:
        jar = aiohttp.CookieJar(unsafe=True)  # unsafe: accept cookies from an IP address
        async with aiohttp.ClientSession(
            connector=connector, connector_owner=False, cookie_jar=jar, timeout=self.timeout
        ) as session:
            method, path, data = "GET", f"/r/{code}", None
            submitted = False
            while True:
                status, body, redirect = await self._send(session, method, path, data, outcome)
                if 300 <= status < 400 and redirect:
                    submitted = submitted or is_submit(method, path)
                    method, path, data = "GET", redirect, None
                    continue
                if status == 200 and path == "/thanks":
                    if not (submitted or is_submit(method, path)):
                        raise Stop("thank-you page without a submit")
                    outcome.acknowledged = True
                    outcome.result = "acknowledged"
                    return
                if status == 410:  # this code has been used (a submit cut off in flight)
                    outcome.result = "code used"
                    return
                if status not in (200, 422):  # 422: a screen with unanswered questions
                    raise Stop(f"{method} {endpoint(path)}: HTTP {status}")
                step = next_step(body, path, self.rng)
                if step is None:
                    raise Stop(f"no form or next link on {endpoint(path)}")
                method, path, data = step


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (nan for no values)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]
