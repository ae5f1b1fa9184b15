"""Where a bench's figures come from: the image they were measured on.

The image's SHA-256 (what `--resume` and `kzt bench merge` compare, so
that shards measured on different kernels are never mixed), the SHA-256
of the .config it was built with (when the image sits in a kzt build
directory), a digest of the patch series and of the driver sources in
this checkout, and the toolkit's commit.  Each run adds the host's load
and the accelerator that ran it (kzt.bench.records).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from .. import proc
from ..errors import KztError
from ..layout import Layout


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def toolkit_commit(root: Path) -> str:
    """`git describe --always --dirty` of the toolkit, or "" outside git."""
    try:
        r = proc.run(["git", "-C", str(root), "describe", "--always", "--dirty"],
                     check=False, timeout=30)
    except KztError:
        return ""
    return r.output.strip() if r.returncode == 0 else ""


def tree_digest(files: list[Path], root: Path) -> str:
    """SHA-256 over the files' names (relative to root) and contents, in
    the order given."""
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(root)).encode() + b"\0")
        h.update(file_sha256(f).encode() + b"\n")
    return h.hexdigest()


def series_files(layout: Layout, base: str) -> list[Path]:
    """The series file and its patches, in the series' order."""
    d = layout.root / "kernel-patches" / f"v{base}"
    series = d / "series"
    if not series.exists():
        return []
    names = [ln.strip() for ln in series.read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    return [series, *(d / n for n in names if (d / n).exists())]


def build_config(image: Path) -> Path | None:
    """The .config of the build directory an image was built in
    (O/arch/<arch>/boot/bzImage), if it is one."""
    for parent in image.resolve().parents:
        if (parent / ".config").is_file() and (parent / "Makefile").exists():
            return parent / ".config"
    return None


def provenance(layout: Layout, image: Path, base: str = "6.1") -> dict[str, Any]:
    """What a bench measured: the image, its .config, the series and the
    driver in this checkout, the toolkit commit."""
    out: dict[str, Any] = {"image": str(image), "image_sha256": file_sha256(image),
                           "toolkit": toolkit_commit(layout.root)}
    cfg = build_config(image)
    out["config_sha256"] = file_sha256(cfg) if cfg else None
    out["config"] = str(cfg) if cfg else None
    series = series_files(layout, base)
    out["series_digest"] = tree_digest(series, layout.root) if series else None
    out["series_patches"] = max(0, len(series) - 1)
    drv = layout.root / "drivers-staging-kztmem"
    files = sorted(p for p in drv.rglob("*") if p.is_file()) if drv.is_dir() else []
    out["driver_digest"] = tree_digest(files, layout.root) if files else None
    return out
