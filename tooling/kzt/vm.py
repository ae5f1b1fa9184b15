"""`kzt boot`: run a built kernel under QEMU through virtme-ng.

Every boot has a hard deadline.  KVM is used only after a short probe boot
proved that it works (on nested hosts /dev/kvm can exist while QEMU aborts
or hangs); otherwise TCG.  The console is kept in a log and scanned: a
kernel report fails the run even if the guest command succeeded.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import tempfile
import time
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

from . import console, proc, ui
from .errors import GuestError, KztError
from .layout import Layout

PROBE_TIMEOUT = 30.0
PROBE_CACHE_SECONDS = 6 * 3600
_STATUS_MARK = "KZT-GUEST-EXIT="


class Accel(Enum):
    AUTO = "auto"
    KVM = "kvm"
    TCG = "tcg"


class BootStatus(Enum):
    OK = "ok"                  # command ran, exit 0, no kernel report
    COMMAND_FAILED = "command-failed"
    KERNEL_REPORT = "kernel-report"
    TIMEOUT = "timeout"
    NO_BOOT = "no-boot"        # QEMU/vng ended before the command ran


@dataclass(frozen=True)
class Throttle:
    """QEMU block throttling, so that a disk behaves like a real HDD/SSD
    instead of the host's page cache."""
    iops: int
    bps: int


@dataclass(frozen=True)
class Disk:
    name: str   # the guest sees /dev/vdX with /sys/block/vdX/serial == name
    path: Path
    throttle: Throttle | None = None

    @classmethod
    def parse(cls, spec: str) -> "Disk":
        name, sep, path = spec.partition("=")
        if not sep:
            path, name = spec, Path(spec).stem
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,20}", name):
            raise KztError(f"bad disk name '{name}'",
                           "use NAME=FILE with NAME of letters, digits, - _ . (20 at most: it is the virtio serial)")
        p = Path(path)
        if not p.is_file():
            raise KztError(f"disk image {p} does not exist", "create it, e.g. truncate -s 1G FILE")
        return cls(name, p.resolve())


@dataclass(frozen=True)
class BootRequest:
    image: Path
    #: An argument list (the toolkit's own commands, quoted for the guest's
    #: shell), a shell command line (the user's `--exec`, which reaches the
    #: guest's shell as given), or None: an interactive shell (`kzt shell`).
    command: list[str] | str | None = field(default_factory=lambda: ["uname", "-r"])
    memory: str = "512M"
    cpus: int = 2
    append: tuple[str, ...] = ()
    disks: tuple[Disk, ...] = ()
    rwdirs: tuple[Path, ...] = ()
    accel: Accel = Accel.AUTO
    timeout: float = 600
    console_log: Path | None = None
    cwd: Path | None = None
    env: tuple[tuple[str, str], ...] = ()
    allow_reports: frozenset[str] = frozenset()
    echo: bool = True
    #: extra QEMU arguments, one QEMU word each (`--qemu-opt`)
    qemu_opts: tuple[str, ...] = ()
    #: QEMU -icount shift: the guest's clock counts instructions (2**shift
    #: ns each) while a vCPU runs, and real time while it idles; TCG only
    icount_shift: int | None = None
    #: QEMU -cpu model under TCG (Clock.qemu_cpu); None: vng's ("max")
    qemu_cpu: str | None = None
    #: run QEMU at this niceness (`nice -n`; below 0 needs root or
    #: RLIMIT_NICE, else nice(1) warns and runs it unchanged); 0: as kzt
    nice: int = 0


@dataclass(frozen=True)
class Clock:
    """How the guest's clock runs, i.e. what a guest-measured time means.

    "wall": the guest's clock follows the host's; times swing with the
    host's load.  "icount": QEMU -icount shift=0,sleep=on: while the vCPU
    runs, guest time advances 1 ns per instruction executed (a 1 GIPS CPU),
    whatever the host's load; while it idles (e.g. waiting for a disk) it
    advances with the host's clock.  TCG and 1 vCPU only.

    `qemu_cpu` is the -cpu model under TCG; None leaves vng's, "max".
    Under -icount each iteration of a `rep` string instruction counts as
    one instruction, so with ERMS (which "max" offers) the kernel's
    memset, clear_page and copies run `rep stosb`/`movsb` and cost 1 ns a
    byte: lzo's 16 KiB dictionary reset took 16.4 us a compression, three
    times the compression itself.  Without ERMS and FSRM they run `rep
    stosq`/`movsq`, 8 bytes an iteration (README, "The model's string
    instructions").
    """
    name: str
    cpus: int
    icount_shift: int | None
    qemu_cpu: str | None = None

    @property
    def description(self) -> str:
        if self.icount_shift is None:
            return f"wall clock, {self.cpus} vCPUs"
        return (f"QEMU -icount shift={self.icount_shift},sleep=on, {self.cpus} vCPU, TCG, "
                f"-cpu {self.qemu_cpu or 'max'}: busy "
                f"time counts instructions ({2 ** self.icount_shift} ns each), idle time "
                "(waiting for the disks, which are not throttled) runs on the host's clock")


