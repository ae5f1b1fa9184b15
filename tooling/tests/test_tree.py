"""`kzt prepare` and `kzt export-patches` on a fake kernel tarball.

Every test gets its own checkout root (Layout(tmp)) with a two-patch
series made by git format-patch, and Base.load pointed at a small .tar.xz.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

import faketree
from kzt import patches, tree
from kzt.datafiles import Base
from kzt.errors import KztError
from kzt.layout import Layout
from kzt.tree import PrepareRequest, PrepareResult, PrepareStatus

SOURCE_MTIME = 1_790_000_000


@dataclass
class Template:
    tarball: bytes
    patches: dict[str, bytes]
    series: str


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    d = tmp_path_factory.mktemp("template")
    tb = faketree.write_tarball(d / "src.tar.xz", faketree.source_files())
    made = faketree.make_series(d / "work", d / "series", faketree.source_files())
    return Template(tb.read_bytes(), {p.name: p.read_bytes() for p in made},
                    (d / "series" / "series").read_text())


@dataclass
class Kit:
    layout: Layout
    tarball: Path
    series_dir: Path
    base: dict[str, str]
    git_calls: list[tuple[str, ...]]

    @property
    def tree(self) -> Path:
        return self.layout.src("6.1")

    @property
    def patch_files(self) -> list[Path]:
        return patches.read_series(self.series_dir).patches

    def prepare(self, force: bool = False, source: Path | None = None) -> PrepareResult:
        return tree.prepare(self.layout, PrepareRequest("6.1", source, force))

    def git(self, *args: str) -> str:
        return faketree.git(self.tree, *args)

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def status(self) -> str:
        """Everything git sees as changed or untracked (ignored files aside)."""
        return self.git("status", "--porcelain", "--untracked-files=all")

    def subjects(self) -> list[str]:
        return self.git("log", "--reverse", "--format=%s").splitlines()

    def series_bytes(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(self.series_dir.iterdir())}

    def set_tarball(self, path: Path) -> None:
        self.base["tarball"] = str(path)


@pytest.fixture
def kit(tmp_path: Path, template: Template, monkeypatch: pytest.MonkeyPatch) -> Iterator[Kit]:
    root = tmp_path / "repo"
    layout = Layout(root)
    layout.driver.mkdir(parents=True)
    (layout.driver / "Kconfig").write_text('config KZTMEM\n\tbool "kztmem"\n')
    series_dir = layout.patch_dir("6.1")
    series_dir.mkdir(parents=True)
    for name, data in template.patches.items():
        (series_dir / name).write_bytes(data)
    (series_dir / "series").write_text(template.series)
    tarball = tmp_path / "dl" / "linux-source-6.1.tar.xz"
    tarball.parent.mkdir()
    tarball.write_bytes(template.tarball)
    os.utime(tarball, (SOURCE_MTIME, SOURCE_MTIME))
    base = {"tarball": str(tarball)}

    def fake_load(cls: type[Base], version: str) -> Base:
        if version != "6.1":
            raise KztError(f"unknown kernel base '{version}'")
        return Base(version, base["tarball"], "linux-source-6.1", "x86",
                    "arch/x86/boot/bzImage")

    monkeypatch.setattr(Base, "load", classmethod(fake_load))
    calls: list[tuple[str, ...]] = []
    real_git = patches.git

    def spy_git(t: Path, *args: str, **kw: Any) -> Any:
        calls.append(args)
        return real_git(t, *args, **kw)

    monkeypatch.setattr(patches, "git", spy_git)
    yield Kit(layout, tarball, series_dir, base, calls)


def break_patch(p: Path) -> None:
    """Change a context line so that the patch no longer applies."""
    text = p.read_text()
    assert ' source "drivers/staging/wlan-ng/Kconfig"\n' in text
    p.write_text(text.replace(' source "drivers/staging/wlan-ng/Kconfig"\n',
                              ' source "drivers/staging/other/Kconfig"\n'))


def listing(d: Path) -> list[str]:
    return sorted(x.name for x in d.iterdir()) if d.exists() else []


# --- prepare ----------------------------------------------------------------

def test_prepare_applies_the_series_and_links_the_driver(kit: Kit) -> None:
    res = kit.prepare()
    assert res.status is PrepareStatus.PREPARED
    assert res.tree == kit.tree
    assert res.state.kernelversion == "6.1.192"
    assert res.state.applied == [p.name for p in kit.patch_files]
    assert kit.subjects() == ["base: Linux 6.1.192 from linux-source-6.1.tar.xz",
                              "mm: add cleancache",
                              "staging: kztmem: wire the driver into the build"]
    assert kit.git("rev-list", "--count", f"{res.state.base_commit}..HEAD") == "2"
    assert res.state.head == kit.head()
    assert "obj-$(CONFIG_CLEANCACHE) += cleancache.o" in (kit.tree / "mm/Makefile").read_text()
    assert (kit.tree / "mm/cleancache.c").exists()
    assert "kztmem/Kconfig" in (kit.tree / "drivers/staging/Kconfig").read_text()
    link = kit.tree / tree.DRIVER_LINK
    assert link.is_symlink()
    assert os.readlink(link) == str(kit.layout.driver)
    assert (link / "Kconfig").read_text().startswith("config KZTMEM")
    # the link is not part of any commit and git does not see it at all
    assert kit.status() == ""
    assert tree.DRIVER_LINK not in kit.git("ls-files", "drivers/staging")
    assert tree.load_state(kit.layout, "6.1") == res.state


def test_prepare_drops_only_debians_gitignore_stanza(kit: Kit) -> None:
    res = kit.prepare()
    gi = kit.git("show", f"{res.state.base_commit}:.gitignore") + "\n"
    assert "Debian packaging" not in gi
    assert "\n/*\n" not in gi
    assert gi == faketree.GITIGNORE.replace(faketree.DEBIAN_STANZA, "").rstrip("\n") + "\n"
    tracked = kit.git("ls-tree", "-r", "--name-only", res.state.base_commit).splitlines()
    assert sorted(tracked) == sorted(faketree.source_files())


def test_rerun_is_unchanged_and_does_no_git_work(kit: Kit) -> None:
    first = kit.prepare()
    head = kit.head()
    mtime = (kit.tree / "Makefile").stat().st_mtime_ns
    kit.git_calls.clear()
    t0 = time.monotonic()
    again = kit.prepare()
    took = time.monotonic() - t0
    assert again.status is PrepareStatus.UNCHANGED
    assert took < 2.0
    assert kit.head() == head
    assert again.state.base_commit == first.state.base_commit
    assert (kit.tree / "Makefile").stat().st_mtime_ns == mtime
    verbs = {c[0] for c in kit.git_calls}
    assert verbs <= {"status", "rev-parse"}, kit.git_calls
    assert (kit.tree / tree.DRIVER_LINK).is_symlink()


def test_rerun_restores_a_removed_driver_link(kit: Kit) -> None:
    kit.prepare()
    (kit.tree / tree.DRIVER_LINK).unlink()
    assert kit.prepare().status is PrepareStatus.UNCHANGED
    assert os.readlink(kit.tree / tree.DRIVER_LINK) == str(kit.layout.driver)


def test_changed_patch_is_reapplied(kit: Kit) -> None:
    first = kit.prepare()
    p2 = kit.patch_files[1]
    p2.write_text(p2.read_text().replace("Add the Kconfig source line and the Makefile entry.",
                                         "Add the Kconfig source line and the Makefile entry;\n"
                                         "the driver itself is linked in by kzt."))
    res = kit.prepare()
    assert res.status is PrepareStatus.REAPPLIED
    assert res.state.base_commit == first.state.base_commit
    assert kit.head() != first.state.head
    assert "the driver itself is linked in by kzt." in kit.git("log", "-1", "--format=%B")
    assert kit.git("rev-list", "--count", f"{res.state.base_commit}..HEAD") == "2"
    assert kit.status() == ""
    assert kit.prepare().status is PrepareStatus.UNCHANGED


def test_removed_patch_is_reapplied_without_it(kit: Kit) -> None:
    kit.prepare()
    (kit.series_dir / "series").write_text(kit.patch_files[0].name + "\n")
    res = kit.prepare()
    assert res.status is PrepareStatus.REAPPLIED
    assert kit.subjects()[1:] == ["mm: add cleancache"]
    assert "kztmem" not in (kit.tree / "drivers/staging/Makefile").read_text()


def test_broken_patch_names_it_and_leaves_the_base_commit(kit: Kit) -> None:
    bad = kit.patch_files[1]
    good = bad.read_bytes()
    break_patch(bad)
    with pytest.raises(KztError) as ei:
        kit.prepare()
    msg = str(ei.value)
    assert str(bad) in msg
    assert "does not apply" in msg
    state = tree.load_state(kit.layout, "6.1")
    assert state is not None
    assert kit.head() == state.base_commit == state.head
    assert state.applied == []
    assert kit.status() == ""
    assert not (kit.tree / ".git" / "rebase-apply").exists()
    assert not (kit.tree / "mm/cleancache.c").exists()  # patch 1 was undone too
    # fixing the patch is enough for the next run
    bad.write_bytes(good)
    res = kit.prepare()
    assert res.status is PrepareStatus.REAPPLIED
    assert len(res.state.applied) == 2
    assert kit.status() == ""


def test_broken_patch_on_reapply_resets_to_the_base(kit: Kit) -> None:
    first = kit.prepare()
    bad = kit.patch_files[1]
    break_patch(bad)
    with pytest.raises(KztError) as ei:
        kit.prepare()
    assert bad.name in str(ei.value)
    assert kit.head() == first.state.base_commit
    assert kit.status() == ""
    assert (kit.tree / tree.DRIVER_LINK).is_symlink()


def test_wrong_version_is_refused_and_nothing_is_left(kit: Kit, tmp_path: Path) -> None:
    src_dir = kit.layout.build / "src"
    before = listing(src_dir)
    wrong = faketree.write_tarball(tmp_path / "dl" / "linux-source-other.tar.xz",
                                   faketree.source_files(patchlevel="12"),
                                   top="linux-source-6.12")
    kit.set_tarball(wrong)
    with pytest.raises(KztError) as ei:
        kit.prepare()
    msg = str(ei.value).replace(str(wrong), "<src>")
    assert "6.12" in msg
    assert re.search(r"6\.1(?!\d)", msg), msg
    assert listing(src_dir) == before
    assert tree.load_state(kit.layout, "6.1") is None


def test_wrong_version_leaves_an_existing_tree_alone(kit: Kit, tmp_path: Path) -> None:
    first = kit.prepare()
    before = listing(kit.layout.build / "src")
    wrong = faketree.write_tarball(tmp_path / "dl" / "linux-source-other.tar.xz",
                                   faketree.source_files(patchlevel="12"))
    kit.set_tarball(wrong)
    with pytest.raises(KztError):
        kit.prepare()
    assert listing(kit.layout.build / "src") == before
    assert kit.head() == first.state.head
    assert tree.load_state(kit.layout, "6.1") == first.state


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_tarball_is_a_clear_error(kit: Kit, damage: str) -> None:
    data = kit.tarball.read_bytes()
    kit.tarball.write_bytes(b"this is not a tarball\n" * 100 if damage == "garbage"
                            else data[: len(data) // 2])
    with pytest.raises(KztError) as ei:
        kit.prepare()
    msg = str(ei.value)
    assert str(kit.tarball) in msg
    assert "tar" in msg or "corrupt" in msg
    assert listing(kit.layout.build / "src") == []
    assert tree.load_state(kit.layout, "6.1") is None


def test_missing_source_tells_how_to_get_it(kit: Kit, tmp_path: Path) -> None:
    kit.set_tarball(tmp_path / "nowhere.tar.xz")
    with pytest.raises(KztError) as ei:
        kit.prepare()
    assert "nowhere.tar.xz" in str(ei.value)
    assert "apt-get install" in str(ei.value) and "linux-source-6.1" in str(ei.value)


def test_source_with_build_output_is_refused(kit: Kit, tmp_path: Path) -> None:
    files = faketree.source_files()
    files[".config"] = "CONFIG_X=y\n"
    dirty = faketree.write_tarball(tmp_path / "dl" / "built.tar.xz", files)
    kit.set_tarball(dirty)
    with pytest.raises(KztError) as ei:
        kit.prepare()
    assert ".config" in str(ei.value) and "mrproper" in str(ei.value)
    assert listing(kit.layout.build / "src") == []


def test_directory_source(kit: Kit, tmp_path: Path) -> None:
    d = tmp_path / "unpacked"
    for name, text in faketree.source_files().items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(text)
    res = kit.prepare(source=d)
    assert res.status is PrepareStatus.PREPARED
    assert len(res.state.applied) == 2
    assert kit.status() == ""


def test_new_source_replaces_tree_and_old_build_output(kit: Kit) -> None:
    first = kit.prepare()
    out = kit.layout.out("6.1", "default")
    out.mkdir(parents=True)
    (out / "vmlinux.o").write_text("stale")
    os.utime(kit.tarball, (SOURCE_MTIME + 100, SOURCE_MTIME + 100))
    res = kit.prepare()
    assert res.status is PrepareStatus.PREPARED
    assert res.state.source_id != first.state.source_id
    assert not out.exists()
    assert len(res.state.applied) == 2


# --- uncommitted work and commits in the tree -------------------------------

def test_uncommitted_changes_make_prepare_refuse(kit: Kit) -> None:
    kit.prepare()
    readme = kit.tree / "README"
    readme.write_text(readme.read_text() + "local edit\n")
    with pytest.raises(KztError) as ei:
        kit.prepare()
    assert "uncommitted" in str(ei.value)
    assert "README" in str(ei.value)
    assert "--force" in str(ei.value)
    assert readme.read_text().endswith("local edit\n")


def test_force_discards_uncommitted_changes(kit: Kit) -> None:
    first = kit.prepare()
    readme = kit.tree / "README"
    readme.write_text("local edit\n")
    res = kit.prepare(force=True)
    assert res.status is PrepareStatus.REAPPLIED
    assert "local edit" not in readme.read_text()
    assert kit.status() == ""
    assert kit.git("rev-list", "--count", f"{first.state.base_commit}..HEAD") == "2"


def test_new_source_does_not_discard_uncommitted_changes(kit: Kit) -> None:
    # A new linux-source package (new mtime) must not silently wipe the
    # developer's work: the same rule as for an unchanged source applies.
    kit.prepare()
    readme = kit.tree / "README"
    readme.write_text(readme.read_text() + "local edit\n")
    os.utime(kit.tarball, (SOURCE_MTIME + 100, SOURCE_MTIME + 100))
    with pytest.raises(KztError) as ei:
        kit.prepare()
    assert "uncommitted" in str(ei.value)
    assert readme.read_text().endswith("local edit\n")


def test_unexported_commit_makes_prepare_refuse(kit: Kit) -> None:
    kit.prepare()
    (kit.tree / "mm/cleancache.c").write_text("// SPDX-License-Identifier: GPL-2.0-only\n")
    kit.git("commit", "-q", "-am", "mm: cleancache: trim")
    head = kit.head()
    with pytest.raises(KztError) as ei:
        kit.prepare()
    assert "export-patches" in str(ei.value)
    assert kit.head() == head
    res = kit.prepare(force=True)
    assert res.status is PrepareStatus.REAPPLIED
    assert kit.head() != head
    assert kit.subjects()[-1] == "staging: kztmem: wire the driver into the build"


# --- export -----------------------------------------------------------------

def test_export_after_prepare_reproduces_the_series_byte_for_byte(kit: Kit) -> None:
    res = kit.prepare()
    before = kit.series_bytes()
    exp = patches.export(kit.tree, res.state.base_commit, kit.series_dir)
    assert exp.unchanged is True
    assert exp.written == [] and exp.removed == []
    assert kit.series_bytes() == before


def test_export_of_a_new_commit_appends_a_patch(kit: Kit) -> None:
    res = kit.prepare()
    before = kit.series_bytes()
    c = kit.tree / "mm/cleancache.c"
    c.write_text(c.read_text() + "\nint cleancache_enabled;\n")
    kit.git("commit", "-q", "-am", "mm: cleancache: add cleancache_enabled\n\n"
            "Signed-off-by: kzt <kzt@localhost>")
    exp = patches.export(kit.tree, res.state.base_commit, kit.series_dir)
    assert exp.unchanged is False
    new = kit.series_dir / "0003-mm-cleancache-add-cleancache_enabled.patch"
    assert new in exp.written
    assert exp.removed == []
    assert (kit.series_dir / "series").read_text().splitlines() == [
        *(n for n in sorted(before) if n.endswith(".patch")), new.name]
    assert "+int cleancache_enabled;" in new.read_text()
    after = kit.series_bytes()
    for name, data in before.items():
        if name != "series":
            assert after[name] == data, name
    # the tree now matches kernel-patches/: nothing to do, and the state
    # names the new patch (kzt prints "+ N patch(es)" from it)
    again = kit.prepare()
    assert again.status is PrepareStatus.UNCHANGED
    assert again.state.applied == [n for n in (kit.series_dir / "series").read_text().split()]
    assert len(again.state.applied) == 3
    saved = tree.load_state(kit.layout, "6.1")
    assert saved is not None and saved.applied == again.state.applied
    assert saved.head == kit.head()
    assert kit.head() == faketree.git(kit.tree, "rev-parse", "HEAD")
    assert len(kit.subjects()) == 4


def test_export_removes_patches_of_dropped_commits(kit: Kit) -> None:
    res = kit.prepare()
    kit.git("reset", "-q", "--hard", "HEAD~1")
    exp = patches.export(kit.tree, res.state.base_commit, kit.series_dir)
    assert [p.name for p in exp.removed] == [
        "0002-staging-kztmem-wire-the-driver-into-the-build.patch"]
    assert (kit.series_dir / "series").read_text() == "0001-mm-add-cleancache.patch\n"
    assert not (kit.series_dir / "0002-staging-kztmem-wire-the-driver-into-the-build.patch").exists()


# --- series file and version parsing ----------------------------------------

def test_read_series_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    for n in ("0001-a.patch", "0002-b.patch"):
        (tmp_path / n).write_text("x")
    (tmp_path / "series").write_text("# the series\n0001-a.patch\n\n0002-b.patch  # second\n")
    s = patches.read_series(tmp_path)
    assert [p.name for p in s.patches] == ["0001-a.patch", "0002-b.patch"]
    d1 = s.digest
    (tmp_path / "0002-b.patch").write_text("y")
    assert patches.read_series(tmp_path).digest != d1


def test_read_series_errors(tmp_path: Path) -> None:
    with pytest.raises(KztError, match="no patch series directory"):
        patches.read_series(tmp_path / "missing")
    with pytest.raises(KztError, match="series is missing"):
        patches.read_series(tmp_path)
    (tmp_path / "0001-a.patch").write_text("x")
    (tmp_path / "series").write_text("0001-a.patch\n0002-gone.patch\n")
    with pytest.raises(KztError) as ei:
        patches.read_series(tmp_path)
    assert "series:2" in str(ei.value) and "0002-gone.patch" in str(ei.value)


def test_empty_series_is_allowed(kit: Kit) -> None:
    (kit.series_dir / "series").write_text("")
    res = kit.prepare()
    assert res.status is PrepareStatus.PREPARED
    assert kit.head() == res.state.base_commit
    assert res.state.applied == []


def test_kernel_version(tmp_path: Path) -> None:
    (tmp_path / "Makefile").write_text(faketree.makefile())
    assert tree.kernel_version(tmp_path) == ("6.1", "6.1.192")
    (tmp_path / "Makefile").write_text("VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 0\n"
                                       "EXTRAVERSION = -rc1\n")
    assert tree.kernel_version(tmp_path) == ("6.12", "6.12.0-rc1")
    (tmp_path / "Makefile").write_text("all:\n\ttrue\n")
    with pytest.raises(KztError, match="VERSION/PATCHLEVEL"):
        tree.kernel_version(tmp_path)
    with pytest.raises(KztError, match="not a Linux source tree"):
        tree.kernel_version(tmp_path / "nothing")


def test_require_tree_without_prepare(tmp_path: Path) -> None:
    with pytest.raises(KztError) as ei:
        tree.require_tree(Layout(tmp_path), "6.1")
    assert "kzt prepare" in str(ei.value)


def test_series_check_names_each_patch_and_what_broke(
        kit: Kit, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """series-check visits every prefix in a worktree and reports, per patch,
    checkpatch and both CLEANCACHE builds; here checkpatch fails on patch 1
    and the CLEANCACHE=n build fails at patch 2 (stand-ins for the real tools)."""
    import argparse
    from types import SimpleNamespace

    from kzt import cli, host, review
    from kzt.build import BuildResult, BuildStatus
    kit.prepare()
    built: list[tuple[str, str]] = []

    def fake_checkpatch(t: Path, path: Path, *, is_file: bool) -> review.CheckpatchResult:
        ok = not path.name.startswith("0001")
        return review.CheckpatchResult(path, ok, 0 if ok else 1, 0, 0,
                                       "" if ok else "ERROR: trailing whitespace")

    def fake_build(wt: Path, base: Base, out: Path, req: Any) -> BuildResult:
        subject = faketree.git(wt, "log", "-1", "--format=%s")
        built.append((subject, out.name))
        broken = subject.startswith("staging") and out.name.endswith("series-n")
        return BuildResult(BuildStatus.FAILURE if broken else BuildStatus.SUCCESS,
                           out / "bzImage", out / "build.log", 1.0,
                           "mm/cleancache.c:12: error: 'foo' undeclared" if broken else "")

    monkeypatch.setattr(review, "checkpatch", fake_checkpatch)
    monkeypatch.setattr(review, "build_tree", fake_build)
    monkeypatch.setattr(review, "generate",
                        lambda *a, **k: SimpleNamespace(mismatches=[]))
    monkeypatch.setattr(host, "require_venv", lambda layout: None)

    code = cli.cmd_series_check(argparse.Namespace(base="6.1", jobs=0), kit.layout)
    out, err = capsys.readouterr()
    assert code == 1
    assert [s for s, _ in built] == [kit.subjects()[1]] * 2 + [kit.subjects()[2]] * 2, \
        "each prefix is built twice, in series order"
    assert [o for _, o in built] == ["6.1-series-y", "6.1-series-n"] * 2
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()
            if line.startswith("000")}
    names = [p.name for p in kit.patch_files]
    assert rows[names[0]] == ["FAIL", "ok", "ok"]
    assert rows[names[1]] == ["ok", "ok", "FAIL"]
    assert f"--- {names[0]}: checkpatch broke:\nERROR: trailing whitespace" in err
    assert f"--- {names[1]}: CLEANCACHE=n broke:\nmm/cleancache.c:12: error" in err
    assert kit.status() == "", "series-check works in a worktree, never in the tree"
