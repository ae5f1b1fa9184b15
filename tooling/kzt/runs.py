"""Run directories: build/runs/<id>/ keeps what one run produced."""
from __future__ import annotations

import time
from pathlib import Path

from .layout import Layout


def new_run(layout: Layout, kind: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = layout.runs / f"{stamp}-{kind}"
    d, n = base, 1
    while d.exists():
        n += 1
        d = base.with_name(f"{base.name}.{n}")
    d.mkdir(parents=True)
    latest = layout.runs / f"latest-{kind}"
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    latest.symlink_to(d.name)
    return d


def sparse_image(path: Path, size: int) -> Path:
    with open(path, "wb") as f:
        f.truncate(size)
    return path
