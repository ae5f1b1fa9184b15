"""Hostile input (issue 7): a wrong tree, a missing program, a full disk and
bad command-line values each give a clear error, a non-zero exit and a
clean build directory.

Each test observes what the user would: the message `kzt` prints, its exit
status, and what is left under the build directory.  The full-disk tests
fill a real, small tmpfs (mounting one needs root; they skip otherwise).
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterator

import pytest

import faketree
from kzt import build, cli, host, kconfig, patches, proc, review, tree, vm
from kzt.datafiles import Base
from kzt.build import BuildRequest
from kzt.errors import DiskFullError, InfraError, KztError
from kzt.layout import Layout
from kzt.tree import PrepareStatus
from test_tree import Kit, kit, listing, template  # noqa: F401  (fixtures)

TOOLING = Path(__file__).resolve().parents[1]
BASE = Base("6.1", "/nonexistent.tar.xz", "linux-source-6.1", "x86", "arch/x86/boot/bzImage")


def kzt(kit: Kit, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        *argv: str) -> tuple[int, str]:
    """`kzt ARGV` in this process on the kit's checkout: (exit status, stderr)."""
    monkeypatch.setenv("KZT_ROOT", str(kit.layout.root))
    capsys.readouterr()
    rc = cli.main(list(argv))
    return rc, capsys.readouterr().err


def one_line(text: str) -> str:
    return " ".join(text.split())


def state_files(layout: Layout) -> list[str]:
    return listing(layout.build / "state")


# --- 1. a source that is not a Linux tree -----------------------------------

def _dir_without_makefile(tmp: Path) -> Path:
    d = tmp / "photos"
    (d / "2024").mkdir(parents=True)
    (d / "2024" / "beach.jpg").write_bytes(b"\xff\xd8\xff")
    (d / "notes.txt").write_text("not a kernel\n")
    return d


def _dir_with_another_makefile(tmp: Path) -> Path:
    d = tmp / "someproject"
    d.mkdir()
    (d / "Makefile").write_text("all:\n\tcc -o hello hello.c\n")
    (d / "hello.c").write_text("int main(void) { return 0; }\n")
    return d


def _kernel_subdirectory(tmp: Path) -> Path:
    d = tmp / "linux" / "mm"
    d.mkdir(parents=True)
    (d / "Makefile").write_text(faketree.source_files()["mm/Makefile"])
    return d


def _text_named_like_a_tarball(tmp: Path) -> Path:
    f = tmp / "x.tar.xz"
    f.write_text("these are my shopping notes, not a tarball\n" * 20)
    return f


def _tarball_of_something_else(tmp: Path) -> Path:
    return faketree.write_tarball(tmp / "project-1.0.tar.xz",
                                  {"README": "a program\n", "src/main.c": "int main;\n"},
                                  top="project-1.0")


WRONG_SOURCES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "directory-without-makefile": (_dir_without_makefile, "has no top-level Makefile"),
    "directory-with-another-makefile": (_dir_with_another_makefile, "has no VERSION/PATCHLEVEL"),
    "kernel-subdirectory": (_kernel_subdirectory, "has no VERSION/PATCHLEVEL"),
    "text-file-named-x.tar.xz": (_text_named_like_a_tarball, "could not be read as a tar archive"),
    "tarball-of-another-project": (_tarball_of_something_else, "not of a Linux source tree"),
}


