"""The `kzt` command line: one sub-command per step, plus `up` and `check`."""
from __future__ import annotations

import argparse
import math
import os
import re
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import ui
from .errors import KztError
from .layout import Layout

#: vm.CLOCKS' names, for --clock (vm is imported only when a command runs)
CLOCK_NAMES = ("icount", "icount-erms", "wall")

Handler = Callable[[argparse.Namespace, Layout], int]


# Option values are checked while parsing, so that a bad one is a usage
# error (exit 2) before anything is created or started.

MIN_GUEST_MIB = 64


def positive_minutes(text: str) -> float:
    """An argparse type: minutes, more than 0 and at most a day."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of minutes") from None
    if not 0 < v <= 24 * 60 or math.isnan(v):
        raise argparse.ArgumentTypeError(f"{text} minutes: give more than 0 and at most 1440")
    return v


def count(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least `minimum`."""
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
        if n < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {n}")
        return n
    return parse


def seconds(text: str) -> float:
    """An argparse type: a positive, finite number of seconds."""
    try:
        s = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if not math.isfinite(s) or s <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return s


def memory_size(text: str) -> str:
    """An argparse type: guest memory as virtme-ng takes it (512M, 2G, 1024)."""
    m = re.fullmatch(r"(\d+)([KMG]?)", text.strip(), re.IGNORECASE)
    if not m:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a memory size: use a number with K, M or G (512M, 2G)")
    n, unit = int(m.group(1)), (m.group(2) or "M").upper()
    mib = n / 1024 if unit == "K" else n * 1024 if unit == "G" else n
    if mib < MIN_GUEST_MIB:
        raise argparse.ArgumentTypeError(f"{text} is too small: a guest needs at least "
                                         f"{MIN_GUEST_MIB}M")
    return f"{n}{unit}"


def disk_spec(text: str) -> Any:
    """An argparse type: NAME=FILE of an existing disk image (a vm.Disk)."""
    from .vm import Disk
    try:
        return Disk.parse(text)
    except KztError as e:
        raise argparse.ArgumentTypeError(str(e).replace("\n  -> ", "; ")) from None


def kconfig_addition(text: str) -> Any:
    """An argparse type: CONFIG_X=value, checked as a fragment line is."""
    from .kconfig import parse_addition
    try:
        return parse_addition(text)
    except KztError as e:
        raise argparse.ArgumentTypeError(str(e).replace("\n  -> ", "; ")) from None


def make_opt(text: str) -> str:
    """An argparse type: one make variable, NAME=VALUE (W=1, C=1, LLVM=1)."""
    from .build import make_option
    try:
        return make_option(text)
    except KztError as e:
        raise argparse.ArgumentTypeError(str(e).replace("\n  -> ", "; ")) from None


def _kernel_and_accel_args(p: argparse.ArgumentParser) -> None:
    """--base, --flavour and --accel: which kernel boots, and how."""
    _base_arg(p)
    _flavour_arg(p)
    _accel_arg(p)


def _workload_args(p: argparse.ArgumentParser) -> None:
    """What `kzt run` and `kzt profile` boot and run: _run_request() reads them."""
    _kernel_and_accel_args(p)
    p.add_argument("workload", help="name of a vm-tests/workloads/*.json file")
    p.add_argument("--with", dest="with_", default="kztmem",
                   help="configuration from tooling/kzt/data/configs.json (kztmem, zswap, none, ...)")
    p.add_argument("--kernel", type=Path, metavar="IMAGE",
                   help="boot this kernel image instead of the flavour's build (e.g. a saved "
                        "image of the driver before a change, to compare its counters)")
    p.add_argument("--timeout", type=seconds, default=1200, help="deadline in seconds")


def _kernel_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kconfig-add", action="append", type=kconfig_addition, default=[],
                   metavar="CONFIG_X=y",
                   help="a config line merged after the flavour's fragments and checked "
                        "like them (repeatable)")
    p.add_argument("--make-opt", action="append", type=make_opt, default=[],
                   metavar="NAME=VALUE",
                   help="a make variable for config and build, e.g. W=1, C=1, LLVM=1 "
                        "(repeatable)")


def _qemu_opt_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--qemu-opt", action="append", default=[], metavar="ARG",
                   help="one more QEMU argument (repeatable; write --qemu-opt=-s for one "
                        "that starts with a dash)")


def _dry_run_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true",
                   help="print the commands it would run, and run nothing")


def _print_commands(argvs: list[list[str]]) -> None:
    import shlex
    for argv in argvs:
        print(shlex.join(argv))


def _guest_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--memory", type=memory_size, default="512M",
                   help="guest memory, e.g. 512M or 2G (default: 512M)")
    p.add_argument("--cpus", type=count(1), default=2, help="guest CPUs (default: 2)")
    p.add_argument("--append", action="append", help="kernel command line argument(s)")
    p.add_argument("--disk", action="append", metavar="NAME=FILE", type=disk_spec,
                   help="virtio-blk disk; the guest sees /dev/vdX with /sys/block/vdX/serial == NAME")


