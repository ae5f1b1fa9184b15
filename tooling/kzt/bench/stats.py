"""Paired ratios, bootstrap intervals and verdicts.

A cell (workload x variant) is compared with a baseline block by block:
in every block where both ran OK, ratio = variant / baseline.  The cell
reports the median of those ratios and a percentile-bootstrap 95%
interval of that median (RESAMPLES resamples of the blocks, drawn with a
seed made from the bench's seed and the cell's names, so the same runs
always give the same interval, whether measured in one go or in shards).

With few blocks the percentile interval of a median is close to the
lowest and highest ratio, and it covers the true median far less often
than 95%: of n ratios that fall on either side of it at random, all n
fall on one side with probability 2 / 2^n, so [min, max] misses it half
the time with 2 blocks and a quarter of the time with 3.  So each
comparison also carries Student's t 95% interval of the geometric mean
ratio (t_ci: exp(mean +- t(n-1) * s / sqrt(n)) over the ratios'
logarithms, t from the T975 table below), which is honest about few
blocks under the assumption that the logarithms scatter normally (wide
with 2 blocks: t(1) = 12.7).

The verdict only says "win" or "loss" when both intervals lie wholly on
the same side of 1; everything else, and any cell with fewer than
MIN_BLOCKS paired blocks, is "inconclusive" (with a note when the t
interval alone kept the verdict back).
"""
from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass
from typing import Any, Sequence

RESAMPLES = 10000
LEVEL = 0.95
MIN_BLOCKS = 2

WIN, LOSS, INCONCLUSIVE = "win", "loss", "inconclusive"

#: Student's t distribution, the 0.975 quantile by degrees of freedom (a
#: two-sided 95% interval); between two rows the smaller row's (wider)
#: value is used, above the last row the normal's 1.960
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365,
        8: 2.306, 9: 2.262, 10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 25: 2.060,
        30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}


def median(xs: Sequence[float]) -> float:
    v = sorted(xs)
    n = len(v)
    if not n:
        raise ValueError("median of nothing")
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def bootstrap_ci(xs: Sequence[float], seed: str, resamples: int = RESAMPLES,
                 level: float = LEVEL) -> tuple[float, float]:
    """Percentile-bootstrap interval of the median of xs (the report is
    written again after every run of a bench: an unchanged cell's interval
    is remembered, not drawn again)."""
    return _bootstrap(tuple(xs), seed, resamples, level)


@functools.lru_cache(maxsize=4096)
def _bootstrap(xs: tuple[float, ...], seed: str, resamples: int,
               level: float) -> tuple[float, float]:
    n = len(xs)
    if n == 0:
        raise ValueError("bootstrap of nothing")
    if min(xs) == max(xs):
        return (xs[0], xs[0])
    rng = random.Random(seed)
    draw = rng.choices
    mid = n // 2
    if n % 2:
        meds = sorted(sorted(draw(xs, k=n))[mid] for _ in range(resamples))
    else:
        meds = sorted((s[mid - 1] + s[mid]) / 2
                      for s in (sorted(draw(xs, k=n)) for _ in range(resamples)))
    alpha = (1 - level) / 2
    lo = meds[max(0, math.floor(alpha * resamples))]
    hi = meds[min(resamples - 1, math.ceil((1 - alpha) * resamples) - 1)]
    return (lo, hi)


def t_quantile(df: int) -> float:
    """t(df) at 0.975, rounded to the wider side between table rows."""
    if df < 1:
        raise ValueError(f"t quantile of {df} degrees of freedom")
    if df > max(T975):
        return 1.960
    return T975[max(d for d in T975 if d <= df)]


def _t_half(xs: Sequence[float]) -> tuple[float, float]:
    """Mean of xs and the half-width of its t 95% interval."""
    n = len(xs)
    mean = sum(xs) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    return mean, t_quantile(n - 1) * sd / math.sqrt(n)


def t_interval(ratios: Sequence[float]) -> tuple[float, float]:
    """Student's t 95% interval of the (geometric) mean ratio: taken over
    the logarithms, so that A / B and B / A get mirrored intervals and
    verdicts; over the ratios themselves when one of them is 0 (a
    variant that did none of something its baseline did)."""
    if len(ratios) < 2:
        raise ValueError("t interval of fewer than 2 ratios")
    if min(ratios) > 0:
        mean, half = _t_half([math.log(r) for r in ratios])
        return (math.exp(mean - half), math.exp(mean + half))
    mean, half = _t_half(ratios)
    return (max(0.0, mean - half), mean + half)


def verdict(ci: tuple[float, float], lower_is_better: bool) -> str:
    lo, hi = ci
    if hi < 1:
        return WIN if lower_is_better else LOSS
    if lo > 1:
        return LOSS if lower_is_better else WIN
    return INCONCLUSIVE


@dataclass(frozen=True)
class Comparison:
    """A cell against one baseline, for one metric."""
    n: int                               # paired blocks
    median: float | None
    ci: tuple[float, float] | None       # bootstrap interval of the median
    verdict: str
    note: str = ""
    t_ci: tuple[float, float] | None = None  # Student's t, geometric mean ratio

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "median": self.median,
                "ci": list(self.ci) if self.ci else None,
                "t_ci": list(self.t_ci) if self.t_ci else None,
                "verdict": self.verdict, "note": self.note}


def paired_ratio(mine: float, base: float) -> float | None:
    """variant / baseline of one block; 0/0 is 1 (both did nothing, e.g.
    no disk I/O in a workload that fits), x/0 has no ratio."""
    if base == 0:
        return 1.0 if mine == 0 else None
    return mine / base


def compare(pairs: Sequence[tuple[float, float]], lower_is_better: bool, seed: str,
            resamples: int = RESAMPLES) -> Comparison:
    """Median paired ratio, its bootstrap interval and the verdict."""
    ratios = [r for m, b in pairs if (r := paired_ratio(m, b)) is not None]
    dropped = len(pairs) - len(ratios)
    note = f"{dropped} block(s) without a ratio (baseline 0)" if dropped else ""
    if not ratios:
        return Comparison(0, None, None, INCONCLUSIVE,
                          note or "no block where both ran OK")
    med = median(ratios)
    if len(ratios) < MIN_BLOCKS:
        return Comparison(len(ratios), med, None, INCONCLUSIVE,
                          f"only {len(ratios)} paired block(s): no interval, no verdict")
    ci = bootstrap_ci(ratios, seed, resamples)
    t_ci = t_interval(ratios)
    boot, t = verdict(ci, lower_is_better), verdict(t_ci, lower_is_better)
    if boot != t:
        held = (f"bootstrap alone: {boot}; Student's t interval "
                f"[{t_ci[0]:.3f}-{t_ci[1]:.3f}] of {len(ratios)} blocks "
                + ("includes 1" if t == INCONCLUSIVE else f"says {t}"))
        note = "; ".join(x for x in (note, held) if x)
    return Comparison(len(ratios), med, ci, boot if boot == t else INCONCLUSIVE, note, t_ci)
