"""A kzt killed with SIGTERM takes the process groups it started with it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable

TOOLING = Path(__file__).resolve().parents[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigterm_kills_the_started_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = textwrap.dedent(f"""
        from kzt import cli, proc
        cli.terminate_like_interrupt()
        proc.stream(["sh", "-c", "echo $$ > {pidfile}; exec sleep 300"], timeout=600,
                    on_line=lambda line: None)
    """)
    p = subprocess.Popen([sys.executable, "-c", script], cwd=TOOLING)
    deadline = time.monotonic() + 30
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)
    child = int(pidfile.read_text())
    assert _alive(child)
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=30) == 143
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "sleep outlived the kzt that started it"


def sigterm_inside_popen(started: list[int]) -> Callable[..., Any]:
    """A subprocess.Popen that starts the child, notes its pid in
    ``started`` and then sends this process SIGTERM: as if the signal had
    come inside Popen(), once the child ran but before the caller held it."""
    real_popen = subprocess.Popen

    def popen(*args: Any, **kwargs: Any) -> Any:
        p = real_popen(*args, **kwargs)
        started.append(p.pid)
        os.kill(os.getpid(), signal.SIGTERM)
        return p
    return popen


def test_sigterm_while_the_child_starts_kills_it(monkeypatch) -> None:
    """SIGTERM that arrives inside subprocess.Popen(), after the child was
    started but before its Popen object exists, still takes the child's
    process group with it: the signal is held until stream() can clean up.
    (A heavily loaded host once let a kzt die at that moment and leave its
    child running.)"""
    from kzt import cli, proc

    started: list[int] = []
    popen_then_sigterm = sigterm_inside_popen(started)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        cli.terminate_like_interrupt()
        monkeypatch.setattr(proc.subprocess, "Popen", popen_then_sigterm)
        try:
            proc.stream(["sleep", "300"], timeout=600)
        except SystemExit as e:
            assert e.code == 128 + signal.SIGTERM
        else:
            raise AssertionError("SIGTERM was lost")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert started and not _alive(started[0]), "sleep outlived the stream() that started it"
