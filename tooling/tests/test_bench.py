"""`kzt bench`: planning, per-run figures, aggregation, ratios and the report.

No guest is booted: runs are fake RunResults built from small result.json
documents like the ones kzt.guest.work writes.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from kzt import datafiles, vm, workrun
from kzt.bench import loop, records, report
from kzt.bench.plan import BenchRequest, Plan, Planned, Variant, make_plan
from kzt.bench.records import (ERROR, FAILED, OK, UNAVAILABLE, aggregate, classify, metrics,
                               peak_pool, spread)
from kzt.datafiles import BenchMode, BenchSpec, DiskProfile
from kzt.guest import seam
from kzt.guest.seam import WorkJob
from kzt.errors import KztError
from kzt.layout import Layout

REPO = Path(__file__).resolve().parents[2]

# ------------------------------------------------------------ fake data

#: what every result document of kzt.guest.work starts with
GUEST_HEAD = {"version": seam.VERSION, "workload": "w1", "config": "zram", "uname": "6.1.192"}


def as_result(doc: dict[str, Any]) -> seam.WorkResult:
    return seam.WorkResult.from_json(doc, "a fake guest's result")



def snap(pswpin: int = 0, pswpout: int = 0, disk: tuple[int, int, int, int] = (0, 0, 0, 0),
         **extra: Any) -> dict[str, Any]:
    reads, sr, writes, sw = disk
    s: dict[str, Any] = {"vmstat": {"pswpin": pswpin, "pswpout": pswpout},
                         "diskstats": {"kzt-swap": {"reads": reads, "sectors_read": sr,
                                                    "writes": writes, "sectors_written": sw}},
                         "uname": "6.1.192", "meminfo_kib": {"MemTotal": 368640}}
    s.update(extra)
    return s


def result_doc(seconds: float = 50.0, mismatches: int = 0, exit_code: int = 0,
               pswp: tuple[int, int] = (1000, 2000), disk_mib: tuple[int, int] = (10, 20),
               samples: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    rd, wr = disk_mib
    return {
        **GUEST_HEAD, "exit_code": exit_code, "seconds": seconds,
        "summary": {"program": "memhog", "mismatches": mismatches,
                    "first_bad": [3] if mismatches else []},
        "cpu": {"busy_seconds": seconds * 1.5, "jiffies": {}, "hz": 100},
        "rusage": {"user_seconds": 10.0, "system_seconds": 2.5, "max_rss_kib": 1024},
        "samples": samples or [],
        "before": snap(100, 100, (5, 80, 5, 80)),
        "during": snap(100 + pswp[0], 100 + pswp[1],
                       (105, 80 + rd * 2048, 205, 80 + wr * 2048)),
    }


def boot(status: vm.BootStatus = vm.BootStatus.OK, code: int | None = 0) -> vm.BootResult:
    return vm.BootResult(status, code, vm.Accel.TCG, 70.0, None, "")


def run_record(variant: str, workload: str, status: str = OK, seconds: float = 10.0,
               index: int = 1, rep: int = 1, **m: float) -> dict[str, Any]:
    config, _, disk = variant.partition("@")
    rec: dict[str, Any] = {"index": index, "rep": rep, "block": rep, "variant": variant,
                           "config": config,
                           "disk": disk or None, "workload": workload, "status": status,
                           "reason": "" if status == OK else f"{status} reason"}
    if status != UNAVAILABLE:
        rec["metrics"] = {"seconds": seconds, "cpu_seconds": seconds * 2, "swap_pages": 100.0,
                          "disk_mib": 50.0, **m}
    return rec


BASELINES = {"plain": "none", "zswap": "zswap"}


# ------------------------------------------------------------ plan


def bench_data() -> BenchSpec:
    return BenchSpec({"hdd": DiskProfile("hdd", 200, 60_000_000),
                      "ssd": DiskProfile("ssd", 1500, 100_000_000)},
                     dict(BASELINES),
                     {"full": BenchMode(3, ("ssd", "hdd"), ("none", "zswap", "kztmem@ssd"),
                                        ("w1", "w2")),
                      "quick": BenchMode(1, (), ("none@hdd", "zswap@ssd"), ("w1",))}, {})


CONFIGS = ("none", "zswap", "kztmem", "zram")


def test_variant_parse() -> None:
    assert Variant.parse("zswap@hdd", ["ssd"]) == [Variant("zswap", "hdd")]
    assert Variant.parse("zswap", ["ssd", "hdd"]) == [Variant("zswap", "ssd"), Variant("zswap", "hdd")]
    assert Variant.parse("zswap", []) == [Variant("zswap")]
    assert Variant("zswap", "hdd").name == "zswap@hdd" and Variant("none").name == "none"


def test_full_plan_expands_configs_over_disks() -> None:
    plan = make_plan(BenchRequest(), bench_data(), CONFIGS, ["w1", "w2"])
    assert [v.name for v in plan.variants] == ["none@ssd", "none@hdd", "zswap@ssd", "zswap@hdd",
                                               "kztmem@ssd"]
    assert plan.reps == 3 and plan.workloads == ("w1", "w2") and plan.mode == "full"


def test_quick_plan_and_overrides() -> None:
    d = bench_data()
    q = make_plan(BenchRequest(quick=True), d, CONFIGS, ["w1", "w2"])
    assert [v.name for v in q.variants] == ["none@hdd", "zswap@ssd"] and q.reps == 1
    o = make_plan(BenchRequest(quick=True, reps=2, configs=("zram@hdd", "none"), workloads=("w2",)),
                  d, CONFIGS, ["w1", "w2"])
    assert [v.name for v in o.variants] == ["zram@hdd", "none"]
    assert o.workloads == ("w2",) and o.reps == 2


@pytest.mark.parametrize("req, words", [
    (BenchRequest(configs=("zcache",)), ["unknown configuration 'zcache'", "none"]),
    (BenchRequest(configs=("zswap@floppy",)), ["unknown disk profile 'floppy'", "hdd"]),
    (BenchRequest(workloads=("nope",)), ["unknown workload 'nope'", "w1"]),
    (BenchRequest(reps=0), ["at least 1"]),
])
def test_plan_refuses_bad_input(req: BenchRequest, words: list[str]) -> None:
    with pytest.raises(KztError) as ei:
        make_plan(req, bench_data(), CONFIGS, ["w1", "w2"])
    text = str(ei.value)
    for w in words:
        assert w in text


def test_runs_come_in_blocks_in_a_seeded_order() -> None:
    abc = (Variant("a"), Variant("b"), Variant("c"), Variant("d"))
    plan = Plan(abc, ("x", "y"), 3, "full", seed=11)
    runs = plan.runs()
    assert [p.index for p in runs] == list(range(1, 25))
    # a block is one repetition of one workload: every variant once
    for b in range(1, 7):
        inb = [p for p in runs if p.block == b]
        assert sorted(p.variant.name for p in inb) == ["a", "b", "c", "d"]
        assert len({(p.rep, p.workload) for p in inb}) == 1
    assert [(p.rep, p.workload) for p in runs[::4]] == [(1, "x"), (1, "y"), (2, "x"), (2, "y"),
                                                         (3, "x"), (3, "y")]
    # the same seed gives the same order; the orders are shuffled, not all alike
    assert [p.variant for p in Plan(abc, ("x", "y"), 3, "full", seed=11).runs()] == \
        [p.variant for p in runs]
    orders = {tuple(v.name for v in b.order) for b in plan.blocks()}
    assert len(orders) > 1
    other = Plan(abc, ("x", "y"), 3, "full", seed=12).runs()
    assert [p.variant for p in other] != [p.variant for p in runs]


# ------------------------------------------------------------ one run


def test_metrics_from_a_result() -> None:
    m = metrics(result_doc(seconds=42.0, pswp=(300, 700), disk_mib=(12, 30)))
    assert m["seconds"] == 42.0 and m["cpu_seconds"] == 63.0
    assert m["workload_cpu_seconds"] == 12.5
    assert (m["pswpin"], m["pswpout"], m["swap_pages"]) == (300, 700, 1000)
    assert (m["disk_read_mib"], m["disk_write_mib"], m["disk_mib"]) == (12, 30, 42)
    assert m["disk_ios"] == 300
    assert "disk_bios" not in m        # a result from before merges were recorded
    assert "density" not in m


def test_bios_are_requests_plus_merges() -> None:
    doc = result_doc()
    for k, (r, rm, w, wm) in (("before", (5, 10, 7, 20)), ("during", (105, 410, 57, 920))):
        doc[k]["diskstats"]["kzt-swap"].update(
            reads=r, reads_merged=rm, writes=w, writes_merged=wm)
    m = metrics(doc)
    assert m["disk_ios"] == 100 + 50
    assert m["disk_bios"] == 150 + 400 + 900


def test_cleancache_hits_from_the_core_counters() -> None:
    doc = result_doc()
    assert "cleancache_hits" not in metrics(doc)  # a kernel without cleancache
    doc["before"]["cleancache"] = {"succ_gets": 5, "failed_gets": 9, "puts": 40}
    doc["during"]["cleancache"] = {"succ_gets": 1205, "failed_gets": 90, "puts": 4000}
    assert metrics(doc)["cleancache_hits"] == 1200
    doc["during"]["cleancache"] = {"succ_gets": 5, "failed_gets": 90, "puts": 4000}
    assert metrics(doc)["cleancache_hits"] == 0


def test_density_is_taken_at_the_peak_sample() -> None:
    samples = [{"t": 2, "pools": {"zswap": [4096 * 100, 200000]}},
               {"t": 4, "pools": {"zswap": [4096 * 1000, 1024 * 1024]}},
               {"t": 6, "pools": {}},
               {"t": 8, "pools": {"zswap": [4096 * 10, 409600]}}]
    doc = result_doc(samples=samples)
    assert peak_pool(doc) == (4096 * 1000, 1024 * 1024)
    m = metrics(doc)
    assert m["density"] == pytest.approx(4096 * 1000 / (1024 * 1024), abs=1e-3)
    assert m["pool_peak_mib"] == 1.0


def test_density_falls_back_to_the_end_snapshot() -> None:
    doc = result_doc()
    doc["during"]["zram"] = {"zram0": {"mm_stat": "8192000 2000000 4096000 0 4096000 0 0 0 0"}}
    assert peak_pool(doc) == (8192000, 4096000)
    assert metrics(doc)["density"] == 2.0


def test_classify() -> None:
    ok = vm.BootStatus.OK.value
    failed_cmd = vm.BootStatus.COMMAND_FAILED.value
    assert classify(ok, result_doc()) == (OK, "")
    st, why = classify(failed_cmd, result_doc(mismatches=3, exit_code=1))
    assert st == FAILED and "3 mismatch" in why and "DID NOT VERIFY" in why
    # mismatches fail a run even if the kernel also complained
    assert classify(vm.BootStatus.KERNEL_REPORT.value, result_doc(mismatches=1))[0] == FAILED
    assert classify(failed_cmd, result_doc(exit_code=124))[0] == ERROR
    assert classify(failed_cmd, result_doc(exit_code=2))[0] == ERROR
    assert classify(vm.BootStatus.KERNEL_REPORT.value, result_doc(), "oops at line 3") == \
        (ERROR, "oops at line 3")
    assert classify(vm.BootStatus.TIMEOUT.value, None, "no time")[0] == ERROR
    assert classify(failed_cmd, {"unavailable": "kernel has no kztmem"}) == \
        (UNAVAILABLE, "kernel has no kztmem")
    nosum = result_doc()
    nosum["summary"] = {}
    assert classify(ok, nosum)[0] == ERROR
    nosum["exit_code"] = 1
    assert classify(failed_cmd, nosum)[0] == FAILED


def test_classify_names_an_oom_kill_in_the_workloads_cgroup() -> None:
    """sort-16's awk, OOM-killed in its 8M cgroup, exited 1 without a
    summary: that is an error of the run, named as such, not a mismatch."""
    failed_cmd = vm.BootStatus.COMMAND_FAILED.value
    doc = result_doc(exit_code=1)
    doc["summary"] = {}
    doc["cgroup"] = {"path": "/sys/fs/cgroup/kzt-workload", "memory.max": "8388608",
                     "memory.events": {"max": 1498, "oom": 2, "oom_kill": 1}}
    st, why = classify(failed_cmd, doc)
    assert st == ERROR and "OOM-killed 1 process" in why and "8388608" in why, why
    doc["cgroup"]["memory.events"]["oom_kill"] = 0
    assert classify(failed_cmd, doc)[0] == FAILED
    # a run that verified is not spoiled by an OOM kill it survived
    survived = result_doc()
    survived["cgroup"] = doc["cgroup"] | {"memory.events": {"oom_kill": 1}}
    assert classify(vm.BootStatus.OK.value, survived) == (OK, "")


# ------------------------------------------------------------ aggregation


def test_spread() -> None:
    assert spread([3.0, 1.0, 2.0]) == {"n": 3.0, "median": 2.0, "min": 1.0, "max": 3.0}
    s = spread([1.0, 2.0, 3.0, 4.0, 100.0])
    assert s["median"] == 3.0 and s["q1"] == 2.0 and s["q3"] == 4.0


def test_aggregate_medians_only_over_ok_runs_and_paired_ratios() -> None:
    def reps(variant: str, *secs: float, status: str = OK, first: int = 1) -> list[dict[str, Any]]:
        return [run_record(variant, "w", status=status, seconds=x, rep=first + i)
                for i, x in enumerate(secs)]
    recs = reps("none@ssd", 100.0, 110.0, 90.0) + reps("zswap@ssd", 50.0, 60.0, 55.0)
    recs += reps("kztmem@ssd", 20.0, 30.0)
    recs += reps("kztmem@ssd", 1.0, status=FAILED, first=3)
    recs += reps("none@hdd", 400.0) + reps("zram@hdd", 100.0)
    cells = {c["variant"]: c for c in aggregate(recs, BASELINES, seed=5)}
    k = cells["kztmem@ssd"]
    assert k["counts"] == {OK: 2, FAILED: 1, ERROR: 0, UNAVAILABLE: 0}
    assert k["censored"] == {"n": 1, "why": ["failed reason"]}
    assert k["stats"]["seconds"]["median"] == 25.0      # the FAILED 1.0 s run is not in it
    assert k["stats"]["seconds"]["min"] == 20.0
    assert k["reasons"] == ["failed reason"]
    plain = k["ratios"]["plain"]
    assert plain["baseline"] == "none@ssd" and not plain["is_baseline"]
    # paired within blocks: 20/100 and 30/110; block 3 has no OK kztmem run
    assert plain["seconds"]["n"] == 2
    assert plain["seconds"]["median"] == pytest.approx((20 / 100 + 30 / 110) / 2)
    lo, hi = plain["seconds"]["ci"]
    assert lo == pytest.approx(0.2) and hi == pytest.approx(30 / 110)
    # both blocks much faster, but 0.20 and 0.27 scatter too much for two
    # blocks to make a verdict (Student's t, 1 degree of freedom)
    assert plain["seconds"]["verdict"] == "inconclusive"
    assert "bootstrap alone: win" in plain["seconds"]["note"]
    assert k["ratios"]["zswap"]["seconds"]["median"] == pytest.approx((20 / 50 + 30 / 60) / 2)
    none = cells["none@ssd"]["ratios"]["plain"]
    assert none["is_baseline"] and none["seconds"]["median"] == 1.0
    assert none["seconds"]["verdict"] == "inconclusive"
    # baselines are taken on the same disk profile; one block is too few for a verdict
    z = cells["zram@hdd"]["ratios"]
    assert z["plain"]["seconds"]["median"] == pytest.approx(0.25)
    assert z["plain"]["seconds"]["verdict"] == "inconclusive"
    assert "only 1 paired block" in z["plain"]["seconds"]["note"]
    assert z["zswap"]["seconds"] == {"n": 0, "median": None, "ci": None, "t_ci": None,
                                     "verdict": "inconclusive",
                                     "note": "no block where both ran OK"}
    # density: higher is better, and plain swap has none to compare with
    assert z["plain"]["density"]["median"] is None


def test_aggregate_unavailable_and_all_failed_cells_have_no_figures() -> None:
    recs = [run_record("none", "w"), run_record("kztmem", "w", status=UNAVAILABLE),
            run_record("zswap", "w", status=FAILED)]
    cells = {c["variant"]: c for c in aggregate(recs, BASELINES)}
    assert cells["kztmem"]["stats"] == {}
    assert cells["kztmem"]["ratios"]["plain"]["seconds"]["median"] is None
    assert cells["kztmem"]["censored"]["n"] == 0      # unavailable is not censored
    assert cells["zswap"]["stats"] == {} and cells["zswap"]["censored"]["n"] == 1
    assert cells["none"]["ratios"]["zswap"]["seconds"]["median"] is None


def test_aggregate_keeps_the_given_order() -> None:
    recs = [run_record("b", "y"), run_record("a", "x"), run_record("a", "y")]
    cells = aggregate(recs, BASELINES, variants=["a", "b"], workloads=["x", "y"])
    assert [(c["workload"], c["variant"]) for c in cells] == [("x", "a"), ("y", "a"), ("y", "b")]


# ------------------------------------------------------------ report


def bench_doc(runs: list[dict[str, Any]], **meta: Any) -> dict[str, Any]:
    m = {"mode": "quick", "reps": 1, "variants": list(dict.fromkeys(r["variant"] for r in runs)),
         "workloads": {w: {"memory": "384M", "description": f"{w} <desc>", "program": "memhog",
                           "args": ["--size", "480"], "disks": ["kzt-swap"]}
                       for w in dict.fromkeys(r["workload"] for r in runs)},
         "baselines": BASELINES, "disk_profiles": {"ssd": {"iops": 1500, "bps": 100_000_000}},
         "configs": {"none": {"append": [], "description": "plain", "setup": []},
                     "zram": {"append": [], "description": "zram",
                              "setup": [{"kind": "zram-swap", "priority": 100}]}},
         "image": "/x/bzImage", "base": "6.1", "flavour": "plain", "accel_requested": "tcg",
         "guest_cpus": 2, "machine": loop.machine(), "toolkit": "abc123",
         "started": "2026-11-26 05:00:00 UTC", "finished": None, "interrupted": None,
         "planned_runs": len(runs), "accels": ["tcg"], "kernel": "6.1.192"}
    m.update(meta)
    return {"meta": m, "plan": [], "runs": runs}


def test_report_json_and_html(tmp_path: Path) -> None:
    runs = [run_record("none@ssd", "memhog-a", seconds=100.0, index=1),
            run_record("zswap@ssd", "memhog-a", seconds=50.0, index=2, density=2.5, pool_peak_mib=60.0),
            run_record("kztmem@ssd", "memhog-a", status=UNAVAILABLE, index=3),
            run_record("zram@ssd", "memhog-a", status=FAILED, index=4),
            run_record("zram@ssd", "memhog-b", status=ERROR, index=5)]
    runs[3]["reason"] = "DATA DID NOT VERIFY: 7 mismatch(es)"
    jpath, hpath = report.write(tmp_path, bench_doc(runs))
    rep = json.loads(jpath.read_text())
    assert [r["index"] for r in rep["failed"]] == [4]
    assert [r["index"] for r in rep["errors"]] == [5]
    assert [r["index"] for r in rep["unavailable"]] == [3]
    assert rep["meta"]["runs_done"] == 5 and rep["meta"]["runs_ok"] == 2
    z = next(c for c in rep["cells"] if c["variant"] == "zswap@ssd")
    assert z["ratios"]["plain"]["seconds"]["median"] == 0.5
    html = hpath.read_text()
    assert "<script" not in html.lower() and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    assert html.count("<svg") == 8          # 4 charts x 2 workloads
    assert "FAILED: 1 run(s) whose data did not verify" in html
    assert "DATA DID NOT VERIFY: 7 mismatch(es)" in html
    assert "TCG" in html and "6.1.192" in html and "2 vCPUs" in html
    assert "1 repetition(s)" in html and "2026-11-26 05:00:00" in html
    assert "&lt;desc&gt;" in html            # autoescaped
    assert "0.50×" in html                   # zswap vs plain
    assert "unavailable" in html and "kztmem@ssd" in html


def test_report_of_an_interrupted_bench_says_so(tmp_path: Path) -> None:
    doc = bench_doc([run_record("none", "w")], interrupted="interrupted (Ctrl-C)", planned_runs=9)
    _, hpath = report.write(tmp_path, doc)
    html = hpath.read_text()
    assert "did not finish: interrupted (Ctrl-C)" in html
    assert "1 of 9 run(s) done" in html


def test_report_with_no_runs_yet(tmp_path: Path) -> None:
    _, hpath = report.write(tmp_path, bench_doc([], accels=[]))
    assert "0 of 0 run(s) done" in hpath.read_text()


def test_bar_chart_geometry() -> None:
    ch = report.bar_chart([{"label": "a", "value": 50.0, "min": 40.0, "max": 60.0},
                           {"label": "b", "value": 25.0},
                           {"label": "c", "note": "unavailable"}], " s", "t")
    a, b, c = ch["rows"]
    assert a["w"] == pytest.approx(2 * b["w"], abs=0.2)
    assert a["lo"] < ch["x0"] + a["w"] < a["hi"]
    assert "w" not in c and c["note"] == "unavailable"
    assert ch["ticks"][-1]["text"] == "60" and ch["height"] > 3 * 18


def test_rerender_needs_bench_json(tmp_path: Path) -> None:
    with pytest.raises(KztError, match="bench.json"):
        report.rerender(tmp_path)


# ------------------------------------------------------------ run_bench


@pytest.fixture
def fake_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Layout:
    wl = tmp_path / "vm-tests" / "workloads"
    wl.mkdir(parents=True)
    for name in ("w1", "w2"):
        (wl / f"{name}.json").write_text(json.dumps(
            {"name": name, "program": "memhog", "args": [], "memory": "256M",
             "disks": ["kzt-swap"], "description": name, "timeout_seconds": 600}))
    (tmp_path / "bzImage").write_bytes(b"a kernel image")
    monkeypatch.setattr(loop, "require_image", lambda layout, base, flavour: tmp_path / "bzImage")
    return Layout(tmp_path)


class FakeRunner:
    """Stands in for workrun.run_workload; kztmem is unavailable."""

    def __init__(self, layout: Layout, mismatches_for: str = "", interrupt_at: int = 0,
                 interrupt: BaseException | None = None) -> None:
        self.layout = layout
        self.calls: list[workrun.RunRequest] = []
        self.saved_before_call: list[int] = []
        self.mismatches_for = mismatches_for
        self.interrupt_at = interrupt_at
        self.interrupt = interrupt or KeyboardInterrupt()

    def __call__(self, req: workrun.RunRequest) -> workrun.RunResult:
        self.calls.append(req)
        bj = self.layout.runs / "latest-bench" / "bench.json"
        self.saved_before_call.append(len(json.loads(bj.read_text())["runs"]))
        if self.interrupt_at and len(self.calls) == self.interrupt_at:
            raise self.interrupt
        assert req.run_dir is not None
        wl = {"name": req.workload}
        if req.with_ == "kztmem":
            res = workrun.RunResult(wl, req.with_, boot(vm.BootStatus.COMMAND_FAILED, 77),
                                    as_result({**GUEST_HEAD, "unavailable": "kernel has no kztmem"}),
                                    req.run_dir)
            raise workrun.Unavailable(res, "kernel has no kztmem")
        bad = req.with_ == self.mismatches_for
        doc = result_doc(seconds=10.0 * (1 + len(self.calls)), mismatches=2 if bad else 0,
                         exit_code=1 if bad else 0)
        st = (vm.BootStatus.COMMAND_FAILED, 1) if bad else (vm.BootStatus.OK, 0)
        return workrun.RunResult(wl, req.with_, boot(*st), as_result(doc), req.run_dir,
                                 memory="256M")


def small_data() -> BenchSpec:
    d = bench_data()
    return BenchSpec(d.disk_profiles, d.baselines,
                     {"full": d.modes["full"],
                      "quick": BenchMode(2, (), ("none@ssd", "kztmem@ssd", "zswap@ssd"), ("w1",))},
                     {})


def test_run_bench_saves_after_every_run_and_skips_unavailable(fake_layout: Layout) -> None:
    runner = FakeRunner(fake_layout, mismatches_for="zswap")
    req = BenchRequest(quick=True, seed=3)
    state = loop.run_bench(fake_layout, req, runner=runner, data=small_data())
    order = [p.variant.config for p in make_plan(req, small_data(), CONFIGS, ["w1"]).runs()]
    # kztmem booted once, then its later runs are marked without a boot
    booted = order[:3] + [c for c in order[3:] if c != "kztmem"]
    assert [c.with_ for c in runner.calls] == booted
    assert runner.saved_before_call == [i for i, c in enumerate(order)
                                        if c != "kztmem" or i < 3]
    assert all(c.disk == "ssd" and not c.echo for c in runner.calls)
    # virtme-ng refuses --rwdir paths with other characters (such as @)
    assert all(c.run_dir and re.fullmatch(r"[a-zA-Z0-9_+ /.-]+", str(c.run_dir))
               for c in runner.calls)
    assert runner.calls[0].run_dir is not None
    assert runner.calls[0].run_dir.name == f"r001-{order[0]}_ssd-w1"
    want = {"none": OK, "kztmem": UNAVAILABLE, "zswap": FAILED}
    assert [(r.config, r.status) for r in state.records] == [(c, want[c]) for c in order]
    assert [r.block for r in state.records] == [1, 1, 1, 2, 2, 2]
    assert "not booted again" in next(r for r in state.records[3:] if r.config == "kztmem").reason
    # instruction-counted (the default clock): unthrottled disks, QEMU reniced when allowed
    assert all(c.icount_shift == 0 and c.nice == (loop.GUEST_NICE if vm.may_renice(loop.GUEST_NICE)
                                                  else 0) for c in runner.calls)
    # on a guest CPU whose kernel clears and copies without `rep stosb`/`movsb`
    assert all(c.qemu_cpu == "max,erms=off,fsrm=off" for c in runner.calls)
    assert state.meta["clock"]["qemu_cpu"] == "max,erms=off,fsrm=off"
    assert all(len(r.host_load or []) == 2 for r in state.records if r.booted)
    d = state.run_dir
    doc = json.loads((d / "bench.json").read_text())
    assert len(doc["runs"]) == 6 and doc["meta"]["finished"] and doc["meta"]["accels"] == ["tcg"]
    assert doc["meta"]["disks_throttled"] is False
    assert doc["meta"]["guest_nice"] == runner.calls[0].nice
    rep = json.loads((d / "report.json").read_text())
    assert len(rep["failed"]) == 2
    html = (d / "report.html").read_text()
    assert "FAILED: 2 run(s)" in html and "1-minute load average" in html
    assert doc["meta"]["seed"] == 3 and doc["meta"]["provenance"]["image_sha256"]
    assert [p["block"] for p in doc["plan"]] == [1, 1, 1, 2, 2, 2]
    rows = report.summary_rows(doc)
    assert ("w1", "zswap@ssd") == rows[2][:2] and "2 FAILED" in rows[2][2]
    assert rows[1][2] == "unavailable"
    assert (d / "kcidb.json").exists()


def test_main_exit_status_and_rerender(fake_layout: Layout, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    runner = FakeRunner(fake_layout, mismatches_for="zswap")
    real = loop.run_bench
    monkeypatch.setattr(loop, "run_bench", lambda layout, req: real(
        layout, req, runner=runner, data=small_data()))
    assert loop.main(fake_layout, BenchRequest(quick=True)) == 1
    out = capsys.readouterr().out
    assert "FAILED: DATA DID NOT VERIFY" in out
    d = fake_layout.runs / "latest-bench"
    (d / "report.html").unlink()
    assert loop.main(fake_layout, BenchRequest(), render=d) == 1
    assert (d / "report.html").exists()


def test_interrupted_bench_keeps_its_runs_and_report(fake_layout: Layout) -> None:
    runner = FakeRunner(fake_layout, interrupt_at=3)
    req = BenchRequest(quick=True, configs=("none@ssd", "zswap@hdd"), seed=1)
    with pytest.raises(KeyboardInterrupt):
        loop.run_bench(fake_layout, req, runner=runner, data=small_data())
    d = fake_layout.runs / "latest-bench"
    doc = json.loads((d / "bench.json").read_text())
    assert [r["block"] for r in doc["runs"]] == [1, 1]
    assert sorted(r["variant"] for r in doc["runs"]) == ["none@ssd", "zswap@hdd"]
    assert doc["meta"]["interrupted"] == "interrupted (Ctrl-C)"
    html = (d / "report.html").read_text()
    assert "did not finish" in html and "2 of 4 run(s) done" in html


def test_terminated_bench_says_so(fake_layout: Layout) -> None:
    """SIGTERM (kill, timeout) unwinds as SystemExit(143): the record must
    say the bench was stopped, not look like a shorter plan that finished."""
    runner = FakeRunner(fake_layout, interrupt_at=3, interrupt=SystemExit(143))
    req = BenchRequest(quick=True, configs=("none@ssd", "zswap@hdd"), seed=1)
    with pytest.raises(SystemExit):
        loop.run_bench(fake_layout, req, runner=runner, data=small_data())
    doc = json.loads((fake_layout.runs / "latest-bench" / "bench.json").read_text())
    assert len(doc["runs"]) == 2
    assert doc["meta"]["interrupted"] == "terminated (exit 143)"
    html = (fake_layout.runs / "latest-bench" / "report.html").read_text()
    assert "did not finish" in html


def test_a_guest_that_never_boots_is_run_again_at_the_end(fake_layout: Layout) -> None:
    """An infrastructure failure does not stop the bench: the run is
    repeated once after the last planned run, the first attempt kept."""
    calls: list[str] = []

    def runner(req: workrun.RunRequest) -> workrun.RunResult:
        assert req.run_dir is not None
        calls.append(req.run_dir.name)
        if len(calls) == 1:
            return workrun.RunResult({"name": req.workload}, req.with_,
                                     boot(vm.BootStatus.NO_BOOT, None), None, req.run_dir)
        return workrun.RunResult({"name": req.workload}, req.with_, boot(),
                                 as_result(result_doc()), req.run_dir)
    req = BenchRequest(quick=True, configs=("none@ssd", "zswap@ssd"), seed=4)
    state = loop.run_bench(fake_layout, req, runner=runner, data=small_data())
    assert len(calls) == 5 and calls[4].startswith("r001b-") and calls[0].startswith("r001-")
    first, last = state.records[0], state.records[-1]
    assert first.index == last.index == 1
    assert first.superseded and first.status == ERROR and "never ran its command" in first.infra
    assert last.attempt == 2 and last.status == OK and not last.superseded
    doc = json.loads((state.run_dir / "bench.json").read_text())
    assert doc["runs"][0]["superseded"] is True and doc["runs"][-1]["attempt"] == 2
    rep = json.loads((state.run_dir / "report.json").read_text())
    assert [r["index"] for r in rep["superseded"]] == [1] and rep["errors"] == []
    assert all(c["counts"][OK] == c["runs"] == 2 and c["superseded"] == (c["variant"] == first.variant)
               for c in rep["cells"])
    assert rep["meta"]["runs_done"] == 4
    assert loop.print_summary(doc) == 0


def test_a_host_side_error_is_run_again_and_a_second_failure_stands(fake_layout: Layout) -> None:
    calls: list[int] = []

    def runner(req: workrun.RunRequest) -> workrun.RunResult:
        assert req.run_dir is not None
        calls.append(1)
        if req.run_dir.name.startswith("r002"):
            raise KztError("could not create the swap disk image")
        return workrun.RunResult({"name": req.workload}, req.with_, boot(),
                                 as_result(result_doc()), req.run_dir)
    req = BenchRequest(quick=True, configs=("none@ssd", "zswap@ssd"), seed=4)
    state = loop.run_bench(fake_layout, req, runner=runner, data=small_data())
    assert len(calls) == 5
    spoiled = [r for r in state.records if r.index == 2]
    assert [(r.attempt, r.superseded, r.status) for r in spoiled] == [(1, True, ERROR),
                                                                      (2, False, ERROR)]
    assert "host-side error around the boot: could not create" in spoiled[1].reason
    rep = json.loads((state.run_dir / "report.json").read_text())
    cell = next(c for c in rep["cells"] if c["variant"] == spoiled[0].variant)
    assert cell["censored"]["n"] == 1 and "could not create" in cell["censored"]["why"][0]
    assert "1 censored" in (state.run_dir / "report.html").read_text()


# ------------------------------------------------------------ the data files


def test_bench_data_names_existing_configs_workloads_and_profiles() -> None:
    data = datafiles.bench()
    configs = datafiles.configs()
    workloads = {p.stem for p in (REPO / "vm-tests" / "workloads").glob("*.json")}
    assert set(data.baselines.values()) <= set(configs)
    full = make_plan(BenchRequest(), data, configs, workloads)
    assert full.variants and full.workloads and full.reps >= 3
    quick = make_plan(BenchRequest(quick=True), data, configs, workloads)
    # the quick bench shows every configuration the full one compares, on
    # one disk profile, in at least three blocks (with two, Student's t
    # has 1 degree of freedom and a verdict needs a difference about 9
    # times the standard deviation of the blocks' ratios), with a real program; the others exist
    # for --configs (e.g.
    # kztmem-nowb: kztmem with one feature off) and are described as such
    compared = {v.config for v in full.variants}
    assert {v.config for v in quick.variants} == compared
    for name in set(configs) - compared:
        assert configs[name].description.split(" as ")[0] in compared, name
    assert len({v.disk for v in quick.variants}) == 1
    assert quick.reps >= 3 and len(quick.runs()) <= 36
    assert any(datafiles.workload(REPO / "vm-tests" / "workloads", w)[1]["program"]
               == "kzt.guest.real" for w in quick.workloads)
    for p in data.disk_profiles.values():
        assert p.iops > 0 and p.bps > 0


def test_configs_are_data_the_guest_can_use() -> None:
    for name, c in datafiles.configs().items():
        spec = c.guest_spec()
        assert spec["name"] == name
        for r in spec["requires"]:
            assert r["path"].startswith("/sys/") and r.get("why")
        from kzt.guest.work import SETUP_STEPS
        for step in spec["setup"]:
            assert step["kind"] in SETUP_STEPS


def test_unknown_config_and_disk_profile_are_user_errors() -> None:
    with pytest.raises(KztError, match="choose one of"):
        datafiles.config("zcache")
    with pytest.raises(KztError, match="hdd"):
        datafiles.bench().disk_profile("floppy")


def test_guest_requirements(tmp_path: Path) -> None:
    from kzt.guest.work import unmet
    (tmp_path / "enabled").write_text("Y\n")
    present = str(tmp_path / "enabled")
    missing = str(tmp_path / "kztmem")
    assert unmet([{"path": present, "equals": "Y"}]) is None
    assert unmet([{"path": missing, "why": "kernel has no kztmem"}]) == "kernel has no kztmem"
    assert unmet([{"path": missing, "missing_ok": True}]) is None
    assert unmet([{"path": missing, "absent": True}]) is None
    assert unmet([{"path": present, "absent": True, "why": "on"}]) == "on"
    why = unmet([{"path": present, "equals": "N", "why": "zswap is on"}])
    assert why is not None and why.startswith("zswap is on") and "'Y'" in why


def test_planned_record_of_a_skipped_run() -> None:
    p = Planned(3, 1, Variant("kztmem", "ssd"), "w")
    rec = records.record(p, None, started=0.0, why="kernel has no kztmem").to_json()
    assert rec["status"] == UNAVAILABLE and rec["booted"] is False
    assert re.match(r"\d{4}-\d\d-\d\dT", rec["started"])
    assert "boot_status" not in rec and "metrics" not in rec


def test_console_notes_are_counted_and_aggregated(tmp_path: Path) -> None:
    notes = {"Write-error on swap-device": "swap write errors", "Out of memory": "OOM"}
    out = ("[ 1.0] Write-error on swap-device (253:0:8)\n[ 1.1] fine\n"
           "[ 1.2] Write-error on swap-device (253:0:16)\n")
    assert records.console_notes(out, notes) == {"swap write errors": 2}
    p = Planned(1, 1, Variant("zram", "ssd"), "w")
    res = workrun.RunResult({"name": "w"}, "zram", vm.BootResult(
        vm.BootStatus.OK, 0, vm.Accel.TCG, 5.0, None, out), as_result(result_doc()), tmp_path)
    rec = records.record(p, res, started=0.0, notes=notes).to_json()
    assert rec["status"] == OK and rec["console_notes"] == {"swap write errors": 2}
    assert rec["kernel"] == "6.1.192" and rec["mismatches"] == 0 and rec["exit_code"] == 0
    assert rec["metrics"]["boot_seconds"] == rec["boot_seconds"] == 5.0
    rec2 = dict(rec, index=2, console_notes={})
    cell = aggregate([rec, rec2], BASELINES)[0]
    assert cell["notes"] == {"swap write errors": {"lines": 2, "runs": 1}}
    _, hpath = report.write(tmp_path, bench_doc([rec, rec2]))
    assert "swap write errors (2 line(s) in 1 of 2 run(s))" in hpath.read_text()


# ------------------------------------------------------------ workrun


def fake_guest(layout: Layout, monkeypatch: pytest.MonkeyPatch,
               guest_result: dict[str, Any]) -> list[vm.BootRequest]:
    """Boots that record their request and write ``guest_result`` as the
    guest's result; returns the list of requests."""
    seen: list[vm.BootRequest] = []

    def fake_boot(layout: Layout, req: vm.BootRequest) -> vm.BootResult:
        seen.append(req)
        assert all(d.path.exists() for d in req.disks)
        job = json.loads(Path(req.command[-1]).read_text())
        Path(job["out"]).write_text(json.dumps(guest_result))
        return boot()

    monkeypatch.setattr(workrun, "require_image", lambda layout, base, flavour: Path("/bz"))
    py = layout.venv / "bin" / "python"
    py.parent.mkdir(parents=True)
    py.write_text("")
    monkeypatch.setattr(vm, "boot", fake_boot)
    return seen


