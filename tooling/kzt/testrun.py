"""`kzt test`: pytest over vm-tests/, inside guests booted from the build.

Tests say how their guest must boot with the `kzt_boot` marker; the host
collects them, boots one guest per distinct boot (fresh swap and ext4
images each time) and runs that group there.  JUnit XML, console logs and
counters snapshots go to build/runs/<id>/.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import guestjob, proc, ui, vm
from .build import given_image, require_image
from .errors import KztError
from .guest.schema import check
from .guest.seam import GROUP_LISTING, BootGroup, TestJob
from .guest.seam import write as write_doc
from .layout import Layout

# Which tests run when no -m is given (markers are registered in
# vm-tests/conftest.py).  debug_kernel tests need fault injection, which
# only the debug flavour has; on it, the integrity suites run.
DEFAULT_MARKERS = "not debug_kernel"
DEBUG_MARKERS = "integrity or debug_kernel"
#: The short version `kzt check` runs on the debug kernel: the
#: fault-injection suite, whose tests are full swap and file round trips.
CHECK_DEBUG_MARKERS = "debug_kernel"
SOAK_MARKERS = "soak"

#: Kernel arguments every guest of a flavour gets.  slab_nomerge on the
#: debug kernel: KASAN and SLUB reports then name the cache that was
#: really used, not one it was merged into.
FLAVOUR_APPEND = {"debug": ("slab_nomerge",)}

#: Host environment variables handed to the tests in the guest: how long
#: test_stress.py's stress-ng and test_soak.py's clients run.
GUEST_ENV_PASSTHROUGH = ("KZT_STRESS_SECONDS", "KZT_SOAK_SECONDS")


#: Deadline per guest boot, by flavour: KASAN, lockdep and kmemleak under
#: TCG make the debug kernel's boot alone take minutes.
GUEST_TIMEOUT = {"default": 1500.0, "debug": 2700.0}


def guest_timeout(flavour: str) -> float:
    return GUEST_TIMEOUT.get(flavour, GUEST_TIMEOUT["default"])


@dataclass(frozen=True)
class TestRequest:
    base: str = "6.1"
    flavour: str = "default"
    pytest_args: tuple[str, ...] = ()
    accel: vm.Accel = vm.Accel.AUTO
    timeout: float | None = None    # None: guest_timeout(flavour)
    #: Extra environment for the tests in the guest (e.g. KZT_SOAK_SECONDS).
    guest_env: tuple[tuple[str, str], ...] = ()
    #: Boot this image instead of the flavour's build (e.g. a saved older kernel).
    kernel: Path | None = None

    @property
    def deadline(self) -> float:
        return self.timeout or guest_timeout(self.flavour)


def selection(req: TestRequest) -> tuple[str, ...]:
    """The pytest arguments, with the flavour's default -m unless one is given."""
    args = req.pytest_args
    if any(a == "-m" or a.startswith("-m") and len(a) > 2 for a in args):
        return args
    return ("-m", DEBUG_MARKERS if req.flavour == "debug" else DEFAULT_MARKERS, *args)


@dataclass
class GroupResult:
    group: BootGroup
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


@dataclass(frozen=True)
class Collected:
    """One boot group of the selected tests, as the host's collection found it."""
    group: BootGroup
    tests: tuple[str, ...]


def collect(layout: Layout, pytest_args: tuple[str, ...], out: Path) -> list[Collected]:
    """Host-side collection: the boot groups of the selected tests."""
    from .host import venv_bin
    res = proc.run([venv_bin(layout, "python"), "-m", "pytest", "-q", "--collect-only",
                    "-p", "kzt.guest.plugin", "-p", "no:cacheprovider",
                    f"--kzt-list={out}", *pytest_args], cwd=layout.vm_tests,
                   env=layout.python_env(), check=False, timeout=300,
                   what="collecting vm-tests")
    if not out.exists():
        raise KztError("collecting vm-tests failed", res.output[-3000:])
    listing = json.loads(out.read_text())
    check(listing, GROUP_LISTING, str(out))
    return [Collected(BootGroup(g["append"], g["memory"], g["cpus"]), tuple(g["tests"]))
            for g in listing]


def group_modules(layout: Layout, pytest_args: tuple[str, ...],
                  tests: tuple[str, ...]) -> tuple[str, ...]:
    """The test modules of one boot group, for the guest's pytest to collect
    instead of all of vm-tests/: Python under TCG is slow, and importing and
    collecting every module cost each boot 10-20 s.  None when the user named
    paths (the guest then collects what they named, as the host did)."""
    named = [a for a in pytest_args
             if not a.startswith("-") and (layout.vm_tests / a.split("::")[0]).exists()]
    if named:
        return ()
    return tuple(sorted({t.split("::")[0] for t in tests}))


def run_tests(layout: Layout, req: TestRequest) -> TestResult:
    start = time.monotonic()
    image = given_image(req.kernel) if req.kernel else require_image(layout, req.base, req.flavour)
    run_dir = guestjob.new_run(layout, "test")
    bins = guestjob.build_workloads(layout)
    pytest_args = selection(req)
    groups = collect(layout, pytest_args, run_dir / "groups.json")
    if not groups:
        raise KztError("no vm-tests selected", "check -k / the test paths you gave")
    result = TestResult(run_dir)
    env = {"KZT_RUN_DIR": str(run_dir)}
    env.update({k: os.environ[k] for k in GUEST_ENV_PASSTHROUGH if k in os.environ})
    env.update(dict(req.guest_env))
    for i, c in enumerate(groups, 1):
        g = c.group
        ui.step(f"group {i}/{len(groups)}: {len(c.tests)} test(s), boot '{g.append or '-'}' "
                f"memory {g.memory} cpus {g.cpus}")
        job = write_doc(run_dir / f"job-{i}.json", TestJob(
            str(run_dir), i, g, ("-v", *pytest_args,
                                 *group_modules(layout, pytest_args, c.tests))).to_json())
        res = guestjob.run(layout, guestjob.GuestJob(
            image=image, command=tuple(guestjob.guest_python(layout, "kzt.guest.runner", job)),
            run_dir=run_dir, memory=g.memory, cpus=g.cpus,
            append=tuple(a for a in (g.append, *FLAVOUR_APPEND.get(req.flavour, ())) if a),
            disks=guestjob.TEST_DISKS, bins=bins, env=tuple(env.items()), accel=req.accel,
            timeout=req.deadline, tag=str(i), cwd=layout.vm_tests))
        result.groups.append(GroupResult(g, len(c.tests), res))
        if not res.ok:
            print(f"kzt: group {i} failed: {vm.explain(res, req.deadline)}", file=sys.stderr)
    result.elapsed = time.monotonic() - start
    (run_dir / "summary.json").write_text(json.dumps({
        "ok": result.ok, "elapsed": result.elapsed,
        "groups": [{**g.group.to_json(), "tests": g.tests,
                    "status": g.boot.status.value, "exit_code": g.boot.exit_code,
                    "accel": g.boot.accel.value, "seconds": round(g.boot.elapsed, 1)}
                   for g in result.groups]}, indent=1) + "\n")
    return result


def print_result(res: TestResult) -> None:
    rows = [(g.group.append or "-", g.group.memory, str(g.group.cpus), str(g.tests),
             g.boot.status.value,
             str(g.boot.exit_code), f"{g.boot.elapsed:.0f}s") for g in res.groups]
    print(ui.table(rows, ("boot args", "memory", "cpus", "tests", "status", "exit", "time")))
