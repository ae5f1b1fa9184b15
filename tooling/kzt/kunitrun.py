"""`kzt kunit`: run the built-in KUnit suites in a guest and read the results.

The kernel is configured with KUNIT_DEFAULT_ENABLED=n, so suites run only
when booted with kunit.enable=1; filter_glob picks which.  The console is
parsed by the prepared tree's own KUnit parser
(tools/testing/kunit/kunit_parser.py, imported from the tree at run time),
which knows KTAP as well as the kernel that printed it and reports a case
cut short by a crash as crashed; `ktap.py` is the fallback when no tree
is prepared.  The guest boots with kztmem on, since the kztmem_pam suite
tests the running driver.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Iterable

from . import guestjob, ktap, ui, vm
from .build import require_image
from .errors import GuestError, KztError
from .layout import Layout

KUNIT_TOOLS = Path("tools") / "testing" / "kunit"


@dataclass(frozen=True)
class KunitRequest:
    base: str = "6.1"
    flavour: str = "default"
    filter_glob: str = "kztmem*"
    accel: vm.Accel = vm.Accel.AUTO
    timeout: float = 600
    memory: str = "512M"
    qemu_opts: tuple[str, ...] = ()


@dataclass
class KunitResult:
    ktap: ktap.KtapResult
    boot: vm.BootResult
    run_dir: Path
    parser: str = "ktap.py"     # which parser read the console


def tree_parser(tree: Path) -> tuple[ModuleType, ModuleType]:
    """kunit_parser and kunit_json of a kernel tree, their own printing sent
    to stderr (stdout may be carrying JSON)."""
    tools = (tree / KUNIT_TOOLS).resolve()
    if not (tools / "kunit_parser.py").is_file():
        raise KztError(f"{tools / 'kunit_parser.py'} does not exist",
                       "run './kzt prepare' for a tree that has tools/testing/kunit")
    # Each module is loaded from its file, in the order they import each
    # other, and is in sys.modules under its own name only while the next
    # ones load: nothing is added to the import path.
    names = ("kunit_printer", "kunit_parser", "kunit_json")
    saved = {n: sys.modules.pop(n) for n in names if n in sys.modules}
    mods: dict[str, ModuleType] = {}
    try:
        for n in names:
            spec = importlib.util.spec_from_file_location(n, tools / f"{n}.py")
            if spec is None or spec.loader is None:
                raise KztError(f"cannot load {tools / n}.py", "is the prepared tree complete?")
            mods[n] = importlib.util.module_from_spec(spec)
            sys.modules[n] = mods[n]
            spec.loader.exec_module(mods[n])
    finally:
        for n in names:
            sys.modules.pop(n, None)
        sys.modules.update(saved)
    setattr(mods["kunit_parser"], "stdout", mods["kunit_printer"].Printer(sys.stderr))
    return mods["kunit_parser"], mods["kunit_json"]


_STATUS = {"SUCCESS": "ok", "FAILURE": "fail", "SKIPPED": "skip",
           "TEST_CRASHED": "crash", "NO_TESTS": "none", "FAILURE_TO_PARSE_TESTS": "error"}


def _case_lines(log: list[str]) -> list[str]:
    return [ln.strip() for ln in log
            if ln.strip() and not ln.lstrip().startswith(("ok ", "not ok "))]


def from_tree_parser(parser: ModuleType, lines: Iterable[str]) -> tuple[ktap.KtapResult, Any]:
    """Parse console lines with the tree's parser; the suites and cases in
    ktap.py's terms, and the parser's own Test for its JSON."""
    top = parser.parse_run_tests(list(lines))
    suites = []
    for s in top.subtests:
        suite = ktap.Suite(s.name, _STATUS.get(s.status.name, "error"))
        for n, c in enumerate(s.subtests, 1):
            status = _STATUS.get(c.status.name, "error")
            name = c.name or f"(case {n} of {s.expected_count or '?'}: no result)"
            suite.cases.append(ktap.Case(name, status,
                                         _case_lines(c.log) if status != "ok" else []))
        suites.append(suite)
    return ktap.KtapResult(suites), top


def boot_request(layout: Layout, req: KunitRequest, run_dir: Path) -> vm.BootRequest:
    return vm.BootRequest(image=require_image(layout, req.base, req.flavour), command=["true"],
                          memory=req.memory,
                          append=("kunit.enable=1", f"kunit.filter_glob={req.filter_glob}",
                                  "kztmem"),
                          accel=req.accel, timeout=req.timeout,
                          console_log=run_dir / "console.log", echo=False,
                          qemu_opts=req.qemu_opts)


def run_kunit(layout: Layout, req: KunitRequest) -> KunitResult:
    run_dir = guestjob.new_run(layout, "kunit")
    res = vm.boot(layout, boot_request(layout, req, run_dir))
    lines = res.output.splitlines()
    try:
        parser, kjson = tree_parser(layout.src(req.base))
    except KztError as e:
        ui.warn(f"{e.message}; reading the console with ktap.py")
        parsed, name = ktap.parse(lines), "ktap.py"
    else:
        parsed, top = from_tree_parser(parser, lines)
        name = str(layout.src(req.base) / KUNIT_TOOLS / "kunit_parser.py")
        meta = kjson.Metadata(arch="x86_64", def_config=req.flavour,
                              build_dir=str(layout.out(req.base, req.flavour)))
        (run_dir / "kunit.json").write_text(kjson.get_json_result(top, meta) + "\n")
    (run_dir / "kunit.txt").write_text(format_result(parsed) + "\n")
    return KunitResult(parsed, res, run_dir, name)


def format_result(r: ktap.KtapResult) -> str:
    lines = []
    for s in r.suites:
        lines.append(f"{s.name}: {s.status}")
        for c in s.cases:
            lines.append(f"  [{c.status.upper():5}] {c.name}")
            if c.status in ("fail", "crash", "error"):
                lines.extend(f"          {d}" for d in c.diagnostics[-8:])
    totals = r.counts
    lines.append(f"{totals['ok']} passed, {totals['fail']} failed, "
                 f"{totals['crash']} crashed, {totals['skip']} skipped")
    return "\n".join(lines)


def to_json(res: KunitResult) -> str:
    """`kzt kunit --json`: every suite and case with its status, the
    boot's status and where the run's files are."""
    doc = {
        "ok": res.boot.ok and res.ktap.ok,
        "parser": res.parser,
        "boot": {"status": res.boot.status.value, "accel": res.boot.accel.value,
                 "seconds": round(res.boot.elapsed, 1),
                 "console_log": str(res.boot.console_log)},
        "run_dir": str(res.run_dir),
        "counts": res.ktap.counts,
        "suites": [{"name": s.name, "status": s.status,
                    "cases": [{"name": c.name, "status": c.status,
                               "diagnostics": c.diagnostics} for c in s.cases]}
                   for s in res.ktap.suites],
    }
    return json.dumps(doc, indent=1)


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
