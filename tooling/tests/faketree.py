"""A fake Linux source tarball and a two-patch series made with git.

The tree has what `kzt prepare` looks at: a top Makefile with the version,
Debian's top-level .gitignore stanza, drivers/staging/ (where the driver
link goes) and a few files the patches change.
"""
from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

from kzt.patches import FORMAT_PATCH_OPTS, GIT_IDENT

TOP = "linux-source-6.1"

DEBIAN_STANZA = ("#\n"
                 "# Debian packaging: ignore everything at the top level, since it\n"
                 "# isn't included in our source package\n"
                 "#\n"
                 "/*\n"
                 "!/debian/\n")

GITIGNORE = ("# SPDX-License-Identifier: GPL-2.0-only\n"
             "#\n"
             "# NOTE! Don't add files that are generated in specific\n"
             "# subdirectories here.\n"
             "#\n"
             ".*\n"
             "*.o\n"
             "*.ko\n"
             "/vmlinux\n"
             "!.gitignore\n"
             "\n" + DEBIAN_STANZA)


def makefile(version: str = "6", patchlevel: str = "1", sublevel: str = "192") -> str:
    return ("# SPDX-License-Identifier: GPL-2.0\n"
            f"VERSION = {version}\n"
            f"PATCHLEVEL = {patchlevel}\n"
            f"SUBLEVEL = {sublevel}\n"
            "EXTRAVERSION =\n"
            "NAME = Curry Ramen\n"
            "\n"
            "all:\n"
            "\t@echo this is not a kernel\n")


def source_files(patchlevel: str = "1") -> dict[str, str]:
    return {
        "Makefile": makefile(patchlevel=patchlevel),
        ".gitignore": GITIGNORE,
        "README": "Linux kernel\n============\n\nThis is a fake tree for kzt's tests.\n",
        "mm/Makefile": "obj-y := filemap.o swap.o\nobj-$(CONFIG_FRONTSWAP) += frontswap.o\n",
        "mm/Kconfig": 'config FRONTSWAP\n\tbool\n\nconfig ZSWAP\n\tbool "zswap"\n',
        "mm/filemap.c": "// SPDX-License-Identifier: GPL-2.0-only\n/* filemap */\n",
        "drivers/staging/Kconfig": ('menuconfig STAGING\n\tbool "Staging drivers"\n\n'
                                    'if STAGING\n\nsource "drivers/staging/wlan-ng/Kconfig"\n\n'
                                    'endif # STAGING\n'),
        "drivers/staging/Makefile": "# SPDX-License-Identifier: GPL-2.0\n"
                                    "obj-$(CONFIG_PRISM2_USB)\t+= wlan-ng/\n",
        "debian/changelog": "linux (6.1.192-1) bookworm; urgency=medium\n",
    }


def write_tarball(path: Path, files: dict[str, str], top: str = TOP) -> Path:
    """A .tar.xz with one top directory, like Debian's linux-source."""
    with tarfile.open(path, "w:xz") as tf:
        for name, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            info.mtime = 1_700_000_000
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))
    return path


def git(cwd: Path, *args: str, date: str | None = None) -> str:
    env = dict(os.environ)
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    res = subprocess.run(["git", *GIT_IDENT, *args], cwd=cwd, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if res.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed in {cwd}:\n{res.stdout}")
    return res.stdout.strip()


PATCH1 = {
    "mm/cleancache.c": ("// SPDX-License-Identifier: GPL-2.0-only\n"
                        "/* cleancache: a second-chance cache for clean page cache pages */\n"
                        "#include <linux/cleancache.h>\n"),
    "mm/Makefile": ("obj-y := filemap.o swap.o\nobj-$(CONFIG_FRONTSWAP) += frontswap.o\n"
                    "obj-$(CONFIG_CLEANCACHE) += cleancache.o\n"),
}
PATCH1_MSG = ("mm: add cleancache\n\n"
              "Cleancache keeps clean page cache pages that reclaim drops, so a\n"
              "backend such as kztmem can hand them back without I/O.\n\n"
              "Signed-off-by: A U Thor <author@example.com>\n")

PATCH2 = {
    "drivers/staging/Kconfig": ('menuconfig STAGING\n\tbool "Staging drivers"\n\n'
                                'if STAGING\n\nsource "drivers/staging/wlan-ng/Kconfig"\n\n'
                                'source "drivers/staging/kztmem/Kconfig"\n\n'
                                'endif # STAGING\n'),
    "drivers/staging/Makefile": ("# SPDX-License-Identifier: GPL-2.0\n"
                                 "obj-$(CONFIG_PRISM2_USB)\t+= wlan-ng/\n"
                                 "obj-$(CONFIG_KZTMEM)\t\t+= kztmem/\n"),
}
PATCH2_MSG = ("staging: kztmem: wire the driver into the build\n\n"
              "Add the Kconfig source line and the Makefile entry.\n\n"
              "Signed-off-by: A U Thor <author@example.com>\n")


def make_series(work: Path, out: Path, files: dict[str, str]) -> list[Path]:
    """Two patches on top of `files`, written with the toolkit's options."""
    repo = work / "patchwork"
    repo.mkdir(parents=True)
    for name, text in files.items():
        if name == ".gitignore":  # as `kzt prepare` commits it
            text = text.replace(DEBIAN_STANZA, "").rstrip("\n") + "\n"
        p = repo / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base", date="2026-11-01T10:00:00+00:00")
    for n, (change, msg) in enumerate(((PATCH1, PATCH1_MSG), (PATCH2, PATCH2_MSG)), 1):
        for name, text in change.items():
            (repo / name).write_text(text)
        git(repo, "add", "-A")
        git(repo, "-c", "user.name=A U Thor", "-c", "user.email=author@example.com",
            "commit", "-q", "-m", msg, date=f"2026-11-0{n + 1}T10:00:00+00:00")
    out.mkdir(parents=True, exist_ok=True)
    git(repo, "format-patch", *FORMAT_PATCH_OPTS, "-o", str(out), "HEAD~2..HEAD")
    made = sorted(out.glob("*.patch"))
    (out / "series").write_text("".join(p.name + "\n" for p in made))
    return made