#: the bench's guest CPU: QEMU's "max" without the string-instruction
#: features that make the kernel copy and clear a byte per instruction
BENCH_CPU = "max,erms=off,fsrm=off"

CLOCKS = {"wall": Clock("wall", 2, None),
          "icount": Clock("icount", 1, 0, BENCH_CPU),
          # the model of the benches before 29c2f97: vng's -cpu max, ERMS on
          "icount-erms": Clock("icount-erms", 1, 0, None)}


def clock(name: str) -> Clock:
    try:
        return CLOCKS[name]
    except KeyError:
        raise KztError(f"unknown clock '{name}'; choose one of: {', '.join(CLOCKS)}") from None


def check_icount(req: BootRequest, accel: Accel) -> None:
    """-icount runs under TCG only, and with one vCPU: with two, this
    host's QEMU (7.2) hangs at "Booting SMP configuration"."""
    if req.icount_shift is None:
        return
    if accel is not Accel.TCG:
        raise KztError("an instruction-counted clock (-icount) needs TCG, not KVM",
                       "use --accel tcg (or auto), or the wall clock (--clock wall)")
    if req.cpus != 1:
        raise KztError(f"an instruction-counted clock (-icount) needs 1 vCPU, not {req.cpus}",
                       "QEMU's single-threaded TCG hangs bringing up a second vCPU under -icount; "
                       "boot with --cpus 1")
    if not 0 <= req.icount_shift <= 10:
        raise KztError(f"icount shift {req.icount_shift} is out of range", "use 0..10")


@dataclass
class BootResult:
    status: BootStatus
    exit_code: int | None
    accel: Accel
    elapsed: float
    console_log: Path | None
    output: str
    reports: list[console.Report] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status is BootStatus.OK


def guest_script(command: list[str] | str, env: tuple[tuple[str, str], ...] = ()) -> str:
    """The shell text the guest runs: the command, then its exit status.

    The guest prints its command's status last, so that it can be told
    apart from vng's own exit status (and from a guest that never ran it).
    A shell command line runs in a subshell of its own lines, so that
    `exit 7`, `a; b`, pipes and redirections mean what they mean in a
    shell and the status line still follows.
    """
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env)
    if isinstance(command, str):
        return f"(\n{exports}{command}\n); echo {_STATUS_MARK}$?"
    inner = shlex.join(command)
    if env:
        inner = shlex.join(["env", *(f"{k}={v}" for k, v in env)]) + " " + inner
    return f"{inner}; echo {_STATUS_MARK}$?"


