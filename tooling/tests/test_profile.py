"""`kzt profile` on the host: the request it boots, its tables, its errors
(the guest half is in test_guest_work.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kzt import cli, profile, vm, workrun
from kzt.errors import KztError
from kzt.guest import seam
from kzt.layout import Layout

HEAD = {"version": seam.VERSION, "workload": "memhog-text-480", "config": "kztmem",
        "uname": "6.1.192"}
SELF_TABLE = """# Samples: 7K of event 'cpu-clock:ppp'
#
    20.52%  [k] lzo1x_1_do_compress_safe
     8.70%  [.] kzt_fill_block
     2.53%  [k] memset
"""


class FakeRun:
    """run_workload's stand-in: records the request, writes what the guest
    would have written, returns a result with `doc`."""

    def __init__(self, tmp_path: Path, doc: dict[str, Any], table: str = SELF_TABLE) -> None:
        self.run_dir = tmp_path / "run"
        self.doc = doc
        self.table = table
        self.reqs: list[workrun.RunRequest] = []

    def __call__(self, layout: Layout, req: workrun.RunRequest) -> workrun.RunResult:
        self.reqs.append(req)
        self.run_dir.mkdir(exist_ok=True)
        (self.run_dir / "perf-self.txt").write_text(self.table)
        (self.run_dir / "perf-children.txt").write_text("")
        return workrun.RunResult({"name": req.workload}, req.with_,
                                 vm.BootResult(vm.BootStatus.OK, 0, vm.Accel.TCG, 60.0, None, ""),
                                 seam.WorkResult.from_json(self.doc, "fake"), self.run_dir)


def ok_doc(perf_rc: int = 0) -> dict[str, Any]:
    return {**HEAD, "exit_code": 0, "seconds": 7.5,
            "profile": {"hz": 997, "exit_code": perf_rc,
                        "files": ["perf.data", "perf-self.txt", "perf-children.txt"]}}


def test_profile_boots_on_the_bench_s_clock_and_prints_the_top(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeRun(tmp_path, ok_doc())
    monkeypatch.setattr(profile, "run_workload", fake)
    monkeypatch.setattr(Layout, "default", classmethod(lambda cls: Layout(tmp_path)))
    assert cli.main(["profile", "memhog-text-480", "--with", "zswap", "--top", "2",
                     "--hz", "499"]) == 0
    req = fake.reqs[0]
    bench = vm.clock("icount")
    assert (req.workload, req.with_, req.profile_hz) == ("memhog-text-480", "zswap", 499)
    assert (req.cpus, req.icount_shift, req.qemu_cpu) == (bench.cpus, 0, bench.qemu_cpu)
    out = capsys.readouterr().out
    assert " 20.52%  lzo1x_1_do_compress_safe" in out
    assert "  8.70%  (user) kzt_fill_block" in out
    assert "memset" not in out                       # --top 2
    assert "kernel functions: 23.1%" in out and str(fake.run_dir / "perf-self.txt") in out


@pytest.mark.parametrize("doc, table, words", [
    ({**HEAD, "unavailable": "kernel has no kztmem"}, SELF_TABLE,
     ["unavailable: kernel has no kztmem"]),
    ({**HEAD, "error": "the profiler could not start: perf not found in PATH"}, SELF_TABLE,
     ["profiler could not start", "linux-perf"]),
    ({**HEAD, "exit_code": 0, "seconds": 1.0}, SELF_TABLE, ["no profile"]),
    (ok_doc(perf_rc=1), SELF_TABLE, ["perf record exited with status 1", "perf-record.log"]),
    (ok_doc(), "# nothing\n", ["no samples"]),
])
def test_profile_says_what_went_wrong(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      doc: dict[str, Any], table: str,
                                      words: list[str]) -> None:
    monkeypatch.setattr(profile, "run_workload", FakeRun(tmp_path, doc, table))
    with pytest.raises(KztError) as ei:
        profile.profile(Layout(tmp_path), workrun.RunRequest("memhog-text-480", profile_hz=997))
    for w in words:
        assert w in str(ei.value)


@pytest.mark.parametrize("hz", [0, 10001])
def test_profile_refuses_a_rate_out_of_range_before_booting(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             hz: int) -> None:
    fake = FakeRun(tmp_path, ok_doc())
    monkeypatch.setattr(profile, "run_workload", fake)
    with pytest.raises(KztError, match="--hz 1..10000"):
        profile.profile(Layout(tmp_path), workrun.RunRequest("w", profile_hz=hz))
    assert fake.reqs == []


def test_the_command_line_s_default_rate_is_the_module_s() -> None:
    args = cli.parser().parse_args(["profile", "memhog-text-480"])
    assert args.hz == profile.DEFAULT_HZ and args.clock == "icount" and args.with_ == "kztmem"
