"""The guest side of `kzt run`/`kzt bench` (kzt.guest.work) that needs no
guest: workload definitions, programs run together, their summaries."""
from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import pytest

from kzt.guest import work as guestwork

REPO = Path(__file__).resolve().parents[2]
WORKLOADS = REPO / "vm-tests" / "workloads"
KNOWN_DISKS = {"kzt-swap", "kzt-ext4"}


@pytest.mark.parametrize("path", sorted(WORKLOADS.glob("*.json")), ids=lambda p: p.stem)
def test_workload_definition_is_runnable(path: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    spec = json.loads(path.read_text())
    assert spec["name"] == path.stem
    assert spec["description"] and float(spec["timeout_seconds"]) > 0
    assert re.fullmatch(r"\d+[MG]", spec["memory"])
    disks = set(spec.get("disks", []))
    assert disks <= KNOWN_DISKS
    assert ("program" in spec) != ("programs" in spec), "either one program or a list"
    # every program is one the Makefile builds, and every run prints --json
    # (or the guest's driver of real programs, which always prints its summary)
    steps = spec.get("programs") or [spec]
    for st in steps:
        if st["program"] == "kzt.guest.real":
            continue
        assert (WORKLOADS / f"{st['program']}.c").exists()
        (tmp_path / st["program"]).write_text("#!/bin/sh\n")
        (tmp_path / st["program"]).chmod(0o755)
        assert "--json" in st["args"]
    monkeypatch.setenv("KZT_WORKLOADS_DIR", str(tmp_path))
    cg = Path("/cg") if spec.get("cgroup_memory_max") else None
    argvs = guestwork.programs(spec, "/mnt/x", cg)
    for st, argv in zip(steps, argvs):
        if st["program"] == "kzt.guest.real":
            assert argv[:3] == [sys.executable, "-m", "kzt.guest.real"]
        else:
            assert Path(argv[0]).parent == tmp_path
    text = " ".join(" ".join(a) for a in argvs)
    assert "{ext4_mount}" not in text and guestwork.CGROUP_PROCS_ARG not in text
    if guestwork.CGROUP_PROCS_ARG in json.dumps(spec):
        assert spec.get("cgroup_memory_max"), "a program given the cgroup needs one"
    assert ("/mnt/x" in text) == ("kzt-ext4" in disks), "files need the ext4 disk and use it"


def _script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_programs_run_at_once_and_each_output_is_kept(tmp_path: Path) -> None:
    # each waits for the other's flag: run one after the other they would
    # both miss it and the deadline would kill them
    a = _script(tmp_path / "a", f"touch {tmp_path}/a.up\n"
                f"for i in $(seq 100); do [ -e {tmp_path}/b.up ] && break; sleep 0.05; done\n"
                f"[ -e {tmp_path}/b.up ] && echo '{{\"program\": \"a\", \"mismatches\": 0}}'\n")
    b = _script(tmp_path / "b", f"touch {tmp_path}/b.up\n"
                f"for i in $(seq 100); do [ -e {tmp_path}/a.up ] && break; sleep 0.05; done\n"
                f"[ -e {tmp_path}/a.up ] && echo '{{\"program\": \"b\", \"mismatches\": 2}}'\n")
    rc, outs = guestwork.run_programs([[a], [b]], timeout=20)
    assert rc == 0
    assert [json.loads(o)["program"] for o in outs] == ["a", "b"]


def test_first_failing_exit_status_wins(tmp_path: Path) -> None:
    ok = _script(tmp_path / "ok", "exit 0\n")
    bad = _script(tmp_path / "bad", "exit 1\n")
    worse = _script(tmp_path / "worse", "exit 2\n")
    assert guestwork.run_programs([[ok], [bad], [worse]], timeout=20)[0] == 1
    assert guestwork.run_programs([[worse], [ok]], timeout=20)[0] == 2


def test_deadline_kills_every_program(tmp_path: Path) -> None:
    quick = _script(tmp_path / "quick", "echo done\n")
    slow = _script(tmp_path / "slow", f"sleep 30; touch {tmp_path}/survived\n")
    t0 = time.monotonic()
    rc, outs = guestwork.run_programs([[quick], [slow]], timeout=1)
    assert rc == 124 and time.monotonic() - t0 < 10
    assert outs[0] == "done\n"
    time.sleep(0.2)
    assert not (tmp_path / "survived").exists()


def test_combined_summary_adds_up_and_never_claims_unverified() -> None:
    one = {"program": "memhog", "mismatches": 0, "bad_bytes": 0, "first_bad": []}
    assert guestwork.combine([one]) is one
    # filecheck prints its places as one string, memhog as a list
    two = {"program": "filecheck", "mismatches": 3, "bad_bytes": 40,
           "first_bad": "kzt-file-0001:4096,kzt-file-0002:0"}
    three = {"program": "memhog", "mismatches": 1, "bad_bytes": 1, "first_bad": [7]}
    both = guestwork.combine([one, two, three])
    assert (both["mismatches"], both["bad_bytes"]) == (4, 41)
    assert both["first_bad"] == ["filecheck: kzt-file-0001:4096", "filecheck: kzt-file-0002:0",
                                 "memhog: 7"]
    assert both["programs"] == [one, two, three]
    # a program that printed no summary: nothing says the whole verified
    assert guestwork.combine([one, {}])["mismatches"] is None


def test_in_turn_runs_one_after_the_other(tmp_path: Path) -> None:
    first = _script(tmp_path / "first", f"sleep 0.3; touch {tmp_path}/first.done\n")
    second = _script(tmp_path / "second", f"[ -e {tmp_path}/first.done ] && echo after\n")
    rc, outs = guestwork.run_programs([[first], [second]], timeout=20, in_turn=True)
    assert (rc, outs) == (0, ["", "after\n"])
    # at once, the second finds nothing yet and fails
    (tmp_path / "first.done").unlink()
    assert guestwork.run_programs([[first], [second]], timeout=20)[0] == 1


def test_in_turn_deadline_never_starts_the_rest(tmp_path: Path) -> None:
    slow = _script(tmp_path / "slow", "sleep 30\n")
    later = _script(tmp_path / "later", f"touch {tmp_path}/started\n")
    rc, outs = guestwork.run_programs([[slow], [later]], timeout=1, in_turn=True)
    assert rc == 124 and outs == ["", ""]
    assert not (tmp_path / "started").exists()


def _log_joins(monkeypatch: pytest.MonkeyPatch, log: Path) -> None:
    """Record the pid of every process that joins a cgroup, instead of
    writing to a real cgroup.procs (the child inherits the patch at fork)."""
    def join(procs_file: str) -> None:
        with open(log, "a") as f:
            f.write(f"{os.getpid()} {procs_file}\n")
    monkeypatch.setattr(guestwork.kg, "join_cgroup", join)


def test_a_program_given_the_cgroup_is_not_put_in_it(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "joins"
    _log_joins(monkeypatch, log)
    cg = tmp_path / "cg"
    procs = str(cg / "cgroup.procs")
    own = _script(tmp_path / "own", "echo $$\n")
    driver = _script(tmp_path / "driver", "echo $$\n")
    rc, outs = guestwork.run_programs([[own], [driver, "--cgroup-procs", procs]], timeout=20,
                                      cgroup=cg)
    assert rc == 0
    # only the program that was not given the cgroup joined it
    assert log.read_text().split() == [outs[0].strip(), procs]


def test_the_cgroup_argument_needs_a_cgroup() -> None:
    spec = {"name": "w", "program": "kzt.guest.real",
            "args": ["sort", "--cgroup-procs", guestwork.CGROUP_PROCS_ARG]}
    with pytest.raises(ValueError, match="cgroup_memory_max"):
        guestwork.programs(spec, None)
    argv = guestwork.programs(spec, None, Path("/cg"))[0]
    assert argv[-1] == "/cg/cgroup.procs"


# --- kzt profile's guest half: perf record around the programs --------------

FAKE_PERF = r'''
case "$1" in
record)
    echo "$@" > "$KZT_FAKE_PERF_ARGS"
    out=""
    while [ $# -gt 0 ]; do [ "$1" = "-o" ] && out="$2"; shift; done
    # like perf: write the data when SIGINT comes, then die of that signal
    trap 'echo data > "$out"; trap - INT; kill -INT $$' INT
    echo recording
    while :; do sleep 0.05; done ;;
report)
    case "$*" in
    *--no-children*) printf '# header\n    40.00%%  [k] lzo1x_1_do_compress_safe\n     2.50%%  [.] main\n' ;;
    *) printf '# header\n    90.00%%     0.00%%  [k] kzt_frontswap_store\n' ;;
    esac ;;
esac
'''


def test_the_profiler_records_until_stopped_then_tabulates(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    _script(bindir / "perf", FAKE_PERF)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    monkeypatch.setenv("KZT_FAKE_PERF_ARGS", str(tmp_path / "args"))
    out = tmp_path / "run"
    out.mkdir()
    prof = guestwork.Profiler(499, out)
    assert (tmp_path / "args").read_text().split() == [
        "record", "-a", "-g", "-F", "499", "-o", str(out / "perf.data")]
    assert prof.proc.poll() is None and not (out / "perf.data").exists()
    # a SIGINT that perf re-raises after writing its data is a clean end
    assert prof.stop() == 0
    assert (out / "perf.data").read_text() == "data\n"
    assert "recording" in (out / "perf-record.log").read_text()
    assert prof.report() == ["perf.data", "perf-record.log", "perf-self.txt",
                             "perf-children.txt"]
    from kzt.profile import rows
    own = rows((out / "perf-self.txt").read_text())
    assert [(r.percent, r.kernel, r.symbol) for r in own] == [
        (40.0, True, "lzo1x_1_do_compress_safe"), (2.5, False, "main")]
    assert [r.symbol for r in rows((out / "perf-children.txt").read_text())] == [
        "kzt_frontswap_store"]


def test_a_profiler_that_cannot_start_says_why(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    _script(bindir / "perf", "echo 'perf_event_open: no such device' >&2; exit 255\n")
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    with pytest.raises(guestwork.kg.GuestEnvError, match="status 255: perf_event_open"):
        guestwork.Profiler(997, tmp_path)


def test_a_work_job_carries_its_sampling_rate() -> None:
    from kzt.guest.seam import SchemaError, WorkJob
    spec = json.loads((WORKLOADS / "memhog-text-480.json").read_text())
    config = {"name": "none", "requires": [], "setup": []}
    plain = WorkJob(spec, config, "/r/result.json")
    assert "profile_hz" not in plain.to_json()
    assert WorkJob.from_json(plain.to_json(), "job").profile_hz == 0
    doc = WorkJob(spec, config, "/r/result.json", 997).to_json()
    assert WorkJob.from_json(doc, "job").profile_hz == 997
    with pytest.raises(SchemaError, match="negative"):
        WorkJob.from_json({**doc, "profile_hz": -1}, "job")