def _base_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base", default="6.1", help="kernel base (default: 6.1)")


def _flavour_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--flavour", default="default",
                   help="build flavour from fragments/flavours.json (default, debug, plain)")


def _accel_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--accel", choices=["auto", "kvm", "tcg"], default="auto",
                   help="auto proves KVM with a probe boot, else TCG (default: auto)")


def cmd_setup(a: argparse.Namespace, layout: Layout) -> int:
    from .host import setup
    setup(layout)
    return 0


def cmd_doctor(a: argparse.Namespace, layout: Layout) -> int:
    from . import host, vm
    checks = host.doctor(layout)
    rows = [(c.name, "ok" if c.ok else "MISSING", c.detail if c.ok else f"{c.detail}; fix: {c.fix}")
            for c in checks]
    if not a.no_probe:
        from .datafiles import Base
        image = layout.out("6.1", "default") / Base.load("6.1").image
        if image.exists() and host.venv_ok(layout, layout.root / "tooling" / "requirements.txt"):
            try:
                ok, detail = vm.probe_kvm(layout, image, use_cache=False)
                rows.append(("KVM probe boot", "ok" if ok else "unusable",
                             detail + ("" if ok else "; guests use TCG")))
            except KztError as e:
                rows.append(("KVM probe boot", "skipped", e.message))
        else:
            rows.append(("KVM probe boot", "skipped", "needs a built kernel and the venv: ./kzt up"))
    print(ui.table(rows, ("prerequisite", "state", "detail")))
    return 0 if all(c.ok for c in checks) else 1


def cmd_prepare(a: argparse.Namespace, layout: Layout) -> int:
    from .tree import PrepareRequest, prepare
    res = prepare(layout, PrepareRequest(a.base, Path(a.source) if a.source else None, a.force))
    ui.step(f"tree {res.tree}: {res.status.value}, Linux {res.state.kernelversion}, "
            f"{len(res.state.applied)} patch(es) on base {res.state.base_commit[:12]} "
            f"({res.elapsed:.1f} s)")
    for p in res.state.applied:
        ui.info(p)
    return 0


def cmd_export(a: argparse.Namespace, layout: Layout) -> int:
    from .patches import export
    from .tree import require_tree
    tree, state = require_tree(layout, a.base)
    res = export(tree, state.base_commit, layout.patch_dir(a.base))
    if res.unchanged:
        ui.step("kernel-patches/ already matches the tree")
    else:
        for p in res.written:
            ui.info(f"wrote {p.relative_to(layout.root)}")
        for p in res.removed:
            ui.info(f"removed {p.relative_to(layout.root)}")
    from .patches import git, read_series
    series = read_series(layout.patch_dir(a.base))
    state.head = git(tree, "rev-parse", "HEAD").output.strip()
    state.series_digest = series.digest
    state.applied = [p.name for p in series.patches]
    from .tree import save_state
    save_state(layout, a.base, state)
    return 0


def cmd_config(a: argparse.Namespace, layout: Layout) -> int:
    from .host import require_venv
    from .kconfig import ConfigRequest, configure
    req = ConfigRequest(a.base, a.flavour, tuple(a.fragment or ()),
                        kconfig_add=tuple(a.kconfig_add), make_opts=tuple(a.make_opt))
    if a.dry_run:
        from .kconfig import plan
        print("\n".join(plan(layout, req)))
        return 0
    require_venv(layout)
    res = configure(layout, req)
    if res.mismatches:
        print(f"kzt: {len(res.mismatches)} requested option(s) did not take effect:",
              file=sys.stderr)
        for m in res.mismatches:
            print(f"  CONFIG_{m.symbol}: wanted {m.wanted}, got {m.got} ({m.origin})\n"
                  f"      {m.why}", file=sys.stderr)
        print("  -> fix the fragment or enable the dependencies it names; "
              "the previous .config was left as it was", file=sys.stderr)
        return 2
    ui.step(f"{res.config}: {len(res.requests)} requested options all set"
            f"{'' if res.changed else ' (unchanged)'} ({res.elapsed:.1f} s)")
    return 0


def cmd_build(a: argparse.Namespace, layout: Layout) -> int:
    from .build import BuildRequest, BuildStatus, build, make_argv
    req = BuildRequest(a.base, a.flavour, a.jobs, extra=tuple(a.make_opt))
    if a.dry_run:
        from .datafiles import Base
        from .kconfig import ConfigRequest, plan
        if a.kconfig_add:
            print("\n".join(plan(layout, ConfigRequest(a.base, a.flavour,
                                                       kconfig_add=tuple(a.kconfig_add),
                                                       make_opts=req.extra))))
        print(f"cd {layout.src(a.base)} && ", end="")
        _print_commands([make_argv(layout.out(a.base, a.flavour), Base.load(a.base),
                                   a.jobs, req.extra)])
        return 0
    if a.kconfig_add:
        rc = cmd_config(argparse.Namespace(**{**vars(a), "fragment": None}), layout)
        if rc:
            return rc
    res = build(layout, req)
    if res.status is not BuildStatus.SUCCESS:
        print(f"kzt: build failed:\n{res.first_error}\n  full log: {res.log}", file=sys.stderr)
        return 1
    ui.step(f"built {res.image} ({res.elapsed:.0f} s)")
    return 0


