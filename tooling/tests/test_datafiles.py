"""Every data file through its family's schema; typos and unknown names."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

from kzt import datafiles
from kzt.datafiles import DataError, UnknownName
from kzt.guest import seam
from kzt.guest.schema import ListOf, OneOf, Record, SchemaError, Tagged, check

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "data" / "datafiles"


def family_files() -> list[tuple[str, Path]]:
    return [(family, p) for family, (glob, _) in datafiles.FAMILIES.items()
            for p in sorted(REPO.glob(glob))]


@pytest.mark.parametrize("family, path", family_files(),
                         ids=lambda x: x if isinstance(x, str) else x.name)
def test_every_data_file_passes_its_schema(family: str, path: Path) -> None:
    datafiles.FAMILIES[family][1](path)


def test_every_json_file_of_the_repository_belongs_to_a_family() -> None:
    # everything but build/ (generated), bench-results/ (recorded benches:
    # the tool's output, checked by test_bench_compare against their own
    # bench.json) and the host tests' own fixtures
    tops = [d for d in REPO.iterdir()
            if d.is_dir() and d.name not in ("build", ".git", "bench-results")]
    data = {str(p.relative_to(REPO)) for d in tops for p in d.rglob("*.json")
            if not p.is_relative_to(REPO / "tooling" / "tests")}
    covered = {str(p.relative_to(REPO)) for _, p in family_files()}
    assert data and data <= covered
    assert {f for f, _ in family_files()} == set(datafiles.FAMILIES)


@pytest.mark.parametrize("fixture, load, key", [
    ("configs-typo.json", datafiles.configs, "configs.zram.setup[0].prioirty"),
    ("workload-typo.json", lambda p: datafiles.workload(p.parent, str(p)), "timeout_secs"),
    ("bench-wrong-type.json", datafiles.bench, "disk_profiles.hdd.iops"),
])
def test_a_typo_is_an_error_naming_file_and_key(fixture: str, load: Callable[[Path], Any],
                                                key: str) -> None:
    with pytest.raises(DataError) as ei:
        load(FIXTURES / fixture)
    assert ei.value.key == key
    assert fixture in ei.value.source
    text = str(ei.value)
    assert fixture in text and key in text


def test_a_missing_key_and_bad_json_are_named(tmp_path: Path) -> None:
    f = tmp_path / "w.json"
    f.write_text(json.dumps({"name": "w", "program": "memhog", "memory": "1G",
                             "description": "d"}))
    with pytest.raises(DataError, match=r"w\.json: timeout_seconds: missing"):
        datafiles.workload(tmp_path, "w")
    f.write_text("{")
    with pytest.raises(DataError, match=r"w\.json: top level: not valid JSON"):
        datafiles.workload(tmp_path, "w")


def test_a_workload_has_one_program_or_a_list_and_known_disks(tmp_path: Path) -> None:
    base = {"name": "w", "memory": "1G", "description": "d", "timeout_seconds": 5}
    (tmp_path / "w.json").write_text(json.dumps(base))
    with pytest.raises(DataError, match="either 'program'"):
        datafiles.workload(tmp_path, "w")
    (tmp_path / "w.json").write_text(json.dumps({**base, "program": "memhog",
                                                 "disks": ["kzt-swap", "floppy"]}))
    with pytest.raises(DataError, match=r"disks\[1\]: unknown disk 'floppy'; choose one of"):
        datafiles.workload(tmp_path, "w")
    (tmp_path / "v.json").write_text(json.dumps({**base, "program": "memhog"}))
    with pytest.raises(DataError, match="'w' is not the file's name 'v'"):
        datafiles.workload(tmp_path, "v")


@pytest.mark.parametrize("lookup, what", [
    (lambda: datafiles.base("nope"), "kernel base"),
    (lambda: datafiles.flavour("nope"), "flavour"),
    (lambda: datafiles.config("nope"), "configuration"),
    (lambda: datafiles.bench().disk_profile("nope"), "disk profile"),
    (lambda: datafiles.workload(REPO / "vm-tests" / "workloads", "nope"), "workload"),
])
def test_an_unknown_name_always_gets_the_same_message(lookup: Callable[[], Any],
                                                      what: str) -> None:
    with pytest.raises(UnknownName) as ei:
        lookup()
    assert str(ei.value).startswith(f"unknown {what} 'nope'; choose one of: ")


def test_schema_kinds() -> None:
    spec = Record({"a": int, "b?": ListOf(OneOf(str, float)),
                   "t?": Tagged("kind", {"x": Record({"kind": str, "n": bool})})}, rest=None)
    check({"a": 1, "b": ["s", 2, 2.5], "t": {"kind": "x", "n": True}}, spec, "f")
    for bad, key in (({"a": True}, "a"), ({"a": 1, "b": [None]}, "b[0]"),
                     ({"a": 1, "t": {"kind": "y"}}, "t.kind"),
                     ({"a": 1, "t": {"kind": "x", "n": 1}}, "t.n"), ({}, "a")):
        with pytest.raises(SchemaError) as ei:
            check(bad, spec, "f")
        assert ei.value.key == key


# ----------------------------------------------------------- the seam

def test_jobs_round_trip_and_another_version_is_refused() -> None:
    _, wl = datafiles.workload(REPO / "vm-tests" / "workloads", "memhog-mix-quick")
    job = seam.WorkJob(wl, datafiles.config("zram").guest_spec(1500.0), "/run/result.json")
    assert seam.WorkJob.from_json(json.loads(json.dumps(job.to_json())), "j") == job
    t = seam.TestJob("/run", 2, seam.BootGroup("kztmem", "512M", 4), ("-v", "-k", "x"))
    assert seam.TestJob.from_json(t.to_json(), "j") == t
    assert t.group.key == "512M|4|kztmem"
    for doc in (job.to_json(), t.to_json()):
        with pytest.raises(SchemaError, match="version 2, this side speaks 1"):
            (seam.WorkJob if doc["kind"] == "work" else seam.TestJob).from_json(
                {**doc, "version": 2}, "j")
    with pytest.raises(SchemaError, match="a 'test' job where a 'work' job was expected"):
        seam.WorkJob.from_json(t.to_json(), "j")
    bad = job.to_json()
    bad["workload"] = {**wl, "timeout_secs": 5}
    with pytest.raises(SchemaError, match=r"workload\.timeout_secs: unknown key"):
        seam.WorkJob.from_json(bad, "j")


def test_the_guest_refuses_a_job_it_cannot_read(tmp_path: Path) -> None:
    from kzt.guest import runner, work
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"version": 0}))
    for main in (work.main, runner.main):
        with pytest.raises(SchemaError, match="version 0"):
            main([str(job)])
    test_job = seam.TestJob(str(tmp_path), 1, seam.BootGroup(), ()).to_json()
    job.write_text(json.dumps({**test_job, "group": {"append": "", "memory": "1G"}}))
    with pytest.raises(SchemaError, match=r"group\.cpus: missing"):
        runner.main([str(job)])


def test_a_result_of_another_version_is_no_result(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from kzt.workrun import _result
    out = tmp_path / "result.json"
    head = {"version": seam.VERSION, "workload": "w", "config": "none", "uname": "6.1"}
    out.write_text(json.dumps({**head, "seconds": 1.0}))
    res = _result(out)
    assert res is not None and res.doc == {**head, "seconds": 1.0}
    assert (res.workload, res.config, res.seconds, res.exit_code) == ("w", "none", 1.0, None)
    out.write_text(json.dumps({**head, "version": 9}))
    assert _result(out) is None
    assert "version 9" in capsys.readouterr().err
    out.unlink()
    assert _result(out) is None


def test_the_whole_result_is_checked() -> None:
    head = {"version": seam.VERSION, "workload": "w", "config": "zram", "uname": "6.1"}
    snap = {"vmstat": {"pswpin": 1}, "kztmem": {"pers_puts": 3}}
    full = {**head, "exit_code": 0, "seconds": 12.5, "stdout": "", "summary": {"mismatches": 0},
            "cpu": {"busy_seconds": 3.0, "jiffies": {"user": 5}, "hz": 100},
            "rusage": {"user_seconds": 1.0, "system_seconds": 0.5, "max_rss_kib": 1024},
            "samples": [{"t": 2.0, "pools": {}}], "sample_seconds": 2.0,
            "phases": {"set_up": 0.5}, "guest_uptime": 30.2,
            "before": snap, "during": snap, "after": snap}
    seam.check_work_result(full, "r")
    for key, value in (("secnods", 1.0), ("exit_code", "0"), ("cpu", {"busy_seconds": 1.0})):
        with pytest.raises(SchemaError):
            seam.check_work_result({**full, key: value}, "r")


def _configs(tmp_path: Path, table: dict[str, Any],
             paths: dict[str, str] | None = None) -> dict[str, datafiles.Config]:
    f = tmp_path / "configs.json"
    f.write_text(json.dumps({"param_paths": paths if paths is not None
                             else {"kztmem": "/sys/kernel/mm/kztmem"}, "configs": table}))
    return datafiles.configs(f)


def test_a_param_is_a_boot_argument_the_guest_reads_back(tmp_path: Path) -> None:
    got = _configs(tmp_path, {"k": {
        "description": "d", "append": ["kztmem"],
        "params": {"kztmem.max_pool_percent": "20", "kztmem.writeback": "1"},
        "requires": [{"path": "/sys/kernel/mm/kztmem", "why": "no kztmem"}]}})["k"]
    assert got.append == ("kztmem", "kztmem.max_pool_percent=20", "kztmem.writeback=1")
    assert [(r["path"], r.get("equals")) for r in got.requires] == [
        ("/sys/kernel/mm/kztmem", None),
        ("/sys/kernel/mm/kztmem/max_pool_percent", "20"),
        ("/sys/kernel/mm/kztmem/writeback", "1")]
    assert "kztmem did not take writeback=1" in got.requires[2]["why"]
    got.guest_spec()                      # what the guest gets passes its schema


def test_a_variant_takes_from_its_base_and_names_only_what_changes(tmp_path: Path) -> None:
    table = {
        "base": {"description": "b", "append": ["kztmem"], "disk": "ssd",
                 "params": {"kztmem.max_pool_percent": "20", "kztmem.writeback": "1"},
                 "requires": [{"path": "/sys/kernel/mm/kztmem", "why": "no kztmem"}],
                 "setup": [{"kind": "sysfs", "path": "/sys/x", "value": "1"}]},
        "mid": {"description": "m", "from": "base", "params": {"kztmem.writeback": "0"}},
        "leaf": {"description": "l", "from": "mid", "append": ["kztmem.cc_prepare=0"],
                 "params": {"kztmem.eph_min_percent": "0"}, "disk": "hdd",
                 "requires": [{"path": "/sys/module/kztmem/parameters/cc_prepare",
                               "equals": "N", "why": "one-step puts"}]},
    }
    got = _configs(tmp_path, table)
    mid, leaf = got["mid"], got["leaf"]
    # an overridden value keeps its place and is checked once, with the new value
    assert mid.append == ("kztmem", "kztmem.max_pool_percent=20", "kztmem.writeback=0")
    assert [r.get("equals") for r in mid.requires if r["path"].endswith("/writeback")] == ["0"]
    assert mid.setup == got["base"].setup and mid.disk == "ssd" and mid.description == "m"
    assert leaf.append == ("kztmem", "kztmem.cc_prepare=0", "kztmem.max_pool_percent=20",
                           "kztmem.writeback=0", "kztmem.eph_min_percent=0")
    assert [r["path"].rsplit("/", 1)[1] for r in leaf.requires] == [
        "kztmem", "cc_prepare", "max_pool_percent", "writeback", "eph_min_percent"]
    assert leaf.disk == "hdd"


@pytest.mark.parametrize("table, paths, key, problem", [
    ({"a": {"description": "d", "from": "b"}, "b": {"description": "d", "from": "a"}},
     None, "configs.b.from", "in a circle: a -> b -> a"),
    ({"a": {"description": "d", "from": "a"}}, None, "configs.a.from", "in a circle"),
    ({"a": {"description": "d", "from": "nowhere"}}, None, "configs.a.from",
     "no configuration 'nowhere'"),
    ({"a": {"description": "d", "params": {"zswap.zpool": "zbud"}}}, None,
     "configs.a.params.zswap.zpool", "param_paths has no directory for 'zswap'"),
    ({"a": {"description": "d", "params": {"max_pool_percent": "20"}}}, None,
     "configs.a.params.max_pool_percent", "named MODULE.NAME"),
    ({"a": {"description": "d", "params": {"kztmem.writeback": 1}}}, None,
     "configs.a.params.kztmem.writeback", "str"),
])
def test_a_broken_variant_is_an_error_naming_the_key(tmp_path: Path, table: dict[str, Any],
                                                     paths: dict[str, str] | None, key: str,
                                                     problem: str) -> None:
    with pytest.raises(DataError) as ei:
        _configs(tmp_path, table, paths)
    assert ei.value.key == key and problem in str(ei.value)
    assert "configs.json" in ei.value.source


def test_every_kztmem_and_zswap_value_of_the_shipped_configs_is_read_back() -> None:
    # pinned budgets (issue 13): no boot argument that sets a value goes
    # unchecked in the guest
    for name, c in datafiles.configs().items():
        checked = {(r["path"].rsplit("/", 1)[1], r.get("equals")) for r in c.requires}
        for arg in c.append:
            key, eq, value = arg.partition("=")
            if not eq:
                continue
            param = key.partition(".")[2]
            read = {"1": ("1", "Y"), "0": ("0", "N")}.get(value, (value,))
            assert any((param, v) in checked for v in read), f"{name}: {arg} is not read back"
