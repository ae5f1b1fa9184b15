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
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

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
    command: list[str] = field(default_factory=lambda: ["uname", "-r"])
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


def vng_argv(layout: Layout, req: BootRequest, accel: Accel) -> list[str]:
    from .host import venv_bin
    inner = shlex.join(req.command)
    if req.env:
        inner = shlex.join(["env", *(f"{k}={v}" for k, v in req.env)]) + " " + inner
    # The guest prints its command's status last, so that it can be told
    # apart from vng's own exit status (and from a guest that never ran it).
    wrapped = f"{inner}; echo {_STATUS_MARK}$?"
    argv = [venv_bin(layout, "vng"), "--run", str(req.image.resolve()), "--verbose", "--force-9p",
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
    for r in req.rwdirs:
        argv += ["--rwdir", str(r.resolve())]
    argv += ["--cwd", str((req.cwd or Path.cwd()).resolve())]
    argv += ["--exec", wrapped]
    if qemu_opts:
        # one word for vng, which pastes it into a shell command line; the
        # values hold no blanks or shell characters (names are checked)
        argv.append("--qemu-opts=" + " ".join(qemu_opts))
    return argv


def probe_kvm(layout: Layout, image: Path, *, use_cache: bool) -> tuple[bool, str]:
    """Boot the image under KVM with a short deadline: does KVM really work?"""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False, "/dev/kvm is absent or not accessible"
    cache = layout.build / "state" / "kvm-probe.json"
    if use_cache and cache.exists():
        try:
            c = json.loads(cache.read_text())
            if time.time() - c["time"] < PROBE_CACHE_SECONDS:
                return bool(c["ok"]), str(c["detail"]) + " (cached)"
        except (ValueError, KeyError):
            pass
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
