"""`kzt stats` on a recorded snapshot: the derived figures, the table, the
JSON and the --watch loop (the guest side is in vm-tests/test_frontswap.py)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kzt import stats
from kzt.errors import KztError
from kzt.guest import counters

DATA = json.loads((Path(__file__).parent / "data" / "snapshot-up.json").read_text())
BEFORE: dict[str, Any] = DATA["before"]
DURING: dict[str, Any] = DATA["during"]


def k(name: str) -> int:
    return int(DURING["kztmem"][name])


def value(text: str, label: str) -> str:
    """The value column of the table row ``label``."""
    return next(ln for ln in text.splitlines() if ln.startswith(label + " ")).split()[-1]


def test_compression_ratio_and_pool_share() -> None:
    d = stats.derive(DURING)
    assert d["kztmem.pers_ratio"] == pytest.approx(
        k("curr_pers_pampd_count") * 4096 / k("pers_pool_bytes"))
    assert k("zbud_curr_raw_pages") > 0
    assert d["kztmem.pool_share_of_ram"] == pytest.approx(
        (k("pers_pool_bytes") + k("zbud_curr_raw_pages") * 4096)
        / (DURING["meminfo_kib"]["MemTotal"] * 1024))


@pytest.mark.parametrize("half,puts,failed,poor,limit", [
    ("kztmem.reject_rate", "pers_puts", "failed_pers_puts", "compress_poor", "pool_limit_hit"),
    ("kztmem.eph_reject_rate", "eph_puts", "failed_eph_puts", "eph_compress_poor",
     "eph_pool_limit_hit"),
])
def test_reject_reasons_of_each_half_add_up(half: str, puts: str, failed: str, poor: str,
                                            limit: str) -> None:
    d = stats.derive(DURING)
    tries = k(puts) + k(failed)
    assert d[half] == pytest.approx(k(failed) / tries)
    assert d[f"{half}.compress_poor"] == pytest.approx(k(poor) / tries)
    reasons = sum(d[f"{half}.{r}"] for r in ("compress_poor", "pool_limit", "failed_alloc",
                                              "cgroup_limit") if d.get(f"{half}.{r}") is not None)
    assert reasons == pytest.approx(d[half])


def test_cgroup_limit_is_a_reason_of_the_swap_half() -> None:
    snap = {**DURING, "kztmem": {**DURING["kztmem"], "cgroup_limit_hit": "1000",
                                 "failed_pers_puts": str(k("failed_pers_puts") + 1000)}}
    d = stats.derive(snap)
    tries = k("pers_puts") + k("failed_pers_puts") + 1000
    assert d["kztmem.reject_rate.cgroup_limit"] == pytest.approx(1000 / tries)
    # not taken for an allocation failure
    assert d["kztmem.reject_rate.failed_alloc"] == stats.derive(DURING)["kztmem.reject_rate.failed_alloc"] == 0
    reasons = sum(d[f"kztmem.reject_rate.{r}"] for r in ("compress_poor", "pool_limit",
                                                          "failed_alloc", "cgroup_limit"))
    assert reasons == pytest.approx(d["kztmem.reject_rate"])



def test_cgroup_limit_is_a_reason_of_the_cleancache_half() -> None:
    snap = {**DURING, "kztmem": {**DURING["kztmem"], "eph_cgroup_limit_hit": "500",
                                 "failed_eph_puts": str(k("failed_eph_puts") + 500)}}
    d = stats.derive(snap)
    tries = k("eph_puts") + k("failed_eph_puts") + 500
    assert d["kztmem.eph_reject_rate.cgroup_limit"] == pytest.approx(500 / tries)
    assert d["kztmem.eph_reject_rate.failed_alloc"] * tries == pytest.approx(k("failed_alloc"))
    reasons = sum(d[f"kztmem.eph_reject_rate.{r}"] for r in ("compress_poor", "pool_limit",
                                                              "failed_alloc", "cgroup_limit"))
    assert reasons == pytest.approx(d["kztmem.eph_reject_rate"])


def test_memcg_full_is_a_cgroup_reason_of_the_cleancache_half() -> None:
    """Clean pages declined near their cgroup's memory.max count with those
    declined at its memory.zswap.max, not as failed allocations."""
    snap = {**DURING, "kztmem": {**DURING["kztmem"], "eph_cgroup_limit_hit": "100",
                                 "eph_memcg_full_hit": "300",
                                 "failed_eph_puts": str(k("failed_eph_puts") + 400)}}
    d = stats.derive(snap)
    tries = k("eph_puts") + k("failed_eph_puts") + 400
    assert d["kztmem.eph_reject_rate.cgroup_limit"] == pytest.approx(400 / tries)
    assert d["kztmem.eph_reject_rate.failed_alloc"] * tries == pytest.approx(k("failed_alloc"))


def test_failed_alloc_is_split_between_the_halves() -> None:
    # the driver's failed_alloc counts both halves: it is not the swap
    # half's reason (this snapshot: 17466 allocation failures, all of them
    # ephemeral, and none of the swap half's 33183 declines)
    d = stats.derive(DURING)
    assert k("failed_alloc") > 0
    assert d["kztmem.reject_rate.failed_alloc"] == 0
    assert d["kztmem.eph_reject_rate.failed_alloc"] * (k("eph_puts") + k("failed_eph_puts")) \
        == pytest.approx(k("failed_alloc"))


def test_hit_rates() -> None:
    d = stats.derive(DURING)
    assert d["kztmem.eph_hit_rate"] == pytest.approx(
        k("eph_gets") / (k("eph_gets") + k("eph_get_misses")))
    cc = {n: int(v) for n, v in DURING["cleancache"].items()}
    assert d["cleancache.hit_rate"] == pytest.approx(
        cc["succ_gets"] / (cc["succ_gets"] + cc["failed_gets"]))


def test_figures_without_their_counters_are_left_out() -> None:
    d = stats.derive({"kztmem": {}, "zram": {}, "meminfo_kib": {"MemTotal": 1024}})
    assert d == {}


def test_table_has_every_counter_and_deltas() -> None:
    text = stats.render(DURING, BEFORE)
    for name, v in DURING["kztmem"].items():
        if " " not in str(v).strip():
            assert f"kztmem/{name} " in text
    pswpout = DURING["vmstat"]["pswpout"] - BEFORE["vmstat"]["pswpout"]
    assert value(text, "vmstat/pswpout (delta)") == str(pswpout)
    assert "derived/kztmem.eph_hit_rate" in text
    # histograms go below the table, on one line each
    assert any(ln.startswith("kztmem/zbud_unbuddied_list_counts: ") for ln in text.splitlines())


def test_json_output(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(counters, "snapshot", lambda: DURING)
    assert stats.run_cli(True, None) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["counters"]["kztmem"] == DURING["kztmem"]
    assert out["derived"] == pytest.approx(stats.derive(DURING))


def test_watch_shows_deltas_until_interrupted(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    snaps = iter([BEFORE, BEFORE, DURING])
    monkeypatch.setattr(counters, "snapshot", lambda: next(snaps))
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        if len(sleeps) == 2:
            raise KeyboardInterrupt
    monkeypatch.setattr(stats.time, "sleep", sleep)
    assert stats.run_cli(False, 1.5) == 0
    frames = capsys.readouterr().out.split("(deltas since start)")
    assert len(frames) == 3 and sleeps == [1.5, 1.5]
    # the first frame moved nothing, the second shows what the workload did
    assert value(frames[1], "vmstat/pswpout (delta)") == "0"
    moved = DURING["vmstat"]["pswpout"] - BEFORE["vmstat"]["pswpout"]
    assert value(frames[2], "vmstat/pswpout (delta)") == str(moved) != "0"


def test_cheap_rejects_are_a_share_of_the_swap_stores() -> None:
    # a driver without the counter (the recorded snapshot): no figure
    assert "kztmem.reject_rate.compress_poor_cheap" not in stats.derive(DURING)
    snap = json.loads(json.dumps(DURING))
    snap["kztmem"]["pers_cheap_rejects"] = str(k("compress_poor") // 2)
    d = stats.derive(snap)
    tries = k("pers_puts") + k("failed_pers_puts")
    assert d["kztmem.reject_rate.compress_poor_cheap"] == pytest.approx(
        (k("compress_poor") // 2) / tries)
    assert 0 < d["kztmem.reject_rate.compress_poor_cheap"] <= d["kztmem.reject_rate.compress_poor"]


def fake_cgroup(root: Path, current: int, zswapped: int) -> Path:
    cg = root / "kzt-limited"
    cg.mkdir()
    (cg / "cgroup.procs").write_text("")
    (cg / "memory.max").write_text("50331648\n")
    (cg / "memory.zswap.max").write_text("4194304\n")
    (cg / "memory.zswap.current").write_text(f"{current}\n")
    (cg / "memory.stat").write_text(f"anon 1000\nzswap {current}\nzswapped {zswapped}\n")
    return cg


def test_cgroup_figures_in_json_and_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(counters, "snapshot", lambda: DURING)
    monkeypatch.setattr(stats.guestlib, "CGROUP_ROOT", tmp_path)
    fake_cgroup(tmp_path, current=1 << 20, zswapped=1024)
    assert stats.run_cli(True, None, "kzt-limited") == 0
    cg = json.loads(capsys.readouterr().out)["counters"]["cgroup"]
    assert cg["memory.zswap.current"] == 1 << 20 and cg["memory.zswap.max"] == 4 << 20
    assert cg["stat.zswapped"] == 1024
    assert cg["ratio"] == pytest.approx(1024 * 4096 / (1 << 20))
    assert "cgroup" not in DURING, "the recorded snapshot was changed"
    assert stats.run_cli(False, None, str(tmp_path / "kzt-limited")) == 0
    table = capsys.readouterr().out
    assert value(table, "cgroup kzt-limited/memory.zswap.current") == str(1 << 20)
    assert value(table, "cgroup kzt-limited/stat.zswapped") == "1024"


def test_cgroup_that_is_not_one_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stats.guestlib, "CGROUP_ROOT", tmp_path)
    (tmp_path / "plain-dir").mkdir()
    for name in ("nope", "plain-dir"):
        with pytest.raises(KztError) as ei:
            stats.run_cli(False, None, name)
        assert "not a cgroup v2 directory" in str(ei.value)
    cg = tmp_path / "no-zswap"
    cg.mkdir()
    (cg / "cgroup.procs").write_text("")
    with pytest.raises(KztError) as ei:
        stats.run_cli(False, None, "no-zswap")
    assert "memory.zswap.current" in str(ei.value) and "mm: memcontrol" in str(ei.value)