def _boot_request(a: argparse.Namespace, layout: Layout,  # type: ignore[no-untyped-def]
                  command: list[str] | str | None, kind: str = "boot"):
    from . import guestjob, vm
    from .build import given_image, require_image
    image = given_image(Path(a.kernel)) if getattr(a, "kernel", None) \
        else require_image(layout, a.base, a.flavour)
    # a dry run creates nothing: its run directory is only named
    run_dir = layout.runs / f"<new>-{kind}" if a.dry_run else guestjob.new_run(layout, kind)
    return vm.BootRequest(
        image=image, command=command, memory=a.memory, cpus=a.cpus,
        append=tuple(a.append or ()), disks=tuple(a.disk or ()),
        accel=vm.Accel(a.accel), timeout=a.timeout or 0, console_log=run_dir / "console.log",
        cwd=Path.cwd(), rwdirs=(run_dir,), qemu_opts=tuple(a.qemu_opt))


def _dry_run_boot(layout: Layout, req: Any) -> int:
    """Print the vng command a boot would run; under --accel auto the
    probe's cached verdict is used, or TCG is shown with a note."""
    from . import vm
    accel = req.accel
    if accel is vm.Accel.AUTO:
        cached = vm.cached_probe(layout)
        accel = vm.Accel.KVM if cached else vm.Accel.TCG
        if cached is None:
            print("# --accel auto: a KVM probe boot decides; shown for TCG")
    _print_commands([vm.vng_argv(layout, req, accel)])
    return 0


def cmd_boot(a: argparse.Namespace, layout: Layout) -> int:
    from . import vm
    req = _boot_request(a, layout, a.exec)
    if a.dry_run:
        return _dry_run_boot(layout, req)
    res = vm.boot(layout, req)
    ui.step(f"guest {res.status.value} under {res.accel.value} in {res.elapsed:.1f} s "
            f"(console log: {res.console_log})")
    return boot_exit_status(res, a.timeout)


def boot_exit_status(res: Any, timeout: float) -> int:
    """The guest command's exit status is kzt's; a boot that failed
    otherwise (kernel report, deadline, no boot) is 4."""
    from . import vm
    if res.ok:
        return 0
    print(f"kzt: {vm.explain(res, timeout)}", file=sys.stderr)
    if res.status is vm.BootStatus.COMMAND_FAILED and res.exit_code:
        return int(res.exit_code)
    return 4


def cmd_shell(a: argparse.Namespace, layout: Layout) -> int:
    from . import vm
    req = _boot_request(a, layout, None, "shell")
    if a.dry_run:
        return _dry_run_boot(layout, req)
    ui.step("shell: booting; leave the guest with 'exit' or Ctrl-D"
            + (f" (deadline {a.timeout:g} s)" if a.timeout else ""))
    res = vm.shell(layout, req, a.timeout)
    if res.timed_out:
        print(f"kzt: the shell's deadline of {a.timeout:g} s passed; the guest was stopped",
              file=sys.stderr)
        return 4
    return res.exit_code


def cmd_test(a: argparse.Namespace, layout: Layout) -> int:
    from . import vm
    from .testrun import TestRequest, print_result, run_tests
    flavour = "debug" if a.debug else a.flavour
    if not a.kernel:
        # the inner loop: edit the driver, `kzt test -k EXPR` rebuilds
        # what changed (the .config only if its inputs did), boots, tests
        from .kernel import ensure_kernel
        from .stages import ensure_venv_python
        ensure_venv_python(layout)
        ensure_kernel(layout, a.base, flavour, tuple(a.kconfig_add), tuple(a.make_opt))
    args = tuple(a.pytest_args) + (("-k", a.keyword) if a.keyword else ())
    res = run_tests(layout, TestRequest(a.base, flavour, args, vm.Accel(a.accel), a.timeout,
                                        kernel=a.kernel))
    print_result(res)
    ui.step(f"results in {res.run_dir}")
    return 0 if res.ok else 1


