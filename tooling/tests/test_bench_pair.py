"""`kzt bench pair DIR A B`: two variants of one bench, block by block.

The bench is a small synthetic bench.json made of test_bench's run
records (no guest): in workload w, kztmem is clearly faster than zswap,
moves clearly more disk data, packs denser, and its CPU time goes either
way; in workload w2 one block of kztmem errored and one block has no
kztmem run at all.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kzt import cli
from kzt.bench import report
from kzt.bench.pair import PairRequest, pair, render
from kzt.bench.records import ERROR, FAILED, OK
from kzt.bench.stats import INCONCLUSIVE, LOSS, WIN
from kzt.errors import KztError
from test_bench import bench_doc, run_record

METRICS = ("seconds", "density", "disk_mib", "cpu_seconds")


def runs() -> list[dict[str, Any]]:
    rs: list[dict[str, Any]] = []

    def add(variant: str, workload: str, rep: int, status: str = OK, **m: float) -> None:
        rs.append(run_record(variant, workload, status=status, index=len(rs) + 1, rep=rep, **m))

    # w: seconds 0.5-0.7x (win), disk 2x (loss), density 2x (higher: win),
    # CPU 0.8x, 1.25x, 1.0x (inconclusive)
    for rep, (secs, cpu) in enumerate([(5.0, 16.0), (6.0, 25.0), (7.0, 20.0)], start=1):
        add("kztmem@ssd", "w", rep, seconds=secs, cpu_seconds=cpu, disk_mib=100.0, density=4.0)
        add("zswap@ssd", "w", rep, seconds=10.0, cpu_seconds=20.0, disk_mib=50.0, density=2.0)
        add("none@ssd", "w", rep, seconds=20.0)
    # w2: block 3 kztmem errored, block 4 has only a zswap run
    for rep in (1, 2, 3):
        add("kztmem@ssd", "w2", rep, status=ERROR if rep == 3 else OK, seconds=9.0)
        add("zswap@ssd", "w2", rep, seconds=10.0)
    add("zswap@ssd", "w2", 4, seconds=10.0)
    # zram ran on both disk profiles, and never OK
    for disk in ("ssd", "hdd"):
        add(f"zram@{disk}", "w", 1, status=FAILED)
    return rs


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    d = tmp_path / "bench"
    d.mkdir()
    doc = bench_doc(runs(), seed=7, baselines={"plain": "none", "zswap": "zswap"})
    (d / "bench.json").write_text(json.dumps(doc))
    return d


def rows(res: Any) -> dict[tuple[str, str], Any]:
    return {(r.workload, r.metric): r for r in res.rows}


def test_ratios_and_verdicts(bench: Path) -> None:
    res = pair(PairRequest(bench, "kztmem@ssd", "zswap@ssd", METRICS))
    r = rows(res)
    win = r[("w", "seconds")]
    assert win.paired == 3 and win.median == pytest.approx(0.6) and win.verdict == WIN
    assert win.ci is not None and win.ci[1] < 1
    loss = r[("w", "disk_mib")]
    assert loss.median == 2.0 and loss.ci == (2.0, 2.0) and loss.verdict == LOSS
    unsure = r[("w", "cpu_seconds")]
    assert unsure.median == pytest.approx(1.0) and unsure.verdict == INCONCLUSIVE
    assert unsure.ci is not None and unsure.ci[0] < 1 < unsure.ci[1]
    # density: higher is better, so A packing twice as dense is A's win,
    # and the other way round it is A's loss
    dens = r[("w", "density")]
    assert not dens.lower_is_better and dens.median == 2.0 and dens.verdict == WIN
    back = rows(pair(PairRequest(bench, "zswap@ssd", "kztmem@ssd", ("density", "seconds"))))
    assert back[("w", "density")].median == 0.5 and back[("w", "density")].verdict == LOSS
    assert back[("w", "seconds")].verdict == LOSS


def test_same_interval_as_the_report_against_a_baseline(bench: Path) -> None:
    doc = json.loads((bench / "bench.json").read_text())
    cell = next(c for c in report.build(doc)["cells"]
                if (c["workload"], c["variant"]) == ("w", "kztmem@ssd"))
    mine = rows(pair(PairRequest(bench, "kztmem@ssd", "zswap@ssd", METRICS)))
    for m in ("seconds", "cpu_seconds"):
        kept = cell["ratios"]["zswap"][m]
        assert (mine[("w", m)].median, list(mine[("w", m)].ci or ())) == (kept["median"], kept["ci"])


def test_censored_and_missing_blocks_are_counted(bench: Path) -> None:
    res = pair(PairRequest(bench, "kztmem", "zswap", ("seconds",)))
    assert (res.a, res.b) == ("kztmem@ssd", "zswap@ssd")     # one disk each: CONFIG is enough
    w2 = next(w for w in res.workloads if w.workload == "w2")
    assert (w2.blocks, w2.paired, w2.censored, w2.missing) == (4, 2, 1, 1)
    assert w2.summary() == "2 of 4 blocks paired; 1 censored; 1 missing a run"
    assert w2.why == ("block 3: kztmem@ssd error (error reason)",
                      "block 4: no run of kztmem@ssd")
    row = rows(res)[("w2", "seconds")]
    assert (row.blocks, row.censored, row.paired) == (4, 1, 2)
    text = render(res)
    assert "w2: 2 of 4 blocks paired; 1 censored" in text
    assert "block 3: kztmem@ssd error (error reason)" in text
    assert "w: 3 of 3 blocks paired" in text


def test_default_metrics_and_a_figure_no_run_has(bench: Path) -> None:
    res = pair(PairRequest(bench, "kztmem@ssd", "zswap@ssd"))
    # the bench's headline ("seconds" for a bench that names none) first
    assert res.metrics == ("seconds", "density", "disk_ios", "disk_mib", "cpu_seconds")
    ios = rows(res)[("w", "disk_ios")]
    assert ios.paired == 0 and ios.median is None and ios.verdict == INCONCLUSIVE
    assert ios.note.startswith("3 paired block(s) without disk_ios")


@pytest.mark.parametrize("args, says", [
    (["kztmem@ssd", "zfs@ssd"], "zfs@ssd is not a variant of the bench"),
    (["kztmem@ssd", "zswap@hdd"], "its variants are: kztmem@ssd, zswap@ssd, none@ssd, zram@ssd, "
                                  "zram@hdd"),
    (["zram", "zswap"], "zram ran on 2 disk profiles"),
    (["zram", "zswap"], "say which one: zram@ssd, zram@hdd"),
    (["zram@ssd", "zswap@ssd"], "no block of"),
    (["zram@ssd", "zswap@ssd"], "w: 0 of 3 blocks paired; 1 censored; 2 missing a run"),
    (["kztmem", "kztmem@ssd"], "A and B are both kztmem@ssd"),
    (["kztmem", "zswap", "--metrics", "seconds,iops,speed"], "unknown metrics: iops, speed"),
    (["kztmem", "zswap", "--metrics", "iops"], "choose from: modeled_seconds, seconds"),
    (["kztmem", "zswap", "--metrics", ","], "--metrics is empty"),
])
def test_user_errors(bench: Path, args: list[str], says: str,
                     capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["bench", "pair", str(bench), *args]) == KztError.exit_code
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


def test_a_directory_without_bench_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["bench", "pair", str(tmp_path), "a", "b"]) != 0
    assert f"{tmp_path} has no bench.json" in capsys.readouterr().err
    assert cli.main(["bench", "pair", str(tmp_path / "nothing"), "a", "b"]) != 0
    assert "is not a directory" in capsys.readouterr().err
    (tmp_path / "bench.json").write_text("{")
    assert cli.main(["bench", "pair", str(tmp_path), "a", "b"]) != 0
    assert "is not JSON" in capsys.readouterr().err


def test_table_and_json_on_the_command_line(bench: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out_json = tmp_path / "pair.json"
    assert cli.main(["bench", "pair", str(bench), "kztmem@ssd", "zswap", "--metrics",
                     "seconds,density", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "A = kztmem@ssd, B = zswap@ssd" in out and "higher for density" in out
    line = next(x for x in out.splitlines() if x.startswith("w ") and " seconds " in x)
    assert line.split()[2:5] == ["3", "0.60x", "[0.50-0.70]"] and line.endswith("win")
    doc = json.loads(out_json.read_text())
    assert [(r["workload"], r["metric"]) for r in doc] == [
        ("w", "seconds"), ("w", "density"), ("w2", "seconds"), ("w2", "density")]
    first = doc[0]
    assert set(first) == {"workload", "metric", "a", "b", "lower_is_better", "blocks",
                          "censored", "paired", "median", "ci", "t_ci", "verdict", "note"}
    assert first["a"] == "kztmem@ssd" and first["lower_is_better"] is True
    assert first["median"] == pytest.approx(0.6) and first["ci"] == [0.5, 0.7]
    assert first["t_ci"][0] < 0.5 and 0.7 < first["t_ci"][1] < 1  # wider, still below 1
    assert doc[1]["verdict"] == "win" and doc[1]["lower_is_better"] is False
    assert (doc[2]["blocks"], doc[2]["censored"], doc[2]["paired"]) == (4, 1, 2)


def two_images(tmp_path: Path, seed_b: int = 7) -> tuple[Path, Path]:
    """The bench above on image aaaa..., and the same plan on image bbbb...
    where kztmem took 0.9x the seconds in every block."""
    dirs = []
    for name, sha, scale, seed in (("before", "a" * 64, 1.0, 7), ("after", "b" * 64, 0.9, seed_b)):
        rs = runs()
        for r in rs:
            if r["variant"] == "kztmem@ssd" and "seconds" in r.get("metrics", {}):
                r["metrics"]["seconds"] *= scale
        d = tmp_path / name
        d.mkdir()
        doc = bench_doc(rs, seed=seed, baselines={"plain": "none", "zswap": "zswap"},
                        provenance={"image_sha256": sha})
        (d / "bench.json").write_text(json.dumps(doc))
        dirs.append(d)
    return dirs[0], dirs[1]


def test_against_another_image_of_the_same_plan(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    before, after = two_images(tmp_path)
    res = pair(PairRequest(after, "kztmem@ssd", "kztmem@ssd", ("seconds",), against=before))
    assert res.a == "kztmem@ssd [image bbbbbbbb]" and res.b == "kztmem@ssd [image aaaaaaaa]"
    r = rows(res)
    assert r[("w", "seconds")].paired == 3 and r[("w", "seconds")].median == pytest.approx(0.9)
    assert r[("w", "seconds")].verdict == WIN
    # w2's censored block is counted as in one bench
    assert (r[("w2", "seconds")].blocks, r[("w2", "seconds")].censored) == (3, 1)
    # and B may be another variant of the other bench
    other = rows(pair(PairRequest(after, "kztmem", "zswap", ("seconds",), against=before)))
    assert other[("w", "seconds")].median == pytest.approx(0.54)
    assert cli.main(["bench", "pair", str(after), "kztmem", "kztmem", "--metrics", "seconds",
                     "--against", str(before)]) == 0
    out = capsys.readouterr().out
    assert f"({after} and {before})" in out and "A = kztmem@ssd [image bbbbbbbb]" in out


def test_against_refuses_another_plan_and_names_the_same_image_by_dir(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before, after = two_images(tmp_path, seed_b=8)
    assert cli.main(["bench", "pair", str(after), "kztmem", "kztmem",
                     "--against", str(before)]) == KztError.exit_code
    err = capsys.readouterr().err
    assert f"{before} belongs to another plan than {after}: seed: 8 against 7" in err
    assert "--seed" in err and "Traceback" not in err
    assert cli.main(["bench", "pair", str(after), "kztmem", "zfs",
                     "--against", str(tmp_path / "none")]) == KztError.exit_code
    assert "is not a directory" in capsys.readouterr().err
    # zram never ran OK in either bench
    (tmp_path / "same").mkdir()
    good, _ = two_images(tmp_path / "same")
    assert cli.main(["bench", "pair", str(good), "zram@ssd", "zram@ssd",
                     "--against", str(before.parent / "same" / "after")]) == KztError.exit_code
    assert f"no block of {good} and {before.parent / 'same' / 'after'} where both" \
        in capsys.readouterr().err
    # the same bench against itself: told apart by directory
    res = pair(PairRequest(before, "kztmem", "kztmem", ("seconds",), against=before))
    assert res.a == f"kztmem@ssd [{before}]" and rows(res)[("w", "seconds")].median == 1.0
