"""`kzt prepare`: a kernel tree under git with the series applied.

The tree lives in build/src/linux-<base>.  Its first commit is the source
as given (with Debian's top-level "ignore everything" .gitignore stanza
dropped, so git sees the tree); the series is applied on top with `git am`
and drivers-staging-kztmem/ is linked into drivers/staging/kztmem.

Guarantees: a source of the wrong version, or one that is not a Linux
tree at all, is refused before anything is touched; a missing program is
named before anything starts; a full disk while extracting or committing
removes the half-made tree and leaves the previous one as it was, and a
full disk after that (applying the series, writing the state) removes the
new tree, so that no tree is left that the state does not truly describe;
a patch that does not apply leaves the tree at its base commit; rerunning
with nothing changed does nothing.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
import time
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path

from . import host, patches, proc, ui
from .datafiles import Base
from .errors import DiskFullError, KztError, disk_full_at
from .layout import Layout

DRIVER_LINK = "drivers/staging/kztmem"
EXPECTED = ("a Linux source tree (a directory whose top-level Makefile sets VERSION and "
            "PATCHLEVEL) or a tarball of one, such as /usr/src/linux-source-6.1.tar.xz")
# the program tar runs to decompress each kind of tarball
DECOMPRESSORS = {".xz": "xz", ".txz": "xz", ".zst": "zstd", ".gz": "gzip", ".tgz": "gzip",
                 ".bz2": "bzip2"}


class PrepareStatus(Enum):
    PREPARED = "prepared"
    REAPPLIED = "reapplied"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class PrepareRequest:
    base: str = "6.1"
    source: Path | None = None
    force: bool = False


@dataclass
class TreeState:
    source_id: str
    kernelversion: str
    base_commit: str
    head: str
    series_digest: str
    applied: list[str] = field(default_factory=list)


@dataclass
class PrepareResult:
    status: PrepareStatus
    tree: Path
    state: TreeState
    elapsed: float


def kernel_version(tree: Path) -> tuple[str, str]:
    """(VERSION.PATCHLEVEL, full version) from a tree's top Makefile."""
    mk = tree / "Makefile"
    if not mk.is_file():
        raise KztError(f"{tree} is not a Linux source tree: it has no top-level Makefile",
                       f"expected {EXPECTED}")
    return _version_from_makefile(mk.read_text(errors="replace"), mk)


def _peek_tarball_version(src: Path) -> tuple[str, str] | None:
    """The version in a tarball's top Makefile, reading only up to it."""
    try:
        with tarfile.open(src, "r|*") as tf:
            for member in tf:
                parts = member.name.strip("./").split("/")
                if parts[-1] == "Makefile" and len(parts) <= 2 and member.isfile():
                    f = tf.extractfile(member)
                    if f is None:
                        return None
                    return _version_from_makefile(f.read(4096).decode(errors="replace"),
                                                  Path(member.name))
    except (tarfile.TarError, OSError, EOFError) as e:
        raise KztError(f"{src} could not be read as a tar archive ({e}); expected {EXPECTED}",
                       "is it truncated or corrupt? re-download it or pass another --source") from e
    return None


def _version_from_makefile(text: str, mk: Path) -> tuple[str, str]:
    vals: dict[str, str] = {}
    for line in text.splitlines()[:12]:
        m = re.match(r"^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION)\s*=\s*(\S*)", line)
        if m:
            vals[m.group(1)] = m.group(2)
    if "VERSION" not in vals or "PATCHLEVEL" not in vals:
        raise KztError(f"{mk} has no VERSION/PATCHLEVEL: not a Linux source tree",
                       f"expected {EXPECTED}")
    short = f"{vals['VERSION']}.{vals['PATCHLEVEL']}"
    full = short + (f".{vals['SUBLEVEL']}" if vals.get("SUBLEVEL") else "")
    return short, full + vals.get("EXTRAVERSION", "")


def load_state(layout: Layout, base: str) -> TreeState | None:
    f = layout.state_file(base)
    if not f.exists():
        return None
    try:
        return TreeState(**json.loads(f.read_text()))
    except (ValueError, TypeError):
        return None


