"""`kzt bench`'s blocks, verdicts and fan-out: bootstrap verdicts, shards,
merge, resume, the KCIDB export and the --plan document.

No guest is booted: the runner is a fake that replays recorded guest
results (tests/data/bench-recorded: four real runs) or makes figures from
the run's variant and block alone, so a run gives the same figures in
whichever shard or order it is made.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Callable

import pytest

from kzt import cli, vm, workrun
from kzt.bench import kcidb, loop, merge, stats
from kzt.bench.plan import BenchRequest, Plan, Shard, Variant
from kzt.bench.records import ERROR, OK
from kzt.datafiles import BenchMode, BenchSpec, DiskProfile
from kzt.errors import KztError
from kzt.guest import seam
from kzt.layout import Layout

DATA = Path(__file__).resolve().parent / "data" / "bench-recorded"
BASELINES = {"plain": "none", "zswap": "zswap"}


# ------------------------------------------------------------ verdicts


def test_a_clear_ten_percent_win_is_a_win() -> None:
    pairs = [(0.90 * b, b) for b in (50.0, 61.0, 47.0, 55.0, 58.0)]
    pairs = [(m * f, b) for (m, b), f in zip(pairs, (1.01, 0.99, 1.02, 0.98, 1.0))]
    c = stats.compare(pairs, lower_is_better=True, seed="s")
    assert c.verdict == stats.WIN and c.n == 5
    assert c.ci is not None and c.ci[1] < 1 and c.ci[0] <= c.median <= c.ci[1]
    assert c.median == pytest.approx(0.9, abs=0.02)
    # the same ratios, higher is better (density): a loss
    assert stats.compare(pairs, lower_is_better=False, seed="s").verdict == stats.LOSS
    slower = [(b / 0.9, b) for b in (50.0, 61.0, 47.0)]
    assert stats.compare(slower, lower_is_better=True, seed="s").verdict == stats.LOSS


def test_noise_around_one_is_inconclusive() -> None:
    ratios = [0.97, 1.04, 0.99, 1.03, 0.96, 1.02, 1.0, 0.98]
    c = stats.compare([(r * 40, 40.0) for r in ratios], lower_is_better=True, seed="s")
    assert c.verdict == stats.INCONCLUSIVE
    assert c.ci is not None and c.ci[0] < 1 < c.ci[1]


def test_three_blocks_on_one_side_of_a_tie_are_not_yet_a_win() -> None:
    # all three ratios below 1, by less than their scatter: the bootstrap's
    # interval is about [min, max] and excludes 1, which happens by chance
    # to a true tie a quarter of the time; Student's t keeps it back
    near = [(r * 40, 40.0) for r in (0.990, 0.995, 0.998)]
    c = stats.compare(near, lower_is_better=True, seed="s")
    assert c.ci is not None and c.ci[1] < 1
    assert c.t_ci is not None and c.t_ci[0] < 1 < c.t_ci[1]
    assert c.verdict == stats.INCONCLUSIVE
    assert "bootstrap alone: win" in c.note and "of 3 blocks includes 1" in c.note
    # a 5% win whose blocks agree within 1%: both intervals show it
    clear = stats.compare([(r * 40, 40.0) for r in (0.945, 0.950, 0.955)],
                          lower_is_better=True, seed="s")
    assert clear.verdict == stats.WIN and clear.t_ci is not None and clear.t_ci[1] < 1
    assert clear.note == ""
    # 2 blocks: t(1) = 12.7, so only a scatter far below the effect tells
    two = stats.compare([(r * 40, 40.0) for r in (0.90, 0.93)], lower_is_better=True, seed="s")
    assert two.ci is not None and two.ci[1] < 1 and two.verdict == stats.INCONCLUSIVE
    assert stats.compare([(r * 40, 40.0) for r in (0.900, 0.901)], lower_is_better=True,
                         seed="s").verdict == stats.WIN


def test_the_t_interval_is_mirrored_for_the_inverse_ratio() -> None:
    ratios = [0.5, 0.6, 0.7]
    lo, hi = stats.t_interval(ratios)
    ilo, ihi = stats.t_interval([1 / r for r in ratios])
    assert ilo == pytest.approx(1 / hi) and ihi == pytest.approx(1 / lo)
    # the geometric mean, t(2) = 4.303
    logs = [math.log(r) for r in ratios]
    mean = sum(logs) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / 2)
    assert hi == pytest.approx(math.exp(mean + 4.303 * sd / math.sqrt(3)))
    # a variant that did none of it in one block: over the ratios themselves
    assert stats.t_interval([0.0, 0.0]) == (0.0, 0.0)
    assert stats.t_interval([0.0, 0.2])[0] == 0.0
    assert [stats.t_quantile(d) for d in (1, 2, 11, 200)] == [12.706, 4.303, 2.228, 1.960]
    with pytest.raises(ValueError):
        stats.t_interval([1.0])


def test_the_bootstrap_is_deterministic_with_its_seed() -> None:
    xs = [1 + math.sin(i * 1.7) / 7 for i in range(30)]         # 30 distinct ratios
    a = stats.bootstrap_ci(xs, "bench:1:w:v")
    assert a == stats.bootstrap_ci(xs, "bench:1:w:v")
    # the seed is used: with few resamples the intervals of other seeds vary
    assert len({stats.bootstrap_ci(xs, f"bench:{i}:w:v", resamples=40) for i in range(8)}) > 1
    assert min(xs) < a[0] < stats.median(xs) < a[1] < max(xs)


def test_too_few_blocks_and_zero_baselines() -> None:
    one = stats.compare([(9.0, 10.0)], lower_is_better=True, seed="s")
    assert one.verdict == stats.INCONCLUSIVE and one.ci is None and one.median == 0.9
    assert "only 1 paired block" in one.note
    none = stats.compare([], lower_is_better=True, seed="s")
    assert none.median is None and none.verdict == stats.INCONCLUSIVE
    # 0/0 is "the same"; x/0 has no ratio and is named
    z = stats.compare([(0.0, 0.0), (0.0, 0.0), (5.0, 0.0)], lower_is_better=True, seed="s")
    assert z.n == 2 and z.median == 1.0 and z.verdict == stats.INCONCLUSIVE
    assert "1 block(s) without a ratio" in z.note


# ------------------------------------------------------------ shards and plans


@pytest.mark.parametrize("text", ["0/2", "3/2", "x/y", "1/0", "", "1/2/3", "-1/2", "1.5/2"])
def test_bad_shards_are_refused(text: str) -> None:
    with pytest.raises(KztError, match="--shard"):
        Shard.parse(text)


def test_bad_shards_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    for text in ("0/2", "3/2", "x/y"):
        with pytest.raises(SystemExit) as ei:
            cli.parser().parse_args(["bench", "--shard", text])
        assert ei.value.code == 2
        assert "--shard" in capsys.readouterr().err


def test_shards_split_the_blocks_whole() -> None:
    plan = Plan(tuple(Variant(c, "ssd") for c in ("none", "zswap", "kztmem")), ("x", "y", "z"),
                3, "full", seed=9)
    whole = plan.runs()
    parts = [plan.runs(Shard(k, 4)) for k in (1, 2, 3, 4)]
    assert sorted(p.index for part in parts for p in part) == [p.index for p in whole]
    for k, part in enumerate(parts, 1):
        assert {p.block for p in part} == {b for b in range(1, 10) if (b - 1) % 4 == k - 1}
        # a shard's runs are the whole plan's runs, same index, same order
        assert part == [p for p in whole if p.block in {q.block for q in part}]


def test_plan_json_prints_the_matrix_and_runs_nothing(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Layout, "default", classmethod(lambda cls: Layout(REPO)))
    monkeypatch.setattr(loop, "run_bench", _must_not_run)
    rc = cli.main(["bench", "--plan", "--json", "--seed", "7", "--shard", "2/3", "--reps", "2",
                   "--configs", "none@ssd,kztmem@ssd,zswap@ssd",
                   "--workloads", "memhog-mix-quick,memhog-mix-480"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["seed"] == 7 and doc["reps"] == 2 and doc["clock"] == "icount"
    assert doc["variants"] == ["none@ssd", "kztmem@ssd", "zswap@ssd"]
    assert doc["planned_runs"] == 12 and len(doc["blocks"]) == 4
    for b in doc["blocks"]:
        assert set(b) == {"block", "rep", "workload", "shard", "order"}
        assert sorted(b["order"]) == sorted(doc["variants"])
        assert b["shard"] == (b["block"] - 1) % 3 + 1
    assert doc["shards"] == {"n": 3, "this": 2, "blocks": {"1": [1, 4], "2": [2], "3": [3]}}
    assert [r["block"] for r in doc["runs"]] == [2, 2, 2]
    assert [r["variant"] for r in doc["runs"]] == doc["blocks"][1]["order"]
    assert [r["index"] for r in doc["runs"]] == [4, 5, 6]
    # the same seed prints the same plan
    cli.main(["bench", "--plan", "--json", "--seed", "7", "--reps", "2",
              "--configs", "none@ssd,kztmem@ssd,zswap@ssd",
              "--workloads", "memhog-mix-quick,memhog-mix-480"])
    again = json.loads(capsys.readouterr().out)
    assert again["blocks"] == [dict(b, shard=1) for b in doc["blocks"]]


def _must_not_run(*a: Any, **k: Any) -> Any:
    raise AssertionError("--plan ran the bench")


REPO = Path(__file__).resolve().parents[2]


def test_a_shard_needs_a_seed_and_a_block(fake_layout: Layout) -> None:
    with pytest.raises(KztError, match="needs --seed"):
        loop.plan_of(fake_layout, BenchRequest(quick=True, shard=Shard(1, 2)), spec())
    with pytest.raises(KztError, match="shard 3/3 has no block"):
        loop.plan_of(fake_layout, BenchRequest(reps=1, shard=Shard(3, 3), seed=1,
                                               workloads=("w1", "w2")), spec())


# ------------------------------------------------------------ fakes


def spec(variants: tuple[str, ...] = ("none@ssd", "zswap@ssd", "kztmem@ssd"),
         workloads: tuple[str, ...] = ("w1", "w2"), reps: int = 4) -> BenchSpec:
    mode = BenchMode(reps, ("ssd",), variants, workloads)
    return BenchSpec({"ssd": DiskProfile("ssd", 1500, 100_000_000)}, dict(BASELINES),
                     {"full": mode, "quick": mode}, {})


@pytest.fixture
def fake_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Layout:
    wl = tmp_path / "vm-tests" / "workloads"
    wl.mkdir(parents=True)
    for name in ("w1", "w2", "memhog-mix-quick"):
        (wl / f"{name}.json").write_text(json.dumps(
            {"name": name, "program": "memhog", "args": [], "memory": "256M",
             "disks": ["kzt-swap"], "description": name, "timeout_seconds": 600}))
    image = tmp_path / "bzImage"
    image.write_bytes(b"kernel one")
    monkeypatch.setattr(loop, "require_image", lambda layout, base, flavour: image)
    return Layout(tmp_path)


def fake_result(req: workrun.RunRequest, doc: dict[str, Any],
                wall: float | None = None) -> workrun.RunResult:
    assert req.run_dir is not None
    return workrun.RunResult({"name": req.workload}, req.with_,
                             vm.BootResult(vm.BootStatus.OK, 0, vm.Accel.TCG, 60.0, None, ""),
                             seam.WorkResult.from_json(doc, "fake"), req.run_dir,
                             memory="256M", wall_seconds=wall)


def block_of(req: workrun.RunRequest) -> int:
    """The plan index from the run directory's name (r007-...), for fakes
    that answer by run rather than by call order."""
    assert req.run_dir is not None
    m = re.match(r"r(\d+)", req.run_dir.name)
    assert m
    return int(m.group(1))


class Synthetic:
    """Figures from the run alone: kztmem 10% faster than plain swap with a
    little noise, zswap the same as plain within noise."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, req: workrun.RunRequest) -> workrun.RunResult:
        i = block_of(req)
        self.calls.append(i)
        factor = {"none": 1.0, "zswap": 1.0, "kztmem": 0.9}[req.with_]
        noise = 1 + 0.02 * ((i * 7919) % 5 - 2) / 2      # -2%..+2%, fixed per run
        base = 40.0 + (i % 3)
        secs = round(base * factor * noise * self.skew(req), 3)
        doc = {"version": seam.VERSION, "workload": req.workload, "config": req.with_,
               "uname": "6.1.192", "exit_code": 0, "seconds": secs,
               "summary": {"program": "memhog", "mismatches": 0},
               "cpu": {"busy_seconds": secs, "jiffies": {}, "hz": 100},
               "samples": [], "before": {}, "during": {}}
        return fake_result(req, doc, wall=round(secs * 3, 2))

    def skew(self, req: workrun.RunRequest) -> float:
        """1; a subclass scales a configuration's figures with it."""
        return 1.0


