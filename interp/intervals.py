"""Intervals over instances and seeds: the mean of a few numbers and the difference of two groups.

Rates of judged responses have their own intervals (:mod:`interp.evaluate.rates`: Wilson, and
the judge-corrected bootstrap); these are for everything averaged over independent runs (DINM's
single-record edits, seeds): Student-t intervals, which need no more than the values themselves
and are exact for normal data (``tests/unit/test_intervals.py`` checks 95 % coverage on
simulated data). With one value the interval is undefined (NaN), never a point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["difference_interval", "mean_interval", "rate_difference_interval"]


def _clean(values: Sequence[float]) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    return x[~np.isnan(x)]


def mean_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean of `values` (NaNs dropped) and its Student-t interval: ``(mean, low, high)``.

    Examples
    --------
    >>> m, lo, hi = mean_interval([1.0, 2.0, 3.0])
    >>> m, round(lo, 3), round(hi, 3)
    (2.0, -0.484, 4.484)
    >>> mean_interval([5.0])
    (5.0, nan, nan)
    """
    from scipy import stats

    x = _clean(values)
    if x.size == 0:
        return math.nan, math.nan, math.nan
    m = float(x.mean())
    if x.size < 2:
        return m, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1)) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return m, m - half, m + half


def difference_interval(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """``mean(a) - mean(b)`` and its Welch interval: ``(difference, low, high)``.

    A group of one value contributes no variance of its own; with both groups of one value the
    interval is NaN.

    Examples
    --------
    >>> d, lo, hi = difference_interval([3.0, 4.0, 5.0], [1.0, 2.0, 3.0])
    >>> d, round(lo, 3), round(hi, 3)
    (2.0, -0.267, 4.267)
    """
    from scipy import stats

    x, y = _clean(a), _clean(b)
    if x.size == 0 or y.size == 0:
        return math.nan, math.nan, math.nan
    d = float(x.mean() - y.mean())
    vx = x.var(ddof=1) / x.size if x.size > 1 else 0.0
    vy = y.var(ddof=1) / y.size if y.size > 1 else 0.0
    se = math.sqrt(vx + vy)
    dfs = [(v, n) for v, n in ((vx, x.size), (vy, y.size)) if n > 1]
    if not dfs:
        return d, math.nan, math.nan
    if se == 0:
        return d, d, d
    df = se ** 4 / sum(v ** 2 / (n - 1) for v, n in dfs)
    half = float(stats.t.ppf(0.5 + level / 2, df)) * se
    return d, d - half, d + half


def rate_difference_interval(p1: float, low1: float, high1: float, p2: float, low2: float,
                             high2: float) -> tuple[float, float, float]:
    """``p1 - p2`` of two independent rates and Newcombe's hybrid score interval built from
    their own intervals (e.g. Wilson): ``(difference, low, high)``, in the rates' unit.

    Examples
    --------
    >>> d, lo, hi = rate_difference_interval(80.0, 70.0, 87.0, 50.0, 40.0, 60.0)
    >>> d, round(lo, 2), round(hi, 2)
    (30.0, 15.86, 42.21)
    """
    d = p1 - p2
    return (d, d - math.sqrt((p1 - low1) ** 2 + (high2 - p2) ** 2),
            d + math.sqrt((high1 - p1) ** 2 + (p2 - low2) ** 2))
