"""``python -m analysis integrity``: the integrity checks on a CSV file, printed as JSON.

One row per response: school, group, stratum, duration in seconds, submission time
(ISO 8601, e.g. ``2026-05-12T20:31`` or with an offset; a time without offset is
read as UTC) and one column per item holding option codes (1 = lowest …
``--scale-max`` = highest, 0 = don't know, empty or NA = unanswered).  Empty
durations and times are unknown (those responses are left out of the timing tests).

Output: ``{"settings": {...}, "cells": [...], "responses": [...]}``.  Every (school,
group) cell is listed; cells with fewer than ``--min-n`` responses have
``"flagged": false``, no reasons, ``statistics.too_small`` true and are not tested
(nor counted in the false-discovery control).  ``responses`` lists each response
with a per-response flag, by its line in the file (the header is line 1).  Cell
reasons: template_copying, erased_dissatisfaction, proxy_filling,
many_flagged_responses; response flags: speeding (under a third of the reading time),
straight_lining, low_variation (see ``analysis.integrity``).  Every test's reference
distribution is analytic, so the output has no random seed.  Bad input prints one
line on stderr and exits with status 2, like ``analysis estimate``.
"""

from __future__ import annotations

import argparse
import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.cli import InputError, _Table
from analysis.integrity.blocks import (
    READING_SECONDS_PER_ITEM,
    UNANSWERED,
    IntegritySettings,
    ResponseBlock,
)
from analysis.integrity.examine import examine


def add_parser(commands: Any) -> None:
    """The ``integrity`` subcommand on ``analysis.cli``'s subparsers."""
    cmd = commands.add_parser(
        "integrity",
        help="flag coached or fabricated (school, group) cells and suspicious responses",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument("--data", required=True, help="CSV file with a header row")
    cmd.add_argument("--items", nargs="+", required=True, help="item columns (option codes)")
    cmd.add_argument("--school", default="school", help="school column (default: school)")
    cmd.add_argument("--group", default="group", help="respondent group column (default: group)")
    cmd.add_argument("--stratum", default="stratum", help="stratum column (default: stratum)")
    cmd.add_argument(
        "--duration",
        default="duration_seconds",
        help="completion time in seconds (default: duration_seconds)",
    )
    cmd.add_argument(
        "--time", default="submitted_at", help="submission time, ISO 8601 (default: submitted_at)"
    )
    cmd.add_argument(
        "--reading-seconds",
        type=float,
        help="reading time of the whole questionnaire in seconds (default: 15 per item); "
        "a response under a third of it is speeding",
    )
    cmd.add_argument("--scale-max", type=int, default=4, help="highest option code (default 4)")
    cmd.add_argument(
        "--fdr",
        type=float,
        default=0.05,
        help="false-discovery rate over all examined cells (default 0.05)",
    )
    cmd.add_argument(
        "--min-n",
        type=int,
        default=10,
        help="cells with fewer responses are listed but not examined (default 10)",
    )


def run_integrity(args: argparse.Namespace) -> dict[str, Any]:
    """The JSON object; raises :class:`analysis.cli.InputError` on bad input."""
    if not 0 < args.fdr < 1:
        raise InputError(f"--fdr must be between 0 and 1 (exclusive), not {args.fdr}")
    if not 2 <= args.scale_max <= 20:
        raise InputError(f"--scale-max must be between 2 and 20, not {args.scale_max}")
    if args.min_n < 2:
        raise InputError(f"--min-n must be at least 2, not {args.min_n}")
    reading = (
        READING_SECONDS_PER_ITEM * len(args.items)
        if args.reading_seconds is None
        else args.reading_seconds
    )
    if not (math.isfinite(reading) and reading > 0):
        raise InputError(f"--reading-seconds must be a positive number, not {reading}")
    repeated = sorted({item for item in args.items if args.items.count(item) > 1})
    if repeated:
        raise InputError(f"--items: {repeated[0]!r} given twice")
    table = _Table(args.data)
    school = table.labels(args.school, allow_missing=False)
    group = table.labels(args.group, allow_missing=False)
    stratum = table.labels(args.stratum, allow_missing=False)
    _check_one_stratum_per_school(table, args, school, stratum)
    answers = np.column_stack([_codes(table, item, args.scale_max) for item in args.items])
    duration = table.numbers(args.duration, sign="nonnegative")
    minute = _minutes(table, args.time)
    block = ResponseBlock(
        items=tuple(args.items),
        answers=answers.astype(np.int16),
        school=school,
        group=group,
        stratum=stratum,
        duration_seconds=duration,
        submitted_minute=minute,
        reading_seconds=reading,
    )
    settings = IntegritySettings(scale_max=args.scale_max, fdr=args.fdr, min_n=args.min_n)
    report = examine([block], settings)
    out = report.as_dict(line_of_row={(0, i): line for i, line in enumerate(table.lines)})
    out["settings"]["reading_seconds"] = reading
    return out


def _codes(table: _Table, column: str, scale_max: int) -> NDArray[np.int16]:
    """An item column as option codes; empty or NA is unanswered (−1)."""
    valid = {str(c): c for c in range(scale_max + 1)} | {"": UNANSWERED, "NA": UNANSWERED}
    j = _column(table, column)
    out = np.empty(len(table.rows), dtype=np.int16)
    for i, row in enumerate(table.rows):
        cell = row[j].strip()
        code = valid.get(cell)
        if code is None:
            code = _integral(cell)
            if code is None or not 0 <= code <= scale_max:
                raise InputError(
                    f"{table.path}: column {column!r}, line {table.lines[i]}: {cell!r} is not an "
                    f"option code (0..{scale_max}, empty = unanswered)"
                )
        out[i] = code
    return out


def _integral(cell: str) -> int | None:
    """ "3.0" → 3 (spreadsheets write codes as floats); anything else → None."""
    try:
        value = float(cell)
    except ValueError:
        return None
    return int(value) if math.isfinite(value) and value == int(value) else None


def _minutes(table: _Table, column: str) -> NDArray[np.float64]:
    """ISO 8601 times as minutes since 1970-01-01 UTC (NaN: empty)."""
    labels = table.labels(column, allow_missing=True)
    out = np.full(len(table.rows), np.nan)
    for i, cell in enumerate(labels.tolist()):
        if cell is None:
            continue
        try:
            when = datetime.fromisoformat(cell)
        except ValueError:
            raise InputError(
                f"{table.path}: column {column!r}, line {table.lines[i]}: {cell!r} is not an "
                "ISO 8601 time"
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        out[i] = when.timestamp() / 60.0
    return out


def _column(table: _Table, column: str) -> int:
    if column not in table.header:
        raise InputError(f"{table.path}: no column {column!r}")
    return table.header.index(column)


def _check_one_stratum_per_school(
    table: _Table, args: argparse.Namespace, school: NDArray[Any], stratum: NDArray[Any]
) -> None:
    first: dict[object, tuple[object, int]] = {}
    for i, (s, h) in enumerate(zip(school.tolist(), stratum.tolist(), strict=True)):
        seen = first.setdefault(s, (h, table.lines[i]))
        if seen[0] != h:
            raise InputError(
                f"{table.path}: column {args.stratum!r}, line {table.lines[i]}: school {s!r} is "
                f"in stratum {seen[0]!r} on line {seen[1]} and {h!r} here"
            )
