"""Design-based means, proportions and ratios over domains, as R's ``survey``.

Every estimator is a ratio Σw·num / Σw·den over the rows of a domain where both are
answered (a mean has den = 1), linearised as R's ``svyratio``/``svymean``:
scores r = (num − R̂·den)/Σw·den, variance from :meth:`SurveyDesign.variance_of_totals`.
Missing values (NaN) are R's ``na.rm=TRUE``: the row leaves that estimate's domain
(this is how 不了解 / don't-know answers leave the denominator).

Domains keep the whole design (R's ``svyby``); the many-variable, many-domain
functions aggregate the rows once to a (unit × domain) table, so 30 items × many
domains on a million rows is a single pass plus small arithmetic, and they return
the joint covariance of all estimates (R's ``svyby(..., covmat=TRUE)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp

from analysis.cells import compact_cells, domain_df
from analysis.design import SurveyDesign

Kind = Literal["mean", "ratio"]


@dataclass(frozen=True)
class Estimate:
    """One estimate. ``domain`` is None for the whole population.

    ``deff`` is R's ``deff=TRUE`` (SRS without replacement as reference);
    ``n_eff`` = n / deff; ``df`` is R's ``degf`` of the domain's answered rows;
    ``no_data`` is True (and the numbers NaN) when no row answers in the domain.
    """

    variable: str
    domain: object | None
    estimate: float
    se: float
    deff: float
    n: int
    n_eff: float
    df: int
    no_data: bool = False

    @property
    def variance(self) -> float:
        return self.se**2


@dataclass(frozen=True, eq=False)
class EstimateTable:
    """Estimates for k variables × G domains; arrays are (G, k).

    ``covariance`` is the (G·k, G·k) joint covariance, index g·k + j (R's
    ``svyby(..., covmat=TRUE)``), or None when not requested.
    """

    variables: tuple[str, ...]
    domains: tuple[object | None, ...]
    estimate: np.ndarray
    se: np.ndarray
    deff: np.ndarray
    n: np.ndarray
    df: np.ndarray
    covariance: np.ndarray | None = None

    @property
    def n_eff(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.n / self.deff

    def estimates(self) -> list[Estimate]:
        """One :class:`Estimate` per (domain, variable), domain-major."""
        out = []
        n_eff = self.n_eff
        for g, dom in enumerate(self.domains):
            for j, var in enumerate(self.variables):
                out.append(
                    Estimate(
                        variable=var,
                        domain=dom,
                        estimate=float(self.estimate[g, j]),
                        se=float(self.se[g, j]),
                        deff=float(self.deff[g, j]),
                        n=int(self.n[g, j]),
                        n_eff=float(n_eff[g, j]),
                        df=int(self.df[g, j]),
                        no_data=bool(self.n[g, j] == 0),
                    )
                )
        return out

    def combination(self, coefficients: np.ndarray) -> tuple[float, float]:
        """Estimate and variance of Σ a·θ over the flattened (g·k + j) estimates.

        R's ``svycontrast`` on an ``svyby(..., covmat=TRUE)`` result: aᵀVa, which
        keeps the covariance of domains sampled in the same schools.
        """
        if self.covariance is None:
            raise ValueError("covariance was not computed; pass covariance=True")
        a = np.asarray(coefficients, dtype=float).ravel()
        return float(a @ self.estimate.ravel()), float(a @ self.covariance @ a)


def _as_matrix(values: np.ndarray, n: int, name: str) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] != n:
        raise ValueError(f"{name} must have one row per design row")
    return x


def domain_codes(groups: np.ndarray) -> tuple[np.ndarray, tuple[object, ...]]:
    """Codes 0..G-1 in sorted label order (R's ``svyby`` order); missing labels get -1."""
    labels = np.asarray(groups, dtype=object)
    missing = np.array([v is None or (isinstance(v, float) and np.isnan(v)) for v in labels])
    levels = sorted({v for v, m in zip(labels, missing, strict=True) if not m})
    index = {v: i for i, v in enumerate(levels)}
    codes = np.array([-1 if m else index[v] for v, m in zip(labels, missing, strict=True)])
    return codes.astype(np.intp), tuple(levels)


_CHUNK = 8  # columns per pass: bounds the (n, chunk) temporaries


def _ratio_table(
    design: SurveyDesign,
    num: np.ndarray,
    den: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    *,
    kind: Kind,
    covariance: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Core of every estimator: (G,k) estimate, se, deff, n, df and the covariance.

    Rows are summed once into (unit, domain) cells of Σw·num, Σw·den, answered
    counts and the sums of squares the deff needs; the linearised scores are linear
    in these, so nothing else touches the rows (unless the design is calibrated).
    """
    n, k = num.shape
    w = design.weights
    in_domain = codes >= 0
    rows = np.flatnonzero(in_domain)
    G = max(n_groups, 1)
    cell_keys, cell_of_row = compact_cells(
        design.unit[rows].astype(np.int64) * G + codes[rows], design.n_units * G
    )
    cell_unit, cell_group = cell_keys // G, cell_keys % G
    n_cells = cell_keys.size
    to_cells = sp.csr_matrix((np.ones(rows.size), (cell_of_row, rows)), shape=(n_cells, n))
    # cell level: what the scores need; group level: what the deff needs
    groups_of_rows = sp.csr_matrix((np.ones(rows.size), (codes[rows], rows)), shape=(G, n))
    cell_names = ("num", "count") + (("w",) if kind == "mean" else ("den",))
    group_names = ("nn",) + (() if kind == "mean" else ("w", "nd", "dd"))
    sums = {name: np.zeros((n_cells, k)) for name in cell_names}
    tot = {name: np.zeros((G, k)) for name in group_names}
    all_in = bool(in_domain.all())
    nonzero_w = bool((w != 0).all())
    for j0 in range(0, k, _CHUNK):
        cols = slice(j0, min(j0 + _CHUNK, k))
        y = np.ascontiguousarray(num[:, cols])
        ok = ~np.isnan(y)
        if kind == "ratio":
            ok &= ~np.isnan(den[:, cols])
        if not all_in:
            ok &= in_domain[:, None]
        num0 = np.where(ok, y, 0.0)
        wok = ok * w[:, None]
        wnum = wok * num0
        sums["num"][:, cols] = to_cells @ wnum
        tot["nn"][:, cols] = groups_of_rows @ (wnum * num0)
        answered = ok if nonzero_w else ok & (w != 0)[:, None]
        sums["count"][:, cols] = to_cells @ answered.astype(float)
        if kind == "mean":
            sums["w"][:, cols] = to_cells @ wok
        else:
            den0 = np.where(ok, den[:, cols], 0.0)
            wden = wok * den0
            sums["den"][:, cols] = to_cells @ wden
            tot["w"][:, cols] = groups_of_rows @ wok
            tot["nd"][:, cols] = groups_of_rows @ (wnum * den0)
            tot["dd"][:, cols] = groups_of_rows @ (wden * den0)
    if kind == "mean":  # den = 1 on answered rows
        sums["den"] = sums["w"]
    to_groups = sp.csr_matrix(
        (np.ones(n_cells), (cell_group, np.arange(n_cells))), shape=(G, n_cells)
    )
    for name in ("num", "den", "count"):
        tot[name] = np.asarray(to_groups @ sums[name])
    if kind == "mean":
        tot["w"] = tot["dd"] = tot["den"]
        tot["nd"] = tot["num"]
    tot = {name: value[:n_groups] for name, value in tot.items()}
    count, psum = tot["count"], tot["w"]
    with np.errstate(divide="ignore", invalid="ignore"):
        est = tot["num"] / tot["den"]
        safe_est = np.where(np.isfinite(est), est, 0.0)
        safe_den = np.where(tot["den"] != 0, tot["den"], 1.0)
    # cell totals of the linearised scores w·(num − R̂·den)/Σw·den (R's svyratio)
    z_cells = (sums["num"] - safe_est[cell_group] * sums["den"]) / safe_den[cell_group]
    present = sums["count"] > 0

    cov = None
    width = n_groups * k
    if design.calibration is not None:
        full = np.zeros((n, width))
        for g in range(n_groups):
            sel = codes == g
            ok = ~np.isnan(num[sel])
            if kind == "ratio":
                ok &= ~np.isnan(den[sel])
            den_sel = ok.astype(float) if kind == "mean" else np.where(ok, den[sel], 0.0)
            resid = np.where(ok, num[sel], 0.0) - safe_est[g] * den_sel
            full[sel, g * k : (g + 1) * k] = w[sel, None] * resid / safe_den[g]
        cov_all = design.variance_of_totals(full)
        var = np.diag(cov_all).copy()
        cov = cov_all if covariance else None
    elif _lonely_matters(design):
        var = np.full(width, np.nan)
        for c in range(width):
            g, j = divmod(c, k)
            mine = (cell_group == g) & present[:, j]
            if mine.any():
                unit_present = np.zeros(design.n_units, dtype=bool)
                unit_present[cell_unit[mine]] = True
                var[c] = design.variance_of_cells(
                    z_cells[cell_group == g, j],
                    cell_unit[cell_group == g],
                    np.zeros(int((cell_group == g).sum()), dtype=np.intp),
                    1,
                    unit_present,
                )[0, 0]
        if covariance:
            cov = design.variance_of_cells(z_cells, cell_unit, cell_group, n_groups)
    else:
        cov_all = design.variance_of_cells(z_cells, cell_unit, cell_group, n_groups)
        var = np.diag(cov_all).copy()
        cov = cov_all if covariance else None
    var = var.reshape(n_groups, k)

    # deff: R's svyvar of the scores × N²(N − n)/(N n) (svytotal/svymean deff=TRUE)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = safe_est
        s1 = (tot["num"] - e * tot["den"]) / safe_den
        s2 = (tot["nn"] - 2 * e * tot["nd"] + e * e * tot["dd"]) / safe_den**2
        spread = (s2 - s1**2 / psum) / psum * count / (count - 1)
        vsrs = spread * psum * (psum - count) / count
        if kind == "mean":
            vsrs = np.where(psum < count, np.nan, vsrs)
        deff = var / vsrs

    # R's degf per column: PSUs with an answer in the domain minus their strata
    df = domain_df(design, cell_unit, cell_group, G, present.astype(float))[:n_groups].astype(int)

    empty = count == 0
    est = np.where(empty, np.nan, est)
    se = np.where(empty, np.nan, np.sqrt(var))
    deff = np.where(empty, np.nan, deff)
    return est, se, deff, count.astype(int), df, cov


def _lonely_matters(design: SurveyDesign) -> bool:
    """True when a domain's own strata change the answer (R's fail/average rules;
    never for a PPS design, whose domains keep every row in R)."""
    if design.lonely_psu not in ("fail", "average") or design.n == 0 or design.pps is not None:
        return False
    if np.any(design.psu_per_stratum == 1):
        return True
    if design.two_stage:
        return bool(np.any(np.bincount(design.unit_psu, minlength=design.n_psu) == 1))
    return False


def ratio_many(
    design: SurveyDesign,
    numerators: np.ndarray,
    denominators: np.ndarray | None,
    domains: np.ndarray | None = None,
    *,
    variables: Sequence[str] | None = None,
    domain_labels: Sequence[object] | None = None,
    covariance: bool = True,
    kind: Kind = "ratio",
) -> EstimateTable:
    """Ratios Σw·num/Σw·den for k columns × G domains (R's ``svyby(~num, ~g,
    denominator=~den, FUN=svyratio, covmat=TRUE)``).

    ``domains``: integer codes 0..G-1 per row (-1: in no domain), or None for the
    whole population. A row with NaN in num or den leaves that column's domain.
    ``denominators=None`` gives means (den = 1 on answered rows).
    """
    n = design.n
    num = _as_matrix(numerators, n, "numerators")
    if denominators is None:  # a mean: den = 1 where num is answered
        kind = "mean"
        den = num
    else:
        den = _as_matrix(denominators, n, "denominators")
        if den.shape[1] == 1 and num.shape[1] > 1:
            den = np.repeat(den, num.shape[1], axis=1)
        if den.shape != num.shape:
            raise ValueError("numerators and denominators must have the same columns")
    if domains is None:
        codes = np.zeros(n, dtype=np.intp)
        labels: tuple[object | None, ...] = (None,)
    else:
        codes = np.asarray(domains, dtype=np.intp)
        if codes.shape != (n,):
            raise ValueError("domains must have one code per row")
        n_groups = int(codes.max()) + 1 if codes.size else 0
        labels = tuple(domain_labels) if domain_labels is not None else tuple(range(n_groups))
    n_groups = len(labels)
    if codes.size and int(codes.max()) >= n_groups:
        raise ValueError("a domain code has no label")
    names = (
        tuple(variables) if variables is not None else tuple(f"y{j}" for j in range(num.shape[1]))
    )
    est, se, deff, count, df, cov = _ratio_table(
        design, num, den, codes, n_groups, kind=kind, covariance=covariance
    )
    return EstimateTable(names, labels, est, se, deff, count, df, cov)


def mean_many(
    design: SurveyDesign,
    Y: np.ndarray,
    domains: np.ndarray | None = None,
    *,
    variables: Sequence[str] | None = None,
    domain_labels: Sequence[object] | None = None,
    covariance: bool = True,
) -> EstimateTable:
    """Means of k columns × G domains (R's ``svyby(~y1+..., ~g, svymean,
    deff=TRUE, covmat=TRUE)`` on each column's answered rows). A proportion is the
    mean of a 0/1 column."""
    y = _as_matrix(Y, design.n, "Y")
    return ratio_many(
        design,
        y,
        None,
        domains,
        variables=variables,
        domain_labels=domain_labels,
        covariance=covariance,
        kind="mean",
    )


def mean(
    design: SurveyDesign,
    y: np.ndarray,
    domain: np.ndarray | None = None,
    *,
    variable: str = "y",
    domain_label: object | None = None,
) -> Estimate:
    """R's ``svymean(~y, subset(design, domain), na.rm=TRUE, deff=TRUE)``."""
    return _one(design, y, None, domain, variable, domain_label)