@pytest.mark.parametrize("guest_result, raises", [
    ({**GUEST_HEAD, "seconds": 1.0, "exit_code": 0}, None),
    ({**GUEST_HEAD, "unavailable": "kernel has no kztmem"}, workrun.Unavailable),
    ({**GUEST_HEAD, "error": "set-up step zram-swap failed: EINVAL"}, workrun.SetupFailed),
])
def test_run_workload_passes_config_and_throttle_to_the_guest(
        fake_layout: Layout, monkeypatch: pytest.MonkeyPatch,
        guest_result: dict[str, Any], raises: type[Exception] | None) -> None:
    seen = fake_guest(fake_layout, monkeypatch, guest_result)
    run_dir = fake_layout.build / "r1"
    req = workrun.RunRequest("w1", "zram", disk="hdd", run_dir=run_dir, echo=False)
    if raises is None:
        res = workrun.run_workload(fake_layout, req, bins=Path("/bins"))
        assert res.data is not None and res.data.doc == guest_result
        assert res.disk is not None and res.disk.name == "hdd"
        assert res.memory == "256M"
    else:
        with pytest.raises(raises):
            workrun.run_workload(fake_layout, req, bins=Path("/bins"))
    (breq,) = seen
    assert breq.memory == "256M" and breq.append == () and breq.nice == 0
    assert [(d.name, d.throttle) for d in breq.disks] == [("kzt-swap", vm.Throttle(200, 60_000_000))]
    assert not (run_dir / "kzt-swap.img").exists()         # images are removed after the run
    job = WorkJob.from_json(json.loads((run_dir / "job.json").read_text()), "job.json")
    spec = job.config
    assert spec["name"] == "zram" and spec["setup"][0]["kind"] == "zram-swap"
    assert spec["workload_timeout_seconds"] >= 1500       # the hdd profile's
    assert breq.command[-3:] == ["-m", "kzt.guest.work", str(run_dir / "job.json")]
    assert job.workload["name"] == "w1" and job.workload["memory"] == "256M"
    assert job.out == str(run_dir / "result.json")


def test_instruction_counted_runs_are_not_throttled_but_priced(
        fake_layout: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = fake_guest(fake_layout, monkeypatch, {**GUEST_HEAD, "seconds": 1.0, "exit_code": 0})
    req = workrun.RunRequest("w1", "zram", disk="hdd", run_dir=fake_layout.build / "r1",
                             echo=False, cpus=1, icount_shift=0, nice=-10)
    res = workrun.run_workload(fake_layout, req, bins=Path("/bins"))
    (breq,) = seen
    assert [(d.name, d.throttle) for d in breq.disks] == [("kzt-swap", None)]
    assert breq.icount_shift == 0 and breq.nice == -10
    # the profile still prices the run (and sets its timeouts)
    assert res.disk is not None and res.disk.name == "hdd"
    assert workrun.throttled(res.disk, None) and not workrun.throttled(res.disk, 0)
    assert not workrun.throttled(None, None)
