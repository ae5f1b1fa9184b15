"""The patch series: reading kernel-patches/<base>/series, applying it with
`git am`, and exporting a tree's commits back into the series.

Export uses fixed `git format-patch` options so that prepare followed by
export reproduces the series byte for byte.
"""
from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import proc
from .errors import DiskFullError, KztError

FORMAT_PATCH_OPTS = ["--zero-commit", "--no-signature", "--no-numbered",
                     "--subject-prefix=PATCH", "--abbrev=12"]
GIT_IDENT = ["-c", "user.name=kzt", "-c", "user.email=kzt@localhost",
             "-c", "core.autocrlf=false", "-c", "gc.auto=0",
             "-c", "commit.gpgsign=false", "-c", "am.keepcr=false"]


@dataclass(frozen=True)
class Series:
    directory: Path
    patches: list[Path]

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for p in self.patches:
            h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
        return h.hexdigest()


def read_series(directory: Path) -> Series:
    """Parse a `series` file: one patch file name a line, # comments."""
    sf = directory / "series"
    if not directory.is_dir():
        raise KztError(f"no patch series directory {directory}",
                       "create it with a 'series' file (may be empty)")
    if not sf.exists():
        raise KztError(f"{sf} is missing",
                       "list the patch files in order, one per line")
    patches = []
    for n, line in enumerate(sf.read_text().splitlines(), 1):
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        p = directory / name
        if not p.is_file():
            raise KztError(f"{sf}:{n}: patch '{name}' does not exist",
                           f"add {p} or remove the line")
        patches.append(p)
    return Series(directory, patches)


@dataclass
class ApplyFailure:
    patch: Path
    detail: str


def git(tree: Path, *args: str, timeout: float = 600, check: bool = True) -> proc.Completed:
    return proc.run(["git", *GIT_IDENT, *args], cwd=tree, timeout=timeout,
                    check=check, what=f"git {args[0]}")


def apply(tree: Path, series: Series, base_commit: str) -> ApplyFailure | None:
    """git am every patch; on failure abort and reset to base_commit.

    A full disk is not the patch's fault: it raises DiskFullError instead
    of returning an ApplyFailure.
    """
    if not series.patches:
        return None
    res = git(tree, "am", "--committer-date-is-author-date",
              *[str(p) for p in series.patches], check=False, timeout=900)
    if res.returncode == 0:
        return None
    failed = _failed_patch(res.output, series)
    git(tree, "am", "--abort", check=False)
    git(tree, "reset", "-q", "--hard", base_commit)
    git(tree, "clean", "-fdq")
    if proc.out_of_space(res):
        # the patch is fine; the disk is not
        raise DiskFullError(tree, f"applying {failed.name} with git am")
    return ApplyFailure(failed, _hunk_detail(res.output))


def _failed_patch(output: str, series: Series) -> Path:
    m = re.search(r"Patch failed at (\d+) ", output)
    if m:
        idx = int(m.group(1)) - 1
        if 0 <= idx < len(series.patches):
            return series.patches[idx]
    return series.patches[0]


def _hunk_detail(output: str) -> str:
    keep = [ln for ln in output.splitlines()
            if ln.startswith(("error:", "Patch failed", "Applying:", "warning:"))
            or "does not apply" in ln or "patch failed" in ln]
    return "\n".join(keep[-12:]) or output.strip()[-1500:]


@dataclass
class ExportResult:
    written: list[Path]
    removed: list[Path]
    unchanged: bool


def export(tree: Path, base_commit: str, directory: Path) -> ExportResult:
    """Regenerate `directory` from the commits base_commit..HEAD."""
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kzt-export-") as tmp:
        git(tree, "format-patch", *FORMAT_PATCH_OPTS, "-o", tmp,
            f"{base_commit}..HEAD")
        new = sorted(Path(tmp).glob("*.patch"))
        old_series = directory / "series"
        old = read_series(directory).patches if old_series.exists() else []
        series_text = "".join(p.name + "\n" for p in new)
        same = ([p.name for p in new] == [p.name for p in old]
                and all(a.read_bytes() == b.read_bytes() for a, b in zip(new, old))
                and old_series.exists() and old_series.read_text() == series_text)
        if same:
            return ExportResult([], [], True)
        removed = [p for p in directory.glob("*.patch")
                   if p.name not in {n.name for n in new}]
        for p in removed:
            p.unlink()
        written = []
        for p in new:
            dst = directory / p.name
            dst.write_bytes(p.read_bytes())
            written.append(dst)
        old_series.write_text(series_text)
        return ExportResult(written, removed, False)