def ratio(
    design: SurveyDesign,
    num: np.ndarray,
    den: np.ndarray,
    domain: np.ndarray | None = None,
    *,
    variable: str = "ratio",
    domain_label: object | None = None,
) -> Estimate:
    """R's ``svyratio(~num, ~den, subset(design, domain), na.rm=TRUE, deff=TRUE)``."""
    return _one(design, num, den, domain, variable, domain_label)


def _one(
    design: SurveyDesign,
    num: np.ndarray,
    den: np.ndarray | None,
    domain: np.ndarray | None,
    variable: str,
    domain_label: object | None,
) -> Estimate:
    """One ratio (a mean when ``den`` is None) over one domain mask."""
    codes = None if domain is None else np.where(np.asarray(domain, bool), 0, -1)
    labels = None if domain is None else [domain_label]
    return _many(design, num, den, codes, [variable], labels).estimates()[0]


def _many(
    design: SurveyDesign,
    num: np.ndarray,
    den: np.ndarray | None,
    codes: np.ndarray | None,
    variables: Sequence[str],
    labels: Sequence[object] | None,
) -> EstimateTable:
    """:func:`mean_many` (``den`` None) or :func:`ratio_many`, without the covariance."""
    y = np.asarray(num, dtype=float)
    if den is None:
        return mean_many(
            design, y, codes, variables=variables, domain_labels=labels, covariance=False
        )
    return ratio_many(
        design,
        y,
        np.asarray(den, dtype=float),
        codes,
        variables=variables,
        domain_labels=labels,
        covariance=False,
    )


def by(
    design: SurveyDesign,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    variable: str = "y",
    denominator: np.ndarray | None = None,
) -> list[Estimate]:
    """R's ``svyby(~y, ~groups, design, svymean)`` (or ``svyratio`` with a
    ``denominator``): one estimate per group label, in sorted label order."""
    codes, labels = domain_codes(groups)
    return _many(design, y, denominator, codes, [variable], labels).estimates()
