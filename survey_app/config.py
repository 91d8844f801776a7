"""Configuration: defaults, then the environment, then a test mapping.

Every setting can be given as an environment variable of the same name. The embedded
default database is a SQLite file under the instance folder; production sets
``DATABASE_URL`` to PostgreSQL (``postgresql+psycopg://…``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from survey_app.vocabulary import LANGUAGES

DEFAULT_SECRET_KEY = "dev-only-insecure-secret"  # noqa: S105 - refused outside debug/testing


class ConfigError(RuntimeError):
    """Raised when the app is asked to start with an unsafe configuration."""


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_float(name: str, default: float) -> float | str:
    """A number from the environment; what is not one is kept as typed, for
    :func:`check_config` to refuse in one line."""
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        return value


def _secret_key(instance_path: str) -> str:
    """``SECRET_KEY`` from the environment, else the random key ``./dev`` keeps in
    ``instance/secret_key`` for this installation, else the (refused) default."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = os.path.join(instance_path, "secret_key")
    if os.path.exists(path):
        with open(path, encoding="ascii") as handle:
            key = handle.read().strip()
        if key:
            return key
    return DEFAULT_SECRET_KEY


def load_config(instance_path: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the settings for one app: defaults < environment < ``overrides``."""
    config: dict[str, Any] = {
        "SECRET_KEY": _secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": os.environ.get(
            "DATABASE_URL", "sqlite:///" + os.path.join(instance_path, "survey.sqlite3")
        ),
        # hide_parameters: a failed statement's error (and so any log line) must not carry
        # the values it wrote, which are respondents' answers and comments. Idle pooled
        # connections are pinged before use (database.ping_idle_connections), not all.
        "SQLALCHEMY_ENGINE_OPTIONS": {"hide_parameters": True},
        # The largest body a respondent's page sends is a few KB (a screen of answers and
        # a comment of a few hundred characters); anything far larger is refused (413)
        # before it is read, instead of being read whole and cut.
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_CONTENT_LENGTH", str(64 * 1024))),
        "MAX_FORM_MEMORY_SIZE": 64 * 1024,
        "MAX_FORM_PARTS": 300,
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000"),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        # Keeps this installation's counters apart from others' in a shared Redis.
        "RATELIMIT_KEY_PREFIX": os.environ.get("RATELIMIT_KEY_PREFIX", "survey"),
        # Code look-ups per client address (see survey_app/respond/code_entry_limits.py):
        # wrong codes (past it, wrong codes get 429 but valid codes still open), and all
        # look-ups (a flood: refused outright; far above a school's rush on one Wi-Fi).
        "CODE_ENTRY_LIMIT": os.environ.get("CODE_ENTRY_LIMIT", "30 per minute;300 per hour"),
        "CODE_FLOOD_LIMIT": os.environ.get("CODE_FLOOD_LIMIT", "3000 per minute"),
        # Failed staff sign-ins per address and per account (survey_app/auth/login_limits.py).
        "LOGIN_LIMIT": os.environ.get("LOGIN_LIMIT", "10 per minute;100 per hour"),
        "LOGIN_ACCOUNT_LIMIT": os.environ.get("LOGIN_ACCOUNT_LIMIT", "20 per hour"),
        # Reverse proxies in front of the app (nginx: 1); their X-Forwarded-For is trusted.
        "PROXY_COUNT": int(os.environ.get("PROXY_COUNT", "0")),
        "BABEL_DEFAULT_LOCALE": "zh_Hans",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "LANGUAGES": LANGUAGES,
        "ITEMS_PER_PAGE": int(os.environ.get("ITEMS_PER_PAGE", "5")),
        # How often the fieldwork page refreshes its counts when JavaScript is on.
        "FIELDWORK_REFRESH_SECONDS": int(os.environ.get("FIELDWORK_REFRESH_SECONDS", "30")),
        # Results: a cell of fewer responses than this shows no figure (results/page.py).
        "RESULTS_MIN_N": int(os.environ.get("RESULTS_MIN_N", "10")),
        # How long a results or fieldwork page waits for its figures to be built before
        # it shows the ones built last, or says they are being computed (campaign_cache.py).
        "BUILD_WAIT_SECONDS": _env_float("BUILD_WAIT_SECONDS", 3.0),
        # Integrity checks: the false-discovery rate of the flags over a county's
        # school groups (survey_app/integrity/checks.py).
        "INTEGRITY_FDR": _env_float("INTEGRITY_FDR", 0.05),
        # The certification report's signing key and certificate, one PKCS#12 file
        # (results/report_signing.py; `flask report keygen` makes a self-signed one).
        "REPORT_SIGNING_P12": os.environ.get(
            "REPORT_SIGNING_P12", os.path.join(instance_path, "signing.p12")
        ),
        "REPORT_SIGNING_PASSWORD": os.environ.get("REPORT_SIGNING_PASSWORD", ""),
        # Where reports are made (results/report_jobs.py): RQ on this Redis, run by
        # `flask report worker`; empty: a thread of the web process (one process only).
        "JOBS_REDIS_URL": os.environ.get("JOBS_REDIS_URL", ""),
        # An open link's slot stays with a respondent this long after their last save;
        # past it, a full link gives the slot to someone else (respond/open_links.py).
        "OPEN_LINK_HOLD_MINUTES": int(os.environ.get("OPEN_LINK_HOLD_MINUTES", "60")),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # The cookie is written when the session changes, not re-signed on every page.
        "SESSION_REFRESH_EACH_REQUEST": False,
        "SESSION_COOKIE_SECURE": _env_bool("SESSION_COOKIE_SECURE", False),
        "WTF_CSRF_TIME_LIMIT": None,  # a questionnaire may stay open for hours on a phone
        "DEBUG": _env_bool("FLASK_DEBUG", False),
        "TESTING": False,
    }
    if overrides:
        config.update(overrides)
    return config


def check_config(config: Mapping[str, Any]) -> None:
    """Refuse to run in production with the default or an empty secret, or with an
    integrity false-discovery rate outside (0, 1)."""
    relaxed = config.get("DEBUG") or config.get("TESTING")
    secret = config.get("SECRET_KEY")
    if not relaxed and (not secret or secret == DEFAULT_SECRET_KEY):
        raise ConfigError(
            "SECRET_KEY is not set: set the SECRET_KEY environment variable "
            "(or FLASK_DEBUG=1 for local development)"
        )
    wait = config.get("BUILD_WAIT_SECONDS", 3.0)
    if not (isinstance(wait, float | int) and 0 <= wait <= 600):
        raise ConfigError(f"BUILD_WAIT_SECONDS is seconds from 0 to 600 (e.g. 3), not {wait!r}")
    fdr = config.get("INTEGRITY_FDR", 0.05)
    if not (isinstance(fdr, float | int) and 0 < fdr < 1):
        raise ConfigError(f"INTEGRITY_FDR is a rate between 0 and 1 (e.g. 0.05), not {fdr!r}")
