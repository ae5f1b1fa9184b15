"""`kzt bench compare A B`: is the headline the same when the host is not?

Two benches of one plan (the same seed, variants, workloads, repetitions,
clock and image), run under different conditions, e.g. once on a quiet
host and once while `stress-ng --cpu 2` loads it.  For every cell both
have, the headline medians are set side by side: B / A, and whether that
is within the tolerance (default ±5%).  Within each workload the variants
are ranked by their headline median in each bench; the rankings must be
equal.  The verdict is "stable" only if every shared cell is within the
tolerance and every ranking agrees; a cell that only one bench has, or
whose median is missing in either (no run finished OK), is listed and
makes the verdict "unstable" too, since nothing was shown for it.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import KztError
from .merge import load
from .plan import differences, signature
from . import report
from .report import headline


@dataclass(frozen=True)
class CellPair:
    workload: str
    variant: str
    a: float | None
    b: float | None

    @property
    def ratio(self) -> float | None:
        if self.a is None or self.b is None or self.a <= 0:
            return None
        return self.b / self.a


@dataclass(frozen=True)
class Ranking:
    workload: str
    a: list[str]
    b: list[str]

    @property
    def same(self) -> bool:
        return self.a == self.b


@dataclass
class Comparison:
    metric: str
    tolerance: float
    dirs: tuple[str, str]
    loads: tuple[list[float] | None, list[float] | None]
    plan_differences: list[str]
    cells: list[CellPair] = field(default_factory=list)
    rankings: list[Ranking] = field(default_factory=list)

    def within(self, c: CellPair) -> bool:
        r = c.ratio
        return r is not None and abs(r - 1.0) <= self.tolerance

    @property
    def stable(self) -> bool:
        return (not self.plan_differences and bool(self.cells)
                and all(self.within(c) for c in self.cells)
                and all(r.same for r in self.rankings))

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "tolerance": self.tolerance, "dirs": list(self.dirs),
                "host_load": list(self.loads), "plan_differences": self.plan_differences,
                "verdict": "stable" if self.stable else "unstable",
                "cells": [{**asdict(c), "ratio": c.ratio, "within": self.within(c)}
                          for c in self.cells],
                "rankings": [{**asdict(r), "same": r.same} for r in self.rankings]}


def _medians(rep: dict[str, Any], metric: str) -> dict[tuple[str, str], float | None]:
    out: dict[tuple[str, str], float | None] = {}
    for cell in rep["cells"]:
        m = ((cell.get("stats") or {}).get(metric) or {}).get("median")
        out[(cell["workload"], cell["variant"])] = float(m) if m is not None else None
    return out


def compare(a_dir: Path, b_dir: Path, tolerance: float = 0.05) -> Comparison:
    if not 0 < tolerance < 1:
        raise KztError(f"tolerance {tolerance} is not a fraction between 0 and 1",
                       "give e.g. --tolerance 5 for ±5%")
    a, b = load(a_dir), load(b_dir)
    ma, mb = a.get("meta") or {}, b.get("meta") or {}
    metric = headline(ma)
    if headline(mb) != metric:
        raise KztError(f"{a_dir} has the headline {metric}, {b_dir} has {headline(mb)}",
                       "compare benches made with the same kzt and --clock")
    ra, rb = report.build(a), report.build(b)
    cmp = Comparison(metric, tolerance, (str(a_dir), str(b_dir)),
                     (ra["meta"]["host_load"], rb["meta"]["host_load"]),
                     differences(signature(ma), signature(mb)))
    va, vb = _medians(ra, metric), _medians(rb, metric)
    for key in sorted(set(va) | set(vb)):
        cmp.cells.append(CellPair(key[0], key[1], va.get(key), vb.get(key)))
    for wl in sorted({c.workload for c in cmp.cells}):
        both = [c for c in cmp.cells if c.workload == wl and c.ratio is not None]
        cmp.rankings.append(Ranking(
            wl,
            [c.variant for c in sorted(both, key=lambda c: (c.a, c.variant))],
            [c.variant for c in sorted(both, key=lambda c: (c.b, c.variant))]))
    return cmp


def render(cmp: Comparison) -> str:
    tol = f"±{cmp.tolerance * 100:g}%"
    lines = [f"headline: {cmp.metric}; A = {cmp.dirs[0]} (host load {cmp.loads[0]}), "
             f"B = {cmp.dirs[1]} (host load {cmp.loads[1]})"]
    for d in cmp.plan_differences:
        lines.append(f"  not one plan: {d}")
    lines.append(f"{'workload':<24} {'variant':<22} {'A':>10} {'B':>10} {'B/A':>7}  within {tol}")
    for c in cmp.cells:
        fa = f"{c.a:.2f}" if c.a is not None else "-"
        fb = f"{c.b:.2f}" if c.b is not None else "-"
        r = f"{c.ratio:.3f}" if c.ratio is not None else "-"
        ok = "yes" if cmp.within(c) else "NO" if c.ratio is not None else "NO (missing)"
        lines.append(f"{c.workload:<24} {c.variant:<22} {fa:>10} {fb:>10} {r:>7}  {ok}")
    for rk in cmp.rankings:
        lines.append(f"ranking {rk.workload}: " + ("same: " + " < ".join(rk.a) if rk.same
                     else f"DIFFERS: A {' < '.join(rk.a)}; B {' < '.join(rk.b)}"))
    lines.append(f"verdict: {'stable' if cmp.stable else 'unstable'}")
    return "\n".join(lines)


def write_json(cmp: Comparison, path: Path) -> None:
    path.write_text(json.dumps(cmp.to_json(), indent=1) + "\n")
