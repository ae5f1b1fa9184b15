"""checkpatch that could not run a check fails; W=1 + sparse warnings are
attributed to the driver, to lines the series added, or to upstream code."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kzt import proc, review
from kzt.layout import Layout
from kzt.review import Diagnostic

# what checkpatch.pl prints on a patch when scripts/spdxcheck.py lacks ply:
# the traceback (stderr) and then a clean total, exit 0
SPDX_TRACEBACK = """\
Traceback (most recent call last):
  File "/src/linux-6.1/scripts/spdxcheck.py", line 6, in <module>
    from ply import lex, yacc
ModuleNotFoundError: No module named 'ply'
total: 0 errors, 0 warnings, 0 checks, 120 lines checked

0001-mm-add-the-cleancache-API-and-core.patch has no obvious style problems and is ready for submission.
"""

CLEAN = """\
total: 0 errors, 0 warnings, 0 checks, 120 lines checked

0001-x.patch has no obvious style problems and is ready for submission.
"""


def fake_checkpatch(monkeypatch: pytest.MonkeyPatch, output: str) -> None:
    monkeypatch.setattr(review.host, "require_programs", lambda *a, **kw: None)
    monkeypatch.setattr(proc, "run", lambda argv, **kw: proc.Completed(list(argv), 0, output, 0.1))


def test_checkpatch_with_a_traceback_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    fake_checkpatch(monkeypatch, SPDX_TRACEBACK)
    r = review.checkpatch(tmp_path, tmp_path / "0001.patch", is_file=False)
    assert (r.errors, r.warnings, r.checks) == (0, 0, 0)
    assert not r.ok
    assert "ModuleNotFoundError: No module named 'ply'" in r.skipped
    assert review.report_checkpatch([r]) is False
    out = capsys.readouterr().out
    assert "could not run a check" in out and "python3-ply" in out


def test_clean_checkpatch_passes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_checkpatch(monkeypatch, CLEAN)
    r = review.checkpatch(tmp_path, tmp_path / "0001.patch", is_file=False)
    assert r.ok and r.skipped == []


def test_missing_spelling_list_is_a_skipped_check() -> None:
    assert review.skipped_checks(
        "No typos will be found - file 'scripts/spelling.txt': No such file or directory\n"
        "total: 0 errors, 0 warnings, 0 checks, 3 lines checked\n")
    assert review.skipped_checks(CLEAN) == []


# --- W=1 and sparse -----------------------------------------------------------

def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, str]:
    """A git tree: a base commit, then a 'series' commit that adds lines."""
    t = tmp_path / "linux"
    (t / "mm").mkdir(parents=True)
    (t / "mm" / "filemap.c").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    git(t, "init", "-q")
    git(t, "add", ".")
    git(t, "commit", "-q", "-m", "base")
    base = git(t, "rev-parse", "HEAD").strip()
    lines = [f"line {i}\n" for i in range(1, 11)]
    lines[3] = "changed 4\n"
    lines.insert(7, "added after 7\n")
    (t / "mm" / "filemap.c").write_text("".join(lines))
    (t / "mm" / "cleancache.c").write_text("a\nb\n")
    (t / "include").mkdir()
    (t / "include" / "cleancache.h").write_text("h\n")
    git(t, "add", ".")
    git(t, "commit", "-q", "-m", "series")
    return t, base


def test_added_lines_are_the_series_lines(tree: tuple[Path, str]) -> None:
    t, base = tree
    added = review.added_lines(t, base)
    assert added == {"mm/filemap.c": {4, 8}, "mm/cleancache.c": {1, 2},
                     "include/cleancache.h": {1}}
    assert review.static_targets(added) == ["drivers/staging/kztmem/", "mm/cleancache.o",
                                            "mm/filemap.o"]


def make_output(t: Path) -> str:
    return f"""\
  CC      mm/filemap.o
{t}/mm/filemap.c:4:12: warning: no previous prototype for 'changed' [-Wmissing-prototypes]
{t}/mm/filemap.c:2:1: warning: old upstream warning [-Wmissing-prototypes]
  CHECK   {t}/drivers/staging/kztmem/tmem.c
{t}/drivers/staging/kztmem/tmem.c:77:6: warning: symbol 'tmem_x' was not declared. Should it be static?
{t}/include/cleancache.h:1:5: warning: header warning
  CC      mm/cleancache.o
{t}/include/cleancache.h:1:5: warning: header warning
{t}/mm/filemap.c:8: error: sparse error without a column
"""


def test_diagnostics_relative_deduplicated_and_classified(tree: tuple[Path, str]) -> None:
    t, base = tree
    diags = review.diagnostics(make_output(t), t)
    assert [str(d) for d in diags] == [
        "mm/filemap.c:4: warning: no previous prototype for 'changed' [-Wmissing-prototypes]",
        "mm/filemap.c:2: warning: old upstream warning [-Wmissing-prototypes]",
        "drivers/staging/kztmem/tmem.c:77: warning: symbol 'tmem_x' was not declared. "
        "Should it be static?",
        "include/cleancache.h:1: warning: header warning",
        "mm/filemap.c:8: error: sparse error without a column",
    ]
    ours, elsewhere = review.classify(diags, review.added_lines(t, base))
    assert [(d.file, d.line) for d in ours] == [("mm/filemap.c", 4),
                                                ("drivers/staging/kztmem/tmem.c", 77),
                                                ("include/cleancache.h", 1),
                                                ("mm/filemap.c", 8)]
    assert elsewhere == [Diagnostic("mm/filemap.c", 2, "warning",
                                    "old upstream warning [-Wmissing-prototypes]")]


def test_static_check_runs_make_w1_c2_and_fails_on_our_warnings(
        tree: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    t, base = tree
    layout = Layout(tmp_path / "repo")
    out = layout.out("6.1")
    out.mkdir(parents=True)
    (out / ".config").write_text("CONFIG_KZTMEM=y\n")
    monkeypatch.setenv("KZT_NO_CCACHE", "1")
    monkeypatch.setattr(review, "require_tree",
                        lambda layout, base_name: (t, SimpleNamespace(base_commit=base)))
    monkeypatch.setattr(review.host, "require_programs", lambda *a, **kw: None)
    seen: list[list[str]] = []
    real_run = proc.run

    def run(argv: list[str], **kw: Any) -> proc.Completed:
        if argv[0] == "git":
            return real_run(argv, **kw)
        seen.append(list(argv))
        return proc.Completed(list(argv), 0, make_output(t), 1.0)

    monkeypatch.setattr(proc, "run", run)
    res = review.static_check(layout, "6.1", jobs=2)
    assert seen[0][:5] == ["make", f"O={out}", "ARCH=x86", "CC=gcc", "-j2"]
    assert seen[0][5:] == ["W=1", "C=2", "drivers/staging/kztmem/", "mm/cleancache.o",
                           "mm/filemap.o"]
    assert not res.ok and len(res.ours) == 4 and len(res.elsewhere) == 1
    assert (out / "static-check.log").read_text() == make_output(t)
    assert review.report_static(res) is False
    assert "drivers/staging/kztmem/tmem.c:77: warning" in capsys.readouterr().out

    # only upstream warnings: passes
    monkeypatch.setattr(proc, "run", lambda argv, **kw: real_run(argv, **kw) if argv[0] == "git"
                        else proc.Completed(list(argv), 0, f"{t}/mm/filemap.c:2:1: warning: x\n",
                                            1.0))
    assert review.static_check(layout, "6.1").ok
    # make failing (a W=1 -Werror, a sparse crash) fails the check
    monkeypatch.setattr(proc, "run", lambda argv, **kw: real_run(argv, **kw) if argv[0] == "git"
                        else proc.Completed(list(argv), 2, "make: *** [Makefile:1] Error 2\n",
                                            1.0))
    bad = review.static_check(layout, "6.1")
    assert not bad.ok and "Error 2" in bad.make_failed


# --- pinned, hashed requirements; dev tools apart from the guests' venv ------

def pins(path: Path) -> dict[str, list[str]]:
    """NAME==VERSION -> its hashes, from a requirements file."""
    out: dict[str, list[str]] = {}
    text = path.read_text().replace("\\\n", " ")
    for ln in text.splitlines():
        words = ln.split("#", 1)[0].split() if not ln.lstrip().startswith("#") else []
        if words:
            out[words[0]] = [w.split("=", 1)[1] for w in words[1:] if w.startswith("--hash=")]
    return out


def test_requirements_are_pinned_with_hashes_and_dev_tools_are_apart() -> None:
    tooling = Path(__file__).resolve().parents[1]
    run, dev = pins(tooling / "requirements.txt"), pins(tooling / "requirements-dev.txt")
    for name, hashes in {**run, **dev}.items():
        assert "==" in name, name
        assert hashes and all(h.startswith("sha256:") and len(h) == 71 for h in hashes), name
    names = {n.split("==")[0].lower().replace("_", "-") for n in run}
    dev_names = {n.split("==")[0].lower().replace("_", "-") for n in dev}
    assert {"virtme-ng", "pytest", "kconfiglib", "argcomplete"} <= names
    assert "mypy" in dev_names and not names & dev_names


def test_setup_makes_both_venvs_with_require_hashes(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from kzt import host
    layout = Layout(tmp_path / "repo")
    (layout.root / "tooling").mkdir(parents=True)
    (layout.root / "tooling" / "requirements.txt").write_text("a==1 --hash=sha256:00\n")
    (layout.root / "tooling" / "requirements-dev.txt").write_text("b==2 --hash=sha256:11\n")
    elsewhere = tmp_path / "someone-elses-venv"
    (elsewhere / "bin").mkdir(parents=True)
    layout.build.mkdir(parents=True)
    layout.venv.symlink_to(elsewhere)     # a stale link to another venv
    monkeypatch.setattr(host, "missing_packages", lambda spec: [])
    calls: list[list[str]] = []

    def run(argv: list[str], **kw: Any) -> proc.Completed:
        calls.append(list(argv))
        if argv[1:3] == ["-m", "venv"]:
            (Path(argv[3]) / "bin").mkdir(parents=True)
            for prog in ("python", "vng", "mypy"):
                (Path(argv[3]) / "bin" / prog).write_text("")
        return proc.Completed(list(argv), 0, "", 0.1)

    monkeypatch.setattr(proc, "run", run)
    res = host.setup(layout)
    assert res.venv_created
    assert elsewhere.is_dir() and not layout.venv.is_symlink()   # the link went, not its target
    installs = [c for c in calls if "install" in c]
    assert [c[-1] for c in installs] == [str(layout.root / "tooling" / "requirements.txt"),
                                         str(layout.root / "tooling" / "requirements-dev.txt")]
    assert all("--require-hashes" in c for c in installs)
    assert installs[1][0] == str(host.dev_venv(layout) / "bin" / "pip")
    assert host.venv_ok(layout, layout.root / "tooling" / "requirements.txt")
    assert host.dev_venv_ok(layout)
    calls.clear()
    host.setup(layout)
    assert calls == []    # nothing to do the second time


def test_venvs_are_made_by_an_interpreter_outside_any_venv() -> None:
    from kzt import host
    py = Path(host.base_python())
    assert py.exists()
    if sys.prefix != sys.base_prefix:      # running from a venv, as ./kzt does
        assert Path(sys.prefix).resolve() not in py.resolve().parents


def test_checkpatch_helpers_get_the_distributions_python(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "pyenv-shims"
    other.mkdir()
    (other / "python3").write_text("#!/bin/sh\n")
    (other / "python3").chmod(0o755)
    system = tmp_path / "usr-bin"
    system.mkdir()
    (system / "python3").write_text("#!/bin/sh\n")
    monkeypatch.setattr(review, "SYSTEM_BIN", system)
    monkeypatch.setenv("PATH", f"{other}:/bin")
    env = review.helper_env()
    assert env is not None and env["PATH"].split(":")[:2] == [str(system), str(other)]
    monkeypatch.setenv("PATH", f"{system}:{other}")
    (system / "python3").chmod(0o755)
    assert review.helper_env() is None        # already first: nothing to change
    monkeypatch.setattr(review, "SYSTEM_BIN", tmp_path / "none")
    assert review.helper_env() is None        # no distribution python3 at all
