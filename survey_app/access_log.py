"""gunicorn's access log, short and anonymous: ``gunicorn.conf.py`` sets ``logger_class``.

gunicorn's own access line holds the client's address, user agent and referrer, and is
built from a dictionary of every request and response header (about 7% of a worker's
CPU on the respondent path, measured with ``bench/hotspots.py``). A respondent is
anonymous: an address beside the time of a ``POST /submit`` is a link between a person
and a response, so this line holds what an operator needs to see that the service works
and no more: method, path (one-time codes and school contacts' tokens masked, the query
string left out), status, bytes sent and milliseconds. The time stamp is the handler's.
``access_log_format`` is not read.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gunicorn import glogging

from survey_app.log_redaction import redact


def access_line(environ: dict[str, Any], status: object, sent: int | None, took: timedelta) -> str:
    """One request as logged: ``GET /r/<code> 302 0 1.4ms``."""
    path = redact(environ.get("PATH_INFO") or "/")
    code = status.split(None, 1)[0] if isinstance(status, str) else status
    milliseconds = took.total_seconds() * 1000
    return f"{environ.get('REQUEST_METHOD', '-')} {path} {code} {sent or 0} {milliseconds:.1f}ms"


class AccessLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logger with :func:`access_line` instead of its combined log format."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        if not self.access_log_enabled:
            return
        line = access_line(environ, resp.status, getattr(resp, "sent", None), request_time)
        self.access_log.info(line)
