"""build.first_error on recorded make output; build_tree with a fake make."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from conftest import read_log
from kzt import build, proc
from kzt.datafiles import Base
from kzt.build import BuildRequest, BuildStatus
from kzt.errors import KztError


def test_first_error_is_the_gcc_error_not_the_warning_or_make() -> None:
    lines = read_log("make-gcc-error.log")
    text = build.first_error(lines)
    shown = text.splitlines()
    assert any("kztmem.c:523:15: error: implicit declaration of function 'kzt_pool_full'"
               in ln for ln in shown)
    assert "In function 'kzt_frontswap_store'" in text
    assert "unused variable 'flags'" not in text  # the earlier warning
    assert not shown[0].startswith("make")
    assert len(shown) <= 8


def test_first_error_linker() -> None:
    text = build.first_error(read_log("make-ld-error.log"))
    assert "undefined reference to `frontswap_register_ops'" in text
    assert "ld: drivers/staging/kztmem/kztmem.o: in function `kzt_init'" in text


def test_first_error_make_only() -> None:
    text = build.first_error(read_log("make-no-rule.log"))
    assert "No rule to make target 'drivers/staging/kztmem/missing.o'" in text


def test_first_error_without_any_error_gives_the_tail() -> None:
    lines = [f"  CC      file{i}.o" for i in range(20)]
    assert build.first_error(lines) == "\n".join(lines[-8:])


class FakeMake:
    def __init__(self, lines: list[str], returncode: int, timed_out: bool = False) -> None:
        self.lines, self.returncode, self.timed_out = lines, returncode, timed_out
        self.argv: list[str] = []
        self.env: dict[str, str] = {}

    def __call__(self, argv: list[str], **kw: Any) -> proc.Completed:
        self.argv, self.env = argv, dict(kw.get("env") or {})
        for ln in self.lines:
            kw["on_line"](ln)
        return proc.Completed(argv, self.returncode, "\n".join(self.lines), 2.0, self.timed_out)


BASE = Base("6.1", "/nonexistent.tar.xz", "linux-source-6.1", "x86", "arch/x86/boot/bzImage")


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KZT_NO_CCACHE", "1")
    o = tmp_path / "out"
    o.mkdir()
    (o / ".config").write_text("CONFIG_X=y\n")
    return o


def test_build_failure_reports_first_error(out: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeMake(read_log("make-gcc-error.log"), 2)
    monkeypatch.setattr(proc, "stream", fake)
    res = build.build_tree(tmp_path, BASE, out, BuildRequest(jobs=2))
    assert res.status is BuildStatus.FAILURE
    assert "error: implicit declaration" in res.first_error
    assert res.compiled == 4  # the CC lines seen
    assert fake.argv[:5] == ["make", f"O={out}", "ARCH=x86", "CC=gcc", "-j2"]


def test_build_success_and_timeout(out: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(proc, "stream", FakeMake(["  CC      a.o", "  LD      vmlinux"], 0))
    res = build.build_tree(tmp_path, BASE, out, BuildRequest())
    assert res.status is BuildStatus.SUCCESS
    assert res.image == out / "arch/x86/boot/bzImage"
    monkeypatch.setattr(proc, "stream", FakeMake(["  CC      a.o"], -15, timed_out=True))
    res = build.build_tree(tmp_path, BASE, out, BuildRequest(timeout=77))
    assert res.status is BuildStatus.FAILURE
    assert "did not finish within 77 s" in res.first_error


def test_build_needs_a_config(tmp_path: Path) -> None:
    with pytest.raises(KztError) as ei:
        build.build_tree(tmp_path, BASE, tmp_path / "empty", BuildRequest())
    assert "kzt config" in str(ei.value)


def test_build_identity_is_fixed_for_reproducible_images(
        out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same sources give the same image on another day or machine: the
    identity kbuild stamps in comes from the base tarball, not the clock or
    the host, and a value the user exported wins."""
    tarball = tmp_path / "linux-source-6.1.tar.xz"
    tarball.write_bytes(b"x")
    os.utime(tarball, (0, 1700000000))
    base = Base("6.1", str(tarball), "linux-source-6.1", "x86", "arch/x86/boot/bzImage")
    for var in ("KBUILD_BUILD_USER", "KBUILD_BUILD_HOST", "KBUILD_BUILD_VERSION",
                "KBUILD_BUILD_TIMESTAMP"):
        monkeypatch.delenv(var, raising=False)
    fake = FakeMake(["  LD      vmlinux"], 0)
    monkeypatch.setattr(proc, "stream", fake)
    build.build_tree(tmp_path, base, out, BuildRequest())
    assert fake.env["KBUILD_BUILD_TIMESTAMP"] == "Tue Nov 14 22:13:20 UTC 2023"
    assert (fake.env["KBUILD_BUILD_USER"], fake.env["KBUILD_BUILD_HOST"],
            fake.env["KBUILD_BUILD_VERSION"]) == ("kzt", "kzt", "1")
    monkeypatch.setenv("KBUILD_BUILD_HOST", "mybox")
    build.build_tree(tmp_path, base, out, BuildRequest())
    assert "KBUILD_BUILD_HOST" not in fake.env  # the user's own value passes through
