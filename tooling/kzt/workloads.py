"""Workload programs (vm-tests/workloads): built on the host for the guest."""
from __future__ import annotations

from pathlib import Path

from . import proc, ui
from .errors import KztError
from .layout import Layout


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
