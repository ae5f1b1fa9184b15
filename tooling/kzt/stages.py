"""`kzt up` and `kzt check`: the steps chained, each one reported.

check runs every stage it can; a stage that cannot run because an earlier
one failed is reported as not run, never as passed.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from . import guestjob, proc, ui, vm
from .errors import KztError
from .kernel import ensure_kernel
from .layout import Layout
from .testrun import CHECK_DEBUG_MARKERS, DEFAULT_MARKERS

if TYPE_CHECKING:
    from .kconfig import Request


# the stages of `kzt check`, in order (--skip takes these)
STAGE_NAMES = ("host-tests", "mypy", "workload-selftest", "kernel", "checkpatch", "static",
               "kunit",
               "vm-tests", "debug-kernel", "debug-tests")


# swap pressure, then a file re-read, so both halves of kztmem show their counters
UP_WORKLOAD = "swap-then-reread-832"


def ensure_venv_python(layout: Layout) -> None:
    """After setup, continue in the venv's interpreter (it has kconfiglib)."""
    from .host import setup
    setup(layout, quiet=True)
    venv_py = layout.venv / "bin" / "python"
    if Path(sys.prefix).resolve() != layout.venv.resolve():
        env = dict(os.environ)
        env.update(layout.python_env())
        os.execve(str(venv_py), [str(venv_py), "-m", "kzt", *sys.argv[1:]], env)


def _config_has(layout: Layout, base: str, flavour: str, sym: str) -> bool:
    cfg = layout.out(base, flavour) / ".config"
    return cfg.exists() and f"CONFIG_{sym}=y\n" in cfg.read_text()


@dataclass(frozen=True)
class UpRequest:
    base: str = "6.1"
    accel: vm.Accel = vm.Accel.AUTO
    workload: str = UP_WORKLOAD
    #: --kconfig-add requests and --make-opt options for the kernel it builds
    kconfig_add: tuple["Request", ...] = ()
    make_opts: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckRequest:
    base: str = "6.1"
    accel: vm.Accel = vm.Accel.AUTO
    skip: tuple[str, ...] = ()


def up(layout: Layout, a: UpRequest) -> int:
    ensure_venv_python(layout)
    ensure_kernel(layout, a.base, kconfig_add=a.kconfig_add, make_opts=a.make_opts)
    accel = a.accel
    if _config_has(layout, a.base, "default", "KZTMEM"):
        from .workrun import RunRequest, run_workload
        from .stats import render
        r = run_workload(layout, RunRequest(a.workload, "kztmem", a.base, accel=accel))
        if not r.boot.ok or r.data is None:
            raise KztError(f"the workload failed: {vm.explain(r.boot, 1200)}",
                           f"console log: {r.run_dir / 'console.log'}")
        d = r.data
        print(render(d.snapshot("during"), d.snapshot("before")))
        ui.step(f"kernel {d.uname}: workload {r.workload['name']} passed in {d.seconds} s, "
                f"{d.summary.get('mismatches')} mismatches (run dir {r.run_dir})")
        return 0
    from .build import require_image
    from .tree import load_state
    res = guestjob.run(layout, guestjob.GuestJob(
        require_image(layout, a.base), ("uname", "-r"), guestjob.new_run(layout, "up"),
        memory="512M", accel=accel, timeout=300))
    if not res.ok:
        raise KztError(vm.explain(res, 300))
    state = load_state(layout, a.base)
    ui.step(f"booted under {res.accel.value} in {res.elapsed:.1f} s; the driver is not "
            "configured yet, applied series:")
    for p in state.applied if state else []:
        ui.info(p)
    return 0


@dataclass
class Stage:
    name: str
    run: Callable[[], None]
    needs: tuple[str, ...] = ()


