"""checkpatch over the series and the driver, and `kzt series-check`:
every prefix of the series must pass checkpatch --strict and build with
CLEANCACHE=y and =n.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from . import host, patches, proc, ui
from .datafiles import Base
from .build import BuildRequest, BuildStatus, build_tree
from .errors import KztError
from .kconfig import generate
from .layout import Layout
from .tree import DRIVER_LINK, require_tree

_TOTAL = re.compile(r"total: (\d+) errors, (\d+) warnings, (?:(\d+) checks, )?")
DRIVER_GLOBS = ("*.c", "*.h", "Kconfig", "Makefile")


@dataclass
class CheckpatchResult:
    path: Path
    ok: bool
    errors: int
    warnings: int
    checks: int
    output: str


def checkpatch(tree: Path, path: Path, *, is_file: bool) -> CheckpatchResult:
    host.require_programs("perl", needed_for="checkpatch.pl")
    argv = ["perl", str(tree / "scripts" / "checkpatch.pl"), "--strict",
            "--show-types", "--color=never"]
    if is_file:
        argv += ["--no-tree", "-f"]
    res = proc.run([*argv, str(path)], cwd=tree, check=False, timeout=300,
                   what="checkpatch.pl")
    m = _TOTAL.search(res.output)
    e, w, c = (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)) if m else (1, 0, 0)
    return CheckpatchResult(path, res.returncode == 0 and m is not None, e, w, c,
                            res.output)


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
             str(r.warnings), str(r.checks)) for r in results]
    ui.info(ui.table(rows, ("file", "checkpatch --strict", "errors", "warnings", "checks"))
            .replace("\n", "\n    "))
    bad = [r for r in results if not r.ok]
    for r in bad:
        print(f"--- {r.path}\n{r.output.strip()[-4000:]}\n")
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
