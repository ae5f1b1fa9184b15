"""checkpatch over the series and the driver, and `kzt series-check`:
every prefix of the series must pass checkpatch --strict and build with
CLEANCACHE=y and =n.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from . import datafiles, host, patches, proc, ui
from .datafiles import Base
from .build import BuildRequest, BuildStatus, build_tree
from .errors import KztError
from .kconfig import generate
from .layout import Layout
from .tree import DRIVER_LINK, require_tree

_TOTAL = re.compile(r"total: (\d+) errors, (\d+) warnings, (?:(\d+) checks, )?")
#: what checkpatch prints when one of its checks could not run: a helper
#: that crashed (scripts/spdxcheck.py without python3-ply prints a
#: traceback on stderr and the SPDX check passes silently), or a missing
#: spelling list.  Any of these fails the file: a check skipped is not passed.
_SKIPPED = re.compile(r"Traceback \(most recent call last\)|^\w*Error: |No module named "
                      r"|No typos will be found")
#: the Debian package that brings back a check that printed this
SKIP_FIXES = {"ply": "python3-ply", "git": "python3-git"}
DRIVER_GLOBS = ("*.c", "*.h", "Kconfig", "Makefile")


@dataclass
class CheckpatchResult:
    path: Path
    ok: bool
    errors: int
    warnings: int
    checks: int
    output: str
    skipped: list[str] = field(default_factory=list)


def checkpatch(tree: Path, path: Path, *, is_file: bool) -> CheckpatchResult:
    host.require_programs("perl", needed_for="checkpatch.pl")
    argv = ["perl", str(tree / "scripts" / "checkpatch.pl"), "--strict",
            "--show-types", "--color=never"]
    if is_file:
        argv += ["--no-tree", "-f"]
    res = proc.run([*argv, str(path)], cwd=tree, check=False, timeout=300,
                   what="checkpatch.pl", env=helper_env())
    m = _TOTAL.search(res.output)
    e, w, c = (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)) if m else (1, 0, 0)
    skipped = skipped_checks(res.output)
    return CheckpatchResult(path, res.returncode == 0 and m is not None and not skipped,
                            e, w, c, res.output, skipped)


#: where the distribution's python3 lives: the one python3-ply is for
SYSTEM_BIN = Path("/usr/bin")


def helper_env() -> dict[str, str] | None:
    """checkpatch starts scripts/spdxcheck.py as `python3` from PATH.  When
    another python3 comes first (a pyenv, a venv), the distribution's
    goes first for checkpatch, so that the Debian packages it needs
    (python3-ply, python3-git) are what its helper imports."""
    import os
    system = SYSTEM_BIN / "python3"
    found = proc.which("python3")
    if not system.exists() or (found and Path(found).resolve() == system.resolve()):
        return None
    return {"PATH": f"{SYSTEM_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def skipped_checks(output: str) -> list[str]:
    """The lines of checkpatch's output that say a check did not run."""
    return [ln.strip() for ln in output.splitlines() if _SKIPPED.search(ln)]


def driver_files(layout: Layout) -> list[Path]:
    files: set[Path] = set()
    for g in DRIVER_GLOBS:
        files.update(layout.driver.glob(g))
    return sorted(files)


def checkpatch_all(layout: Layout, base: str) -> list[CheckpatchResult]:
    tree, _ = require_tree(layout, base)
    series = patches.read_series(layout.patch_dir(base))
    out = [checkpatch(tree, p, is_file=False) for p in series.patches]
    out += [checkpatch(tree, f, is_file=True) for f in driver_files(layout)]
    return out


def report_checkpatch(results: list[CheckpatchResult]) -> bool:
    rows = [(str(r.path.name), "ok" if r.ok else "FAIL", str(r.errors),
             str(r.warnings), str(r.checks), "yes" if r.skipped else "")
            for r in results]
    ui.info(ui.table(rows, ("file", "checkpatch --strict", "errors", "warnings", "checks",
                            "check skipped"))
            .replace("\n", "\n    "))
    bad = [r for r in results if not r.ok]
    for r in bad:
        print(f"--- {r.path}\n{r.output.strip()[-4000:]}\n")
        if r.skipped:
            fixes = sorted({pkg for mod, pkg in SKIP_FIXES.items()
                            if any(f"'{mod}'" in ln for ln in r.skipped)})
            print(f"checkpatch could not run a check on {r.path.name}: {r.skipped[-1]}"
                  + (f"\n  -> {datafiles.install_hint(fixes)}" if fixes else ""))
    return not bad


