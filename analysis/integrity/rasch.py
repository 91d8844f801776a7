"""Conditional Rasch arithmetic for the template-copying test.

Under a Rasch model for a yes/no split of the answers (say 满意 or not), a
respondent's pattern given its number of "yes" answers t does not depend on the
respondent's level: P(x | t) = Π ε_j^x_j / γ_t(ε), with γ_t the elementary symmetric
function of the item weights ε.  That is what lets the test allow for any mix of
more and less satisfied respondents (school effects, very satisfied schools): only
the item weights are estimated, by conditional maximum likelihood (CML) on the cell's
own answers, shrunk toward the county's.  The graded (cumulative-logit) model with a
common slope makes every split "code ≥ c" a Rasch model.

Arrays are vectorised over "units" (cells, or classes of rows): ``eps`` is (U, k).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
LOG_WEIGHT_LIMIT = 8.0


def esf(eps: FloatArray) -> FloatArray:
    """γ_0..γ_k of each row of ``eps`` (U, k) → (U, k+1); a weight 0 leaves an item out."""
    g = np.zeros((eps.shape[0], eps.shape[1] + 1))
    g[:, 0] = 1.0
    for j in range(eps.shape[1]):
        g[:, 1:] += eps[:, j : j + 1] * g[:, :-1]
    return g


def esf_without(eps: FloatArray, g: FloatArray) -> FloatArray:
    """γ_t without item j, (U, k, k) indexed [u, j, t] for t = 0..k−1.

    Peels item j off γ: forward (γ⁻ʲ_t = γ_t − ε_j γ⁻ʲ_{t−1}) when ε_j ≤ 1, backward
    from the top when ε_j > 1, so rounding errors shrink in both cases."""
    units, k = eps.shape
    forward = np.empty((units, k, k))
    backward = np.empty((units, k, k))
    forward[:, :, 0] = 1.0
    for t in range(1, k):
        forward[:, :, t] = g[:, t, None] - eps * forward[:, :, t - 1]
    backward[:, :, k - 1] = g[:, k, None] / eps
    for t in range(k - 1, 0, -1):
        backward[:, :, t - 1] = (g[:, t, None] - backward[:, :, t]) / eps
    return np.where((eps <= 1.0)[:, :, None], forward, backward)


def fit_log_weights(
    unit: NDArray[np.intp],
    x: NDArray[np.bool_],
    n_units: int,
    prior: FloatArray,
    tau: float,
    iterations: int = 30,
) -> FloatArray:
    """CML log item weights (U, k), centred, with a normal prior N(prior, tau²) per item.

    ``x`` (R, k) are complete rows with 0 < t < k (others carry no information on
    the items given t); ``unit`` (R,) their unit.  Damped diagonal Newton steps; the
    prior keeps an item that every row answers "yes" finite."""
    k = x.shape[1]
    total = x.sum(axis=1)
    rows = sp.csr_matrix(
        (np.ones(unit.shape[0]), (unit, np.arange(unit.shape[0]))),
        shape=(n_units, unit.shape[0]),
    )
    observed = np.asarray(rows @ x.astype(np.float64))
    at_total = np.asarray(
        sp.csr_matrix((np.ones(unit.shape[0]), (unit, total)), shape=(n_units, k + 1)).todense()
    )
    log_eps = prior.copy()
    for _ in range(iterations):
        eps = np.exp(log_eps)
        g = esf(eps)
        without = esf_without(eps, g)  # [u, j, t]
        # P[u, t-1, j] = P(x_j = 1 | t), t = 1..k
        p = eps[:, None, :] * np.transpose(without, (0, 2, 1)) / g[:, 1:, None]
        p = np.clip(p, 0.0, 1.0)
        weight = at_total[:, 1:, None]
        expected = (weight * p).sum(axis=1)
        variance = (weight * p * (1 - p)).sum(axis=1)
        gradient = observed - expected - (log_eps - prior) / tau**2
        step = np.clip(gradient / (variance + 1 / tau**2), -1.0, 1.0)
        log_eps = log_eps + step
        log_eps -= log_eps.mean(axis=1, keepdims=True)
        np.clip(log_eps, -LOG_WEIGHT_LIMIT, LOG_WEIGHT_LIMIT, out=log_eps)
        if np.abs(step).max(initial=0.0) < 1e-6:
            break
    return log_eps


@dataclass(frozen=True, eq=False)
class PatternWeights:
    """Per class of rows (items ``mask``, total t): the item weights scaled by their
    largest, so their m-th powers cannot overflow, and log γ_t of them, which every
    power m shares."""

    w: FloatArray
    total: NDArray[np.intp]
    log_plain: FloatArray

    @classmethod
    def of(
        cls, log_eps: FloatArray, mask: NDArray[np.bool_], total: NDArray[np.intp]
    ) -> PatternWeights:
        log_w = np.where(mask, log_eps, -np.inf)
        log_w = log_w - log_w.max(axis=1, keepdims=True)
        w = np.exp(log_w)
        with np.errstate(divide="ignore"):
            log_plain = np.log(esf(w)[np.arange(total.shape[0]), total])
        return cls(w, total, log_plain)

    def log_power_sum(self, rows: NDArray[np.intp], power: NDArray[np.int64]) -> FloatArray:
        """log Σ_{x: |x| = t} P(x | t)^m of each of ``rows`` with its ``power`` m:
        Σ_x P(x|t)^m = γ_t(ε^m) / γ_t(ε)^m (the ratio does not change with the scale)."""
        total = self.total[rows]
        powered = esf(self.w[rows] ** power[:, None].astype(np.float64))
        with np.errstate(divide="ignore"):
            return np.log(powered[np.arange(rows.shape[0]), total]) - power * self.log_plain[rows]


def log_pattern_power_sum(
    log_eps: FloatArray, mask: NDArray[np.bool_], total: NDArray[np.intp], power: NDArray[np.int64]
) -> FloatArray:
    """log Σ_{x: |x| = t} P(x | t)^m for each class (items ``mask``, total t, power m)."""
    weights = PatternWeights.of(log_eps, mask, total)
    return weights.log_power_sum(np.arange(total.shape[0]), power)
