"""Keep one-time codes (and school contacts' links) out of access logs.

An access log line holds the client address and the path; ``/r/<code>`` in it would tie
an address to a code (and so to its saved answers), and ``/contact/<token>`` would hand
anyone reading the log a school's counts. This filter masks both in the dev server's log
(``werkzeug``) and, through ``gunicorn.conf.py``, in gunicorn's.
"""

from __future__ import annotations

import logging
import re

_CODE_IN_PATH = re.compile(r"/r/[^\s\"?]+")
_CONTACT_IN_PATH = re.compile(r"/contact/[^\s\"?]+")
MASK = "/r/<code>"
CONTACT_MASK = "/contact/<token>"


def redact(text: str) -> str:
    return _CONTACT_IN_PATH.sub(CONTACT_MASK, _CODE_IN_PATH.sub(MASK, text))


class RedactCodes(logging.Filter):
    """Masks ``/r/<code>`` in a record's message and its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        return True


def install(logger_name: str = "werkzeug") -> None:
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactCodes) for f in logger.filters):
        logger.addFilter(RedactCodes())
