"""Production server settings: ``gunicorn -c gunicorn.conf.py wsgi:app``."""

import os
from typing import Any

bind = "127.0.0.1:8000"
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
# gunicorn kills a worker silent for 30 s by default. The results pages are built in the
# background (survey_app/campaign_cache.py), but an integrity decision's page examines
# the campaign as it is in its request: about 10 s on a million responses
# (bench/README.md, bench/results.py), too close to that limit on a busy machine.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
accesslog = "-"
# Method, path (codes masked), status, bytes, milliseconds: no client address (see
# survey_app/access_log.py).
logger_class = "survey_app.access_log.AccessLogger"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"access": {"format": "%(asctime)s %(message)s"}},
    # gunicorn replaces its default "handlers"/"loggers" with these: keep its own names.
    "root": {"level": "WARNING", "handlers": ["console"]},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout"},
        "error_console": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
        "access": {
            "class": "logging.StreamHandler",
            "formatter": "access",
            "stream": "ext://sys.stdout",
        },
    },
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
    },
}


PER_PROCESS_STORES = ("memory://",)


def on_starting(server: Any) -> None:
    """Refuse several workers on a per-process rate-limit store: each worker would count
    on its own, so the code-entry limits would allow workers × the configured rate. The
    same for the report's jobs without Redis: a job's progress would be known only to
    the worker that started it, and the next poll may reach another."""
    store = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    if server.cfg.workers > 1 and store.startswith(PER_PROCESS_STORES):
        raise SystemExit(
            f"gunicorn: {server.cfg.workers} workers need a shared rate-limit store: "
            "set RATELIMIT_STORAGE_URI=redis://HOST:6379 (or run one worker)"
        )
    if server.cfg.workers > 1 and not os.environ.get("JOBS_REDIS_URL"):
        raise SystemExit(
            f"gunicorn: {server.cfg.workers} workers need the report's jobs in Redis: "
            "set JOBS_REDIS_URL=redis://HOST:6379/0 and run `flask report worker` "
            "(or run one worker)"
        )
