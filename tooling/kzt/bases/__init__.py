"""Kernel bases the toolkit knows (one JSON file each)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import KztError

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Base:
    version: str
    tarball: str
    debian_package: str
    arch: str
    image: str

    @classmethod
    def load(cls, version: str) -> "Base":
        f = HERE / f"{version}.json"
        if not f.exists():
            known = ", ".join(sorted(p.stem for p in HERE.glob("*.json")))
            raise KztError(f"unknown kernel base '{version}'", f"known bases: {known}")
        return cls(**json.loads(f.read_text()))
