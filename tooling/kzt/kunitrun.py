"""`kzt kunit`: run the built-in KUnit suites in a guest and read KTAP.

The kernel is configured with KUNIT_DEFAULT_ENABLED=n, so suites run only
when booted with kunit.enable=1; filter_glob picks which.  The guest boots
with kztmem on, since the kztmem_pam suite tests the running driver.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import guestjob, ktap, ui, vm
from .build import require_image
from .errors import GuestError
from .layout import Layout


@dataclass(frozen=True)
class KunitRequest:
    base: str = "6.1"
    flavour: str = "default"
    filter_glob: str = "kztmem*"
    accel: vm.Accel = vm.Accel.AUTO
    timeout: float = 600
    memory: str = "512M"


@dataclass
class KunitResult:
    ktap: ktap.KtapResult
    boot: vm.BootResult
    run_dir: Path


def run_kunit(layout: Layout, req: KunitRequest) -> KunitResult:
    image = require_image(layout, req.base, req.flavour)
    run_dir = guestjob.new_run(layout, "kunit")
    res = guestjob.run(layout, guestjob.GuestJob(
        image=image, command=("true",), run_dir=run_dir, memory=req.memory,
        append=("kunit.enable=1", f"kunit.filter_glob={req.filter_glob}", "kztmem"),
        accel=req.accel, timeout=req.timeout, echo=False))
    parsed = ktap.parse(res.output.splitlines())
    (run_dir / "kunit.txt").write_text(format_result(parsed) + "\n")
    return KunitResult(parsed, res, run_dir)


def format_result(r: ktap.KtapResult) -> str:
    lines = []
    for s in r.suites:
        lines.append(f"{s.name}: {s.status}")
        for c in s.cases:
            lines.append(f"  [{c.status.upper():4}] {c.name}")
            if c.status == "fail":
                lines.extend(f"         {d}" for d in c.diagnostics[-8:])
    totals = r.counts
    lines.append(f"{totals['ok']} passed, {totals['fail']} failed, {totals['skip']} skipped")
    return "\n".join(lines)


def check_result(res: KunitResult, req: KunitRequest) -> None:
    ui.info(format_result(res.ktap).replace("\n", "\n    "))
    if not res.boot.ok:
        raise GuestError(vm.explain(res.boot, req.timeout))
    if not res.ktap.suites:
        raise GuestError(f"no KUnit suite matched '{req.filter_glob}' "
                         f"(console: {res.boot.console_log})",
                         "is CONFIG_KZTMEM_KUNIT_TEST=y in the config?")
    if not res.ktap.ok:
        raise GuestError(f"KUnit failures (console: {res.boot.console_log})")