class Recorded:
    """Replays tests/data/bench-recorded: rep r of CONFIG is CONFIG-r.json."""

    def __init__(self) -> None:
        index = json.loads((DATA / "index.json").read_text())
        self.runs = {(r["config"], r["rep"]): r for r in index["runs"]}

    def __call__(self, req: workrun.RunRequest) -> workrun.RunResult:
        rep = (block_of(req) - 1) // 2 + 1     # 2 variants per block, 1 workload
        entry = self.runs[(req.with_, rep)]
        doc = json.loads((DATA / entry["result"]).read_text())
        return fake_result(req, doc, wall=entry["wall_seconds"])


def cells(d: Path) -> list[dict[str, Any]]:
    rep: list[dict[str, Any]] = json.loads((d / "report.json").read_text())["cells"]
    for c in rep:
        c.pop("host_load")                  # the host's load at the time of each run
    return rep


def run(layout: Layout, req: BenchRequest, runner: Callable[[workrun.RunRequest],
        workrun.RunResult], data: BenchSpec) -> Path:
    return loop.run_bench(layout, req, runner=runner, data=data).run_dir


# ------------------------------------------------------------ shards + merge


def test_recorded_runs_sharded_and_merged_give_the_same_cells(fake_layout: Layout,
                                                               tmp_path: Path) -> None:
    data = spec(("none@ssd", "kztmem@ssd"), ("memhog-mix-quick",), reps=2)
    req = BenchRequest(seed=21)
    whole = run(fake_layout, req, Recorded(), data)
    s1 = run(fake_layout, BenchRequest(seed=21, shard=Shard(1, 2)), Recorded(), data)
    s2 = run(fake_layout, BenchRequest(seed=21, shard=Shard(2, 2)), Recorded(), data)
    merged = tmp_path / "merged"
    doc = merge.merge([s2, s1], merged)
    assert cells(merged) == cells(whole)
    assert len(doc["runs"]) == 4 and [r["index"] for r in doc["runs"]] == [1, 2, 3, 4]
    assert doc["meta"]["shards_missing"] == [] and doc["meta"]["planned_runs"] == 4
    k = next(c for c in cells(merged) if c["variant"] == "kztmem@ssd")
    # the recorded figures: 8.19/5.83 and 7.94/5.15 on the instruction-counted clock
    assert k["ratios"]["plain"]["seconds"]["n"] == 2
    assert k["ratios"]["plain"]["seconds"]["median"] == pytest.approx(
        (8.19 / 5.83 + 7.94 / 5.15) / 2, rel=1e-3)
    # both blocks slower (1.40x, 1.54x), but two blocks scattered that
    # much do not make a verdict: Student's t interval includes 1
    assert k["ratios"]["plain"]["seconds"]["verdict"] == "inconclusive"
    assert "bootstrap alone: loss" in k["ratios"]["plain"]["seconds"]["note"]
    assert k["ratios"]["plain"]["wall_seconds"]["median"] == pytest.approx(
        (37.04 / 27.88 + 52.07 / 34.65) / 2, rel=1e-3)
    # the headline the bench names is compared the same way
    headline = doc["meta"]["headline"]["metric"]
    assert k["ratios"]["plain"][headline]["n"] == 2
    assert k["ratios"]["plain"][headline]["median"] is not None
    # zswap is a baseline the bench did not run: nothing to compare with
    assert k["ratios"]["zswap"]["seconds"]["median"] is None
    assert (merged / "report.html").exists() and (merged / "kcidb.json").exists()