def save_state(layout: Layout, base: str, state: TreeState) -> None:
    f = layout.state_file(base)
    tmp = f.with_suffix(".tmp")
    try:
        with disk_full_at(f.parent, f"writing {f.name}"):
            f.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(asdict(state), indent=2) + "\n")
            tmp.replace(f)
    finally:
        tmp.unlink(missing_ok=True)


def require_tree(layout: Layout, base: str) -> tuple[Path, TreeState]:
    state = load_state(layout, base)
    tree = layout.src(base)
    if state is None or not (tree / ".git").exists():
        raise KztError(f"no prepared {base} tree in {tree}", "run './kzt prepare'")
    return tree, state


def _source_id(src: Path) -> str:
    st = src.stat()
    if src.is_dir():
        st = (src / "Makefile").stat()
    return f"{src.resolve()}:{st.st_size}:{int(st.st_mtime)}"


def _source_version(src: Path) -> tuple[str, str]:
    """The version of a source, or an error saying what a source must be."""
    if src.is_dir():
        return kernel_version(src)
    if not src.is_file():
        raise KztError(f"{src} is neither a directory nor a regular file", f"expected {EXPECTED}")
    peeked = _peek_tarball_version(src)
    if peeked is None:
        raise KztError(f"{src} is a tar archive, but not of a Linux source tree: it has "
                       "no top-level Makefile", f"expected {EXPECTED}")
    return peeked


def prepare(layout: Layout, req: PrepareRequest) -> PrepareResult:
    start = time.monotonic()
    base = Base.load(req.base)
    series = patches.read_series(layout.patch_dir(req.base))
    src = Path(req.source) if req.source else Path(base.tarball)
    if not src.exists():
        raise KztError(f"kernel source {src} does not exist",
                       f"apt-get install --no-install-recommends {base.debian_package}"
                       " (or './kzt setup'), or pass --source TARBALL|DIR")
    host.require_programs("git", needed_for="putting the kernel tree under git")
    if src.is_dir():
        kernel_version(src)  # before _source_id looks at its Makefile
    tree = layout.src(req.base)
    state = load_state(layout, req.base)
    sid = _source_id(src)

    if state and (tree / ".git").exists() and state.source_id == sid:
        status = _update(tree, state, series, req.force)
        _link_driver(layout, tree)
        if status is PrepareStatus.UNCHANGED:
            # _update may have taken in commits that match the series
            save_state(layout, req.base, state)
            return PrepareResult(status, tree, state, time.monotonic() - start)
        _apply_or_fail(layout, req.base, tree, state, series)
        return PrepareResult(status, tree, state, time.monotonic() - start)

    if state and (tree / ".git").exists() and not req.force:
        # a new source replaces the tree: never lose work doing so
        _refuse_if_work_would_be_lost(tree, state, series)
    _check_version(src, _source_version(src), req.base, base)
    # Everything up to the base commit happens in a staging directory: when
    # it fails (a full disk, Ctrl-C) the previous tree is still whole.
    staged = layout.build / "src" / f".linux-{req.base}.staging"
    try:
        _stage_source(staged, src)
        short, full = kernel_version(staged)
        _check_version(src, (short, full), req.base, base)
        for junk in (".config", "include/config", "include/generated"):
            if (staged / junk).exists():
                raise KztError(f"{src} has build output ({junk}); out-of-tree builds need a clean source",
                               f"run 'make mrproper' in {src} first")
        ui.step(f"putting Linux {full} under git (base commit)")
        base_commit = _base_commit(staged, src, full)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    if tree.exists():
        shutil.rmtree(tree)
    staged.rename(tree)
    # objects built from another source must not survive: their mtimes
    # would look newer than the freshly extracted files
    for out in layout.build.glob(f"out/{req.base}-*"):
        shutil.rmtree(out, ignore_errors=True)
    state = TreeState(sid, full, base_commit, base_commit, "", [])
    try:
        save_state(layout, req.base, state)  # the tree at its base commit
    except DiskFullError as e:
        # the old state describes a tree that is gone
        raise _drop_tree(layout, req.base, e) from e
    _link_driver(layout, tree)
    _apply_or_fail(layout, req.base, tree, state, series)
    return PrepareResult(PrepareStatus.PREPARED, tree, state, time.monotonic() - start)


