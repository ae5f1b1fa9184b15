"""Where things live: the repository, its build directory and the trees."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def _repo_root() -> Path:
    env = os.environ.get("KZT_ROOT")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Layout:
    """Paths of one checkout.  Everything generated goes under build/."""

    root: Path

    @classmethod
    def default(cls) -> "Layout":
        return cls(_repo_root())

    @property
    def build(self) -> Path:
        return Path(os.environ.get("KZT_BUILD_DIR", self.root / "build")).resolve()

    @property
    def venv(self) -> Path:
        return self.build / "venv"

    @property
    def driver(self) -> Path:
        return self.root / "drivers-staging-kztmem"

    @property
    def vm_tests(self) -> Path:
        return self.root / "vm-tests"

    @property
    def fragments(self) -> Path:
        return self.root / "tooling" / "kzt" / "fragments"

    @property
    def runs(self) -> Path:
        return self.build / "runs"

    def python_env(self) -> dict[str, str]:
        """What a Python started by the toolkit (on the host or in a guest)
        needs to import kzt from this checkout."""
        return {"PYTHONPATH": str(self.root / "tooling"), "PYTHONDONTWRITEBYTECODE": "1"}

    def patch_dir(self, base: str) -> Path:
        return self.root / "kernel-patches" / f"v{base}"

    def src(self, base: str) -> Path:
        return self.build / "src" / f"linux-{base}"

    def out(self, base: str, flavour: str = "default") -> Path:
        return self.build / "out" / f"{base}-{flavour}"

    def state_file(self, base: str) -> Path:
        return self.build / "state" / f"prepare-{base}.json"
