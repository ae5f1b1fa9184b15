"""Shared fixtures of the host tests.

The tests need no kernel: console and build logs are recorded text in
data/, kernel trees are small fakes made in tmp_path, subprocesses that
would boot a guest are replaced by fakes.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from kzt.layout import Layout

DATA = Path(__file__).resolve().parent / "data"

pytest_plugins = ["pytester"]


def read_log(name: str) -> list[str]:
    """A recorded log from data/, as the lines proc.stream would give."""
    return (DATA / name).read_text().splitlines()


@pytest.fixture(autouse=True)
def _no_kzt_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's KZT_* settings must not leak into Layout()."""
    for var in ("KZT_BUILD_DIR", "KZT_ROOT", "KZT_NO_CCACHE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def venv_layout(tmp_path: Path) -> "Layout":
    """A checkout root whose venv has a `vng` that fails if it is ever run."""
    from kzt.layout import Layout
    lay = Layout(tmp_path / "repo")
    vng = lay.venv / "bin" / "vng"
    vng.parent.mkdir(parents=True)
    vng.write_text("#!/bin/sh\nexit 99\n")
    vng.chmod(0o755)
    return lay
