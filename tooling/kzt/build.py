"""`kzt build`: an incremental kernel build with progress and a log.

Output goes to build/out/<base>-<flavour>/ (O=), the log to build.log
there.  On failure the first compiler error is printed with the log's path.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from . import host, proc, ui
from .datafiles import Base
from .errors import KztError
from .layout import Layout
from .tree import require_tree


class BuildStatus(Enum):
    SUCCESS = "success"
    FAILURE = "failure"


@dataclass(frozen=True)
class BuildRequest:
    base: str = "6.1"
    flavour: str = "default"
    jobs: int = 0
    timeout: float = 3600
    extra: tuple[str, ...] = ()


@dataclass
class BuildResult:
    status: BuildStatus
    image: Path
    log: Path
    elapsed: float
    first_error: str = ""
    compiled: int = 0


_ERR = re.compile(r"(error:|Error \d+|undefined reference|\*\*\* )")


def first_error(lines: list[str]) -> str:
    """The first compiler/linker error with a little context."""
    for i, line in enumerate(lines):
        if re.search(r"\berror:|undefined reference to|^ld: ", line):
            return "\n".join(lines[max(0, i - 2): i + 4])
    for i, line in enumerate(lines):
        if _ERR.search(line):
            return "\n".join(lines[max(0, i - 3): i + 2])
    return "\n".join(lines[-8:])


#: make variables kzt sets itself, so `--make-opt` may not
OWN_MAKE_VARS = ("O", "ARCH", "KCONFIG_CONFIG")


def make_option(text: str) -> str:
    """`--make-opt`: one make variable assignment, as kbuild takes them
    (W=1, C=1, LLVM=1, KCFLAGS=-Werror)."""
    name, sep, _ = text.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise KztError(f"--make-opt '{text}' is not NAME=VALUE",
                       "give one make variable per --make-opt, e.g. W=1, C=1 or LLVM=1")
    if name in OWN_MAKE_VARS:
        raise KztError(f"--make-opt {name}= is set by kzt itself",
                       "use KZT_BUILD_DIR for the output directory; flavours for the config")
    return text


def make_argv(out: Path, base: Base, jobs: int, extra: tuple[str, ...] = ()) -> list[str]:
    """The make command line; the compiler is ccache gcc unless an option
    (CC=, LLVM=) chooses another."""
    argv = ["make", f"O={out}", f"ARCH={base.arch}"]
    if not any(e.startswith(("CC=", "LLVM=")) for e in extra):
        cc = "ccache gcc" if proc.which("ccache") and not os.environ.get("KZT_NO_CCACHE") else "gcc"
        argv.append(f"CC={cc}")
    return [*argv, f"-j{jobs or os.cpu_count() or 1}", *extra]


def reproducible_env(base: Base) -> dict[str, str]:
    """Kbuild's build-identity variables, fixed so that the same sources,
    config and compiler give the same image, bit for bit, on any day and
    machine (Documentation/kbuild/reproducible-builds.rst).  A bench shard
    run in another session or on another runner then has the same image
    SHA-256 and merges.  The date is the base tarball's mtime: it changes
    when the sources do.  Variables already in the environment win."""
    env = {"KBUILD_BUILD_USER": "kzt", "KBUILD_BUILD_HOST": "kzt",
           "KBUILD_BUILD_VERSION": "1"}
    try:
        mtime = Path(base.tarball).stat().st_mtime
    except OSError:
        mtime = 0.0
    env["KBUILD_BUILD_TIMESTAMP"] = time.strftime("%a %b %d %H:%M:%S UTC %Y",
                                                  time.gmtime(mtime))
    return {k: v for k, v in env.items() if k not in os.environ}


def build(layout: Layout, req: BuildRequest) -> BuildResult:
    tree, _ = require_tree(layout, req.base)
    return build_tree(tree, Base.load(req.base), layout.out(req.base, req.flavour),
                      req)


def build_tree(tree: Path, base: Base, out: Path, req: BuildRequest) -> BuildResult:
    start = time.monotonic()
    if not (out / ".config").exists():
        raise KztError(f"no .config in {out}", "run './kzt config' first")
    host.require_programs("make", "gcc", "flex", "bison", "bc", needed_for="building the kernel")
    log = out / "build.log"
    argv = make_argv(out, base, req.jobs, req.extra)
    prog = ui.Progress("build")
    count = 0

    def on_line(line: str) -> None:
        nonlocal count
        s = line.strip()
        if s.startswith(("CC ", "LD ", "AR ", "AS ")):
            count += 1
            prog.update(f"{count} steps, {s}")

    ui.step(f"build: {' '.join(argv)}  (log: {log})")
    # ccache hashes absolute paths unless they are under its base dir: with
    # the directory holding both tree and output as base dir, paths become
    # relative and another clone of the project hits the same cache
    env = {"CCACHE_BASEDIR": os.path.commonpath([tree.resolve(), out.resolve()]),
           **reproducible_env(base)}
    if not os.environ.get("HOME") and not os.environ.get("CCACHE_DIR"):
        env["CCACHE_DIR"] = str(out.parent / "ccache")  # ccache needs a home
    res = proc.stream(argv, cwd=tree, timeout=req.timeout, on_line=on_line, log=log,
                      env=env)
    prog.done()
    image = out / base.image
    elapsed = time.monotonic() - start
    if res.timed_out:
        return BuildResult(BuildStatus.FAILURE, image, log, elapsed,
                           f"build did not finish within {req.timeout:.0f} s", count)
    if res.returncode != 0:
        return BuildResult(BuildStatus.FAILURE, image, log, elapsed,
                           first_error(res.output.splitlines()), count)
    return BuildResult(BuildStatus.SUCCESS, image, log, elapsed, "", count)


def given_image(path: Path) -> Path:
    """An image named with --kernel, refused before anything is made if
    it is not there."""
    if not path.is_file():
        raise KztError(f"kernel image {path} does not exist", "give --kernel a bzImage, or drop it")
    return path


def require_image(layout: Layout, base: str, flavour: str = "default") -> Path:
    b = Base.load(base)
    image = layout.out(base, flavour) / b.image
    if not image.exists():
        raise KztError(f"no kernel image {image}", "run './kzt build' first")
    return image
