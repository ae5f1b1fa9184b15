"""Subprocesses with argument lists, deadlines and streamed output.

Nothing the toolkit starts may run forever: every call has a deadline, and
when it passes the whole process group is killed.
"""
from __future__ import annotations

import os
import selectors
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Callable, Iterator, Mapping, Sequence, TextIO

from .datafiles import install_hint, package_of
from .errors import DiskFullError, InfraError

# how tools say ENOSPC (strerror; git's own words for a failed object write)
NO_SPACE = ("No space left on device", "Out of diskspace")


@dataclass
class Completed:
    argv: list[str]
    returncode: int
    output: str
    elapsed: float
    timed_out: bool = False


def which(name: str) -> str | None:
    for d in os.environ.get("PATH", "").split(os.pathsep):
        p = Path(d) / name
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    return None


def run(argv: Sequence[str], *, cwd: Path | None = None,
        env: Mapping[str, str] | None = None, timeout: float = 600,
        check: bool = True, what: str | None = None) -> Completed:
    """Run a command to completion and capture stdout+stderr.

    On timeout the whole process group is killed (tar's xz, make's gcc)
    and InfraError carries the last output.
    """
    res = stream(argv, cwd=cwd, env=env, timeout=timeout)
    if res.timed_out:
        raise InfraError(f"{what or argv[0]} did not finish within {timeout:.0f} s",
                         f"last output:\n{res.output[-2000:]}")
    if check and res.returncode != 0 and out_of_space(res):
        raise DiskFullError(cwd or Path.cwd(), what or " ".join(argv[:3]))
    if check and res.returncode != 0:
        raise InfraError(f"{what or ' '.join(argv[:3])} failed (exit {res.returncode})",
                         res.output.strip()[-3000:] or None)
    return res


def out_of_space(res: Completed) -> bool:
    """Did the command fail because a file system filled up (ENOSPC)?"""
    return res.returncode != 0 and any(s in res.output for s in NO_SPACE)


@dataclass
class HeldSignals:
    """SIGINT and SIGTERM held back while a child is being started.

    A signal that arrives inside subprocess.Popen() raises there
    (KeyboardInterrupt, or SystemExit after cli.terminate_like_interrupt())
    once the child may already run but before its Popen object exists, so
    nobody could kill its process group: a kzt killed at that moment left
    QEMU, make or a workload running.  While held, the handlers only record
    the signal; release() puts them back and delivers what was recorded,
    where the caller can clean up.  Handlers can only be changed in the main
    thread; elsewhere nothing is held.
    """
    saved: dict[int, object] = field(default_factory=dict)
    pending: list[int] = field(default_factory=list)

    def hold(self) -> "HeldSignals":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous = signal.getsignal(sig)
                if previous is not None:        # None: not installed from Python
                    self.saved[sig] = previous
                    signal.signal(sig, self._record)
        return self

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.pending.append(signum)

    def release(self) -> None:
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        self.saved = {}
        pending, self.pending = self.pending, []
        for sig in pending:
            signal.raise_signal(sig)


def stream(argv: Sequence[str], *, cwd: Path | None = None,
           env: Mapping[str, str] | None = None, timeout: float,
           on_line: Callable[[str], None] | None = None,
           on_err: Callable[[str], None] | None = None,
           log: Path | None = None) -> Completed:
    """Run a command, passing each output line to a callback as it arrives.

    stdout lines go to on_line; stderr lines to on_err when it is given
    (otherwise stderr is merged into stdout).  Both are kept in the result
    and the log in arrival order.  The deadline covers the whole run; when
    it passes the process group gets SIGTERM, then SIGKILL, and the result
    says timed_out.
    """
    start = time.monotonic()
    lines: list[str] = []
    logf = open(log, "w", encoding="utf-8") if log else None
    try:
        held = HeldSignals().hold()
        try:
            p = subprocess.Popen(list(argv), cwd=cwd, env=_env(env),
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE if on_err else subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL,
                                 start_new_session=True)
        except FileNotFoundError as e:
            held.release()
            if cwd is not None and not Path(cwd).is_dir():
                raise InfraError(f"cannot run {argv[0]} in {cwd}: no such directory") from e
            raise _missing_program(argv[0]) from e
        except PermissionError as e:
            held.release()
            raise InfraError(f"{argv[0]}: cannot run it ({e.strerror})") from e
        except BaseException:
            held.release()
            raise
        timed_out = False
        try:
            held.release()      # a signal that came meanwhile is raised here
            _pump(p, start + timeout, lines, logf, on_line, on_err)
        except BaseException:
            # Ctrl-C or a callback's error: never leave QEMU or make behind
            kill_group(p)
            raise
        if p.poll() is None:
            # output closed or deadline passed: give the process a moment
            try:
                p.wait(timeout=max(0.0, min(10.0, start + timeout - time.monotonic())))
            except subprocess.TimeoutExpired:
                pass
        if p.poll() is None:
            timed_out = True
            kill_group(p)
        rc = p.wait()
        # whatever the command left behind in its group goes too
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    finally:
        if logf:
            logf.close()
    return Completed(list(argv), rc, "".join(f"{ln}\n" for ln in lines),
                     time.monotonic() - start, timed_out)


def _pump(p: "subprocess.Popen[bytes]", deadline: float, lines: list[str],
          logf: "TextIO | None", on_line: Callable[[str], None] | None,
          on_err: Callable[[str], None] | None) -> None:
    for is_err, line in _lines(p, deadline):
        lines.append(line)
        if logf is not None:
            logf.write(line + "\n")
            logf.flush()
        cb = on_err if is_err else on_line
        if cb:
            cb(line)


def kill_group(p: "subprocess.Popen[bytes]") -> None:
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            return
        try:
            p.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _lines(p: "subprocess.Popen[bytes]", deadline: float) -> Iterator[tuple[bool, str]]:
    """(is_stderr, line) pairs until both pipes close or the deadline."""
    sel = selectors.DefaultSelector()
    bufs: dict[int, bytes] = {}
    for f, is_err in ((p.stdout, False), (p.stderr, True)):
        if f is not None:
            sel.register(f, selectors.EVENT_READ, is_err)
            bufs[f.fileno()] = b""
    quiet_since: float | None = None
    while sel.get_map():
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready = sel.select(timeout=min(left, 0.5))
        if not ready:
            # the command ended but something it started keeps the pipe open
            if p.poll() is not None:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 2.0:
                    break
            continue
        quiet_since = None
        for key, _ in ready:
            fd = key.fileobj.fileno()  # type: ignore[union-attr]
            chunk = os.read(fd, 65536)
            if not chunk:
                sel.unregister(key.fileobj)
                if bufs[fd]:
                    yield key.data, bufs[fd].decode("utf-8", "replace").rstrip("\r")
                    bufs[fd] = b""
                continue
            bufs[fd] += chunk
            while b"\n" in bufs[fd]:
                raw, bufs[fd] = bufs[fd].split(b"\n", 1)
                yield key.data, raw.decode("utf-8", "replace").rstrip("\r")
    sel.close()


def _missing_program(name: str) -> InfraError:
    package = package_of(Path(name).name)
    return InfraError(f"{name}: command not found",
                      install_hint([package]) if package
                      else "run './kzt setup' to install what is missing")


def _env(extra: Mapping[str, str] | None) -> dict[str, str] | None:
    if extra is None:
        return None
    env = dict(os.environ)
    env.update(extra)
    return env