def vng_argv(layout: Layout, req: BootRequest, accel: Accel) -> list[str]:
    from .host import venv_bin
    interactive = req.command is None
    argv = [venv_bin(layout, "vng"), "--run", str(req.image.resolve()),
            *(() if interactive else ("--verbose",)), "--force-9p",
            "--memory", req.memory, "--cpus", str(req.cpus),
            "--append", " ".join(("printk.time=1", *req.append)) or "quiet"]
    if accel is Accel.TCG:
        argv.append("--disable-kvm")
    # vng attaches `--disk PATH` as virtio-blk with PATH as its serial, so
    # it runs in a directory of links named after the disks (see _run).
    qemu_opts: list[str] = []
    for i, d in enumerate(req.disks):
        if d.throttle is None:
            argv += ["--disk", d.name]
            continue
        qemu_opts += ["-drive", f"if=none,id=kztd{i},file={d.name},format=raw,"
                      f"throttling.iops-total={d.throttle.iops},"
                      f"throttling.bps-total={d.throttle.bps}",
                      "-device", f"virtio-blk-pci,drive=kztd{i},serial={d.name}"]
    if req.icount_shift is not None:
        check_icount(req, accel)
        qemu_opts += ["-icount", f"shift={req.icount_shift},sleep=on"]
    if req.qemu_cpu is not None and accel is Accel.TCG:
        # after vng's own -cpu, which QEMU then ignores
        qemu_opts += ["-cpu", req.qemu_cpu]
    qemu_opts += req.qemu_opts
    for r in req.rwdirs:
        argv += ["--rwdir", str(r.resolve())]
    argv += ["--cwd", str((req.cwd or Path.cwd()).resolve())]
    if req.command is not None:
        argv += ["--exec", guest_script(req.command, req.env)]
    if qemu_opts:
        # one word for vng, which pastes it into a shell command line
        # unquoted: each QEMU argument is quoted for that shell
        argv.append("--qemu-opts=" + " ".join(shlex.quote(o) for o in qemu_opts))
    if req.nice:
        argv = ["nice", "-n", str(req.nice), *argv]
    return argv


def may_renice(nice: int) -> bool:
    """May this process start children at niceness ``nice``?"""
    if nice >= os.getpriority(os.PRIO_PROCESS, 0) or os.geteuid() == 0:
        return True
    import resource
    soft, _ = resource.getrlimit(resource.RLIMIT_NICE)
    # RLIMIT_NICE holds 20 - the lowest niceness allowed
    return soft == resource.RLIM_INFINITY or 20 - soft <= nice


def _probe_cache(layout: Layout) -> tuple[bool, str] | None:
    cache = layout.build / "state" / "kvm-probe.json"
    if cache.exists():
        try:
            c = json.loads(cache.read_text())
            if time.time() - c["time"] < PROBE_CACHE_SECONDS:
                return bool(c["ok"]), str(c["detail"]) + " (cached)"
        except (ValueError, KeyError, TypeError):
            pass
    return None