def check(layout: Layout, a: CheckRequest) -> int:
    ensure_venv_python(layout)
    accel = a.accel
    py = str(layout.venv / "bin" / "python")
    pyenv = layout.python_env()

    def host_tests() -> None:
        r = proc.stream([py, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                         str(layout.root / "tooling" / "tests")], env=pyenv,
                        timeout=900, on_line=print)
        if r.returncode != 0:
            raise KztError("host tests failed")

    def typecheck() -> None:
        from .host import dev_venv
        # mypy runs from the development venv and checks against the
        # packages of the toolkit's own venv (pytest, jinja2, kconfiglib)
        r = proc.run([str(dev_venv(layout) / "bin" / "python"), "-m", "mypy",
                      "--python-executable", py, "--config-file",
                      str(layout.root / "tooling" / "pyproject.toml"),
                      str(layout.root / "tooling" / "kzt")], check=False, timeout=600)
        print(r.output.strip().splitlines()[-1] if r.output.strip() else "")
        if r.returncode != 0:
            raise KztError("mypy found type errors:\n" + r.output[-4000:])

    def workload_selftest() -> None:
        r = proc.run(["make", "-s", "-C", str(layout.vm_tests / "workloads"),
                      f"OUT={layout.build / 'workloads'}", "check"], check=False, timeout=600)
        print(r.output.strip()[-1500:])
        if r.returncode != 0:
            raise KztError("workload self-test failed")

    def kernel() -> None:
        ensure_kernel(layout, a.base)

    def checkpatch() -> None:
        from .review import checkpatch_all, report_checkpatch
        if not report_checkpatch(checkpatch_all(layout, a.base)):
            raise KztError("checkpatch --strict found problems")

    def static() -> None:
        from .review import report_static, static_check
        if not report_static(static_check(layout, a.base)):
            raise KztError("W=1 or sparse found warnings in the driver or the series")

    def kunit() -> None:
        from .kunitrun import KunitRequest, check_result, run_kunit
        req = KunitRequest(a.base, "default", "kztmem*", accel)
        check_result(run_kunit(layout, req), req)

    def guest_tests(flavour: str, markers: str) -> None:
        from .testrun import TestRequest, print_result, run_tests
        res = run_tests(layout, TestRequest(a.base, flavour, ("-m", markers), accel))
        print_result(res)
        if not res.ok:
            raise KztError(f"vm-tests ({flavour} kernel) failed (results in {res.run_dir})")

    def vmtests() -> None:
        guest_tests("default", DEFAULT_MARKERS)

    def debug_kernel() -> None:
        ensure_kernel(layout, a.base, "debug")

    def debug_tests() -> None:
        # The short version: the fault-injection suite (swap and file round
        # trips with allocations failing), then kmemleak, on the debug kernel.
        guest_tests("debug", CHECK_DEBUG_MARKERS)

    stages = [
        Stage("host-tests", host_tests),
        Stage("mypy", typecheck),
        Stage("workload-selftest", workload_selftest),
        Stage("kernel", kernel),
        Stage("checkpatch", checkpatch, ("kernel",)),
        Stage("static", static, ("kernel",)),
        Stage("kunit", kunit, ("kernel",)),
        Stage("vm-tests", vmtests, ("kernel",)),
        Stage("debug-kernel", debug_kernel),
        Stage("debug-tests", debug_tests, ("debug-kernel",)),
    ]
    assert tuple(st.name for st in stages) == STAGE_NAMES, "update STAGE_NAMES"
    results: dict[str, tuple[str, float, str]] = {}
    for st in stages:
        if st.name in a.skip:
            results[st.name] = ("skipped (--skip)", 0.0, "")
            continue
        if any(not results.get(n, ("",))[0].startswith("passed") for n in st.needs):
            results[st.name] = ("not run", 0.0, f"needs {', '.join(st.needs)}")
            continue
        ui.step(f"=== stage {st.name}")
        t0 = time.monotonic()
        try:
            st.run()
            results[st.name] = ("passed", time.monotonic() - t0, "")
        except KztError as e:
            results[st.name] = ("FAILED", time.monotonic() - t0, str(e).splitlines()[0])
            print(f"kzt check: stage {st.name} failed: {e}", file=sys.stderr)
    rows = [(n, s, f"{t:.0f}s", d[:90]) for n, (s, t, d) in results.items()]
    print(ui.table(rows, ("stage", "result", "time", "detail")))
    passed = sum(1 for s, _, _ in results.values() if s == "passed")
    failed = sum(1 for s, _, _ in results.values() if s in ("FAILED", "not run"))
    print(f"check: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1
