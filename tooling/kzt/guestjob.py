"""Boot a guest to run one job: what `test`, `run`, `kunit`, `soak`, `bench`
and `up` share.

A job gets a run directory (build/runs/<id>-<kind>/, the only directory
the guest may write), fresh sparse disk images named by their serials,
the workload programs built for the guest, the environment a Python in
the guest needs to import kzt from this checkout, and one boot with a
deadline; the disk images are removed afterwards, whatever happened.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from . import proc, ui, vm
from .errors import KztError
from .guest.seam import EXT4_DISK, SWAP_DISK
from .layout import Layout

#: every test disk is a sparse image this large
DISK_SIZE = 2 * 2**30
TEST_DISKS = (SWAP_DISK, EXT4_DISK)


def new_run(layout: Layout, kind: str) -> Path:
    """A fresh build/runs/<stamp>-<kind>/, also reachable as latest-<kind>."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = layout.runs / f"{stamp}-{kind}"
    d, n = base, 1
    while d.exists():
        n += 1
        d = base.with_name(f"{base.name}.{n}")
    d.mkdir(parents=True)
    latest = layout.runs / f"latest-{kind}"
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    latest.symlink_to(d.name)
    return d


def sparse_image(path: Path, size: int = DISK_SIZE) -> Path:
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def build_workloads(layout: Layout) -> Path:
    """Compile vm-tests/workloads into build/workloads; return the bin dir."""
    src = layout.vm_tests / "workloads"
    out = layout.build / "workloads"
    if not (src / "Makefile").exists():
        raise KztError(f"{src}/Makefile is missing")
    out.mkdir(parents=True, exist_ok=True)
    res = proc.run(["make", "-s", "-C", str(src), f"OUT={out}"], check=False,
                   timeout=300, what="building vm-tests/workloads")
    if res.returncode != 0:
        raise KztError("building the workload programs failed", res.output[-2000:])
    ui.step(f"workloads built in {out}")
    return out


def guest_python(layout: Layout, module: str, job: Path) -> list[str]:
    """The command that runs a kzt.guest module on a job document."""
    from .host import venv_bin
    return [venv_bin(layout, "python"), "-m", module, str(job)]


@dataclass(frozen=True)
class GuestJob:
    """One boot: what runs, on which machine, with which disks."""
    image: Path
    command: tuple[str, ...]
    run_dir: Path
    memory: str = "384M"
    cpus: int = 2
    append: tuple[str, ...] = ()
    #: serials of fresh sparse images to attach (TEST_DISKS or a part of it)
    disks: tuple[str, ...] = ()
    throttle: vm.Throttle | None = None
    #: the workload programs' directory, if the job runs them
    bins: Path | None = None
    env: tuple[tuple[str, str], ...] = ()
    accel: vm.Accel = vm.Accel.AUTO
    timeout: float = 1200
    #: name of the console log in run_dir; also tags the disk images
    tag: str = ""
    cwd: Path | None = None
    echo: bool = True
    allow_reports: frozenset[str] = field(default_factory=frozenset)
    #: QEMU -icount shift (vm.BootRequest.icount_shift); None: the wall clock
    icount_shift: int | None = None
    #: QEMU -cpu model under TCG (vm.BootRequest.qemu_cpu); None: vng's
    qemu_cpu: str | None = None
    #: QEMU's niceness (vm.BootRequest.nice)
    nice: int = 0

    @property
    def console_log(self) -> Path:
        return self.run_dir / (f"console-{self.tag}.log" if self.tag else "console.log")


def environment(layout: Layout, job: GuestJob) -> tuple[tuple[str, str], ...]:
    env = layout.python_env()
    if job.bins is not None:
        env["KZT_WORKLOADS_DIR"] = str(job.bins)
    env.update(dict(job.env))
    return tuple(env.items())


def run(layout: Layout, job: GuestJob) -> vm.BootResult:
    """Make the disks, boot, and remove the disks again."""
    suffix = f"-{job.tag}" if job.tag else ""
    disks = tuple(vm.Disk(n, sparse_image(job.run_dir / f"{n}{suffix}.img"), job.throttle)
                  for n in job.disks)
    req = vm.BootRequest(
        image=job.image, command=list(job.command), memory=job.memory, cpus=job.cpus,
        append=job.append, disks=disks, rwdirs=(job.run_dir,), accel=job.accel,
        timeout=job.timeout, console_log=job.console_log, cwd=job.cwd,
        env=environment(layout, job), allow_reports=job.allow_reports, echo=job.echo,
        icount_shift=job.icount_shift, qemu_cpu=job.qemu_cpu, nice=job.nice)
    try:
        return vm.boot(layout, req)
    finally:
        for d in disks:
            d.path.unlink(missing_ok=True)
