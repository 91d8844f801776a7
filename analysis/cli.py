"""``python -m analysis estimate``: survey estimates from a CSV file, printed as JSON.
(``python -m analysis integrity``: coached and fabricated cells, see
:mod:`analysis.integrity.command`.)

Each ``--y`` column is estimated overall and, with ``--by``, in each domain. A 0/1
column is a proportion and gets the ``--ci`` interval and the one-sided p-value for
H0: p ≤ ``--threshold``; any other numeric column gets R's symmetric t interval
(``confint(svymean(...), df=degf(design))``) and no p-value. Empty cells are
missing. Problems with the input print one line on stderr and exit with status 2:
among them weights that are negative or have no finite positive total, fpc cells
≤ 0, and ``--level`` or ``--threshold`` outside (0, 1).
``--pps brewer`` makes the first stage PPS without replacement (R's
``svydesign(..., fpc=~pi, pps="brewer")``): ``--fpc`` then holds each row's school
inclusion probability π in (0, 1] and ``--fpc2`` (with ``--cluster2``) the sampling
fraction within the school. Without ``--pps`` and ``--fpc`` the first stage is taken
as drawn with replacement.
Warnings about the design (e.g. a first-stage-only fpc with many schools sampled)
print one line each on stderr, prefixed ``warning:``, when the estimates succeed;
the JSON and the exit status are unchanged.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from scipy import stats

from analysis.design import LONELY_PSU_OPTIONS, PPS_OPTIONS, LonelyPSUError, SurveyDesign
from analysis.estimators import Estimate, mean
from analysis.intervals import CI_METHODS, proportion_interval

EXIT_INPUT_ERROR = 2
# The estimators square weighted totals; above this, squares overflow float64 (1.8e308)
MAX_WEIGHT_TOTAL = 1e150


Sign = Literal["positive", "nonnegative"]


class InputError(Exception):
    """A problem with the user's file or options; the message is shown as is."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    est = commands.add_parser("estimate", help="design-based estimates from a CSV file")
    est.add_argument("--data", required=True, help="CSV file with a header row")
    est.add_argument("--y", action="append", required=True, help="variable (repeatable)")
    est.add_argument("--strata", help="stratum column")
    est.add_argument("--cluster", help="first-stage cluster (PSU) column, e.g. school")
    est.add_argument("--cluster2", help="second-stage unit column (with --fpc2)")
    est.add_argument("--weight", help="sampling weight column")
    est.add_argument(
        "--fpc",
        help="PSUs in the stratum's population, or sampling fraction; with --pps brewer "
        "the PSU's inclusion probability",
    )
    est.add_argument(
        "--fpc2", help="second-stage population size or fraction (with --pps: fraction)"
    )
    est.add_argument(
        "--pps",
        choices=PPS_OPTIONS,
        help="first stage drawn PPS without replacement: Brewer's variance, --fpc = π",
    )
    est.add_argument("--by", help="domain column: estimates per value as well")
    est.add_argument("--ci", choices=CI_METHODS, default="beta", help="interval method")
    est.add_argument("--level", type=float, default=0.95, help="two-sided confidence level")
    est.add_argument("--threshold", type=float, default=0.85, help="H0: p <= threshold")
    est.add_argument("--lonely-psu", choices=LONELY_PSU_OPTIONS, default="fail")
    est.add_argument(
        "--nchs",
        action="store_true",
        help="NCHS rules: cap the Korn-Graubard effective n at n (default off: the "
        "intervals equal R's svyciprop; p = 0 or 1 always gets the NCHS interval)",
    )
    from analysis.integrity.command import add_parser  # imports this module: import late

    add_parser(commands)
    return parser


def _read_csv(path: str) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, rows and each row's line number in the file."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise InputError(f"{path}: empty file")
            rows, lines = [], []
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise InputError(
                        f"{path}: line {reader.line_num}: {len(row)} fields, header has "
                        f"{len(header)}"
                    )
                rows.append(row)
                lines.append(reader.line_num)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a readable CSV file: {exc}") from exc
    return [h.strip() for h in header], rows, lines


class _Table:
    def __init__(self, path: str) -> None:
        self.path = path
        self.header, self.rows, self.lines = _read_csv(path)
        if not self.rows:
            raise InputError(f"{path}: no data rows")

    def _index(self, column: str) -> int:
        try:
            return self.header.index(column)
        except ValueError:
            raise InputError(f"{self.path}: no column {column!r}") from None

    def numbers(
        self, column: str, *, allow_missing: bool = True, sign: Sign | None = None
    ) -> np.ndarray:
        """The column as floats (NaN: missing); ``sign`` also refuses negative
        (``"nonnegative"``) or non-positive (``"positive"``) cells."""
        j = self._index(column)
        out = np.empty(len(self.rows))
        for i, row in enumerate(self.rows):
            cell = row[j].strip()
            if cell == "" or cell.upper() == "NA":
                if not allow_missing:
                    raise InputError(
                        f"{self.path}: column {column!r}, line {self.lines[i]}: missing value"
                    )
                out[i] = math.nan
                continue
            try:
                out[i] = float(cell)
            except ValueError:
                raise InputError(
                    f"{self.path}: column {column!r}, line {self.lines[i]}: "
                    f"{cell!r} is not a number"
                ) from None
            if not math.isfinite(out[i]):
                raise InputError(
                    f"{self.path}: column {column!r}, line {self.lines[i]}: {cell!r} is not finite"
                )
            if (sign == "positive" and out[i] <= 0) or (sign == "nonnegative" and out[i] < 0):
                raise InputError(
                    f"{self.path}: column {column!r}, line {self.lines[i]}: {cell} must be "
                    f"{'> 0' if sign == 'positive' else '>= 0'}"
                )
        return out

    def labels(self, column: str, *, allow_missing: bool) -> np.ndarray:
        j = self._index(column)
        out = []
        for i, row in enumerate(self.rows):
            cell = row[j].strip()
            if cell == "" and not allow_missing:
                raise InputError(
                    f"{self.path}: column {column!r}, line {self.lines[i]}: missing value"
                )
            out.append(cell if cell else None)
        return np.array(out, dtype=object)


