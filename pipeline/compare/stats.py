"""The statistics of a comparison: t intervals, paired differences, a paired t-test, Holm.

Runs of one variant differ only by their seed, and each variant runs on the same seeds as the
reference, so a variant's run and the reference's run on one seed form a pair (same
initialization, same data order). Pairing removes the seed's share of the noise.

Why the paired t-test and not Wilcoxon's signed-rank test: with the handful of seeds a
comparison affords, Wilcoxon cannot reject at all (its smallest two-sided p-value is 0.25 at
n = 3, 0.125 at n = 4, 0.0625 at n = 5), while the t-test is exact for normal noise, robust for
mild departures, and agrees with the t interval reported beside it: before correction, the test
rejects at 5% exactly when the 95% interval of the difference excludes zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

LEVEL = 0.95  # the intervals' coverage; a test rejects at 1 - LEVEL


@dataclass(frozen=True)
class Spread:
    """One variant's values of one metric over its seeds."""

    n: int
    mean: float
    std: float  # the sample standard deviation (n - 1); NaN for one value
    ci_low: float  # the t interval of the mean; NaN for one value
    ci_high: float


@dataclass(frozen=True)
class Difference:
    """A variant minus the reference, seed by seed."""

    n: int
    diff: float  # the mean of the per-seed differences
    ci_low: float  # its t interval
    ci_high: float
    p_value: float  # two-sided paired t-test of "no difference"
    higher: int  # seeds on which the variant is above the reference
    lower: int


def t_quantile(n: int, level: float = LEVEL) -> float:
    """The two-sided Student t quantile for a mean of ``n`` values."""
    from scipy.special import stdtrit  # scipy.stats.t.ppf's kernel, without its per-call checks

    return float(stdtrit(n - 1, 0.5 + level / 2))


def spread(values: Sequence[float], level: float = LEVEL) -> Spread:
    """Mean, standard deviation and t interval of ``values``."""
    x = np.asarray(values, dtype=float)
    n, mean = len(x), float(x.mean()) if len(x) else math.nan
    if n < 2:
        return Spread(n, mean, math.nan, math.nan, math.nan)
    std = float(x.std(ddof=1))
    half = t_quantile(n, level) * std / math.sqrt(n)
    return Spread(n, mean, std, mean - half, mean + half)


def paired(values: Sequence[float], reference: Sequence[float], level: float = LEVEL) -> Difference:
    """The variant's ``values`` against the ``reference``'s on the same seeds, in the same order;
    the test is ``scipy.stats.ttest_rel``'s, computed from the interval's own numbers."""
    from scipy.special import stdtr

    d = np.asarray(values, dtype=float) - np.asarray(reference, dtype=float)
    n, of_mean = len(d), spread(d, level)
    higher, lower = int((d > 0).sum()), int((d < 0).sum())
    if n < 2:
        p = math.nan
    elif of_mean.std == 0:  # the same difference on every seed: no noise to test against
        p = 1.0 if of_mean.mean == 0 else 0.0
    else:
        t = of_mean.mean / (of_mean.std / math.sqrt(n))
        p = float(2 * stdtr(n - 1, -abs(t)))
    return Difference(n, of_mean.mean, of_mean.ci_low, of_mean.ci_high, p, higher, lower)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values: rejecting where one is below alpha keeps the chance
    of any false rejection among all of them at most alpha. NaN stays NaN and is not counted."""
    known = [(p, i) for i, p in enumerate(p_values) if not math.isnan(p)]
    adjusted = [math.nan] * len(p_values)
    running, m = 0.0, len(known)
    for rank, (p, index) in enumerate(sorted(known)):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[index] = running
    return adjusted
