"""Where a bench's figures come from: the image they were measured on.

Small on purpose: the image's SHA-256 (what `--resume` and `kzt bench
merge` compare, so that shards measured on different kernels are never
mixed) and the toolkit's commit.
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


def provenance(layout: Layout, image: Path) -> dict[str, Any]:
    """The image (path and SHA-256) and the toolkit commit of a bench."""
    return {"image": str(image), "image_sha256": file_sha256(image),
            "toolkit": toolkit_commit(layout.root)}