def _clean(value: float) -> float | None:
    return None if not math.isfinite(value) else float(value)


def _t_interval(est: Estimate, level: float) -> tuple[float, float]:
    """R's ``confint(svymean(...), df=degf(design))``: symmetric t interval."""
    if est.no_data or est.df <= 0:
        return math.nan, math.nan
    t = float(stats.t.ppf(1 - (1 - level) / 2, est.df))
    return est.estimate - t * est.se, est.estimate + t * est.se


def _record(args: argparse.Namespace, variable: str, est: Estimate, binary: bool) -> dict[str, Any]:
    flags: list[str] = []
    p_value = math.nan
    if binary:
        ci = proportion_interval(
            est.estimate,
            est.se,
            est.n,
            est.df,
            method=args.ci,
            level=args.level,
            threshold=args.threshold,
            nchs=args.nchs,
        )
        low, high, p_value, flags = ci.ci_low, ci.ci_high, ci.p_value, list(ci.flags)
    else:
        low, high = _t_interval(est, args.level)
        if est.no_data:
            flags.append("no_data")
    return {
        "variable": variable,
        "domain": est.domain,
        "estimate": _clean(est.estimate),
        "se": _clean(est.se),
        "ci_low": _clean(low),
        "ci_high": _clean(high),
        "deff": _clean(est.deff),
        "n": est.n,
        "df": est.df,
        "p_value": _clean(p_value),
        "method": args.ci if binary else "mean",
        "flags": flags,
    }


def run_estimate(
    args: argparse.Namespace, warnings: list[str] | None = None
) -> list[dict[str, Any]]:
    """The JSON records; design warnings are appended to ``warnings``."""
    if not 0 < args.level < 1:
        raise InputError(f"--level must be between 0 and 1 (exclusive), not {args.level}")
    if not 0 < args.threshold < 1:
        raise InputError(f"--threshold must be between 0 and 1 (exclusive), not {args.threshold}")
    if args.pps is not None and args.fpc is None:
        raise InputError(
            f"--pps {args.pps} needs --fpc: the column of each row's school inclusion probability"
        )
    table = _Table(args.data)
    weights = None
    if args.weight is not None:
        weights = table.numbers(args.weight, allow_missing=False, sign="nonnegative")
        with np.errstate(over="ignore"):
            total = float(weights.sum())
        if not (math.isfinite(total) and total > 0):
            raise InputError(
                f"{args.data}: column {args.weight!r}: weights must have a finite, positive "
                f"total (sum {total})"
            )
        if total > MAX_WEIGHT_TOTAL:
            raise InputError(
                f"{args.data}: column {args.weight!r}: weight total {total:g} is too large "
                f"(the variance squares it; at most {MAX_WEIGHT_TOTAL:g}): rescale the weights"
            )
    try:
        design = SurveyDesign.from_arrays(
            n=len(table.rows),
            weights=weights,
            strata=None if args.strata is None else table.labels(args.strata, allow_missing=False),
            cluster=None
            if args.cluster is None
            else table.labels(args.cluster, allow_missing=False),
            cluster2=None
            if args.cluster2 is None
            else table.labels(args.cluster2, allow_missing=False),
            fpc=None
            if args.fpc is None
            else table.numbers(args.fpc, allow_missing=False, sign="positive"),
            fpc2=None
            if args.fpc2 is None
            else table.numbers(args.fpc2, allow_missing=False, sign="positive"),
            lonely_psu=args.lonely_psu,
            pps=args.pps,
        )
    except ValueError as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{args.data}: bad design: {exc}") from exc
    if design.fpc_caveat is not None and warnings is not None:
        warnings.append(design.fpc_caveat.message)
    domains: list[tuple[str, np.ndarray]] = []
    if args.by is not None:
        groups = table.labels(args.by, allow_missing=True)
        levels = sorted({g for g in groups if g is not None})
        domains = [(level, np.equal(groups, level)) for level in levels]
    out = []
    for variable in args.y:
        y = table.numbers(variable)
        answered = y[~np.isnan(y)]
        binary = bool(np.all((answered == 0) | (answered == 1)))
        try:
            out.append(_record(args, variable, mean(design, y, variable=variable), binary))
            for level, in_domain in domains:
                est = mean(design, y, in_domain, variable=variable, domain_label=level)
                out.append(_record(args, variable, est, binary))
        except LonelyPSUError as exc:
            raise InputError(f"{args.data}: {exc} (see --lonely-psu)") from exc
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    warnings: list[str] = []
    try:
        if args.command == "integrity":
            from analysis.integrity.command import run_integrity

            result: Any = run_integrity(args)
        else:
            result = run_estimate(args, warnings)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0
