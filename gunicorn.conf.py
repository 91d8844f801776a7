"""Production server settings: ``gunicorn -c gunicorn.conf.py wsgi:app``."""

from survey_app.log_redaction import RedactCodes

bind = "127.0.0.1:8000"
workers = 4
accesslog = "-"
# gunicorn's access log records the client address and the path: mask /r/<code>.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_codes": {"()": RedactCodes}},
    # gunicorn replaces its default "handlers"/"loggers" with these: keep its own names.
    "root": {"level": "WARNING", "handlers": ["console"]},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout"},
        "error_console": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
        "access": {
            "class": "logging.StreamHandler",
            "filters": ["redact_codes"],
            "stream": "ext://sys.stdout",
        },
    },
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
    },
}