@dataclass
class StepResult:
    patch: str
    checkpatch: bool
    builds: dict[str, bool] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


VARIANTS = {
    "CLEANCACHE=y": ["CONFIG_CLEANCACHE=y", "CONFIG_CLEANCACHE_TEST=y",
                     "CONFIG_STAGING=y", "CONFIG_KZTMEM=y"],
    "CLEANCACHE=n": ["# CONFIG_CLEANCACHE is not set", "CONFIG_STAGING=y",
                     "CONFIG_KZTMEM=y"],
}


def series_check(layout: Layout, base_name: str, jobs: int = 0) -> list[StepResult]:
    tree, state = require_tree(layout, base_name)
    base = Base.load(base_name)
    series = patches.read_series(layout.patch_dir(base_name))
    commits = patches.git(tree, "rev-list", "--reverse",
                          f"{state.base_commit}..HEAD").output.split()
    if len(commits) != len(series.patches) or state.series_digest != series.digest:
        raise KztError("the prepared tree does not match kernel-patches/",
                       "run './kzt prepare' (or './kzt export-patches') first")
    wt = layout.build / "src" / f"series-check-{base_name}"
    if not (wt / ".git").exists():
        patches.git(tree, "worktree", "prune")
        patches.git(tree, "worktree", "add", "-f", "--detach", str(wt), state.base_commit,
                    timeout=900)
    link = wt / DRIVER_LINK
    if not link.is_symlink():
        link.symlink_to(layout.driver)
    results = []
    for patch, commit in zip(series.patches, commits):
        ui.step(f"series-check: {patch.name}")
        cp = checkpatch(tree, patch, is_file=False)
        step = StepResult(patch.name, cp.ok)
        if not cp.ok:
            step.errors["checkpatch"] = cp.output.strip()[-2000:]
        patches.git(wt, "checkout", "-q", "--detach", commit)
        for variant, lines in VARIANTS.items():
            out = layout.out(base_name, "series-" + variant[-1])
            frag = out.parent / f"series-{variant[-1]}.config"
            frag.parent.mkdir(parents=True, exist_ok=True)
            frag.write_text("\n".join(lines) + "\n")
            try:
                cfg = generate(wt, state.kernelversion, base, out,
                               [layout.fragments / "base.config", frag],
                               allow_unknown=True)
                if cfg.mismatches:
                    raise KztError("; ".join(f"CONFIG_{m.symbol}={m.got}: {m.why}"
                                             for m in cfg.mismatches))
                b = build_tree(wt, base, out, BuildRequest(base=base_name, jobs=jobs))
                step.builds[variant] = b.status is BuildStatus.SUCCESS
                if not step.builds[variant]:
                    step.errors[variant] = f"{b.first_error}\n(log: {b.log})"
            except KztError as e:
                step.builds[variant] = False
                step.errors[variant] = str(e)
        results.append(step)
    return results


# --- static checks: W=1 and sparse on the driver and the series ----------

_DIAG = re.compile(r"^(?P<file>[^\s:]+):(?P<line>\d+):(?:(?P<col>\d+):)? "
                   r"(?P<kind>warning|error): (?P<msg>.*)$")
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(?P<start>\d+)(?:,(?P<count>\d+))? @@")
DRIVER_DIR = "drivers/staging/kztmem/"


@dataclass(frozen=True)
class Diagnostic:
    file: str      # relative to the tree
    line: int
    kind: str      # "warning" or "error"
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.kind}: {self.message}"


@dataclass
class StaticResult:
    argv: list[str]
    ok: bool
    ours: list[Diagnostic]          # in the driver or on a line the series added
    elsewhere: list[Diagnostic]     # upstream code the series only compiles
    log: Path
    make_failed: str = ""


