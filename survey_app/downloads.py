"""Files the browser saves rather than shows: every staff download goes through here."""

from __future__ import annotations

from flask import Response


def attachment(
    body: str | bytes, mimetype: str, filename: str, *, no_store: bool = False
) -> Response:
    """``body`` as a download named ``filename``; ``no_store`` keeps respondents' data
    (the exports) out of browser and proxy caches."""
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if no_store:
        headers["Cache-Control"] = "no-store"
    return Response(body, mimetype=mimetype, headers=headers)


# Text a spreadsheet would take for a formula; a CSV cell starting so gets a leading '.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(text: str) -> str:
    """``text`` as a CSV cell that Excel or WPS shows and never evaluates."""
    return "'" + text if text.startswith(FORMULA_START) else text
