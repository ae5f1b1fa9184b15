"""`kzt run`: boot, run one workload (a data file in vm-tests/workloads),
and return its result with the guest's counters.

The configuration to compare is chosen by boot arguments on one kernel
image (data/configs.json): kztmem, zswap, none.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import runs, ui, vm
from .build import require_image
from .errors import KztError
from .layout import Layout
from .workloads import build_workloads

CONFIGS = Path(__file__).parent / "data" / "configs.json"
DISK_SIZE = 2 * 2**30


@dataclass(frozen=True)
class RunRequest:
    workload: str
    with_: str = "kztmem"
    base: str = "6.1"
    flavour: str = "default"
    accel: vm.Accel = vm.Accel.AUTO
    timeout: float = 1200


@dataclass
class RunResult:
    workload: dict[str, Any]
    config: str
    boot: vm.BootResult
    data: dict[str, Any] | None
    run_dir: Path


def load_workload(layout: Layout, name: str) -> tuple[Path, dict[str, Any]]:
    p = Path(name)
    if not (p.suffix == ".json" and p.exists()):
        p = layout.vm_tests / "workloads" / f"{name}.json"
    if not p.exists():
        known = ", ".join(sorted(x.stem for x in (layout.vm_tests / "workloads").glob("*.json")))
        raise KztError(f"unknown workload '{name}'", f"known workloads: {known}")
    return p.resolve(), json.loads(p.read_text())


def boot_args(config: str) -> list[str]:
    configs = json.loads(CONFIGS.read_text())["configs"]
    if config not in configs:
        raise KztError(f"unknown configuration '{config}'",
                       f"choose one of: {', '.join(configs)}")
    return list(configs[config]["append"])


def run_workload(layout: Layout, req: RunRequest) -> RunResult:
    image = require_image(layout, req.base, req.flavour)
    wl_path, wl = load_workload(layout, req.workload)
    append = boot_args(req.with_)
    bins = build_workloads(layout)
    run_dir = runs.new_run(layout, "run")
    disks = tuple(vm.Disk(n, runs.sparse_image(run_dir / f"{n}.img", DISK_SIZE))
                  for n in wl.get("disks", []))
    from .host import venv_bin
    out = run_dir / "result.json"
    breq = vm.BootRequest(
        image=image, command=[venv_bin(layout, "python"), "-m", "kzt.guestwork",
                              str(wl_path), str(out)],
        memory=str(wl.get("memory", "384M")), cpus=2, append=tuple(append), disks=disks,
        rwdirs=(run_dir,), accel=req.accel, timeout=req.timeout,
        console_log=run_dir / "console.log",
        env=(("PYTHONPATH", str(layout.root / "tooling")), ("PYTHONDONTWRITEBYTECODE", "1"),
             ("KZT_WORKLOADS_DIR", str(bins)), ("KZT_GUEST", "1")))
    ui.step(f"run: {wl['name']} with {req.with_} (boot: {' '.join(append) or '-'})")
    res = vm.boot(layout, breq)
    for d in disks:
        d.path.unlink(missing_ok=True)
    data = json.loads(out.read_text()) if out.exists() else None
    return RunResult(wl, req.with_, res, data, run_dir)
