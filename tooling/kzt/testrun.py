"""`kzt test`: pytest over vm-tests/, inside guests booted from the build.

Tests say how their guest must boot with the `kzt_boot` marker; the host
collects them, boots one guest per distinct boot (fresh swap and ext4
images each time) and runs that group there.  JUnit XML, console logs and
counters snapshots go to build/runs/<id>/.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import proc, runs, ui, vm
from .build import require_image
from .errors import KztError
from .layout import Layout
from .workloads import build_workloads

DISK_SIZE = 2 * 2**30


@dataclass(frozen=True)
class TestRequest:
    base: str = "6.1"
    flavour: str = "default"
    pytest_args: tuple[str, ...] = ()
    accel: vm.Accel = vm.Accel.AUTO
    timeout: float = 1200
    extra_append: tuple[str, ...] = ()


@dataclass
class GroupResult:
    append: str
    memory: str
    tests: int
    boot: vm.BootResult


@dataclass
class TestResult:
    run_dir: Path
    groups: list[GroupResult] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.groups) and all(g.boot.ok for g in self.groups)


def collect(layout: Layout, pytest_args: tuple[str, ...], out: Path) -> list[dict[str, object]]:
    """Host-side collection: the boot groups of the selected tests."""
    from .host import venv_bin
    res = proc.run([venv_bin(layout, "python"), "-m", "pytest", "-q", "--collect-only",
                    "-p", "kzt.guestplugin", "-p", "no:cacheprovider",
                    f"--kzt-list={out}", *pytest_args], cwd=layout.vm_tests,
                   env=_pyenv(layout), check=False, timeout=300,
                   what="collecting vm-tests")
    if not out.exists():
        raise KztError("collecting vm-tests failed", res.output[-3000:])
    groups: list[dict[str, object]] = json.loads(out.read_text())
    return groups


def _pyenv(layout: Layout) -> dict[str, str]:
    return {"PYTHONPATH": str(layout.root / "tooling"), "PYTHONDONTWRITEBYTECODE": "1"}


def run_tests(layout: Layout, req: TestRequest) -> TestResult:
    start = time.monotonic()
    image = require_image(layout, req.base, req.flavour)
    run_dir = runs.new_run(layout, "test")
    bins = build_workloads(layout)
    groups = collect(layout, req.pytest_args, run_dir / "groups.json")
    if not groups:
        raise KztError("no vm-tests selected", "check -k / the test paths you gave")
    result = TestResult(run_dir)
    from .host import venv_bin
    py = venv_bin(layout, "python")
    env = dict(_pyenv(layout))
    env.update({"KZT_WORKLOADS_DIR": str(bins), "KZT_RUN_DIR": str(run_dir)})
    for i, g in enumerate(groups, 1):
        append = str(g["append"])
        tests = list(g["tests"])  # type: ignore[call-overload]
        ui.step(f"group {i}/{len(groups)}: {len(tests)} test(s), boot '{append or '-'}' "
                f"memory {g['memory']}")
        disks = tuple(vm.Disk(n, runs.sparse_image(run_dir / f"{n}-{i}.img", DISK_SIZE))
                      for n in ("kzt-swap", "kzt-ext4"))
        key = f"{g['memory']}|{g['cpus']}|{append}"
        cmd = [py, "-m", "kzt.guest", str(run_dir), str(i), key, "-v",
               *req.pytest_args]
        breq = vm.BootRequest(
            image=image, command=cmd, memory=str(g["memory"]), cpus=int(str(g["cpus"])),
            append=tuple(a for a in (append, *req.extra_append) if a),
            disks=disks, rwdirs=(run_dir,), accel=req.accel, timeout=req.timeout,
            console_log=run_dir / f"console-{i}.log", cwd=layout.vm_tests,
            env=tuple(env.items()))
        res = vm.boot(layout, breq)
        for d in disks:
            d.path.unlink(missing_ok=True)
        result.groups.append(GroupResult(append, str(g["memory"]), len(tests), res))
        if not res.ok:
            print(f"kzt: group {i} failed: {vm.explain(res, req.timeout)}", file=sys.stderr)
    result.elapsed = time.monotonic() - start
    (run_dir / "summary.json").write_text(json.dumps({
        "ok": result.ok, "elapsed": result.elapsed,
        "groups": [{"append": g.append, "memory": g.memory, "tests": g.tests,
                    "status": g.boot.status.value, "exit_code": g.boot.exit_code,
                    "accel": g.boot.accel.value, "seconds": round(g.boot.elapsed, 1)}
                   for g in result.groups]}, indent=1) + "\n")
    return result