def _check_version(src: Path, found: tuple[str, str], want: str, base: Base) -> None:
    short, full = found
    if short != want:
        raise KztError(
            f"{src} is Linux {full}, but the series in "
            f"kernel-patches/v{want} is for Linux {want}",
            f"use a {want} source (apt-get install "
            f"{base.debian_package}) or pass --base {short} with a series for it")


def _update(tree: Path, state: TreeState, series: patches.Series, force: bool) -> PrepareStatus:
    """Decide what an existing tree needs; reset it if the series changed."""
    dirty = patches.git(tree, "status", "--porcelain", "--untracked-files=no").output.strip()
    head = patches.git(tree, "rev-parse", "HEAD").output.strip()
    if dirty and not force:
        raise KztError(f"{tree} has uncommitted changes:\n{dirty[:1500]}",
                       "commit them and run './kzt export-patches', or rerun with --force to discard them")
    if not dirty and head == state.head and state.series_digest == series.digest:
        return PrepareStatus.UNCHANGED
    if head != state.head and not force:
        # the developer committed in the tree: fine if the series matches it
        if _series_matches_tree(tree, state.base_commit, series):
            state.head = head
            state.series_digest = series.digest
            state.applied = [p.name for p in series.patches]
            return PrepareStatus.UNCHANGED
        raise KztError(f"{tree} has commits that are not in kernel-patches/",
                       "run './kzt export-patches' to keep them, or './kzt prepare --force' to drop them")
    ui.step("the series changed: resetting the tree to its base commit and re-applying")
    patches.git(tree, "reset", "-q", "--hard", state.base_commit)
    patches.git(tree, "clean", "-fdq")
    return PrepareStatus.REAPPLIED


def _refuse_if_work_would_be_lost(tree: Path, state: TreeState,
                                  series: patches.Series) -> None:
    dirty = patches.git(tree, "status", "--porcelain", "--untracked-files=no").output.strip()
    if dirty:
        raise KztError(f"the source changed, but {tree} has uncommitted changes:\n{dirty[:1500]}",
                       "commit them and run './kzt export-patches', or rerun with --force "
                       "to discard them")
    head = patches.git(tree, "rev-parse", "HEAD").output.strip()
    if head != state.head and not _series_matches_tree(tree, state.base_commit, series):
        raise KztError(f"the source changed, but {tree} has commits that are not in kernel-patches/",
                       "run './kzt export-patches' to keep them, or rerun with --force to drop them")


def _series_matches_tree(tree: Path, base_commit: str, series: patches.Series) -> bool:
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        patches.git(tree, "format-patch", *patches.FORMAT_PATCH_OPTS, "-o", tmp,
                    f"{base_commit}..HEAD")
        new = sorted(Path(tmp).glob("*.patch"))
        return ([p.name for p in new] == [p.name for p in series.patches]
                and all(a.read_bytes() == b.read_bytes()
                        for a, b in zip(new, series.patches)))


def _apply_or_fail(layout: Layout, base: str, tree: Path, state: TreeState,
                   series: patches.Series) -> None:
    ui.step(f"applying {len(series.patches)} patch(es) from {series.directory}")
    try:
        failure = patches.apply(tree, series, state.base_commit)
    except DiskFullError as e:
        # whether git could undo its half-done am on a full disk is unknown
        raise _drop_tree(layout, base, e) from e
    if failure:
        _record_base(layout, base, state)
        raise KztError(f"patch {failure.patch} does not apply to Linux {state.kernelversion}:\n"
                       f"{failure.detail}\nthe tree was left at its base commit "
                       f"{state.base_commit[:12]}",
                       f"fix or refresh {failure.patch.name}, then rerun './kzt prepare'")
    state.head = patches.git(tree, "rev-parse", "HEAD").output.strip()
    state.series_digest = series.digest
    state.applied = [p.name for p in series.patches]
    save_state(layout, base, state)


def _record_base(layout: Layout, base: str, state: TreeState) -> None:
    """The tree was reset to its base commit: say so in the state file."""
    state.head = state.base_commit
    state.series_digest = ""
    state.applied = []
    try:
        save_state(layout, base, state)
    except DiskFullError as e:
        raise _drop_tree(layout, base, e) from e