def cmd_soak(a: argparse.Namespace, layout: Layout) -> int:
    from . import vm
    from .testrun import SOAK_MARKERS, TestRequest, guest_timeout, print_result, run_tests
    flavour = "debug" if a.debug else "default"
    from .kernel import ensure_kernel
    from .stages import ensure_venv_python
    ensure_venv_python(layout)
    ensure_kernel(layout, a.base, flavour)
    seconds = round(a.minutes * 60)
    # Each client's last run may start just before the time is up; allow
    # for that and for the boot on top of the soak itself.
    req = TestRequest(a.base, flavour, ("-m", SOAK_MARKERS), vm.Accel(a.accel),
                      timeout=guest_timeout(flavour) + seconds,
                      guest_env=(("KZT_SOAK_SECONDS", str(seconds)),))
    ui.step(f"soak: {a.minutes:g} min per guest (2 and 4 vCPUs), {flavour} kernel")
    res = run_tests(layout, req)
    print_result(res)
    import json
    for f in sorted(res.run_dir.glob("soak-*.json")):
        r = json.loads(f.read_text())
        runs = ", ".join(f"{n} {c['runs']}" for n, c in r["clients"].items())
        moved = ", ".join(f"{k} +{r['delta'].get(k, 0)}"
                          for k in ("pers_puts", "pers_gets", "eph_puts", "eph_gets"))
        ui.info(f"{r['cpus']} vCPUs, {r['seconds']} s: runs {runs}; {moved}")
    ui.step(f"results in {res.run_dir}")
    return 0 if res.ok else 1


def cmd_kunit(a: argparse.Namespace, layout: Layout) -> int:
    import contextlib

    from . import vm
    from .kunitrun import KunitRequest, boot_request, check_result, run_kunit, to_json
    req = KunitRequest(a.base, a.flavour, a.filter, vm.Accel(a.accel), a.timeout,
                       qemu_opts=tuple(a.qemu_opt))
    if a.dry_run:
        return _dry_run_boot(layout, boot_request(layout, req, layout.runs / "<new>-kunit"))
    if not a.json:
        check_result(run_kunit(layout, req), req)
        return 0
    # --json: stdout carries the JSON document and nothing else
    with contextlib.redirect_stdout(sys.stderr):
        res = run_kunit(layout, req)
        try:
            check_result(res, req)
            rc = 0
        except KztError as e:
            print(f"kzt kunit: error: {e}")
            rc = e.exit_code
    print(to_json(res))
    return rc


def cmd_checkpatch(a: argparse.Namespace, layout: Layout) -> int:
    from .review import checkpatch_all, report_checkpatch
    return 0 if report_checkpatch(checkpatch_all(layout, a.base)) else 1


def cmd_static(a: argparse.Namespace, layout: Layout) -> int:
    from .review import report_static, static_check
    return 0 if report_static(static_check(layout, a.base, a.flavour, a.jobs)) else 1


def cmd_series_check(a: argparse.Namespace, layout: Layout) -> int:
    from .host import require_venv
    from .review import series_check
    require_venv(layout)
    results = series_check(layout, a.base, a.jobs)
    rows = [(r.patch, "ok" if r.checkpatch else "FAIL",
             *("ok" if r.builds.get(v) else "FAIL" for v in ("CLEANCACHE=y", "CLEANCACHE=n")))
            for r in results]
    print(ui.table(rows, ("patch", "checkpatch", "CLEANCACHE=y", "CLEANCACHE=n")))
    bad = False
    for r in results:
        for what, err in r.errors.items():
            bad = True
            print(f"--- {r.patch}: {what} broke:\n{err}\n", file=sys.stderr)
    return 1 if bad else 0


def cmd_stats(a: argparse.Namespace, layout: Layout) -> int:
    from pathlib import Path as P
    from .stats import run_cli
    if not P("/sys/kernel/mm").exists() or not (P("/proc/vmstat").exists()):
        raise KztError("kzt stats reads the running kernel's counters")
    if not P("/sys/kernel/mm/kztmem").exists() and not a.any_kernel:
        raise KztError("this kernel has no /sys/kernel/mm/kztmem (not booted with kztmem?)",
                       "run it in a guest: ./kzt boot --append kztmem --exec './kzt stats', "
                       "or use './kzt run WORKLOAD'; --any-kernel shows the other counters")
    return run_cli(a.json, a.watch, a.cgroup)


def _run_request(a: argparse.Namespace, profile_hz: int = 0) -> "RunRequest":
    """`kzt run`'s and `kzt profile`'s request: the workload and
    configuration, the kernel, and the guest as --clock describes it."""
    from . import vm
    from .build import given_image
    from .workrun import RunRequest
    clk = vm.clock(a.clock)
    return RunRequest(a.workload, a.with_, a.base, a.flavour, vm.Accel(a.accel), a.timeout,
                      cpus=clk.cpus, icount_shift=clk.icount_shift, qemu_cpu=clk.qemu_cpu,
                      kernel=given_image(a.kernel) if a.kernel else None,
                      profile_hz=profile_hz)


