"""`kzt run`: boot, run one workload (a data file in vm-tests/workloads),
and return its result with the guest's counters.

The configuration to compare is data (data/configs.json): boot arguments
on one kernel image, requirements the guest checks before running (so a
kernel without kztmem says so instead of measuring plain swap), and
guest-side set-up steps (e.g. a zram swap device).  On the wall clock
the workload's disks are throttled to a disk profile (data/bench.json)
so that they behave like an HDD or an SSD rather than the host's page
cache.  On the instruction-counted clock they are not: QEMU's throttle
runs on the host's clock, so a throttled disk lets the host's load
decide what the guest does while it waits (see throttled()); there the
profile only prices the I/O afterwards (bench/cost.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import datafiles, guestjob, ui, vm
from .build import require_image
from .datafiles import DiskProfile
from .errors import GuestError, KztError
from .guest.schema import SchemaError
from .guest.seam import DEFAULT_MEMORY, WALL_MARKS, WorkJob, WorkResult, read
from .guest.seam import write as write_doc
from .layout import Layout


class Unavailable(KztError):
    """The guest's kernel cannot run this configuration (e.g. no kztmem)."""

    def __init__(self, result: "RunResult", why: str) -> None:
        super().__init__(f"configuration '{result.config}' unavailable: {why}",
                         "boot an image that has it (./kzt build for the default flavour)")
        self.result = result
        self.why = why


class SetupFailed(GuestError):
    """The guest could not set the configuration up (e.g. zram refused a value)."""

    def __init__(self, result: "RunResult", why: str) -> None:
        super().__init__(f"configuration '{result.config}': {why}",
                         f"console log: {result.run_dir / 'console.log'}")
        self.result = result
        self.why = why


@dataclass(frozen=True)
class RunRequest:
    workload: str
    with_: str = "kztmem"
    base: str = "6.1"
    flavour: str = "default"
    accel: vm.Accel = vm.Accel.AUTO
    timeout: float = 1200
    disk: str | None = None        # disk profile; None: the configuration's own, if any
    run_dir: Path | None = None    # None: a new build/runs/<id>-run
    echo: bool = True              # print the guest command's output
    cpus: int = 2
    #: QEMU -icount shift (the guest's clock counts instructions); None: wall clock
    icount_shift: int | None = None
    #: QEMU -cpu model under TCG (vm.Clock.qemu_cpu); None: vng's
    qemu_cpu: str | None = None
    #: boot this image instead of the build's (kzt bench --kernel)
    kernel: Path | None = None
    #: QEMU's niceness (vm.BootRequest.nice; kzt bench raises it)
    nice: int = 0
    #: kzt profile: perf samples every CPU this often (0: no profile)
    profile_hz: int = 0


@dataclass
class RunResult:
    workload: dict[str, Any]
    config: str
    boot: vm.BootResult
    #: the guest's result (kzt.guest.work), checked; None if it wrote none
    data: WorkResult | None
    run_dir: Path
    disk: DiskProfile | None = None
    image: Path | None = None
    memory: str = ""
    #: the workload's duration on the host's clock, from marks the guest wrote
    wall_seconds: float | None = None

    @property
    def unavailable(self) -> str | None:
        return self.data.unavailable if self.data else None


def load_workload(layout: Layout, name: str) -> tuple[Path, dict[str, Any]]:
    return datafiles.workload(layout.vm_tests / "workloads", name)


def wall_seconds(run_dir: Path) -> float | None:
    """The workload's duration on the host's clock.

    The guest's own clock may count instructions (-icount), so it cannot
    say how long a run took for the host.  The guest writes a mark file
    into the run directory (shared over 9p) just before the workload starts
    and one just after it ends; the host's file system stamps both with
    the host's time.
    """
    try:
        t0, t1 = ((run_dir / m).stat().st_mtime_ns for m in WALL_MARKS)
    except OSError:
        return None
    return round((t1 - t0) / 1e9, 2) if t1 >= t0 else None


def _result(path: Path) -> WorkResult | None:
    """The guest's result, if it wrote one that fits the seam (one cut
    short or of another version counts as none, with a warning)."""
    if not path.exists():
        return None
    try:
        return WorkResult.from_json(read(path), str(path))
    except SchemaError as e:
        ui.warn(f"the guest's result is unusable: {e}")
        return None


def throttled(profile: DiskProfile | None, icount_shift: int | None) -> bool:
    """Are the disks throttled to the profile for this run?

    Not under -icount.  Measured on memhog-mix-quick (README, Benchmarks):
    with the ssd throttle kztmem's disk requests fell 13% when
    `stress-ng --cpu 2` loaded the host, with the bytes unchanged, because
    how long the guest's I/O waits is host time while its work is counted
    in instructions, and what the guest does meanwhile (merge requests,
    decline stores while its writeback runs) depends on that ratio.  An
    unthrottled disk makes those waits shorter; it does not make them
    independent of the host (kzt bench also raises QEMU's priority).
    """
    return profile is not None and icount_shift is None


def run_workload(layout: Layout, req: RunRequest, bins: Path | None = None) -> RunResult:
    """Boot once and run the workload; raises Unavailable if the guest's
    kernel cannot run the configuration, SetupFailed if its set-up failed."""
    image = req.kernel or require_image(layout, req.base, req.flavour)
    _, wl = load_workload(layout, req.workload)
    config = datafiles.config(req.with_)
    profile_name = req.disk or config.disk
    profile = datafiles.bench().disk_profile(profile_name) if profile_name else None
    bins = bins or guestjob.build_workloads(layout)
    run_dir = req.run_dir or guestjob.new_run(layout, "run")
    run_dir.mkdir(parents=True, exist_ok=True)
    out = run_dir / "result.json"
    out.unlink(missing_ok=True)
    for mark in WALL_MARKS:
        (run_dir / mark).unlink(missing_ok=True)
    timeout = None
    if profile and profile.workload_timeout:
        timeout = max(profile.workload_timeout, float(wl["timeout_seconds"]))
    job = write_doc(run_dir / "job.json",
                    WorkJob(wl, config.guest_spec(timeout), str(out), req.profile_hz).to_json())
    memory = str(wl.get("memory", DEFAULT_MEMORY))
    throttle = throttled(profile, req.icount_shift)
    if req.echo:
        disk = ("not throttled" if profile is None else profile.name if throttle
                else f"not throttled, {profile.name} prices its I/O")
        ui.step(f"run: {wl['name']} with {req.with_} (boot: {' '.join(config.append) or '-'}; "
                f"disk: {disk})")
    res = guestjob.run(layout, guestjob.GuestJob(
        image=image, command=tuple(guestjob.guest_python(layout, "kzt.guest.work", job)),
        run_dir=run_dir, memory=memory, cpus=req.cpus, append=config.append,
        disks=tuple(wl.get("disks", [])),
        throttle=vm.Throttle(profile.iops, profile.bps) if profile and throttle else None,
        bins=bins, env=(("KZT_GUEST", "1"),), accel=req.accel, timeout=req.timeout,
        echo=req.echo, icount_shift=req.icount_shift, qemu_cpu=req.qemu_cpu,
        nice=req.nice))
    data = _result(out)
    result = RunResult(wl, req.with_, res, data, run_dir, profile, image, memory,
                       wall_seconds(run_dir))
    if result.unavailable:
        raise Unavailable(result, result.unavailable)
    if data is not None and data.error:
        raise SetupFailed(result, data.error)
    return result
