"""`kzt bench compare A B`: is the headline the same when the host is not?

Two benches of one plan (the same seed, variants, workloads, repetitions,
clock and image), run under different conditions, e.g. once on a quiet
host and once while `stress-ng --cpu 2` loads it.  For every cell both
have, the headline medians are set side by side: B / A, and whether that
is within the tolerance (default ±5%).

Within each workload the variants are ranked by their headline median in
each bench.  Two variants whose medians change places between the benches
are a disagreement when each bench tells them apart the opposite way: in
A the paired verdict of X / Y (same-block ratios, as `kzt bench pair`
computes it: both its intervals below 1) is a win and in B a loss, or
the reverse.  When either bench cannot tell them apart (inconclusive:
an interval includes 1, or too few blocks paired), they are tied there,
and their swap is listed as a tied swap, not a disagreement: two
variants a bench cannot order can come out in either order, and no
tolerance on each median rules that out.
`strict=True` (`--strict-ranking`) takes the median order alone, every
swap a disagreement.

The verdict is "stable" only if every shared cell is within the tolerance
and no ranking disagrees; a cell that only one bench has, or whose median
is missing in either (no run finished OK), is listed and makes the
verdict "unstable" too, since nothing was shown for it.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import KztError
from .merge import load
from .pair import pair_doc
from .plan import differences, signature
from . import report
from .report import headline
from .stats import INCONCLUSIVE, WIN


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
class Order:
    """How one bench orders two variants X, Y by the paired ratio X / Y of
    the headline: "<" X better, ">" Y better, "=" it cannot tell."""
    x: str
    y: str
    median: float | None
    ci: tuple[float, float] | None
    verdict: str
    t_ci: tuple[float, float] | None = None

    @property
    def sign(self) -> str:
        if self.verdict == INCONCLUSIVE:
            return "="
        return "<" if self.verdict == WIN else ">"

    def text(self) -> str:
        med = f"{self.median:.3f}x" if self.median is not None else "-"
        ci = f" [{self.ci[0]:.3f}-{self.ci[1]:.3f}]" if self.ci else ""
        t = f" (t: {self.t_ci[0]:.3f}-{self.t_ci[1]:.3f})" if self.t_ci else ""
        return f"{med}{ci}{t} {self.verdict}"


@dataclass(frozen=True)
class Swap:
    """Two variants whose medians changed places between A and B."""
    x: str
    y: str
    a: Order
    b: Order

    @property
    def opposed(self) -> bool:
        """Each bench tells them apart, the opposite way."""
        return {self.a.sign, self.b.sign} == {"<", ">"}


@dataclass(frozen=True)
class Ranking:
    workload: str
    a: list[str]
    b: list[str]
    swaps: list[Swap] = field(default_factory=list)

    @property
    def same(self) -> bool:
        """The median order is the same."""
        return self.a == self.b

    @property
    def agrees(self) -> bool:
        """No two variants are told apart the opposite way."""
        return not any(s.opposed for s in self.swaps)


@dataclass
class Comparison:
    metric: str
    tolerance: float
    dirs: tuple[str, str]
    loads: tuple[list[float] | None, list[float] | None]
    plan_differences: list[str]
    strict: bool = False
    cells: list[CellPair] = field(default_factory=list)
    rankings: list[Ranking] = field(default_factory=list)

    def ranked_alike(self, r: Ranking) -> bool:
        return r.same if self.strict else r.agrees

    def within(self, c: CellPair) -> bool:
        r = c.ratio
        return r is not None and abs(r - 1.0) <= self.tolerance

    @property
    def stable(self) -> bool:
        return (not self.plan_differences and bool(self.cells)
                and all(self.within(c) for c in self.cells)
                and all(self.ranked_alike(r) for r in self.rankings))

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "tolerance": self.tolerance, "dirs": list(self.dirs),
                "host_load": list(self.loads), "plan_differences": self.plan_differences,
                "ranking_rule": "strict" if self.strict else "paired",
                "verdict": "stable" if self.stable else "unstable",
                "cells": [{**asdict(c), "ratio": c.ratio, "within": self.within(c)}
                          for c in self.cells],
                "rankings": [{**asdict(r), "same": r.same, "agrees": r.agrees,
                              "swaps": [{**asdict(w), "opposed": w.opposed} for w in r.swaps]}
                             for r in self.rankings]}


def _medians(rep: dict[str, Any], metric: str) -> dict[tuple[str, str], float | None]:
    out: dict[tuple[str, str], float | None] = {}
    for cell in rep["cells"]:
        m = ((cell.get("stats") or {}).get(metric) or {}).get("median")
        out[(cell["workload"], cell["variant"])] = float(m) if m is not None else None
    return out


def _order(doc: dict[str, Any], d: Path, workload: str, x: str, y: str,
           metric: str) -> Order:
    res = pair_doc(doc, d, x, y, (metric,), workload)
    row = next((r for r in res.rows if r.workload == workload), None)
    if row is None:
        return Order(x, y, None, None, INCONCLUSIVE)
    return Order(x, y, row.median, row.ci, row.verdict, row.t_ci)


def _swaps(a: list[str], b: list[str]) -> list[tuple[str, str]]:
    """Pairs (x, y), x before y in A's order, that B puts the other way."""
    pos = {v: i for i, v in enumerate(b)}
    return [(x, y) for i, x in enumerate(a) for y in a[i + 1:] if pos[x] > pos[y]]


def compare(a_dir: Path, b_dir: Path, tolerance: float = 0.05,
            strict: bool = False) -> Comparison:
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
                     differences(signature(ma), signature(mb)), strict)
    va, vb = _medians(ra, metric), _medians(rb, metric)
    for key in sorted(set(va) | set(vb)):
        cmp.cells.append(CellPair(key[0], key[1], va.get(key), vb.get(key)))
    for wl in sorted({c.workload for c in cmp.cells}):
        both = [c for c in cmp.cells if c.workload == wl and c.ratio is not None]
        order_a = [c.variant for c in sorted(both, key=lambda c: (c.a, c.variant))]
        order_b = [c.variant for c in sorted(both, key=lambda c: (c.b, c.variant))]
        swaps = [Swap(x, y, _order(a, a_dir, wl, x, y, metric), _order(b, b_dir, wl, x, y, metric))
                 for x, y in _swaps(order_a, order_b)]
        cmp.rankings.append(Ranking(wl, order_a, order_b, swaps))
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
        if rk.same:
            lines.append(f"ranking {rk.workload}: same: " + " < ".join(rk.a))
            continue
        word = "DIFFERS" if not cmp.ranked_alike(rk) else "agrees up to ties"
        lines.append(f"ranking {rk.workload}: {word}: A {' < '.join(rk.a)}; "
                     f"B {' < '.join(rk.b)}")
        for w in rk.swaps:
            who = ("neither bench tells" if w.a.sign == w.b.sign == "="
                   else "A cannot tell" if w.a.sign == "=" else "B cannot tell")
            what = ("told apart the opposite way" if w.opposed
                    else f"a tied swap: {who} them apart"
                    + (" (strict: counted)" if cmp.strict else ""))
            lines.append(f"  {w.x} / {w.y}: A {w.a.text()}; B {w.b.text()}: {what}")
    rule = ("median order alone (--strict-ranking)" if cmp.strict
            else "a swap counts only where both benches tell the pair apart")
    lines.append(f"ranking rule: {rule}")
    lines.append(f"verdict: {'stable' if cmp.stable else 'unstable'}")
    return "\n".join(lines)


def write_json(cmp: Comparison, path: Path) -> None:
    path.write_text(json.dumps(cmp.to_json(), indent=1) + "\n")
