"""`kzt bench compare`: two benches of one plan, the headline side by side.

The benches are made by the fake runners of test_bench_fanout (no guest):
a "loaded" bench scales every figure the way a host that skews the
headline would, and the comparison must say so.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest

from kzt import cli, workrun
from kzt.bench import report
from kzt.bench.compare import compare, render
from kzt.bench.plan import BenchRequest
from kzt.guest import seam
from kzt.layout import Layout
from test_bench_fanout import (Synthetic, block_of, fake_layout, fake_result,  # noqa: F401
                               run, spec)


class Disk(Synthetic):
    """Synthetic figures with disk counts, so that the headline (modeled
    time: CPU + the disk's requests at the profile) has a value."""

    def __call__(self, req: workrun.RunRequest) -> workrun.RunResult:
        res = super().__call__(req)
        assert res.data is not None
        ios = int((res.data.seconds or 0) * 30)
        doc = {**res.data.doc,
               "during": {"diskstats": {"kzt-swap": {"reads": ios, "writes": ios,
                                                      "sectors_read": ios * 8,
                                                      "sectors_written": ios * 8}}}}
        return fake_result(req, doc, wall=res.wall_seconds)


class Skewed(Disk):
    """Disk's figures, one configuration's scaled by a factor."""

    def __init__(self, config: str, factor: float) -> None:
        super().__init__()
        self.config, self.factor = config, factor

    def skew(self, req: workrun.RunRequest) -> float:
        return self.factor if req.with_ == self.config else 1.0


def test_the_same_figures_are_stable_and_a_skew_is_not(fake_layout: Layout) -> None:
    data = spec(reps=3)
    quiet = run(fake_layout, BenchRequest(seed=9), Disk(), data)
    again = run(fake_layout, BenchRequest(seed=9), Skewed("zswap", 1.03), data)
    ok = compare(quiet, again)
    assert ok.metric == "modeled_seconds"
    assert ok.stable and not ok.plan_differences
    assert len(ok.cells) == 6 and all(c.ratio is not None for c in ok.cells)
    zs = [c for c in ok.cells if c.variant == "zswap@ssd"]
    assert all(c.ratio == pytest.approx(1.03, abs=0.005) for c in zs)
    # 8% slower for one configuration: out of ±5%, and kztmem (0.9x plain)
    # now ranks behind plain swap
    skewed = run(fake_layout, BenchRequest(seed=9), Skewed("kztmem", 1.2), data)
    bad = compare(quiet, skewed)
    assert not bad.stable
    assert {c.variant for c in bad.cells if not bad.within(c)} == {"kztmem@ssd"}
    assert not any(r.same for r in bad.rankings)
    assert not any(bad.ranked_alike(r) for r in bad.rankings)
    # kztmem is told apart from another variant the opposite way in each
    for r in bad.rankings:
        assert any(w.opposed and "kztmem@ssd" in (w.x, w.y) for w in r.swaps), r.swaps
    assert bad.rankings[0].a[0] == "kztmem@ssd" and bad.rankings[0].b[-1] == "kztmem@ssd"
    # a wider tolerance takes the ratio, not the ranking
    wide = compare(quiet, skewed, tolerance=0.25)
    assert all(wide.within(c) for c in wide.cells) and not wide.stable


class Blockwise:
    """Figures set per configuration and block: every variant of a block
    shares the block's base, so each paired ratio is the factor given."""

    def __init__(self, factor: Callable[[str, int], float]) -> None:
        self.factor = factor

    def __call__(self, req: workrun.RunRequest) -> workrun.RunResult:
        blk = (block_of(req) - 1) // 6 + 1       # 3 variants x 2 workloads a block
        secs = round((40.0 + blk) * self.factor(req.with_, blk), 4)
        doc = {"version": seam.VERSION, "workload": req.workload, "config": req.with_,
               "uname": "6.1.192", "exit_code": 0, "seconds": secs,
               "summary": {"program": "memhog", "mismatches": 0},
               "cpu": {"busy_seconds": secs, "jiffies": {}, "hz": 100},
               "samples": [], "before": {},
               "during": {"diskstats": {"kzt-swap": {"reads": 0, "writes": 0,
                                                      "sectors_read": 0,
                                                      "sectors_written": 0}}}}
        return fake_result(req, doc, wall=secs * 3)


def test_a_swap_of_variants_a_bench_cannot_tell_apart_is_a_tie(fake_layout: Layout) -> None:
    data = spec(reps=3)
    # A: zswap 1% on either side of plain swap, block by block (paired
    # interval [0.99-1.01], inconclusive) and ahead by its median; B:
    # zswap 1% behind in every block, told apart
    wobble = run(fake_layout, BenchRequest(seed=9),
                 Blockwise(lambda c, b: {"zswap": 1.01 if b == 1 else 0.99,
                                         "kztmem": 0.9}.get(c, 1.0)), data)
    behind = run(fake_layout, BenchRequest(seed=9),
                 Blockwise(lambda c, b: {"zswap": 1.01, "kztmem": 0.9}.get(c, 1.0)), data)
    cmp = compare(wobble, behind)
    assert all(cmp.within(c) for c in cmp.cells)
    assert cmp.rankings and not any(r.same for r in cmp.rankings)
    for r in cmp.rankings:
        assert r.a == ["kztmem@ssd", "zswap@ssd", "none@ssd"]
        assert r.b == ["kztmem@ssd", "none@ssd", "zswap@ssd"]
        assert [(w.x, w.y) for w in r.swaps] == [("zswap@ssd", "none@ssd")]
        w = r.swaps[0]
        assert (w.a.sign, w.b.sign) == ("=", ">") and not w.opposed and r.agrees
        assert w.a.ci == pytest.approx((0.99, 1.01), abs=1e-3)
        assert w.b.median == pytest.approx(1.01, abs=1e-3)
    assert cmp.stable
    assert "a tied swap: A cannot tell them apart" in render(cmp)
    # the median order alone counts that swap
    strict = compare(wobble, behind, strict=True)
    assert not strict.stable and "(strict: counted)" in render(strict)
    assert strict.to_json()["ranking_rule"] == "strict"
    # 1% ahead in every block of one bench, 1% behind in the other: every
    # cell within ±5%, but both benches tell the two apart, oppositely
    ahead = run(fake_layout, BenchRequest(seed=9),
                Blockwise(lambda c, b: {"zswap": 0.99, "kztmem": 0.9}.get(c, 1.0)), data)
    cmp = compare(ahead, behind)
    assert all(cmp.within(c) for c in cmp.cells)
    assert all(w.opposed for r in cmp.rankings for w in r.swaps)
    assert not any(r.agrees for r in cmp.rankings) and not cmp.stable
    text = render(cmp)
    assert "DIFFERS" in text and "told apart the opposite way" in text
    doc = cmp.to_json()
    assert doc["verdict"] == "unstable" and doc["rankings"][0]["swaps"][0]["opposed"]


def test_another_plan_or_a_missing_cell_is_not_stable(fake_layout: Layout) -> None:
    data = spec(reps=2)
    a = run(fake_layout, BenchRequest(seed=9), Disk(), data)
    b = run(fake_layout, BenchRequest(seed=10), Disk(), data)
    cmp = compare(a, b)
    assert not cmp.stable and any(d.startswith("seed:") for d in cmp.plan_differences)
    fewer = run(fake_layout, BenchRequest(seed=9, configs=("none@ssd", "kztmem@ssd")),
                Disk(), data)
    cmp = compare(a, fewer)
    assert not cmp.stable
    missing = [c for c in cmp.cells if c.b is None]
    assert {c.variant for c in missing} == {"zswap@ssd"} and len(missing) == 2


def test_compare_on_the_command_line(fake_layout: Layout, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    data = spec(reps=2)
    a = run(fake_layout, BenchRequest(seed=4), Disk(), data)
    b = run(fake_layout, BenchRequest(seed=4), Skewed("kztmem", 1.02), data)
    c = run(fake_layout, BenchRequest(seed=4), Skewed("none", 1.5), data)
    monkeypatch.setattr(Layout, "default", classmethod(lambda cls: fake_layout))
    capsys.readouterr()
    out_json = tmp_path / "cmp.json"
    assert cli.main(["bench", "compare", str(a), str(b), "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "verdict: stable" in out and "ranking w1: same" in out
    doc = json.loads(out_json.read_text())
    assert doc["verdict"] == "stable" and len(doc["cells"]) == 6
    assert cli.main(["bench", "compare", str(a), str(c)]) == 1
    out = capsys.readouterr().out
    # plain swap 1.5x slower: out of ±5%; zswap, tied with it in A, is
    # ahead of it in B, a tied swap
    assert "verdict: unstable" in out and " NO" in out and "agrees up to ties" in out
    assert cli.main(["bench", "compare", str(a), str(tmp_path / "nothing")]) != 0
    assert "no bench.json" in capsys.readouterr().err
    assert cli.main(["bench", "compare", str(a), str(b), "--tolerance", "0"]) != 0
    assert "tolerance" in capsys.readouterr().err


RECORDED = Path(__file__).resolve().parents[2] / "bench-results"


@pytest.mark.parametrize("d", sorted(p.parent for p in RECORDED.glob("*/bench.json")),
                         ids=lambda d: d.name)
def test_recorded_reports_follow_from_their_runs(d: Path) -> None:
    """A report committed under bench-results/ is what its bench.json gives:
    the README's tables, taken from report.json, can be re-derived."""
    doc = json.loads((d / "bench.json").read_text())
    rebuilt = json.loads(json.dumps(report.build(doc)))
    kept = json.loads((d / "report.json").read_text())
    assert rebuilt["cells"] == kept["cells"]
    assert kept["meta"]["headline"]["metric"] == "modeled_seconds"
    assert kept["meta"]["runs_ok"] == kept["meta"]["runs_done"]
    if kept["meta"].get("interrupted"):
        # a bench stopped part way says so, and README must say it too
        assert kept["meta"]["runs_done"] < len(doc["plan"])
        assert d.name in (RECORDED / "README.md").read_text()
        assert "stopped after" in (RECORDED / "README.md").read_text()
    else:
        assert kept["meta"]["runs_done"] == len(doc["plan"])