def _drop_tree(layout: Layout, base: str, e: DiskFullError) -> DiskFullError:
    """The disk filled up in a tree whose state cannot be trusted or recorded.

    The tree and its state are removed, so that build/src never holds a
    tree kzt has no true record of; the next run starts from the source.
    """
    shutil.rmtree(layout.src(base), ignore_errors=True)
    layout.state_file(base).unlink(missing_ok=True)
    return DiskFullError(e.where, f"{e.doing}; the unfinished tree {layout.src(base)} "
                         "was removed")


def _stage_source(staged: Path, src: Path) -> None:
    """Copy or extract `src` into `staged` (the caller removes it on error)."""
    where = staged.parent
    unpack = DECOMPRESSORS.get(src.suffix)
    if src.is_dir():
        host.require_programs("rsync", needed_for=f"copying {src}")
    else:
        host.require_programs("tar", *([unpack] if unpack else []),
                              needed_for=f"extracting {src.name}")
    shutil.rmtree(staged, ignore_errors=True)
    with disk_full_at(where, f"making {staged.name}"):
        staged.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        ui.step(f"copying {src}")
        with disk_full_at(where, f"copying {src}"):
            staged.mkdir()
        res = proc.run(["rsync", "-a", "--exclude=/.git", f"{src}/", f"{staged}/"],
                       timeout=900, check=False, what=f"copying {src}")
        if proc.out_of_space(res):
            raise DiskFullError(where, f"copying {src}")
        if res.returncode != 0:
            raise KztError(f"{src} could not be copied (exit {res.returncode})",
                           res.output.strip()[-800:])
        return
    ui.step(f"extracting {src}")
    tmp = staged.with_name(staged.name + ".x")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with disk_full_at(where, f"extracting {src}"):
            tmp.mkdir()
        if not tarfile.is_tarfile(src):
            raise KztError(f"{src} is neither a directory nor a tar archive",
                           f"expected {EXPECTED}")
        res = proc.run(["tar", "-xf", str(src), "-C", str(tmp)], timeout=900,
                       check=False, what=f"tar -xf {src}")
        if proc.out_of_space(res):
            raise DiskFullError(where, f"extracting {src}")
        if res.returncode != 0:
            raise KztError(f"{src} could not be extracted (corrupt or truncated?)",
                           res.output.strip()[-800:])
        tops = [p for p in tmp.iterdir()]
        top = tops[0] if len(tops) == 1 and tops[0].is_dir() else tmp
        if top is tmp:
            tmp.rename(staged)
        else:
            top.rename(staged)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _base_commit(tree: Path, src: Path, full: str) -> str:
    gi = tree / ".gitignore"
    with disk_full_at(tree.parent, "writing the base commit"):
        if gi.exists():
            text = gi.read_text()
            cut = text.find("\n#\n# Debian packaging")
            if cut < 0:
                cut = text.find("# Debian packaging")
            if cut >= 0:
                gi.write_text(text[:cut].rstrip("\n") + "\n")
        patches.git(tree, "init", "-q", "-b", "kzt")
        exclude = tree / ".git" / "info" / "exclude"
        exclude.parent.mkdir(parents=True, exist_ok=True)
        exclude.write_text(f"/{DRIVER_LINK}\n")
    patches.git(tree, "add", "-A", timeout=900)
    patches.git(tree, "commit", "-q", "--no-verify", "-m",
                f"base: Linux {full} from {src.name}\n\n"
                "Imported by kzt prepare. Debian's top-level .gitignore stanza\n"
                "that ignores everything at the top level was dropped.",
                timeout=600)
    return patches.git(tree, "rev-parse", "HEAD").output.strip()


def _link_driver(layout: Layout, tree: Path) -> None:
    link = tree / DRIVER_LINK
    target = layout.driver
    if link.is_symlink() and os.readlink(link) == str(target):
        return
    if link.exists() or link.is_symlink():
        if link.is_symlink() or link.is_file():
            link.unlink()
        else:
            raise KztError(f"{link} exists and is not the toolkit's link",
                           f"move it away; kzt links {target} there")
    link.symlink_to(target)
