"""Rates and rank correlations with their uncertainty: every success rate this package reports carries an interval.

A rate measured on a handful of designs says little without one: 0 successes in
11 trials is compatible with a true rate of a quarter. :func:`binomial_interval`
gives the two-sided interval of a binomial proportion (Wilson's score interval
by default, Clopper–Pearson's exact one on request) from SciPy, and
:func:`format_rate` writes ``k/n = p [lo, hi]`` for tables.

>>> lo, hi = binomial_interval(0, 11)
>>> round(lo, 3), round(hi, 3)
(0.0, 0.259)
>>> format_rate(3, 4)
'3/4 = 0.75 [0.30, 0.95]'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["binomial_interval", "censored_median", "finite_median", "format_rate", "rank_correlation"]


def binomial_interval(
    k: int, n: int, confidence: float = 0.95, method: Literal["wilson", "exact"] = "wilson"
) -> tuple[float, float]:
    """Two-sided confidence interval of a binomial proportion ``k/n``.

    Parameters
    ----------
    k, n : int
        Successes and trials, ``0 <= k <= n``.
    confidence : float
        Confidence level (0.95: a 95 % interval).
    method : {"wilson", "exact"}
        Wilson's score interval (E. B. Wilson, J. Am. Stat. Assoc. 22, 209 (1927)), or the
        Clopper–Pearson interval (Biometrika 26, 404 (1934)), which never undercovers and is wider.

    Returns
    -------
    (float, float)
        Lower and upper bound; ``(nan, nan)`` for ``n = 0`` (nothing measured).

    Raises
    ------
    ValueError
        If ``k`` or ``n`` is negative or ``k > n``.

    >>> [round(x, 4) for x in binomial_interval(5, 10, method="exact")]
    [0.1871, 0.8129]
    """
    from scipy.stats import binomtest

    k, n = int(k), int(n)
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return float("nan"), float("nan")
    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method=method)
    return float(ci.low), float(ci.high)


def format_rate(k: int, n: int, confidence: float = 0.95, digits: int = 2) -> str:
    """``"k/n = p [lo, hi]"`` with the Wilson interval; ``"0/0"`` when nothing was measured.

    >>> format_rate(0, 11)
    '0/11 = 0.00 [0.00, 0.26]'
    >>> format_rate(0, 0)
    '0/0'
    """
    if n == 0:
        return "0/0"
    lo, hi = binomial_interval(k, n, confidence)
    return f"{k}/{n} = {k / n:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def finite_median(x: ArrayLike) -> float:
    """Median of the finite entries of ``x``; NaN, without a warning, when there are none (dark or missing spectra).

    >>> finite_median([3.0, float("nan"), 1.0]), finite_median([float("nan")])
    (2.0, nan)
    """
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else float("nan")


def rank_correlation(x: ArrayLike, y: ArrayLike, confidence: float = 0.95) -> tuple[float, float, float]:
    """Spearman's rank correlation of ``x`` and ``y`` with its two-sided interval.

    The interval is Fisher's z-transform with Bonett and Wright's standard error
    ``sqrt((1 + rho²/2) / (n - 3))`` (Psychometrika 65, 23, 2000), adequate from about ten pairs.

    Returns
    -------
    rho, low, high : float
        NaN when fewer than 4 pairs.

    >>> rho, low, high = rank_correlation([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [2, 1, 4, 3, 6, 5, 8, 7, 10, 9])
    >>> round(rho, 3), round(low, 2), round(high, 2)
    (0.939, 0.69, 0.99)
    """
    from scipy.stats import norm, spearmanr

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = len(x)
    if n < 4:
        return float("nan"), float("nan"), float("nan")
    rho = float(spearmanr(x, y).statistic)
    z, half = np.arctanh(np.clip(rho, -0.999999, 0.999999)), norm.ppf(0.5 + confidence / 2) * np.sqrt((1 + rho**2 / 2) / (n - 3))
    return rho, float(np.tanh(z - half)), float(np.tanh(z + half))


def censored_median(first: Sequence[int | None]) -> float | None:
    """Median of first-success calls over runs, a run without one above every call (None: the median is such a run,
    or there is no run).

    >>> censored_median([21, None, None]), censored_median([21, 7, None]), censored_median([4, 6]), censored_median([])
    (None, 21.0, 5.0, None)
    """
    if not first:
        return None
    m = float(np.median([np.inf if f is None else f for f in first]))
    return m if np.isfinite(m) else None
