"""`kzt bench compare`: two benches of one plan, the headline side by side.

The benches are made by the fake runners of test_bench_fanout (no guest):
a "loaded" bench scales every figure the way a host that skews the
headline would, and the comparison must say so.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from kzt import cli, workrun
from kzt.bench import report
from kzt.bench.compare import compare
from kzt.bench.plan import BenchRequest
from kzt.layout import Layout
from test_bench_fanout import (Synthetic, fake_layout, fake_result, run,  # noqa: F401
                               spec)


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
    assert bad.rankings[0].a[0] == "kztmem@ssd" and bad.rankings[0].b[-1] == "kztmem@ssd"
    # a wider tolerance takes the ratio, not the ranking
    wide = compare(quiet, skewed, tolerance=0.25)
    assert all(wide.within(c) for c in wide.cells) and not wide.stable


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
    assert "verdict: unstable" in out and "DIFFERS" in out and " NO" in out
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