def cmd_run(a: argparse.Namespace, layout: Layout) -> int:
    import json

    from . import vm
    from .guest.counters import derive
    from .stats import render
    from .workrun import run_workload
    req = _run_request(a)
    if a.json:
        # stdout carries the JSON document only: the guest's progress and
        # each program's own lines go to stderr
        import contextlib
        with contextlib.redirect_stdout(sys.stderr):
            r = run_workload(layout, req)
    else:
        r = run_workload(layout, req)
    if r.data is None:
        raise KztError(f"the workload produced no result: {vm.explain(r.boot, a.timeout)}")
    d = r.data
    if a.json:
        print(json.dumps({"workload": r.workload["name"], "with": r.config,
                          "exit_code": d.exit_code, "seconds": d.seconds,
                          "derived": derive(d.snapshot("during")), "before": d.snapshot("before"),
                          "during": d.snapshot("during"), "after": d.snapshot("after")}, indent=1))
    else:
        print(render(d.snapshot("during"), d.snapshot("before")))
        ui.step(f"{r.workload['name']} with {r.config}: exit {d.exit_code} in "
                f"{d.seconds} s (run dir {r.run_dir})")
    if not r.boot.ok:
        print(f"kzt: {vm.explain(r.boot, a.timeout)}", file=sys.stderr)
        return 1
    return 0


def cmd_profile(a: argparse.Namespace, layout: Layout) -> int:
    from . import vm
    from .profile import profile, render
    res = profile(layout, _run_request(a, a.hz))
    print(render(res, a.top))
    d = res.run.data
    assert d is not None
    ui.step(f"{res.run.workload['name']} with {res.run.config} under perf at {a.hz} Hz "
            f"({vm.clock(a.clock).description}): exit {d.exit_code} (run dir {res.run.run_dir})")
    return 0 if res.run.boot.ok and d.exit_code == 0 else 1


if TYPE_CHECKING:
    from .bench.plan import Shard
    from .workrun import RunRequest


def shard(text: str) -> Shard:
    """--shard K/N, checked (1 <= K <= N)."""
    from .bench.plan import Shard
    try:
        return Shard.parse(text)
    except KztError as e:
        raise argparse.ArgumentTypeError(str(e).splitlines()[0]) from None


def cmd_bench(a: argparse.Namespace, layout: Layout) -> int:
    from . import vm
    from .bench.loop import main, print_plan
    from .bench.plan import BenchRequest

    def words(s: str | None) -> tuple[str, ...]:
        return tuple(w for w in (s or "").split(",") if w)
    if a.json and not a.plan:
        raise KztError("--json goes with --plan (a bench's results are in its report.json)",
                       "kzt bench --plan --json")
    req = BenchRequest(a.quick, a.reps, words(a.configs), words(a.workloads),
                       a.base, a.flavour, vm.Accel(a.accel), a.timeout, clock=a.clock,
                       seed=a.seed, shard=a.shard, kernel=Path(a.kernel) if a.kernel else None,
                       resume=Path(a.resume) if a.resume else None)
    if a.plan:
        return print_plan(layout, req, a.json)
    return main(layout, req, Path(a.render) if a.render else None)


def cmd_bench_merge(a: argparse.Namespace, layout: Layout) -> int:
    from . import guestjob
    from .bench.loop import print_summary
    from .bench.merge import merge
    out = Path(a.out) if a.out else guestjob.new_run(layout, "bench-merged")
    doc = merge([Path(d) for d in a.dirs], out)
    ui.step(f"merged {len(a.dirs)} director(ies) into {out}: bench.json, report.html, "
            "report.json, kcidb.json")
    return print_summary(doc)


def cmd_bench_compare(a: argparse.Namespace, layout: Layout) -> int:
    from .bench.compare import compare, render, write_json
    cmp = compare(Path(a.a), Path(a.b), a.tolerance / 100.0, a.strict_ranking)
    print(render(cmp))
    if a.json:
        write_json(cmp, Path(a.json))
        ui.step(f"comparison: {a.json}")
    return 0 if cmp.stable else 1


def cmd_bench_pair(a: argparse.Namespace, layout: Layout) -> int:
    from .bench.pair import PairRequest, pair, render, write_json
    metrics = tuple(w for w in (a.metrics or "").split(",") if w.strip())
    if a.metrics is not None and not metrics:
        raise KztError("--metrics is empty", "give metric names, e.g. --metrics density,disk_ios")
    res = pair(PairRequest(Path(a.dir), a.a, a.b, metrics,
                           Path(a.against) if a.against else None))
    print(render(res))
    if a.json:
        write_json(res, Path(a.json))
        ui.step(f"pairs: {a.json}")
    return 0


def cmd_bench_table(a: argparse.Namespace, layout: Layout) -> int:
    from .bench.table import TableRequest, table
    bases = tuple(b.strip() for b in (a.baselines or "").split(",") if b.strip())
    if a.baselines is not None and not bases:
        raise KztError("--baselines is empty", "give baseline names, e.g. --baselines plain,zsmalloc")
    print(table(TableRequest(Path(a.dir), bases)))
    return 0


def cmd_bench_export(a: argparse.Namespace, layout: Layout) -> int:
    from .bench import kcidb
    from .bench.merge import load
    d = Path(a.kcidb)
    path = kcidb.write(d, load(d), Path(a.out) if a.out else None)
    ui.step(f"KCIDB v{kcidb.VERSION['major']}.{kcidb.VERSION['minor']} document: {path}")
    return 0