@pytest.mark.parametrize("kind", sorted(WRONG_SOURCES))
def test_prepare_refuses_a_source_that_is_not_a_linux_tree(
        kind: str, kit: Kit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    make, why = WRONG_SOURCES[kind]
    (tmp_path / "input").mkdir()
    src = make(tmp_path / "input")
    rc, err = kzt(kit, monkeypatch, capsys, "prepare", "--source", str(src))
    assert rc == 2
    msg = one_line(err)
    assert msg.startswith("kzt prepare: error: ")
    assert str(src) in msg  # the source, never the staging directory
    assert ".staging" not in msg
    assert why in msg
    # it says what a source must be
    assert "expected a Linux source tree" in msg and "top-level Makefile" in msg
    assert "Traceback" not in err
    assert listing(kit.layout.build / "src") == []
    assert state_files(kit.layout) == []


def test_prepare_refuses_a_device_as_source(kit: Kit, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = kzt(kit, monkeypatch, capsys, "prepare", "--source", "/dev/null")
    assert rc == 2
    assert "/dev/null is neither a directory nor a regular file" in err
    assert "expected a Linux source tree" in one_line(err)
    assert listing(kit.layout.build / "src") == []


def test_a_wrong_source_leaves_the_prepared_tree_alone(
        kit: Kit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    first = kit.prepare()
    for kind, (make, why) in sorted(WRONG_SOURCES.items()):
        d = tmp_path / kind
        d.mkdir()
        rc, err = kzt(kit, monkeypatch, capsys, "prepare", "--source", str(make(d)))
        assert rc == 2 and why in one_line(err), kind
        assert listing(kit.layout.build / "src") == ["linux-6.1"], kind
        assert kit.head() == first.state.head, kind
        assert kit.status() == "", kind
        assert tree.load_state(kit.layout, "6.1") == first.state, kind


# --- 2. a missing program ---------------------------------------------------

def path_with(d: Path, *names: str) -> str:
    """A PATH directory holding links to the real `names` and nothing else."""
    d.mkdir(parents=True, exist_ok=True)
    for n in names:
        real = shutil.which(n)
        if real is None:
            pytest.skip(f"{n} is not installed on this host")
        (d / n).symlink_to(real)
    return str(d)


def stubs_without(d: Path, *missing: str) -> str:
    """A PATH directory with a stand-in for every program in data/host.json
    except `missing` (doctor only looks the programs up)."""
    d.mkdir(parents=True, exist_ok=True)
    for c in host.HostSpec.load().commands:
        if c["command"] not in missing:
            f = d / c["command"]
            f.write_text("#!/bin/sh\nexit 0\n")
            f.chmod(0o755)
    return str(d)


def test_a_missing_program_is_named_with_its_package(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    with pytest.raises(InfraError) as ei:
        proc.run(["git", "--version"])
    msg = str(ei.value)
    assert "git: command not found" in msg
    assert "./kzt setup" in msg and "apt-get install --no-install-recommends git" in msg
    with pytest.raises(InfraError) as ei:
        proc.run(["qemu-system-x86_64", "--version"])
    assert "apt-get install --no-install-recommends qemu-system-x86" in str(ei.value)


def test_a_missing_directory_is_not_reported_as_a_missing_program(tmp_path: Path) -> None:
    with pytest.raises(InfraError) as ei:
        proc.run(["true"], cwd=tmp_path / "gone")
    assert "command not found" not in str(ei.value)
    assert f"{tmp_path / 'gone'}: no such directory" in str(ei.value)


def test_prepare_without_git_says_so_and_starts_nothing(kit: Kit, tmp_path: Path) -> None:
    # the real command line, in a fresh process whose PATH has no git
    build_dir = tmp_path / "build-nogit"
    env = {"PATH": path_with(tmp_path / "bin", "tar", "xz"),
           "PYTHONPATH": str(TOOLING), "KZT_ROOT": str(kit.layout.root),
           "KZT_BUILD_DIR": str(build_dir), "HOME": str(tmp_path)}
    res = subprocess.run([sys.executable, "-m", "kzt", "prepare", "--source", str(kit.tarball)],
                         env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2, res.stderr
    assert ("kzt prepare: error: git not found on PATH (needed for putting the kernel tree "
            "under git)") in one_line(res.stderr)
    assert "./kzt setup" in res.stderr
    assert "apt-get install --no-install-recommends git" in res.stderr
    assert "Traceback" not in res.stderr
    assert not build_dir.exists()


def test_prepare_without_xz_says_so_and_leaves_nothing(
        kit: Kit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin", "git", "tar"))
    rc, err = kzt(kit, monkeypatch, capsys, "prepare")
    assert rc == 2
    assert f"xz not found on PATH (needed for extracting {kit.tarball.name})" in err
    assert "apt-get install --no-install-recommends xz-utils" in err
    assert listing(kit.layout.build / "src") == []
    assert state_files(kit.layout) == []


def test_prepare_of_a_directory_without_rsync(kit: Kit, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "unpacked"
    for name, text in faketree.source_files().items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(text)
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin", "git", "tar", "xz"))
    rc, err = kzt(kit, monkeypatch, capsys, "prepare", "--source", str(d))
    assert rc == 2
    assert f"rsync not found on PATH (needed for copying {d})" in err
    assert "apt-get install --no-install-recommends rsync" in err
    assert listing(kit.layout.build / "src") == []


def test_config_without_flex_and_bison(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[list[str]] = []
    monkeypatch.setattr(proc, "run", lambda argv, **kw: ran.append(list(argv)))
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin", "make", "gcc"))
    out = tmp_path / "out"
    with pytest.raises(KztError) as ei:
        kconfig.generate(tmp_path / "linux", "6.1.192", BASE, out, [])
    msg = str(ei.value)
    assert "flex, bison not found on PATH (needed for make allnoconfig" in msg
    assert "apt-get install --no-install-recommends bison flex" in msg
    assert ran == [] and not out.exists()


def test_build_without_make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_make(*a: Any, **kw: Any) -> None:
        raise AssertionError("make was started")
    monkeypatch.setattr(proc, "stream", no_make)
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin", "gcc", "flex", "bison", "bc"))
    out = tmp_path / "out"
    out.mkdir()
    (out / ".config").write_text("CONFIG_X=y\n")
    with pytest.raises(KztError) as ei:
        build.build_tree(tmp_path, BASE, out, BuildRequest())
    assert "make not found on PATH (needed for building the kernel)" in str(ei.value)
    assert "apt-get install --no-install-recommends make" in str(ei.value)
    assert listing(out) == [".config"]  # not even a build.log


def test_checkpatch_without_perl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    f = tmp_path / "kztmem.c"
    f.write_text("// SPDX-License-Identifier: GPL-2.0\n")
    with pytest.raises(KztError) as ei:
        review.checkpatch(tmp_path, f, is_file=True)
    assert "perl not found on PATH (needed for checkpatch.pl)" in str(ei.value)
    assert "apt-get install --no-install-recommends perl" in str(ei.value)


def test_boot_without_qemu_starts_nothing(venv_layout: Layout, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def no_vng(*a: Any, **kw: Any) -> None:
        raise AssertionError("vng was started")
    monkeypatch.setattr(proc, "stream", no_vng)
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    image = tmp_path / "bzImage"
    image.write_bytes(b"\0" * 64)
    with pytest.raises(KztError) as ei:
        vm.boot(venv_layout, vm.BootRequest(image=image, accel=vm.Accel.TCG))
    msg = str(ei.value)
    assert "qemu-system-x86_64 not found on PATH (needed for booting a guest" in msg
    assert "apt-get install --no-install-recommends qemu-system-x86" in msg


def test_boot_without_vng_says_run_setup_and_setup_would_repair_it(
        venv_layout: Layout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (venv_layout.venv / "bin" / "vng").unlink()
    (venv_layout.venv / "bin" / "python").symlink_to(sys.executable)
    req = venv_layout.root / "tooling" / "requirements.txt"
    req.parent.mkdir(parents=True)
    req.write_text("virtme-ng==1.42\n")
    (venv_layout.venv / ".kzt-requirements").write_text(req.read_text())
    image = tmp_path / "bzImage"
    image.write_bytes(b"\0" * 64)
    with pytest.raises(InfraError) as ei:
        vm.boot(venv_layout, vm.BootRequest(image=image, accel=vm.Accel.TCG))
    assert str(venv_layout.venv / "bin" / "vng") in str(ei.value)
    assert "./kzt setup" in str(ei.value)
    # and setup does repair it: a venv without vng is not "ok"
    assert host.venv_ok(venv_layout, req) is False


@pytest.fixture
def healthy_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Everything doctor checks is there, apart from what a test takes away."""
    source = tmp_path / "linux-source-6.1.tar.xz"
    source.write_bytes(b"")
    monkeypatch.setattr(Base, "load", classmethod(
        lambda cls, v: Base(v, str(source), "linux-source-6.1", "x86", "arch/x86/boot/bzImage")))
    real = host.HostSpec.load()
    header = tmp_path / "header.h"
    header.write_text("")
    spec = host.HostSpec(real.packages, real.commands,
                         [{**f, "path": str(header)} for f in real.files], real.min_free_gib)
    monkeypatch.setattr(host.HostSpec, "load", classmethod(lambda cls, path=None: spec))
    monkeypatch.setattr(host, "venv_ok", lambda layout, req: True)
    monkeypatch.setattr(host, "dev_venv_ok", lambda layout: True)
    monkeypatch.setattr(shutil, "disk_usage",
                        lambda p: SimpleNamespace(total=2**40, used=0, free=2**40))
    monkeypatch.setenv("KZT_BUILD_DIR", str(tmp_path / "build"))
    return tmp_path


def doctor_rows(out: str) -> dict[str, str]:
    rows = {}
    for c in host.HostSpec.load().commands:
        line = next(ln for ln in out.splitlines() if ln.startswith(c["name"] + "  "))
        rows[c["command"]] = one_line(line[len(c["name"]):])
    return rows


@pytest.mark.parametrize("missing", ["git", "make", "flex", "bison", "gcc",
                                     "qemu-system-x86_64", "perl", "xz"])
def test_doctor_reports_a_missing_program_with_its_fix(
        missing: str, healthy_host: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", stubs_without(healthy_host / "all"))
    assert cli.main(["doctor", "--no-probe"]) == 0, capsys.readouterr().out
    capsys.readouterr()
    monkeypatch.setenv("PATH", stubs_without(healthy_host / "bin", missing))
    assert cli.main(["doctor", "--no-probe"]) == 1
    rows = doctor_rows(capsys.readouterr().out)
    package = host.package_of(missing)
    assert rows[missing] == (f"MISSING {missing} not found on PATH; fix: run './kzt setup' "
                             f"as root, or: apt-get install --no-install-recommends {package}")
    assert all(r.startswith("ok ") for c, r in rows.items() if c != missing)


def test_doctor_in_a_process_whose_path_lacks_git(tmp_path: Path) -> None:
    env = {"PATH": stubs_without(tmp_path / "bin", "git"), "PYTHONPATH": str(TOOLING),
           "KZT_BUILD_DIR": str(tmp_path / "build"), "HOME": str(tmp_path)}
    res = subprocess.run([sys.executable, "-m", "kzt", "doctor", "--no-probe"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    git = next(ln for ln in res.stdout.splitlines() if ln.startswith("git "))
    assert "MISSING" in git
    assert "apt-get install --no-install-recommends git" in git


# --- 3. a full disk -----------------------------------------------------------

@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """mount(size) -> a fresh tmpfs of that size; unmounted afterwards."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a small tmpfs to fill needs root")
        d = tmp_path / f"tmpfs{len(mounted)}"
        d.mkdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs",
                            str(d)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
        mounted.append(d)
        return d

    yield mount
    for d in reversed(mounted):
        if subprocess.run(["umount", str(d)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(d)], capture_output=True)


def fill(fs: Path) -> Path:
    """Write to fs until it has no byte left."""
    f = fs / "filler"
    with open(f, "ab", buffering=0) as fh:
        for size in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    fh.write(b"\0" * size)
            except OSError as e:
                assert e.errno == errno.ENOSPC
    return f


def used(fs: Path) -> int:
    return shutil.disk_usage(fs).used


def big_tarball(where: Path, mib: int) -> Path:
    files = faketree.source_files()
    files["firmware/blob.bin"] = "x" * (mib << 20)  # tiny as .xz, large unpacked
    return faketree.write_tarball(where / f"linux-source-6.1-{mib}m.tar.xz", files)


def test_full_disk_while_extracting_removes_the_partial_tree(
        kit: Kit, tmpfs: Callable[[str], Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fs = tmpfs("2m")
    monkeypatch.setenv("KZT_BUILD_DIR", str(fs))
    src = big_tarball(tmp_path, 4)
    rc, err = kzt(kit, monkeypatch, capsys, "prepare", "--source", str(src))
    assert rc == 2
    msg = one_line(err)
    assert f"kzt prepare: error: no space left on device at {fs / 'src'} while extracting {src}" in msg
    assert "free space" in msg and "KZT_BUILD_DIR" in msg
    assert listing(fs / "src") == []
    assert state_files(kit.layout) == []
    assert used(fs) < 64 << 10  # the extracted part is really gone


def test_full_disk_while_extracting_keeps_the_previous_tree(
        kit: Kit, tmpfs: Callable[[str], Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fs = tmpfs("4m")
    monkeypatch.setenv("KZT_BUILD_DIR", str(fs))
    first = kit.prepare()
    kit.status()  # git refreshes its index once; measure after that
    before = used(fs)
    rc, err = kzt(kit, monkeypatch, capsys, "prepare", "--source", str(big_tarball(tmp_path, 8)))
    assert rc == 2
    assert "no space left on device at" in err
    assert listing(fs / "src") == ["linux-6.1"]
    assert kit.head() == first.state.head
    assert kit.status() == ""
    assert tree.load_state(kit.layout, "6.1") == first.state
    assert abs(used(fs) - before) < 64 << 10


def filling_git_before(fs: Path, verb: tuple[str, ...],
                       monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Fill fs just before the first git command that starts with `verb`."""
    inner = patches.git
    filled: list[Path] = []

    def git(t: Path, *args: str, **kw: Any) -> proc.Completed:
        if not filled and args[:len(verb)] == verb:
            filled.append(fill(fs))
        return inner(t, *args, **kw)

    monkeypatch.setattr(patches, "git", git)
    return filled


def test_full_disk_while_writing_the_base_commit(
        kit: Kit, tmpfs: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    fs = tmpfs("4m")
    monkeypatch.setenv("KZT_BUILD_DIR", str(fs / "build"))
    filled = filling_git_before(fs, ("add",), monkeypatch)
    rc, err = kzt(kit, monkeypatch, capsys, "prepare")
    assert filled, "git add never ran"
    assert rc == 2
    assert (f"no space left on device at {fs / 'build' / 'src' / '.linux-6.1.staging'} "
            "while git add") in one_line(err)
    assert listing(fs / "build" / "src") == []
    assert state_files(kit.layout) == []
    filled[0].unlink()
    assert used(fs) < 64 << 10
    # with room again, the same command just works
    assert kit.prepare().status is PrepareStatus.PREPARED


def test_full_disk_while_applying_the_series_removes_the_unfinished_tree(
        kit: Kit, tmpfs: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    fs = tmpfs("4m")
    monkeypatch.setenv("KZT_BUILD_DIR", str(fs))
    filled = filling_git_before(fs, ("am", "--committer-date-is-author-date"), monkeypatch)
    rc, err = kzt(kit, monkeypatch, capsys, "prepare")
    assert filled and rc == 2, err
    msg = one_line(err)
    assert f"no space left on device at {kit.tree}" in msg
    assert f"the unfinished tree {kit.tree} was removed" in msg
    assert "does not apply" not in msg  # the patches are fine
    assert listing(fs / "src") == []
    assert state_files(kit.layout) == []
    filled[0].unlink()
    res = kit.prepare()
    assert res.status is PrepareStatus.PREPARED
    assert res.state.applied == [p.name for p in kit.patch_files]


def test_full_disk_while_reapplying_a_changed_series(
        kit: Kit, tmpfs: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    fs = tmpfs("4m")
    monkeypatch.setenv("KZT_BUILD_DIR", str(fs))
    kit.prepare()
    p2 = kit.patch_files[1]
    p2.write_text(p2.read_text().replace("Add the Kconfig source line", "Add the Kconfig line"))
    filled = filling_git_before(fs, ("am", "--committer-date-is-author-date"), monkeypatch)
    rc, err = kzt(kit, monkeypatch, capsys, "prepare")
    assert filled and rc == 2, err
    assert "no space left on device at" in err and "does not apply" not in err
    # no tree that kzt could mistake for a prepared one
    assert listing(fs / "src") == [] and state_files(kit.layout) == []
    filled[0].unlink()
    assert kit.prepare().status is PrepareStatus.PREPARED
    assert "Add the Kconfig line" in kit.git("log", "-1", "--format=%B")


def test_full_disk_while_writing_the_state_removes_the_new_tree(
        kit: Kit, tmpfs: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    fs = tmpfs("4m")
    monkeypatch.setenv("KZT_BUILD_DIR", str(fs))
    real_save = tree.save_state
    filled: list[Path] = []

    def save_on_a_full_disk(layout: Layout, base: str, state: tree.TreeState) -> None:
        if not filled:
            filled.append(fill(fs))
        real_save(layout, base, state)

    monkeypatch.setattr(tree, "save_state", save_on_a_full_disk)
    rc, err = kzt(kit, monkeypatch, capsys, "prepare")
    assert rc == 2
    msg = one_line(err)
    assert f"no space left on device at {fs / 'state'} while writing prepare-6.1.json" in msg
    assert f"the unfinished tree {kit.tree} was removed" in msg
    assert listing(fs / "src") == []
    assert listing(fs / "state") == []  # neither the state nor its .tmp
    filled[0].unlink()
    assert used(fs) < 64 << 10
    monkeypatch.setattr(tree, "save_state", real_save)
    assert kit.prepare().status is PrepareStatus.PREPARED


def test_save_state_on_a_full_disk_keeps_the_old_state(kit: Kit,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    first = kit.prepare()
    real_write = Path.write_text

    def enospc(p: Path, *a: Any, **kw: Any) -> int:
        if p.suffix == ".tmp":
            real_write(p, "{\"half\": ")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(p))
        return real_write(p, *a, **kw)

    monkeypatch.setattr(Path, "write_text", enospc)
    changed = tree.TreeState(**{**first.state.__dict__, "head": "0" * 40})
    with pytest.raises(DiskFullError) as ei:
        tree.save_state(kit.layout, "6.1", changed)
    assert str(ei.value).startswith(f"no space left on device at {kit.layout.build / 'state'}")
    # only write_text back: undo() would also bring back the caller's
    # KZT_BUILD_DIR, which conftest took away
    monkeypatch.setattr(Path, "write_text", real_write)
    assert tree.load_state(kit.layout, "6.1") == first.state
    assert state_files(kit.layout) == ["prepare-6.1.json"]


def test_a_tool_that_runs_out_of_space_is_a_disk_full_error(tmp_path: Path) -> None:
    with pytest.raises(DiskFullError) as ei:
        proc.run(["sh", "-c", "echo 'tar: x: Cannot write: No space left on device' >&2; exit 2"],
                 cwd=tmp_path, what="tar -xf x.tar.xz")
    assert str(ei.value).startswith(f"no space left on device at {tmp_path} while tar -xf x.tar.xz")


# --- 4. bad command-line values ---------------------------------------------

#: command lines and a part of the usage error each gets (a data file: one row each)
BAD_ARGS = [(c["argv"], c["why"]) for c in
            json.loads((Path(__file__).parent / "data" / "bad-args.json").read_text())["cases"]]


@pytest.mark.parametrize("argv,why", BAD_ARGS, ids=[" ".join(a) for a, _ in BAD_ARGS])
def test_bad_values_are_usage_errors_and_start_nothing(
        argv: list[str], why: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    build_dir = tmp_path / "build"
    monkeypatch.setenv("KZT_BUILD_DIR", str(build_dir))
    started: list[str] = []

    def recorder(what: str) -> Callable[..., int]:
        def record(*a: Any, **kw: Any) -> int:
            started.append(what)
            return 0
        return record

    for name in dir(cli):
        if name.startswith("cmd_"):
            monkeypatch.setattr(cli, name, recorder(name))
    monkeypatch.setattr(proc, "stream", recorder("a process"))
    with pytest.raises(SystemExit) as ei:
        cli.main(argv)
    assert ei.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: kzt")
    assert why in err
    assert started == []
    assert not build_dir.exists()


def test_good_values_are_accepted_and_normalised(tmp_path: Path) -> None:
    disk = tmp_path / "swap.img"
    disk.write_bytes(b"")
    a = cli.parser().parse_args(["boot", "--memory", "2g", "--cpus", "1", "--timeout", "0.5",
                                 "--disk", f"swap={disk}"])
    assert (a.memory, a.cpus, a.timeout) == ("2G", 1, 0.5)
    assert a.disk == [vm.Disk("swap", disk.resolve())]
    assert cli.parser().parse_args(["boot", "--memory", "1024"]).memory == "1024M"
    assert cli.parser().parse_args(["boot"]).memory == "512M"
    assert cli.parser().parse_args(["build", "-j", "0"]).jobs == 0
    assert cli.parser().parse_args(["stats", "--watch"]).watch == 2.0
    assert cli.parser().parse_args(["check", "--skip", "kunit", "--skip", "vm-tests"]).skip == [
        "kunit", "vm-tests"]
