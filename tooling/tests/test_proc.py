"""proc.run / proc.stream with real (tiny) processes: deadlines really kill."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Iterator

import pytest

from kzt import proc
from kzt.errors import InfraError


def alive(pid: int) -> bool:
    """True while pid exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pids: list[int], within: float = 3.0) -> list[int]:
    end = time.monotonic() + within
    while time.monotonic() < end:
        left = [p for p in pids if alive(p)]
        if not left:
            return []
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


@pytest.fixture
def started() -> Iterator[list[int]]:
    """PIDs a test started; any still alive at the end are killed (by pid)."""
    pids: list[int] = []
    yield pids
    for p in pids:
        if alive(p):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass


def pids_from(lines: list[str]) -> list[int]:
    return [int(ln.split("=", 1)[1]) for ln in lines if ln.startswith("pid=")]


def test_stream_kills_the_process_tree_at_the_deadline(started: list[int]) -> None:
    seen: list[str] = []
    t0 = time.monotonic()
    res = proc.stream(["bash", "-c", "sleep 30 & echo pid=$!; echo pid=$$; sleep 30"],
                      timeout=1, on_line=seen.append)
    took = time.monotonic() - t0
    pids = pids_from(seen)
    started.extend(pids)
    assert len(pids) == 2
    assert res.timed_out is True
    assert took < 8, took
    assert res.returncode != 0
    assert wait_gone(pids) == []


def test_stream_plain_sleep_pair_returns_quickly() -> None:
    t0 = time.monotonic()
    res = proc.stream(["bash", "-c", "sleep 30 & sleep 30"], timeout=1)
    assert res.timed_out is True
    assert time.monotonic() - t0 < 8


def test_stream_output_lines_log_and_exit_code(tmp_path: Path) -> None:
    seen: list[str] = []
    log = tmp_path / "out.log"
    res = proc.stream(["bash", "-c", "echo one; echo two >&2; printf 'three\\r\\nno-newline'; exit 7"],
                      timeout=20, on_line=seen.append, log=log)
    assert seen == ["one", "two", "three", "no-newline"]
    assert res.output == "one\ntwo\nthree\nno-newline\n"
    assert res.returncode == 7
    assert log.read_text() == "one\ntwo\nthree\nno-newline\n"


def test_stream_never_calls_a_finished_command_timed_out() -> None:
    # The output pipe reaches EOF a moment before the exit status is
    # available; a command that ended on its own is not a timeout (vm.py
    # would report the guest as TIMEOUT, build.py the build as too slow).
    results = [proc.stream(["true"], timeout=30) for _ in range(50)]
    assert [r.returncode for r in results] == [0] * 50
    assert sum(r.timed_out for r in results) == 0


def test_stream_waits_for_a_command_that_closed_its_output() -> None:
    # The same race made deterministic: output closed 0.3 s before exit,
    # far from the 20 s deadline.
    res = proc.stream(["bash", "-c", "echo done; exec >&- 2>&-; sleep 0.3; exit 5"],
                      timeout=20)
    assert res.output == "done\n"
    assert res.timed_out is False
    assert res.returncode == 5


def test_stream_separates_stderr_when_asked(tmp_path: Path) -> None:
    out: list[str] = []
    err: list[str] = []
    log = tmp_path / "log"
    res = proc.stream(["bash", "-c", "echo o1; echo e1 >&2; sleep 0.2; echo o2; exit 0"],
                      timeout=20, on_line=out.append, on_err=err.append, log=log)
    assert out == ["o1", "o2"]
    assert err == ["e1"]
    assert sorted(res.output.splitlines()) == ["e1", "o1", "o2"]
    assert res.output.splitlines()[-1] == "o2"
    assert sorted(log.read_text().splitlines()) == ["e1", "o1", "o2"]
    assert res.timed_out is False


def test_stream_passes_env_and_cwd(tmp_path: Path) -> None:
    res = proc.stream(["bash", "-c", "echo $KZT_T; pwd"], timeout=20,
                      env={"KZT_T": "hello"}, cwd=tmp_path)
    assert res.output.splitlines() == ["hello", str(tmp_path)]


def test_stream_missing_command() -> None:
    with pytest.raises(InfraError) as ei:
        proc.stream(["kzt-no-such-command-xyz"], timeout=5)
    assert "command not found" in str(ei.value)


def test_stream_returns_when_the_command_exits_and_leaves_no_child(started: list[int]) -> None:
    # The command exits at once but leaves a child that keeps the output
    # pipe open.  The deadline must not be waited out, and nothing the
    # toolkit started may survive the call.
    seen: list[str] = []
    t0 = time.monotonic()
    res = proc.stream(["bash", "-c", "sleep 30 & echo pid=$!"], timeout=6, on_line=seen.append)
    took = time.monotonic() - t0
    started.extend(pids_from(seen))
    assert res.returncode == 0
    assert wait_gone(pids_from(seen), within=0.5) == [], "the background child survived"
    assert took < 4.5, f"waited {took:.1f} s for a command that exited at once"


def test_run_captures_and_checks() -> None:
    res = proc.run(["bash", "-c", "echo out; echo err >&2"], timeout=20)
    assert res.returncode == 0 and res.output == "out\nerr\n"
    with pytest.raises(InfraError) as ei:
        proc.run(["bash", "-c", "echo went wrong; exit 3"], timeout=20, what="the step")
    assert "the step failed (exit 3)" in str(ei.value)
    assert "went wrong" in str(ei.value)
    assert proc.run(["bash", "-c", "exit 4"], check=False, timeout=20).returncode == 4


def test_run_timeout_is_infra_error() -> None:
    t0 = time.monotonic()
    with pytest.raises(InfraError) as ei:
        proc.run(["sleep", "30"], timeout=0.5, what="sleeping")
    assert "sleeping did not finish within" in str(ei.value)
    assert time.monotonic() - t0 < 5


def test_run_timeout_kills_the_process_group(tmp_path: Path, started: list[int]) -> None:
    pidfile = tmp_path / "bg.pid"
    with pytest.raises(InfraError):
        proc.run(["bash", "-c", f"sleep 30 & echo $! > {pidfile}; sleep 30"], timeout=1)
    pid = int(pidfile.read_text())
    started.append(pid)
    assert wait_gone([pid], within=1.0) == [], "a child of the timed-out command survived"


def test_run_timeout_shows_the_last_output() -> None:
    with pytest.raises(InfraError) as ei:
        proc.run(["bash", "-c", "echo progress-so-far; sleep 30"], timeout=1, what="step")
    assert "progress-so-far" in str(ei.value)


def test_run_missing_command() -> None:
    with pytest.raises(InfraError) as ei:
        proc.run(["kzt-no-such-command-xyz"])
    assert "kzt-no-such-command-xyz: command not found" in str(ei.value)


def test_which(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = tmp_path / "kzt-tool"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    (tmp_path / "kzt-plain").write_text("")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert proc.which("kzt-tool") == str(exe)
    assert proc.which("kzt-plain") is None
    assert proc.which("kzt-none") is None
