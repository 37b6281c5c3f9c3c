"""Estimates read off perturbation-error curves: the curve E_m(β), a stability radius, crossings.

**Curve.** ``E_m(β)`` is the max over draws at each β, then a running max over increasing β, so it
is monotone as the sup over a growing ball must be (the authors' protocol).

**Stability radius.** With ``E_null`` the error of the zero predictor on the same evaluation set
(the weighted mean square of the target outputs), the radius is the β at which the relative curve
``E_m(β)/E_null`` first reaches ``threshold``, found by linear interpolation in (log β, log E)
between the two grid points that bracket it. It is 0 when the unperturbed model is already at the
threshold or the first positive β is past it, the largest β of the grid when the curve never gets
there, and the lower bracket when the upper one is ``inf``. Dividing by ``E_null`` makes
the estimate insensitive to the overall scale of the target: multiplying the target by ``c``
multiplies a (correspondingly rescaled) model's errors and ``E_null`` by ``c²`` alike.

**Crossing point** of two widths ``m < m'``: the first β at which the larger model's curve reaches
the smaller model's (``log E_{m'} − log E_m`` turns from negative to non-negative), interpolated in
(log β, log-ratio). Undefined (NaN) when the larger model is not better at β = 0 or the curves do
not cross on the grid. The paper's picture: for stable families crossing points stay put as m grows,
for unstable ones they move left toward 0. Ratios of errors are scale-free too.

**Censoring.** Both estimates come as an :class:`Estimate`: the value and the interval the β grid allows
for it. A radius or crossing between two grid points is resolved (``low = high = value``); one at or
before the grid's first positive β₁ lies in ``[0, β₁]`` (a radius that is exactly 0 because the
unperturbed model is already past the threshold, or a larger model with no advantage at β = 0, is
``[0, 0]``); one the grid never reaches lies in ``[β_max, ∞)``. The claims' statistics use the intervals,
so collapsed and never-reached estimates count as what they are instead of being dropped or taken as exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd


def beta_grid(start: float, ratio: float, count: int, include_zero: bool = True) -> np.ndarray:
    """``{0} ∪ {start · ratio^i, i = 0..count−1}``: e.g. the authors' ``1e-3 · 2^{i/2}``, i ≤ 20."""
    betas = start * ratio ** np.arange(count, dtype=float)
    return np.concatenate([[0.0], betas]) if include_zero else betas


def error_curve(draws: pd.DataFrame) -> pd.Series:
    """``E_m(β)`` from rows ``beta, draw, error``: max over draws, then running max in β."""
    return draws.groupby("beta")["error"].max().sort_index().cummax()


def _log_interpolate(x0: float, y0: float, x1: float, y1: float, level: float) -> float:
    """The x in [x0, x1] where the log-log line through (x0, y0), (x1, y1) reaches ``level``."""
    if y1 == y0:
        return x0
    fraction = (math.log(level) - math.log(y0)) / (math.log(y1) - math.log(y0))
    return math.exp(math.log(x0) + fraction * (math.log(x1) - math.log(x0)))


@dataclass(frozen=True)
class Estimate:
    """A value read off the β grid and the interval ``[low, high]`` the grid allows for it."""

    value: float
    low: float
    high: float

    @property
    def censoring(self) -> str:
        """``exact`` (resolved on the grid), ``below grid`` (in ``[0, β₁]``) or ``beyond grid``."""
        if self.low == self.high:
            return "exact"
        return "beyond grid" if math.isinf(self.high) else "below grid"


def _exact(value: float) -> Estimate:
    return Estimate(value, value, value)


def stability_radius(curve: pd.Series, null_error: float, threshold: float) -> Estimate:
    """The β where ``curve / null_error`` first reaches ``threshold`` (see the module docstring)."""
    relative = curve / null_error
    if relative.get(0.0, 0.0) >= threshold:
        return _exact(0.0)
    positive = relative[relative.index > 0]
    above = np.flatnonzero(positive.to_numpy() >= threshold)
    if len(above) == 0:
        return Estimate(float(positive.index[-1]), float(positive.index[-1]), math.inf)
    first = above[0]
    if first == 0:
        return Estimate(0.0, 0.0, float(positive.index[0]))
    beta0, beta1 = positive.index[first - 1], positive.index[first]
    error0, error1 = positive.iloc[first - 1], positive.iloc[first]
    if not math.isfinite(error1) or error0 <= 0:
        return _exact(float(beta0))
    return _exact(_log_interpolate(beta0, error0, beta1, error1, threshold))


def crossing_beta(small: pd.Series, large: pd.Series) -> Estimate:
    """The β where the larger width's curve ``large`` first reaches the smaller's ``small`` (value NaN
    when the larger model has no advantage at β = 0, ``[0, 0]``, or keeps it on the whole grid)."""
    both = pd.concat({"small": small, "large": large}, axis=1).dropna().sort_index()
    if 0.0 in both.index:
        at_zero = both.loc[0.0]
        if not at_zero["large"] < at_zero["small"]:
            return Estimate(math.nan, 0.0, 0.0)
    positive = both[both.index > 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.log(positive["large"].to_numpy()) - np.log(positive["small"].to_numpy())
    gap = np.where(np.isnan(gap), 0.0, gap)  # inf/inf: both blown up, treat as reached
    reached = np.flatnonzero(gap >= 0)
    if len(reached) == 0:
        return Estimate(math.nan, float(positive.index[-1]), math.inf)
    first = reached[0]
    if first == 0:
        return Estimate(float(positive.index[0]), 0.0, float(positive.index[0]))
    beta0, beta1 = positive.index[first - 1], positive.index[first]
    gap0, gap1 = gap[first - 1], gap[first]
    if not math.isfinite(gap1):
        return _exact(float(beta0))
    if not math.isfinite(gap0):  # the larger model's curve comes back from the smaller one's overflow
        return _exact(float(beta1))
    fraction = -gap0 / (gap1 - gap0)
    return _exact(math.exp(math.log(beta0) + fraction * (math.log(beta1) - math.log(beta0))))


def crossings(curves: dict[int, pd.Series]) -> list[dict]:
    """Crossing points of consecutive widths: rows ``width_small, width_large, crossing_beta`` and the
    grid's interval for it, ``crossing_low, crossing_high``."""
    widths = sorted(curves)
    rows = []
    for small, large in zip(widths, widths[1:], strict=False):
        crossing = crossing_beta(curves[small], curves[large])
        rows.append(
            {
                "width_small": small,
                "width_large": large,
                "crossing_beta": crossing.value,
                "crossing_low": crossing.low,
                "crossing_high": crossing.high,
            }
        )
    return rows