def cmd_up(a: argparse.Namespace, layout: Layout) -> int:
    from . import vm
    from .stages import UP_WORKLOAD, UpRequest, up
    return up(layout, UpRequest(a.base, vm.Accel(a.accel), a.workload or UP_WORKLOAD))


def cmd_check(a: argparse.Namespace, layout: Layout) -> int:
    from . import vm
    from .stages import CheckRequest, check
    return check(layout, CheckRequest(a.base, vm.Accel(a.accel), tuple(a.skip)))


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="kzt", description=(
        "Build, boot and test Linux with kztmem. Start with './kzt up'; "
        "'./kzt check' runs every test."))
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def add(name: str, fn: Handler, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=fn)
        return p

    add("setup", cmd_setup, "install missing Debian packages and the Python venv (idempotent)")
    p = add("doctor", cmd_doctor, "report every prerequisite, the KVM probe, and fixes")
    p.add_argument("--no-probe", action="store_true", help="skip the KVM probe boot")
    p = add("prepare", cmd_prepare, "kernel tree under git with the series applied and the driver linked")
    _base_arg(p)
    p.add_argument("--source", help="tarball or directory (default: Debian's linux-source tarball)")
    p.add_argument("--force", action="store_true", help="discard uncommitted changes or commits in the tree")
    p = add("export-patches", cmd_export, "regenerate kernel-patches/<base>/ from the tree's commits")
    _base_arg(p)
    for name, fn, help_ in (
            ("config", cmd_config, "generate .config from fragments and check every requested symbol"),
            ("build", cmd_build, "incremental kernel build")):
        p = add(name, fn, help_)
        _base_arg(p)
        _flavour_arg(p)
        if name == "config":
            p.add_argument("--fragment", action="append", metavar="NAME|FILE",
                           help="fragment(s) to merge instead of the flavour's list (repeatable)")
        else:
            p.add_argument("-j", "--jobs", type=count(0), default=0,
                           help="make -j (default: all CPUs)")
        _kernel_opts(p)
        _dry_run_arg(p)
    p = add("boot", cmd_boot, "boot the built kernel in QEMU (virtme-ng) and run a command")
    _kernel_and_accel_args(p)
    p.add_argument("--kernel", help="boot this bzImage instead of the build's")
    p.add_argument("--exec", default="uname -r",
                   help="shell command line to run in the guest, as vng --exec takes it: "
                        "its exit status is kzt's (default: uname -r)")
    _guest_args(p)
    p.add_argument("--timeout", type=seconds, default=600, help="hard deadline in seconds")
    _qemu_opt_arg(p)
    _dry_run_arg(p)
    p = add("shell", cmd_shell, "boot the built kernel with an interactive shell "
            "in the guest (as vng -r)")
    _kernel_and_accel_args(p)
    p.add_argument("--kernel", help="boot this bzImage instead of the build's")
    _guest_args(p)
    p.add_argument("--timeout", type=seconds, default=None,
                   help="a deadline in seconds (default: none)")
    _qemu_opt_arg(p)
    _dry_run_arg(p)
    p = add("test", cmd_test, "run vm-tests/ with pytest inside guests")
    _kernel_and_accel_args(p)
    p.add_argument("--timeout", type=seconds, default=None,
                   help="deadline per guest boot (default: 1500, debug kernel 2700)")
    p.add_argument("--debug", action="store_true",
                   help="build the debug flavour (KASAN, lockdep, kmemleak, fault injection, "
                        "...) in its own directory and run the integrity suites on it")
    p.add_argument("-k", dest="keyword", help="pytest -k expression")
    _kernel_opts(p)
    p.add_argument("--kernel", type=Path, metavar="IMAGE",
                   help="boot this kernel image instead of the flavour's build "
                        "(e.g. a saved image of an older tree, to show a test failing there)")
    p.add_argument("pytest_args", nargs="*",
                   help="more pytest arguments (after --); default selection: "
                        "-m 'not debug_kernel', with --debug -m 'integrity or debug_kernel'")
    p = add("soak", cmd_soak, "swap and file clients at once in 2- and 4-vCPU guests "
            "for a bounded time, then integrity and counter checks")
    _base_arg(p)
    _accel_arg(p)
    p.add_argument("--minutes", type=positive_minutes, default=10,
                   help="how long the clients run in each guest (default: 10)")
    p.add_argument("--debug", action="store_true", help="soak the debug kernel")
    p = add("kunit", cmd_kunit, "run the driver's KUnit suites in a guest")
    _kernel_and_accel_args(p)
    p.add_argument("--filter", default="kztmem*", help="kunit.filter_glob (default: kztmem*)")
    p.add_argument("--timeout", type=seconds, default=600, help="deadline in seconds")
    p.add_argument("--json", action="store_true",
                   help="print the results as JSON (kunit.py's format) and nothing else "
                        "on stdout")
    _qemu_opt_arg(p)
    _dry_run_arg(p)
    p = add("checkpatch", cmd_checkpatch, "checkpatch --strict on every patch and driver file")
    _base_arg(p)
    p = add("static", cmd_static, "W=1 and sparse (make W=1 C=2) on the driver and the "
            "series' C files: no warning in the driver or on a line the series added")
    _base_arg(p)
    _flavour_arg(p)
    p.add_argument("-j", "--jobs", type=count(0), default=0,
                   help="make -j (default: all CPUs)")
    p = add("series-check", cmd_series_check,
            "checkpatch and a CLEANCACHE=y/n build at every prefix of the series")
    _base_arg(p)
    p.add_argument("-j", "--jobs", type=count(0), default=0,
                   help="make -j (default: all CPUs)")
    p = add("stats", cmd_stats, "(in a guest) kztmem, frontswap, cleancache, zswap, zram "
            "and vmstat counters with derived figures")
    p.add_argument("--json", action="store_true")
    p.add_argument("--watch", type=seconds, nargs="?", const=2.0, default=None,
                   metavar="SECONDS", help="refresh in place (deltas since start)")
    p.add_argument("--any-kernel", action="store_true", help="do not require kztmem")
    p.add_argument("--cgroup", metavar="PATH",
                   help="also a memory cgroup's figures: what is stored for it "
                        "(memory.zswap.current, memory.stat's zswap/zswapped) and its limits; "
                        "PATH under /sys/fs/cgroup or absolute")
    p = add("run", cmd_run, "boot, run one workload with a configuration, print its stats")
    _workload_args(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--clock", choices=tuple(CLOCK_NAMES), default="wall",
                   help="wall: 2 vCPUs, the guest's clock follows the host's; icount: 1 vCPU "
                        "under TCG with QEMU -icount, busy time counted in instructions (what "
                        "kzt bench measures); icount-erms: the same on a CPU with ERMS, the "
                        "bench's model until 2026-12-05")
    p = add("profile", cmd_profile, "boot, run one workload under perf, print where the "
            "guest's CPU time went (perf tables in the run directory)")
    _workload_args(p)
    p.add_argument("--clock", choices=tuple(CLOCK_NAMES), default="icount",
                   help="icount (default): the bench's clock, so samples follow the "
                        "instructions its modeled time counts; icount-erms, wall: see kzt run")
    p.add_argument("--hz", type=count(1), default=997,
                   help="perf samples a second (default 997, profile.DEFAULT_HZ)")
    p.add_argument("--top", type=count(1), default=30, help="functions to print (default 30)")
    p = add("bench", cmd_bench, "every configuration x every bench workload, N repetitions in "
            "blocks of a seeded order; paired verdicts in report.html + report.json "
            "(build/runs/<id>-bench)")
    _kernel_and_accel_args(p)
    p.add_argument("--quick", action="store_true", help="the quick subset of data/bench.json")
    p.add_argument("--reps", type=count(1), help="repetitions (default: from data/bench.json)")
    p.add_argument("--configs", metavar="A,B", help="CONFIG or CONFIG@DISK list (default: data/bench.json)")
    p.add_argument("--workloads", metavar="X,Y", help="workload names (default: data/bench.json)")
    p.add_argument("--timeout", type=seconds, default=1800, help="deadline per guest boot")
    p.add_argument("--clock", choices=tuple(CLOCK_NAMES), default="icount",
                   help="icount (default): 1 vCPU under TCG with QEMU -icount on a CPU without "
                        "ERMS/FSRM, so the headline time counts instructions and host load "
                        "cannot skew it; icount-erms: the same with ERMS, where the kernel's "
                        "copies and clears count a byte per instruction (the model until "
                        "2026-12-05); wall: 2 vCPUs, KVM if it works, times on the host's clock")
    p.add_argument("--render", metavar="RUN_DIR", help="only render the report of a bench directory again")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the blocks' run orders (default: a random one, recorded); "
                        "every shard of a bench needs the same")
    p.add_argument("--shard", type=shard, default=None, metavar="K/N",
                   help="run only the blocks of shard K of N (block b is shard (b-1) mod N + 1)")
    p.add_argument("--kernel", metavar="IMAGE", help="bench this bzImage instead of the build's")
    p.add_argument("--resume", metavar="DIR",
                   help="continue the interrupted bench in DIR (same options; skips finished runs)")
    p.add_argument("--plan", action="store_true",
                   help="print the plan (blocks, their order, shards) and run nothing")
    p.add_argument("--json", action="store_true", help="with --plan: the plan as JSON on stdout")
    bsub = p.add_subparsers(dest="bench_command", metavar="{merge,export,compare,pair,table}")
    m = bsub.add_parser("merge", help="merge the shards of one plan into one bench directory",
                        description="check that the directories are shards of one plan (same "
                                    "seed, variants, workloads, reps, clock, image) and write one "
                                    "bench.json, report and kcidb.json")
    m.set_defaults(func=cmd_bench_merge)
    m.add_argument("dirs", nargs="+", metavar="DIR", help="bench directories (one per shard)")
    m.add_argument("--out", metavar="DIR", help="where to write (default: build/runs/<id>-bench-merged)")
    e = bsub.add_parser("export", help="a bench directory's runs as a KCIDB v4 JSON document",
                        description="write the runs of a bench directory in KCIDB's I/O schema "
                                    "(v4.5): one test per run with its status, one per figure "
                                    "with its number")
    e.set_defaults(func=cmd_bench_export)
    e.add_argument("--kcidb", metavar="DIR", required=True, help="the bench directory")
    e.add_argument("--out", metavar="FILE", help="where to write (default: DIR/kcidb.json)")
    c = bsub.add_parser("compare", help="the headline of two benches of one plan side by side",
                        description="for two benches of one plan run under different conditions "
                                    "(e.g. a quiet and a loaded host): every cell's headline "
                                    "median B/A within the tolerance, and the same ranking of "
                                    "the variants in every workload; exit 1 if not")
    c.set_defaults(func=cmd_bench_compare)
    c.add_argument("a", metavar="A", help="a bench directory (e.g. the quiet host's)")
    c.add_argument("b", metavar="B", help="another bench directory of the same plan")
    c.add_argument("--tolerance", type=float, default=5.0, metavar="PERCENT",
                   help="largest |B/A - 1| that counts as the same, in percent (default 5)")
    c.add_argument("--strict-ranking", action="store_true",
                   help="every change in the order of the medians is a disagreement, even "
                        "between variants a bench cannot tell apart (default: only pairs both "
                        "benches tell apart, by the paired interval, the opposite way)")
    c.add_argument("--json", metavar="FILE", help="also write the comparison as JSON")
    pr = bsub.add_parser("pair", help="two variants of one bench, block by block",
                         description="for each workload and metric of one bench directory: the "
                                     "median of the paired (same-block) ratios A/B, its bootstrap "
                                     "95%% interval and a verdict (win: A is better); blocks where "
                                     "A or B did not run OK are counted as censored")
    pr.set_defaults(func=cmd_bench_pair)
    pr.add_argument("dir", metavar="DIR", help="a bench directory (with its bench.json)")
    pr.add_argument("a", metavar="A", help="a variant, CONFIG@DISK (or CONFIG if it ran on one disk)")
    pr.add_argument("b", metavar="B", help="the variant A is set against")
    pr.add_argument("--metrics", metavar="A,B",
                    help="metric names (default: the headline, density, disk_ios, disk_mib, "
                         "cpu_seconds)")
    pr.add_argument("--against", metavar="DIR_B",
                    help="take B from this bench instead: the same plan (--seed, --reps, "
                         "--configs, --workloads, --clock) on another image, blocks paired "
                         "by index (e.g. the driver before and after a change)")
    pr.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    t = bsub.add_parser("table", help="a bench's cells as a Markdown table",
                        description="one row per workload x variant: the headline's median and "
                                    "range, the paired ratio to each baseline with its 95%% "
                                    "interval and verdict, CPU time, disk I/O and requests, "
                                    "density and the runs that ended OK (computed from "
                                    "bench.json); the README's bench tables are this output")
    t.set_defaults(func=cmd_bench_table)
    t.add_argument("dir", metavar="DIR", help="a bench directory (with its bench.json)")
    t.add_argument("--baselines", metavar="A,B",
                   help="baseline names of the bench (plain, zswap, zsmalloc; default: every "
                        "one the bench ran)")
    p = add("up", cmd_up, "set up, prepare, configure, build, boot, run the default workload")
    _base_arg(p)
    _accel_arg(p)
    p.add_argument("--workload", default=None,
                   help="workload name from vm-tests/workloads (default: swap-then-reread-832, "
                        "swap pressure, then a file re-read)")
    _kernel_opts(p)
    p = add("check", cmd_check, "every test: host tests, checkpatch, build, KUnit, vm-tests")
    _base_arg(p)
    _accel_arg(p)
    from .stages import STAGE_NAMES
    p.add_argument("--skip", action="append", default=[], choices=STAGE_NAMES,
                   help="skip a stage (repeatable)")
    return ap


def complete(ap: argparse.ArgumentParser) -> None:
    """Shell completion through argcomplete, when the shell asks for it
    (see README: register-python-argcomplete); a no-op otherwise."""
    if "_ARGCOMPLETE" not in os.environ:
        return
    try:
        import argcomplete
    except ImportError:
        return
    argcomplete.autocomplete(ap)


def terminate_like_interrupt() -> None:
    """SIGTERM (kill, a CI runner's cancel, timeout(1)) unwinds like Ctrl-C,
    so the process groups kzt started (QEMU, make) are killed on the way
    out instead of being left running; the exit status is 143."""
    def on_term(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)


def main(argv: list[str] | None = None) -> int:
    terminate_like_interrupt()
    ap = parser()
    complete(ap)
    args = ap.parse_args(argv)
    layout = Layout.default()
    try:
        rc: int = args.func(args, layout)
        return rc
    except KztError as e:
        print(f"kzt {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("kzt: interrupted", file=sys.stderr)
        return 130