def added_lines(tree: Path, base_commit: str) -> dict[str, set[int]]:
    """For each file the series changes, the line numbers it adds or changes."""
    diff = patches.git(tree, "diff", "-U0", "--no-color", f"{base_commit}..HEAD").output
    added: dict[str, set[int]] = {}
    current: set[int] | None = None
    for ln in diff.splitlines():
        if ln.startswith("+++ "):
            name = ln[4:]
            current = added.setdefault(name[2:], set()) if name.startswith("b/") else None
            continue
        m = _HUNK.match(ln)
        if m and current is not None:
            start, count = int(m.group("start")), int(m.group("count") or 1)
            current.update(range(start, start + count))
    return added


def diagnostics(output: str, tree: Path) -> list[Diagnostic]:
    """gcc's and sparse's file:line: warning|error lines, paths relative to
    the tree, each once (a header's warning repeats per compile unit)."""
    import os
    root = str(tree.resolve()).rstrip("/") + "/"
    seen: dict[Diagnostic, None] = {}
    for ln in output.splitlines():
        m = _DIAG.match(ln.strip())
        if not m:
            continue
        f = m.group("file")
        if f.startswith(root):
            f = f[len(root):]
        elif f.startswith(str(tree).rstrip("/") + "/"):
            f = f[len(str(tree).rstrip("/")) + 1:]
        f = os.path.normpath(f)
        seen.setdefault(Diagnostic(f, int(m.group("line")), m.group("kind"),
                                   m.group("msg").strip()), None)
    return list(seen)


def classify(diags: list[Diagnostic], added: dict[str, set[int]]
             ) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """Split into ours (the driver, lines the series added) and elsewhere."""
    ours, elsewhere = [], []
    for d in diags:
        if d.file.startswith(DRIVER_DIR) or d.line in added.get(d.file, set()):
            ours.append(d)
        else:
            elsewhere.append(d)
    return ours, elsewhere


def static_targets(added: dict[str, set[int]]) -> list[str]:
    """make targets: the driver's directory and each C file the series touches."""
    objs = sorted(f[:-2] + ".o" for f in added
                  if f.endswith(".c") and not f.startswith(DRIVER_DIR))
    return [DRIVER_DIR, *objs]


def static_check(layout: Layout, base_name: str, flavour: str = "default",
                 jobs: int = 0) -> StaticResult:
    """`make W=1 C=2` over the driver and the series' C files in the
    flavour's build directory: gcc's extra warnings and sparse on each of
    them, whether or not it needed recompiling."""
    from .build import make_argv
    tree, state = require_tree(layout, base_name)
    base = Base.load(base_name)
    out = layout.out(base_name, flavour)
    if not (out / ".config").exists():
        raise KztError(f"no .config in {out}", "run './kzt config' and './kzt build' first")
    host.require_programs("make", "gcc", "sparse", needed_for="W=1 and sparse (C=2) checks")
    added = added_lines(tree, state.base_commit)
    argv = make_argv(out, base, jobs, ("W=1", "C=2")) + static_targets(added)
    log = out / "static-check.log"
    ui.step(f"static: {' '.join(argv)}  (log: {log})")
    res = proc.run(argv, cwd=tree, check=False, timeout=3600, what="make W=1 C=2")
    log.write_text(res.output)
    ours, elsewhere = classify(diagnostics(res.output, tree), added)
    failed = ""
    if res.returncode != 0:
        from .build import first_error
        failed = first_error(res.output.splitlines())
    return StaticResult(argv, not ours and not failed, ours, elsewhere, log, failed)


def report_static(res: StaticResult) -> bool:
    for d in res.ours:
        print(f"  {d}")
    ui.info(f"W=1 + sparse: {len(res.ours)} warning(s) in the driver and the series' lines, "
            f"{len(res.elsewhere)} in upstream code they compile (not counted); log {res.log}")
    if res.make_failed:
        print(f"make failed:\n{res.make_failed}")
    return res.ok
