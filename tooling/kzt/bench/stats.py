"""Paired ratios, bootstrap intervals and verdicts.

A cell (workload x variant) is compared with a baseline block by block:
in every block where both ran OK, ratio = variant / baseline.  The cell
reports the median of those ratios and a percentile-bootstrap 95%
interval of that median (RESAMPLES resamples of the blocks, drawn with a
seed made from the bench's seed and the cell's names, so the same runs
always give the same interval, whether measured in one go or in shards).

The verdict only says "win" or "loss" when the whole interval lies on one
side of 1; everything else, and any cell with fewer than MIN_BLOCKS paired
blocks, is "inconclusive".  With few blocks the percentile interval of a
median is close to the lowest and highest ratio: a verdict then means
that every block (or all but an outlier) agreed.
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
    ci: tuple[float, float] | None
    verdict: str
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "median": self.median,
                "ci": list(self.ci) if self.ci else None,
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
    return Comparison(len(ratios), med, ci, verdict(ci, lower_is_better), note)
