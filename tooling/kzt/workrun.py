"""`kzt run`: boot, run one workload (a data file in vm-tests/workloads),
and return its result with the guest's counters.

The configuration to compare is data (data/configs.json): boot arguments
on one kernel image, requirements the guest checks before running (so a
kernel without kztmem says so instead of measuring plain swap), and
guest-side set-up steps (e.g. a zram swap device).  The workload's disks
can be throttled with a disk profile (data/bench.json) so that they behave
like an HDD or an SSD rather than the host's page cache.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from . import runs, ui, vm
from .build import require_image
from .errors import GuestError, KztError
from .layout import Layout
from .workloads import build_workloads

DATA = Path(__file__).parent / "data"
CONFIGS = DATA / "configs.json"
BENCH = DATA / "bench.json"
DISK_SIZE = 2 * 2**30
UNAVAILABLE_EXIT = 77   # kzt.guest.work.UNAVAILABLE


@dataclass(frozen=True)
class Config:
    """One configuration of data/configs.json."""
    name: str
    append: tuple[str, ...]
    description: str = ""
    requires: tuple[dict[str, Any], ...] = ()
    setup: tuple[dict[str, Any], ...] = ()
    disk: str | None = None

    def guest_spec(self) -> dict[str, Any]:
        """What the guest side (kzt.guest.work) needs of it."""
        return {"name": self.name, "requires": list(self.requires), "setup": list(self.setup)}


@dataclass(frozen=True)
class DiskProfile:
    name: str
    throttle: vm.Throttle
    description: str = ""
    workload_timeout: float | None = None   # replaces the workload's own on slow disks


def load_configs(path: Path = CONFIGS) -> dict[str, Config]:
    raw = json.loads(path.read_text())["configs"]
    return {n: Config(n, tuple(c.get("append", [])), c.get("description", ""),
                      tuple(c.get("requires", [])), tuple(c.get("setup", [])), c.get("disk"))
            for n, c in raw.items()}


T = TypeVar("T")


def _pick(table: dict[str, T], name: str, what: str, source: str) -> T:
    if name not in table:
        raise KztError(f"unknown {what} '{name}'",
                       f"choose one of: {', '.join(table)} ({source})")
    return table[name]


def get_config(name: str, path: Path = CONFIGS) -> Config:
    return _pick(load_configs(path), name, "configuration", "tooling/kzt/data/configs.json")


def load_disk_profiles(path: Path = BENCH) -> dict[str, DiskProfile]:
    raw = json.loads(path.read_text()).get("disk_profiles", {})
    return {n: DiskProfile(n, vm.Throttle(int(p["iops"]), int(p["bps"])), p.get("description", ""),
                           p.get("workload_timeout_seconds"))
            for n, p in raw.items()}


def get_disk_profile(name: str, path: Path = BENCH) -> DiskProfile:
    return _pick(load_disk_profiles(path), name, "disk profile", "tooling/kzt/data/bench.json")


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


@dataclass
class RunResult:
    workload: dict[str, Any]
    config: str
    boot: vm.BootResult
    data: dict[str, Any] | None
    run_dir: Path
    disk: DiskProfile | None = None
    image: Path | None = None
    memory: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def unavailable(self) -> str | None:
        why = (self.data or {}).get("unavailable")
        return str(why) if why else None


def load_workload(layout: Layout, name: str) -> tuple[Path, dict[str, Any]]:
    p = Path(name)
    if not (p.suffix == ".json" and p.exists()):
        p = layout.vm_tests / "workloads" / f"{name}.json"
    if not p.exists():
        known = ", ".join(sorted(x.stem for x in (layout.vm_tests / "workloads").glob("*.json")))
        raise KztError(f"unknown workload '{name}'", f"known workloads: {known}")
    return p.resolve(), json.loads(p.read_text())


def boot_args(config: str) -> list[str]:
    return list(get_config(config).append)


def run_workload(layout: Layout, req: RunRequest, bins: Path | None = None) -> RunResult:
    """Boot once and run the workload; raises Unavailable if the guest's
    kernel cannot run the configuration, SetupFailed if its set-up failed."""
    image = require_image(layout, req.base, req.flavour)
    wl_path, wl = load_workload(layout, req.workload)
    config = get_config(req.with_)
    profile_name = req.disk or config.disk
    profile = get_disk_profile(profile_name) if profile_name else None
    bins = bins or build_workloads(layout)
    run_dir = req.run_dir or runs.new_run(layout, "run")
    run_dir.mkdir(parents=True, exist_ok=True)
    throttle = profile.throttle if profile else None
    disks = tuple(vm.Disk(n, runs.sparse_image(run_dir / f"{n}.img", DISK_SIZE), throttle)
                  for n in wl.get("disks", []))
    from .host import venv_bin
    out = run_dir / "result.json"
    out.unlink(missing_ok=True)
    cfg_file = run_dir / "config.json"
    guest_spec = config.guest_spec()
    if profile and profile.workload_timeout:
        guest_spec["workload_timeout_seconds"] = max(profile.workload_timeout,
                                                     float(wl.get("timeout_seconds", 0)))
    cfg_file.write_text(json.dumps(guest_spec, indent=1) + "\n")
    memory = str(wl.get("memory", "384M"))
    breq = vm.BootRequest(
        image=image, command=[venv_bin(layout, "python"), "-m", "kzt.guest.work",
                              str(wl_path), str(out), str(cfg_file)],
        memory=memory, cpus=2, append=config.append, disks=disks,
        rwdirs=(run_dir,), accel=req.accel, timeout=req.timeout,
        console_log=run_dir / "console.log", echo=req.echo,
        env=(("PYTHONPATH", str(layout.root / "tooling")), ("PYTHONDONTWRITEBYTECODE", "1"),
             ("KZT_WORKLOADS_DIR", str(bins)), ("KZT_GUEST", "1")))
    if req.echo:
        ui.step(f"run: {wl['name']} with {req.with_} (boot: {' '.join(config.append) or '-'}; "
                f"disk: {profile.name if profile else 'not throttled'})")
    try:
        res = vm.boot(layout, breq)
    finally:
        for d in disks:
            d.path.unlink(missing_ok=True)
    try:
        data = json.loads(out.read_text()) if out.exists() else None
    except ValueError:
        data = None
    result = RunResult(wl, req.with_, res, data, run_dir, profile, image, memory)
    if result.unavailable:
        raise Unavailable(result, result.unavailable)
    if data is not None and data.get("error"):
        raise SetupFailed(result, str(data["error"]))
    return result