def cached_probe(layout: Layout) -> bool | None:
    """The KVM probe's verdict if one is cached and fresh (no boot)."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    c = _probe_cache(layout)
    return None if c is None else c[0]


def probe_kvm(layout: Layout, image: Path, *, use_cache: bool) -> tuple[bool, str]:
    """Boot the image under KVM with a short deadline: does KVM really work?"""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False, "/dev/kvm is absent or not accessible"
    cache = layout.build / "state" / "kvm-probe.json"
    if use_cache and (c := _probe_cache(layout)) is not None:
        return c
    req = BootRequest(image=image, command=["true"], memory="256M", cpus=1,
                      timeout=PROBE_TIMEOUT, echo=False)
    res = _run(layout, req, Accel.KVM)
    ok = res.status is BootStatus.OK
    if ok:
        detail = f"a KVM guest booted in {res.elapsed:.1f} s"
    elif res.status is BootStatus.TIMEOUT:
        detail = f"a KVM guest did not finish booting within {PROBE_TIMEOUT:.0f} s (QEMU hung)"
    else:
        tail = [ln for ln in res.output.splitlines() if ln.strip()][-3:]
        detail = "QEMU failed under KVM: " + " | ".join(tail)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"time": time.time(), "ok": ok, "detail": detail}))
    return ok, detail


def resolve_accel(layout: Layout, req: BootRequest) -> Accel:
    if req.accel is Accel.TCG:
        return Accel.TCG
    if req.icount_shift is not None and req.accel is Accel.AUTO:
        return Accel.TCG    # -icount exists only under TCG: no probe
    ok, detail = probe_kvm(layout, req.image, use_cache=req.accel is Accel.AUTO)
    if ok:
        return Accel.KVM
    if req.accel is Accel.KVM:
        raise GuestError(f"KVM cannot boot a guest on this host: {detail}",
                         "use --accel tcg (or auto, which falls back to TCG)")
    ui.info(f"KVM unusable ({detail}); using TCG")
    return Accel.TCG


def boot(layout: Layout, req: BootRequest) -> BootResult:
    if not req.image.exists():
        raise KztError(f"kernel image {req.image} does not exist", "run './kzt build' first")
    accel = resolve_accel(layout, req)
    return _run(layout, req, accel)


def _run(layout: Layout, req: BootRequest, accel: Accel) -> BootResult:
    from .host import require_programs
    # vng starts QEMU through PATH; without it vng fails with a traceback
    require_programs("qemu-system-x86_64", needed_for="booting a guest with virtme-ng")
    argv = vng_argv(layout, req, accel)
    exit_code: int | None = None

    def on_line(line: str) -> None:
        nonlocal exit_code
        if line.startswith(_STATUS_MARK):
            try:
                exit_code = int(line[len(_STATUS_MARK):].strip())
            except ValueError:
                pass
            return
        if req.echo:
            print(line, flush=True)

    # vng starts virtme-run through PATH
    path = f"{layout.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    with tempfile.TemporaryDirectory(prefix="kzt-disks-") as diskdir:
        for d in req.disks:
            os.symlink(d.path, Path(diskdir) / d.name)
        # stdout carries the guest command's output, stderr the console
        res = proc.stream(argv, cwd=Path(diskdir), timeout=req.timeout, on_line=on_line,
                          on_err=lambda line: None, log=req.console_log,
                          env={"PATH": path})
    lines = res.output.splitlines()
    reports = console.scan(lines)
    bad = console.fatal(reports, set(req.allow_reports))
    if res.timed_out:
        status = BootStatus.TIMEOUT
    elif bad:
        status = BootStatus.KERNEL_REPORT
    elif exit_code is None:
        status = BootStatus.NO_BOOT
    elif exit_code != 0:
        status = BootStatus.COMMAND_FAILED
    else:
        status = BootStatus.OK
    return BootResult(status, exit_code, accel, res.elapsed, req.console_log,
                      res.output, reports)


@dataclass(frozen=True)
class ShellResult:
    exit_code: int
    accel: Accel
    elapsed: float
    timed_out: bool


def shell(layout: Layout, req: BootRequest, deadline: float | None = None) -> ShellResult:
    """`kzt shell`: boot with the terminal attached to the guest's shell.

    As `vng -r` gives it: no command, the console quiet, stdin/stdout the
    user's terminal.  There is no deadline unless one is asked for; past
    it QEMU (which vng becomes) is terminated, then killed.
    """
    import signal
    import subprocess
    if not req.image.exists():
        raise KztError(f"kernel image {req.image} does not exist", "run './kzt build' first")
    from .host import require_programs
    require_programs("qemu-system-x86_64", needed_for="booting a guest with virtme-ng")
    accel = resolve_accel(layout, req)
    argv = vng_argv(layout, replace(req, command=None), accel)
    env = dict(os.environ)
    env["PATH"] = f"{layout.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    start = time.monotonic()
    timed_out = False
    with tempfile.TemporaryDirectory(prefix="kzt-disks-") as diskdir:
        for d in req.disks:
            os.symlink(d.path, Path(diskdir) / d.name)
        # A signal that comes while vng starts must still stop it: held
        # until the try below, whose finally kills what was started.
        held = proc.HeldSignals().hold()
        try:
            p = subprocess.Popen(argv, cwd=diskdir, env=env)
        except BaseException:
            held.release()
            raise
        old: Any = None
        try:
            held.release()
            # Ctrl-C belongs to the guest's shell, not to kzt
            old = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                rc = p.wait(timeout=deadline)
            except subprocess.TimeoutExpired:
                timed_out = True
                p.terminate()
                try:
                    rc = p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    rc = p.wait()
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
            if p.poll() is None:
                p.kill()
                p.wait()
    return ShellResult(rc, accel, time.monotonic() - start, timed_out)


def explain(res: BootResult, timeout: float) -> str:
    """A message for a failed boot, with the console lines that matter."""
    log = f" (console log: {res.console_log})" if res.console_log else ""
    if res.status is BootStatus.TIMEOUT:
        tail = "\n".join(res.output.splitlines()[-15:])
        return f"the guest did not finish within {timeout:.0f} s{log}; last console lines:\n{tail}"
    if res.status is BootStatus.KERNEL_REPORT:
        bad = console.fatal(res.reports)
        first = bad[0]
        return (f"the kernel reported {len(bad)} problem(s), first a {first.kind} "
                f"at console line {first.line}{log}:\n{first.excerpt}")
    if res.status is BootStatus.NO_BOOT:
        tail = "\n".join(res.output.splitlines()[-15:])
        return f"the guest never ran its command{log}; last output:\n{tail}"
    return f"the guest command exited with status {res.exit_code}{log}"