def test_synthetic_bench_in_three_shards_gives_the_same_cells(fake_layout: Layout,
                                                              tmp_path: Path) -> None:
    data = spec()
    whole = run(fake_layout, BenchRequest(seed=5), Synthetic(), data)
    parts = [run(fake_layout, BenchRequest(seed=5, shard=Shard(k, 3)), Synthetic(), data)
             for k in (1, 2, 3)]
    merge.merge(parts, tmp_path / "m")
    got = cells(tmp_path / "m")
    assert got == cells(whole)
    verdicts = {(c["workload"], c["variant"]): c["ratios"]["plain"]["seconds"]["verdict"]
                for c in got}
    assert verdicts[("w1", "kztmem@ssd")] == verdicts[("w2", "kztmem@ssd")] == "win"
    assert verdicts[("w1", "zswap@ssd")] == "inconclusive"


def test_merge_refuses_what_is_not_one_plan(fake_layout: Layout, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    data = spec(reps=2)
    a = run(fake_layout, BenchRequest(seed=5, shard=Shard(1, 2)), Synthetic(), data)
    b = run(fake_layout, BenchRequest(seed=5, shard=Shard(2, 2)), Synthetic(), data)
    other_seed = run(fake_layout, BenchRequest(seed=6, shard=Shard(2, 2)), Synthetic(), data)
    other_n = run(fake_layout, BenchRequest(seed=5, shard=Shard(2, 4)), Synthetic(), data)
    whole = run(fake_layout, BenchRequest(seed=5), Synthetic(), data)
    fewer = run(fake_layout, BenchRequest(seed=5, shard=Shard(2, 2), configs=("none@ssd",)),
                Synthetic(), data)
    image = tmp_path / "bzImage"
    image.write_bytes(b"kernel two")
    other_image = run(fake_layout, BenchRequest(seed=5, shard=Shard(2, 2)), Synthetic(), data)
    out = tmp_path / "out"
    for dirs, words in [([a, other_seed], ["another plan", "seed: 5", "6"]),
                        ([a, fewer], ["another plan", "variants"]),
                        ([a, other_image], ["another plan", "image_sha256"]),
                        ([a, a], ["shard 1/2 is given twice"]),
                        ([a, other_n], ["split the plan in different ways"]),
                        ([whole, b], ["split the plan in different ways"]),
                        ([a, tmp_path], ["no bench.json"])]:
        with pytest.raises(KztError) as ei:
            merge.merge(dirs, out)
        for w in words:
            assert w in str(ei.value), (dirs, str(ei.value))
        assert not (out / "bench.json").exists()
    # a missing shard is merged, and said
    doc = merge.merge([a], out)
    assert doc["meta"]["shards_missing"] == ["2/2"] and "not merged" in doc["meta"]["interrupted"]
    assert "did not finish" in (out / "report.html").read_text()


def test_bench_merge_on_the_command_line(fake_layout: Layout, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    data = spec(reps=2)
    a = run(fake_layout, BenchRequest(seed=5, shard=Shard(1, 2)), Synthetic(), data)
    b = run(fake_layout, BenchRequest(seed=5, shard=Shard(2, 2)), Synthetic(), data)
    monkeypatch.setattr(Layout, "default", classmethod(lambda cls: fake_layout))
    capsys.readouterr()
    assert cli.main(["bench", "merge", str(a), str(b), "--out", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    assert "kztmem@ssd" in out and "win" in out and "vs plain" in out
    assert cli.main(["bench", "merge", str(a), str(a)]) != 0
    assert "given twice" in capsys.readouterr().err


# ------------------------------------------------------------ resume


class Interrupting(Synthetic):
    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def __call__(self, req: workrun.RunRequest) -> workrun.RunResult:
        if len(self.calls) + 1 == self.at:
            self.calls.append(-1)
            raise KeyboardInterrupt
        return super().__call__(req)


def test_resume_runs_only_what_is_left(fake_layout: Layout) -> None:
    data = spec(reps=2)
    first = Interrupting(at=5)
    with pytest.raises(KeyboardInterrupt):
        run(fake_layout, BenchRequest(seed=8), first, data)
    d = fake_layout.runs / "latest-bench"
    assert len(json.loads((d / "bench.json").read_text())["runs"]) == 4
    second = Synthetic()
    state = loop.run_bench(fake_layout, BenchRequest(resume=d.resolve()), runner=second,
                           data=data)          # the seed comes from the directory
    assert state.run_dir == d.resolve()
    assert sorted(second.calls) == list(range(5, 13))
    assert [r.index for r in state.records] == list(range(1, 13))
    doc = json.loads((d / "bench.json").read_text())
    assert doc["meta"]["resumed"] and doc["meta"]["interrupted"] is None
    whole = run(fake_layout, BenchRequest(seed=8), Synthetic(), data)
    assert cells(d) == cells(whole)
    # nothing left: a second resume runs nothing
    third = Synthetic()
    loop.run_bench(fake_layout, BenchRequest(resume=d.resolve(), seed=8), runner=third, data=data)
    assert third.calls == []


def test_resume_refuses_another_plan_or_image(fake_layout: Layout, tmp_path: Path) -> None:
    data = spec(reps=2)
    d = run(fake_layout, BenchRequest(seed=8, shard=Shard(1, 2)), Synthetic(), data)
    for req, words in [(BenchRequest(seed=9, resume=d, shard=Shard(1, 2)), ["seed: 9 against 8"]),
                       (BenchRequest(resume=d, shard=Shard(1, 2), configs=("none@ssd",)),
                        ["variants"]),
                       (BenchRequest(resume=d), ["shard: None against '1/2'"]),
                       (BenchRequest(resume=d, shard=Shard(1, 2), clock="wall"), ["clock"]),
                       # the same clock on another guest CPU is another model
                       (BenchRequest(resume=d, shard=Shard(1, 2), clock="icount-erms"),
                        ["guest_cpu: 'max' against 'max,erms=off,fsrm=off'"]),
                       (BenchRequest(resume=tmp_path / "nothing"), ["no bench.json"])]:
        with pytest.raises(KztError) as ei:
            loop.run_bench(fake_layout, req, runner=Synthetic(), data=data)
        for w in words:
            assert w in str(ei.value), str(ei.value)
    (tmp_path / "bzImage").write_bytes(b"another kernel")
    with pytest.raises(KztError, match="image_sha256"):
        loop.run_bench(fake_layout, BenchRequest(resume=d, shard=Shard(1, 2)),
                       runner=Synthetic(), data=data)


def test_a_bench_that_recorded_no_guest_cpu_ran_on_max() -> None:
    from kzt.bench.plan import differences, signature
    old = {"seed": 1, "clock": {"name": "icount", "cpus": 1, "icount_shift": 0}}
    erms = {"seed": 1, "clock": {"name": "icount", "cpus": 1, "icount_shift": 0,
                                 "qemu_cpu": None}}
    new = {"seed": 1, "clock": {"name": "icount", "cpus": 1, "icount_shift": 0,
                                "qemu_cpu": "max,erms=off,fsrm=off"}}
    assert signature(old)["guest_cpu"] == signature(erms)["guest_cpu"] == "max"
    assert differences(signature(old), signature(erms)) == []
    assert differences(signature(new), signature(old)) == [
        "guest_cpu: 'max,erms=off,fsrm=off' against 'max'"]


def test_resume_reruns_a_spoiled_run_that_was_not_run_again(fake_layout: Layout) -> None:
    data = spec(reps=1, workloads=("w1",))
    calls: list[str] = []

    def spoiled_then_interrupted(req: workrun.RunRequest) -> workrun.RunResult:
        assert req.run_dir is not None
        calls.append(req.run_dir.name)
        if len(calls) == 1:
            raise KztError("qemu-img: could not create the disk")
        if len(calls) == 3:
            raise KeyboardInterrupt
        return Synthetic()(req)
    with pytest.raises(KeyboardInterrupt):
        run(fake_layout, BenchRequest(seed=2), spoiled_then_interrupted, data)
    d = (fake_layout.runs / "latest-bench").resolve()
    again = Synthetic()
    state = loop.run_bench(fake_layout, BenchRequest(resume=d), runner=again, data=data)
    assert again.calls == [3, 1]            # the one left, then the spoiled one's rerun
    first = next(r for r in state.records if r.index == 1 and r.attempt == 1)
    assert first.superseded and first.status == ERROR
    assert [r.status for r in state.records if not r.superseded] == [OK, OK, OK]


# ------------------------------------------------------------ KCIDB


ORIGIN_ID = re.compile(r"^[a-z0-9_]+:.+$")


def nulls(x: Any, where: str = "") -> list[str]:
    if x is None:
        return [where]
    if isinstance(x, dict):
        return [n for k, v in x.items() for n in nulls(v, f"{where}.{k}")]
    if isinstance(x, list):
        return [n for i, v in enumerate(x) for n in nulls(v, f"{where}[{i}]")]
    return []


def check_kcidb(doc: dict[str, Any]) -> None:
    """The parts of KCIDB's v4 I/O schema this export uses."""
    assert set(doc) <= {"version", "checkouts", "builds", "tests"}
    assert doc["version"]["major"] == 4 and isinstance(doc["version"]["minor"], int)
    assert not nulls(doc), nulls(doc)
    checkouts = {c["id"] for c in doc["checkouts"]}
    builds = {b["id"] for b in doc["builds"]}
    for c in doc["checkouts"]:
        assert ORIGIN_ID.match(c["id"]) and c["origin"] == "kzt"
    for b in doc["builds"]:
        assert ORIGIN_ID.match(b["id"]) and b["checkout_id"] in checkouts and b["origin"] == "kzt"
    ids = [t["id"] for t in doc["tests"]]
    assert len(ids) == len(set(ids))
    allowed = {"id", "build_id", "origin", "path", "status", "number", "start_time", "duration",
               "comment", "misc", "environment", "log_url", "waived"}
    for t in doc["tests"]:
        assert set(t) <= allowed, set(t) - allowed
        assert {"id", "build_id", "origin"} <= set(t)
        assert ORIGIN_ID.match(t["id"]) and t["id"].startswith(t["origin"] + ":")
        assert t["build_id"] in builds
        assert re.fullmatch(r"[.a-zA-Z0-9_-]*", t["path"])
        assert t["status"] in kcidb.STATUSES
        if "number" in t:
            assert set(t["number"]) <= {"value", "unit", "prefix"}
            assert isinstance(t["number"]["value"], float)
        if "start_time" in t:
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", t["start_time"])
        assert isinstance(t.get("misc", {}), dict)


def test_kcidb_export(fake_layout: Layout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = spec(reps=1, workloads=("w1",))
    calls: list[int] = []

    def runner(req: workrun.RunRequest) -> workrun.RunResult:
        calls.append(1)
        if len(calls) == 1:
            raise KztError("the host ran out of disk")
        res = Synthetic()(req)
        if req.with_ == "zswap":
            assert res.data is not None
            res.data.doc["summary"]["mismatches"] = 3
            res.data.doc["exit_code"] = 1
        return res
    d = run(fake_layout, BenchRequest(seed=3), runner, data)
    doc = json.loads((d / "kcidb.json").read_text())
    check_kcidb(doc)
    runs = [t for t in doc["tests"] if "number" not in t]
    assert len(runs) == 4                                   # 3 runs and one rerun
    assert sorted(t["status"] for t in runs).count("MISS") == 1
    assert "FAIL" in {t["status"] for t in runs}
    nums = [t for t in doc["tests"] if "number" in t]
    assert all(t["status"] == "DONE" for t in nums)
    secs = [t for t in nums if t["path"].endswith(".seconds")]
    assert {t["path"] for t in secs} >= {"kztmem_bench.w1.none_ssd.seconds",
                                         "kztmem_bench.w1.kztmem_ssd.seconds"}
    assert all(t["number"]["unit"] == "s" for t in secs)
    # the same through the command line, to another file
    monkeypatch.setattr(Layout, "default", classmethod(lambda cls: fake_layout))
    out = tmp_path / "k.json"
    assert cli.main(["bench", "export", "--kcidb", str(d), "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == doc


def test_a_bench_interrupted_during_a_rerun_still_owes_it(fake_layout: Layout) -> None:
    data = spec(reps=1, workloads=("w1",))
    calls: list[str] = []

    def runner(req: workrun.RunRequest) -> workrun.RunResult:
        assert req.run_dir is not None
        calls.append(req.run_dir.name)
        if len(calls) == 1:
            return workrun.RunResult({"name": req.workload}, req.with_, vm.BootResult(
                vm.BootStatus.NO_BOOT, None, vm.Accel.TCG, 3.0, None, ""), None, req.run_dir)
        if len(calls) == 4:                  # the rerun
            raise KeyboardInterrupt
        return Synthetic()(req)
    with pytest.raises(KeyboardInterrupt):
        run(fake_layout, BenchRequest(seed=2), runner, data)
    d = (fake_layout.runs / "latest-bench").resolve()
    doc = json.loads((d / "bench.json").read_text())
    assert not any(r.get("superseded") for r in doc["runs"])    # nothing replaced it yet
    again = Synthetic()
    state = loop.run_bench(fake_layout, BenchRequest(resume=d), runner=again, data=data)
    assert again.calls == [1]
    assert [(r.index, r.attempt, r.superseded) for r in state.records] == [
        (1, 1, True), (2, 1, False), (3, 1, False), (1, 2, False)]
    check_kcidb(json.loads((d / "kcidb.json").read_text()))


def test_colours_follow_the_verdict_not_the_size_of_a_ratio(tmp_path: Path) -> None:
    from kzt.bench import report
    runs: list[dict[str, Any]] = []
    # kztmem: 20% faster on the median, but one block says 30% slower: inconclusive;
    # zswap: 3% faster in every block: a win
    plain = [100.0, 100.0, 100.0, 100.0, 100.0]
    kzt = [80.0, 70.0, 130.0, 80.0, 85.0]
    zsw = [97.0, 96.5, 97.5, 97.0, 96.8]
    for rep in range(5):
        for v, secs in (("none@ssd", plain), ("kztmem@ssd", kzt), ("zswap@ssd", zsw)):
            runs.append({"index": len(runs) + 1, "rep": rep + 1, "block": rep + 1, "variant": v,
                         "config": v.split("@")[0], "disk": "ssd", "workload": "w",
                         "status": OK, "reason": "", "metrics": {"seconds": secs[rep]}})
    meta = {"mode": "full", "reps": 5, "seed": 1, "variants": ["none@ssd", "kztmem@ssd", "zswap@ssd"],
            "workloads": {"w": {"memory": "256M", "description": "w", "commands": ["memhog"],
                                "disks": []}},
            "baselines": {"plain": "none"}, "disk_profiles": {}, "configs": {},
            "image": "/bz", "base": "6.1", "flavour": "default", "accel_requested": "tcg",
            "guest_cpus": 1, "machine": loop.machine(), "toolkit": "", "started": "now",
            "finished": "later", "interrupted": None, "planned_runs": 15, "accels": ["tcg"],
            "headline": {"metric": "seconds", "label": "guest time", "clock": "icount"}}
    _, hpath = report.write(tmp_path, {"meta": meta, "plan": [], "runs": runs})
    rep = json.loads((tmp_path / "report.json").read_text())
    by = {c["variant"]: c["ratios"]["plain"]["seconds"] for c in rep["cells"]}
    assert by["kztmem@ssd"]["median"] == pytest.approx(0.8)
    assert by["kztmem@ssd"]["verdict"] == "inconclusive"
    assert by["zswap@ssd"]["median"] == pytest.approx(0.97)
    assert by["zswap@ssd"]["verdict"] == "win"
    html = hpath.read_text()
    assert re.search(r'<span class="inconclusive"[^>]*>0\.80×', html)
    assert re.search(r'<span class="win"[^>]*>0\.97×', html)
    assert 'class="better"' not in html and 'class="same"' not in html
    rows = report.summary_rows({"meta": meta, "plan": [], "runs": runs})
    assert any("0.80x" in x and x.endswith("inconclusive") for r in rows for x in r)
    assert "\033[32;1mwin" in loop.colour_verdicts("0.97x [0.96-0.98] win")


def test_kernel_benches_the_given_image(fake_layout: Layout, tmp_path: Path) -> None:
    image = tmp_path / "old-bzImage"
    image.write_bytes(b"an older kernel")
    seen: list[Path | None] = []

    def runner(req: workrun.RunRequest) -> workrun.RunResult:
        seen.append(req.kernel)
        return Synthetic()(req)
    data = spec(reps=1, workloads=("w1",))
    state = loop.run_bench(fake_layout, BenchRequest(seed=1, kernel=image), runner=runner,
                           data=data)
    assert seen == [image.resolve()] * 3
    prov = state.meta["provenance"]
    assert prov["image"] == str(image.resolve())
    import hashlib
    assert prov["image_sha256"] == hashlib.sha256(b"an older kernel").hexdigest()
    with pytest.raises(KztError, match="--kernel .*no such file"):
        loop.run_bench(fake_layout, BenchRequest(seed=1, kernel=tmp_path / "nope"),
                       runner=runner, data=data)
