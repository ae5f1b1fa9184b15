"""`kzt bench table DIR`: a bench's cells as a Markdown table, computed
from bench.json (test_bench_pair's synthetic bench, and a recorded one)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from kzt.bench import report
from kzt.bench.table import TableRequest, table
from kzt.errors import KztError
from test_bench import bench_doc, run_record
from test_bench_pair import bench, runs  # noqa: F401 (bench: its fixture)

REPO = Path(__file__).resolve().parents[2]


def _rows(text: str) -> dict[tuple[str, str], list[str]]:
    lines = text.splitlines()
    assert lines[1].startswith("|---")
    out = {}
    for line in lines[2:]:
        cols = [c.strip() for c in line.strip("|").split("|")]
        out[(cols[0], cols[1])] = cols
    return out


def test_every_cell_has_a_row_with_its_verdicts(bench: Path) -> None:
    text = table(TableRequest(bench))
    head = [c.strip() for c in text.splitlines()[0].strip("|").split("|")]
    assert head[3:5] == ["÷ none", "÷ zswap"]
    rows = _rows(text)
    cells = report.cells_of(json.loads((bench / "bench.json").read_text()))
    assert set(rows) == {(c["workload"], c["variant"]) for c in cells}
    w = rows[("w", "kztmem@ssd")]
    # seconds 5, 6, 7 against zswap's 10 and plain's 20 in every block
    assert w[2] == "6.0 (5.0-7.0)"
    assert w[3].startswith("0.30x [0.25-0.35] **win**")
    assert w[4].startswith("0.60x [0.50-0.70] **win**")
    assert rows[("w", "zswap@ssd")][4] == "–"          # a baseline against itself
    # the errored block is shown, not dropped
    assert rows[("w2", "kztmem@ssd")][-1] == "2/3 (1 censored: error reason)"
    assert "FAILED" in rows[("w", "zram@ssd")][-1]
    # rows in the plan's order: workloads, then variants
    assert [k for k in rows][:2] == [("w", "kztmem@ssd"), ("w", "zswap@ssd")]


def test_baselines_can_be_chosen_and_must_exist(bench: Path) -> None:
    text = table(TableRequest(bench, ("zswap",)))
    assert "÷ zswap" in text and "÷ none" not in text
    with pytest.raises(KztError, match="no baseline zsmalloc"):
        table(TableRequest(bench, ("zsmalloc",)))


def test_a_directory_without_a_bench_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(KztError, match="no bench.json"):
        table(TableRequest(tmp_path))


def test_a_recorded_bench_gives_its_report_verdicts() -> None:
    d = REPO / "bench-results" / "2026-12-03-rawshare-480"
    rep = json.loads((d / "report.json").read_text())
    rows = _rows(table(TableRequest(d, ("zsmalloc",))))
    for c in rep["cells"]:
        r = c["ratios"]["zsmalloc"]["modeled_seconds"]
        cell = rows[(c["workload"], c["variant"])][3]
        if c["config"] == "zswap-zsmalloc":
            assert cell == "–"
        else:
            assert cell.startswith(f"{r['median']:.2f}x") and r["verdict"] in cell


def test_a_verdict_never_reads_as_touching_one(tmp_path: Path) -> None:
    # 0.996-0.998 of the baseline in every block: a win whose interval
    # would print as [1.00-1.00] at two decimals
    d = tmp_path / "bench"
    d.mkdir()
    rs = []
    for rep, secs in enumerate([9.96, 9.97, 9.98], start=1):
        rs.append(run_record("kztmem@ssd", "w", rep=rep, index=2 * rep, seconds=secs))
        rs.append(run_record("zswap@ssd", "w", rep=rep, index=2 * rep + 1, seconds=10.0))
    (d / "bench.json").write_text(json.dumps(bench_doc(rs, baselines={"zswap": "zswap"})))
    row = _rows(table(TableRequest(d)))[("w", "kztmem@ssd")]
    assert row[3] == "0.997x [0.996-0.998] **win**"


def test_a_single_paired_block_has_no_interval(tmp_path: Path) -> None:
    # an interrupted bench: one block of each, so a ratio without interval
    d = tmp_path / "bench"
    d.mkdir()
    one = [r for r in runs() if r["rep"] == 1 and r["workload"] == "w"]
    (d / "bench.json").write_text(json.dumps(bench_doc(one, baselines={"zswap": "zswap"})))
    row = _rows(table(TableRequest(d)))[("w", "kztmem@ssd")]
    assert row[3] == "0.50x inconclusive (n=1)"   # the report's form
