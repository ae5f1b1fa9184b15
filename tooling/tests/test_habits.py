"""Issue 12, habits: what vng and kunit.py users type works the same way.

`--exec` is a shell line and its exit status is kzt's, `kzt shell`,
`--kconfig-add`, `--make-opt`, `--qemu-opt`, `--dry-run`, `--json` that is
only JSON, completion.  Guests are fake (a `vng` script, a replayed
console); shell lines really run in /bin/sh.
"""
from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import read_log
from kzt import build, cli, kconfig, proc, vm
from kzt.datafiles import Base
from kzt.guest.seam import WorkResult
from kzt.errors import KztError
from kzt.kconfig import Request
from kzt.layout import Layout
from test_sigterm import sigterm_inside_popen
from test_vm import replay

TOOLING = Path(__file__).resolve().parents[1]
BASE = Base("6.1", "/nonexistent.tar.xz", "linux-source-6.1", "x86", "arch/x86/boot/bzImage")


@pytest.fixture
def repo(venv_layout: Layout, monkeypatch: pytest.MonkeyPatch) -> Layout:
    """A checkout with a venv (vng that fails if run) and a built image."""
    image = venv_layout.out("6.1") / BASE.image
    image.parent.mkdir(parents=True)
    image.write_bytes(b"\0" * 64)
    monkeypatch.setenv("KZT_ROOT", str(venv_layout.root))
    return venv_layout


def fake_vng(layout: Layout, body: str) -> Path:
    vng = layout.venv / "bin" / "vng"
    vng.write_text("#!/bin/sh\n" + body)
    vng.chmod(0o755)
    return vng


def guest_run(script: str) -> tuple[str, int]:
    """Run a guest script as the guest's shell would: (output, status)."""
    r = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, timeout=30)
    return r.stdout, r.returncode


# --- --exec is a shell line ------------------------------------------------

@pytest.mark.parametrize("line, out, status", [
    ("echo a; echo b", "a\nb\n", 0),
    ("exit 7", "", 7),
    ("false | true && echo piped", "piped\n", 0),
    ("echo 'one word' >&2; test -n \"$HOME\" || exit 3", "", 0),
    ("for i in 1 2; do echo $i; done # a comment", "1\n2\n", 0),
    ("cat <<EOF\nheredoc\nEOF", "heredoc\n", 0),
    ("sh -c 'kill -9 $$'", "", 137),
])
def test_exec_line_reaches_the_shell_intact(line: str, out: str, status: int) -> None:
    text, rc = guest_run(vm.guest_script(line))
    assert rc == 0   # the status line always follows, whatever the command did
    assert text == f"{out}{vm._STATUS_MARK}{status}\n"


def test_exec_line_gets_the_environment_quoted() -> None:
    script = vm.guest_script('printf "%s|" "$A" "$B"', (("A", "a b"), ("B", "$(exit 9)'\"")))
    text, _ = guest_run(script)
    assert text == f"a b|$(exit 9)'\"|{vm._STATUS_MARK}0\n"


def test_argument_lists_are_still_quoted_word_by_word() -> None:
    text, _ = guest_run(vm.guest_script(["printf", "%s|", "a;b", "$HOME", "it's"]))
    assert text == f"a;b|$HOME|it's|{vm._STATUS_MARK}0\n"


def test_boot_passes_the_line_unsplit_to_vng(repo: Layout) -> None:
    image = repo.out("6.1") / BASE.image
    req = vm.BootRequest(image=image, command="echo a; echo b")
    argv = vm.vng_argv(repo, req, vm.Accel.TCG)
    assert argv[argv.index("--exec") + 1] == vm.guest_script("echo a; echo b")


# --- the guest command's status is kzt's -----------------------------------

@pytest.mark.parametrize("marker, expected", [("0", 0), ("7", 7), ("1", 1)])
def test_boot_exit_status_is_the_guest_commands(repo: Layout, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str],
                                                marker: str, expected: int) -> None:
    lines = read_log("console-clean-boot.log")[:-1] + [f"KZT-GUEST-EXIT={marker}"]
    fake = replay(monkeypatch, lines)
    assert cli.main(["boot", "--accel", "tcg", "--exec", "exit 7"]) == expected
    assert "(\nexit 7\n); echo KZT-GUEST-EXIT=$?" in fake.calls[0]
    if expected:
        assert f"exited with status {expected}" in capsys.readouterr().err


def test_boot_kernel_report_is_4_even_if_the_command_succeeded(
        repo: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    replay(monkeypatch, read_log("console-warning.log"))
    assert cli.main(["boot", "--accel", "tcg"]) == 4


def test_boot_no_boot_is_4(repo: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    replay(monkeypatch, read_log("console-timeout.log"))
    assert cli.main(["boot", "--accel", "tcg", "--exec", "true"]) == 4


# --- kzt shell -------------------------------------------------------------

def test_shell_runs_vng_interactively_with_the_boot_options(
        repo: Layout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = tmp_path / "argv.txt"
    monkeypatch.setenv("FAKE_VNG_ARGS", str(record))
    fake_vng(repo, 'printf "%s\\n" "$@" > "$FAKE_VNG_ARGS"\nls > "$FAKE_VNG_ARGS.cwd"\nexit 3\n')
    disk = tmp_path / "swap.img"
    disk.write_bytes(b"")
    rc = cli.main(["shell", "--accel", "tcg", "--memory", "384M", "--append", "kztmem",
                   "--disk", f"kzt-swap={disk}", "--qemu-opt=-s"])
    assert rc == 3   # vng's status is the shell's
    argv = record.read_text().splitlines()
    assert "--exec" not in argv and "--verbose" not in argv
    assert argv[argv.index("--memory") + 1] == "384M"
    assert argv[argv.index("--append") + 1] == "printk.time=1 kztmem"
    assert argv[argv.index("--disk") + 1] == "kzt-swap"
    assert "--disable-kvm" in argv
    assert "--qemu-opts=-s" in argv
    assert Path(str(record) + ".cwd").read_text() == "kzt-swap\n"


def test_shell_has_no_deadline_unless_asked(repo: Layout, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[float | None] = []
    real = vm.shell

    def spy(layout: Layout, req: vm.BootRequest, deadline: float | None = None) -> Any:
        seen.append(deadline)
        return real(layout, req, deadline)

    monkeypatch.setattr(vm, "shell", spy)
    fake_vng(repo, "exit 0\n")
    assert cli.main(["shell", "--accel", "tcg"]) == 0
    assert seen == [None]


def test_shell_deadline_stops_the_guest(repo: Layout, capsys: pytest.CaptureFixture[str]) -> None:
    fake_vng(repo, "exec sleep 60\n")
    t0 = time.monotonic()
    assert cli.main(["shell", "--accel", "tcg", "--timeout", "1"]) == 4
    assert time.monotonic() - t0 < 15
    assert "deadline of 1 s passed" in capsys.readouterr().err


def test_shell_sigterm_while_vng_starts_stops_it(repo: Layout,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM that arrives inside subprocess.Popen(), once vng runs but
    before kzt shell holds its Popen object, still stops vng."""
    fake_vng(repo, "exec sleep 300\n")
    started: list[int] = []
    previous = signal.getsignal(signal.SIGTERM)
    try:
        monkeypatch.setattr(subprocess, "Popen", sigterm_inside_popen(started))
        with pytest.raises(SystemExit) as e:
            cli.main(["shell", "--accel", "tcg"])
        assert e.value.code == 128 + signal.SIGTERM
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert started, "vng was never started"
    try:
        os.kill(started[0], 0)
    except ProcessLookupError:
        pass
    else:
        raise AssertionError("vng outlived the kzt shell that started it")


# --- --qemu-opt ------------------------------------------------------------

def test_qemu_opts_are_quoted_for_the_shell_vng_pastes_them_into(repo: Layout) -> None:
    image = repo.out("6.1") / BASE.image
    req = vm.BootRequest(image=image, qemu_opts=("-object", "memory-backend-file,id=m,"
                                                 "mem-path=/tmp/a b"))
    opt = vm.vng_argv(repo, req, vm.Accel.TCG)[-1]
    assert opt.startswith("--qemu-opts=")
    # vng runs `... --qemu-opts <this text>` through a shell
    assert shlex.split(opt[len("--qemu-opts="):]) == list(req.qemu_opts)


# --- --dry-run -------------------------------------------------------------

def no_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*a: Any, **kw: Any) -> Any:
        raise AssertionError(f"a dry run started {a[0] if a else kw}")
    monkeypatch.setattr(proc, "stream", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)


def test_boot_dry_run_prints_the_vng_command_and_runs_nothing(
        repo: Layout, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    no_subprocess(monkeypatch)
    assert cli.main(["boot", "--dry-run", "--accel", "tcg", "--exec", "echo a; exit 7",
                     "--qemu-opt=-s"]) == 0
    argv = shlex.split(capsys.readouterr().out)
    assert argv[0] == str(repo.venv / "bin" / "vng")
    assert argv[argv.index("--exec") + 1] == vm.guest_script("echo a; exit 7")
    assert argv[-1] == "--qemu-opts=-s"
    assert not repo.runs.exists()   # no run directory made


def test_boot_dry_run_under_auto_says_the_probe_decides(
        repo: Layout, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    no_subprocess(monkeypatch)
    monkeypatch.setattr(vm, "cached_probe", lambda layout: None)
    assert cli.main(["shell", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "a KVM probe boot decides" in out
    assert "--exec" not in out


def test_build_dry_run_prints_make_with_the_make_opts(
        repo: Layout, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    no_subprocess(monkeypatch)
    monkeypatch.setenv("KZT_NO_CCACHE", "1")
    assert cli.main(["build", "--dry-run", "-j", "2", "--make-opt", "W=1",
                     "--make-opt", "KCFLAGS=-Werror -g"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    cmd = shlex.split(line.split(" && ", 1)[1])
    assert cmd == ["make", f"O={repo.out('6.1')}", "ARCH=x86", "CC=gcc", "-j2", "W=1",
                   "KCFLAGS=-Werror -g"]


def test_config_dry_run_names_the_additions(repo: Layout, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    no_subprocess(monkeypatch)
    frags = repo.fragments
    frags.mkdir(parents=True)
    (frags / "flavours.json").write_text('{"default": ["base"]}')
    (frags / "base.config").write_text("CONFIG_B=y\n")
    assert cli.main(["config", "--dry-run", "--kconfig-add", "CONFIG_A=y",
                     "--make-opt", "LLVM=1"]) == 0
    out = capsys.readouterr().out
    assert "allnoconfig" in out and "olddefconfig" in out and "LLVM=1" in out
    assert "base.config, A=y" in out


# --- --make-opt --------------------------------------------------------------

@pytest.mark.parametrize("bad", ["W", "=1", "O=/tmp/x", "ARCH=arm64", "1X=2", "-k"])
def test_bad_make_opt_is_a_usage_error(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ei:
        cli.main(["build", f"--make-opt={bad}"])
    assert ei.value.code == 2
    assert "--make-opt" in capsys.readouterr().err


def test_make_argv_keeps_its_compiler_unless_an_option_chooses(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KZT_NO_CCACHE", "1")
    assert build.make_argv(tmp_path, BASE, 2, ("W=1", "C=1")) == [
        "make", f"O={tmp_path}", "ARCH=x86", "CC=gcc", "-j2", "W=1", "C=1"]
    llvm = build.make_argv(tmp_path, BASE, 2, ("LLVM=1",))
    assert not any(a.startswith("CC=") for a in llvm) and llvm[-1] == "LLVM=1"
    assert kconfig.compilers(("LLVM=1",)) == ("clang", "ld.lld")
    assert kconfig.compilers(("CC=ccache gcc-12",)) == ("gcc-12", "ld")
    assert kconfig.compilers(()) == ("gcc", "ld")


# --- --kconfig-add -----------------------------------------------------------

def test_kconfig_add_is_checked_like_a_fragment_line() -> None:
    assert kconfig.parse_addition("CONFIG_KASAN=y") == Request(
        "KASAN", "y", "--kconfig-add CONFIG_KASAN=y")
    assert kconfig.parse_addition("# CONFIG_SWAP is not set").value == "n"
    assert kconfig.parse_addition('CONFIG_CMDLINE="a b"').value == '"a b"'
    for bad in ("KASAN=y", "CONFIG_KASAN", "y", "", "# a comment"):
        with pytest.raises(KztError):
            kconfig.parse_addition(bad)


@pytest.mark.parametrize("command", ["config", "build", "up", "test"])
def test_kconfig_add_on_every_kernel_command(command: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    a = cli.parser().parse_args([command, "--kconfig-add", "CONFIG_A=y",
                                 "--kconfig-add", "CONFIG_B=n", "--make-opt", "W=1"])
    assert [(r.symbol, r.value) for r in a.kconfig_add] == [("A", "y"), ("B", "n")]
    assert a.make_opt == ["W=1"]
    with pytest.raises(SystemExit) as ei:
        cli.main([command, "--kconfig-add", "KASAN=y"])
    assert ei.value.code == 2
    assert "is not a config line" in capsys.readouterr().err


KCONFIG = """\
config B
\tbool "b"

config A
\tbool "a"
\tdepends on B
"""


@pytest.fixture
def fake_make(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """make allnoconfig writes an empty config; olddefconfig keeps it."""
    calls: list[list[str]] = []

    def run(argv: list[str], **kw: Any) -> proc.Completed:
        calls.append(list(argv))
        out = Path(next(a[2:] for a in argv if a.startswith("O=")))
        new = out / next(a.split("=", 1)[1] for a in argv if a.startswith("KCONFIG_CONFIG="))
        if argv[-1] == "allnoconfig":
            new.write_text("# CONFIG_A is not set\n# CONFIG_B is not set\n")
        return proc.Completed(list(argv), 0, "", 0.1)

    monkeypatch.setattr(proc, "run", run)
    monkeypatch.setattr(kconfig, "kconfig_env",
                        lambda tree, base, kv, make_opts=(): {"srctree": str(tree)})
    monkeypatch.setattr(kconfig.host, "require_programs", lambda *a, **kw: None)
    return calls


def kconfig_tree(tmp_path: Path) -> tuple[Path, Path]:
    """A tree with the test Kconfig and a fragment that turns CONFIG_B off."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "Kconfig").write_text(KCONFIG)
    frag = tmp_path / "base.config"
    frag.write_text("# CONFIG_B is not set\n")
    return tree, frag


def test_generate_merges_additions_after_the_fragments(tmp_path: Path,
                                                       fake_make: list[list[str]]) -> None:
    tree, frag = kconfig_tree(tmp_path)
    out = tmp_path / "out"
    adds = (kconfig.parse_addition("CONFIG_B=y"), kconfig.parse_addition("CONFIG_A=y"))
    res = kconfig.generate(tree, "6.1.0", BASE, out, [frag], additions=adds,
                           make_opts=("W=1",))
    assert res.mismatches == []
    text = (out / ".config").read_text()
    assert "CONFIG_A=y" in text and "CONFIG_B=y" in text
    assert all("W=1" in c for c in fake_make)


def test_an_addition_that_does_not_take_is_named(tmp_path: Path,
                                                 fake_make: list[list[str]]) -> None:
    tree, frag = kconfig_tree(tmp_path)
    res = kconfig.generate(tree, "6.1.0", BASE, tmp_path / "out", [frag],
                           additions=(kconfig.parse_addition("CONFIG_A=y"),))
    [m] = res.mismatches
    assert (m.symbol, m.wanted, m.got, m.origin) == ("A", "y", "n", "--kconfig-add CONFIG_A=y")
    assert "unmet: B" in m.why
    assert not (tmp_path / "out" / ".config").exists()


def test_unknown_addition_is_refused(tmp_path: Path, fake_make: list[list[str]]) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "Kconfig").write_text(KCONFIG)
    with pytest.raises(KztError) as ei:
        kconfig.generate(tree, "6.1.0", BASE, tmp_path / "out", [],
                         additions=(kconfig.parse_addition("CONFIG_NOPE=y"),))
    assert "CONFIG_NOPE (--kconfig-add CONFIG_NOPE=y)" in str(ei.value)


def test_config_inputs_digest_follows_every_input(repo: Layout, tmp_path: Path) -> None:
    frag = tmp_path / "f.config"
    frag.write_text("CONFIG_B=y\n")
    repo.driver.mkdir(parents=True)
    (repo.driver / "Kconfig").write_text("config KZTMEM\n")
    plain = kconfig.ConfigRequest()
    d0 = kconfig.inputs_digest(repo, [frag], plain, "head1")
    assert d0 == kconfig.inputs_digest(repo, [frag], plain, "head1")
    added = kconfig.ConfigRequest(kconfig_add=(kconfig.parse_addition("CONFIG_A=y"),))
    others = {kconfig.inputs_digest(repo, [frag], added, "head1"),
              kconfig.inputs_digest(repo, [frag], kconfig.ConfigRequest(make_opts=("LLVM=1",)),
                                    "head1"),
              kconfig.inputs_digest(repo, [frag], plain, "head2")}
    frag.write_text("CONFIG_B=n\n")
    others.add(kconfig.inputs_digest(repo, [frag], plain, "head1"))
    frag.write_text("CONFIG_B=y\n")
    (repo.driver / "Kconfig").write_text("config KZTMEM\n\tbool\n")
    others.add(kconfig.inputs_digest(repo, [frag], plain, "head1"))
    assert d0 not in others and len(others) == 5


# --- --json is only JSON -----------------------------------------------------

def test_run_json_stdout_is_one_json_document(repo: Layout, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from kzt import ui, workrun

    snap = {"uname": "6.1.192", "kztmem": {"pers_puts": 1}}
    boot = vm.BootResult(vm.BootStatus.OK, 0, vm.Accel.TCG, 1.0, None, "")

    def fake_run(layout: Layout, req: workrun.RunRequest, bins: Any = None) -> Any:
        # what the real one prints while it works: progress, the guest's lines
        ui.step("run: memhog with kztmem")
        print('{"program": "memhog", "pass": 1}')
        print("memhog: 448 MiB verified")
        doc = {"exit_code": 0, "seconds": 1.5, "before": snap, "during": snap, "after": snap}
        data = WorkResult(req.workload, req.with_, "6.1.192", doc, exit_code=0, seconds=1.5)
        return workrun.RunResult({"name": req.workload}, req.with_, boot, data, repo.runs / "x")

    monkeypatch.setattr(workrun, "run_workload", fake_run)
    assert cli.main(["run", "memhog", "--json"]) == 0
    cap = capsys.readouterr()
    doc = json.loads(cap.out)
    assert doc["workload"] == "memhog" and doc["exit_code"] == 0
    assert "memhog: 448 MiB verified" in cap.err and "run: memhog" in cap.err


# --- completion ----------------------------------------------------------------

@pytest.mark.parametrize("line, want", [("kzt sh", "shell"), ("kzt boot --qe", "--qemu-opt"),
                                        ("kzt config --kconfig", "--kconfig-add")])
def test_shell_completion(tmp_path: Path, line: str, want: str) -> None:
    pytest.importorskip("argcomplete")
    out = tmp_path / "completions"
    env = dict(os.environ, _ARGCOMPLETE="1", COMP_LINE=line, COMP_POINT=str(len(line)),
               _ARGCOMPLETE_STDOUT_FILENAME=str(out), PYTHONPATH=str(TOOLING))
    r = subprocess.run([sys.executable, "-m", "kzt"], env=env, capture_output=True,
                       timeout=60, pass_fds=())
    assert r.returncode == 0, r.stderr
    assert want in out.read_text().split()


# --- KUnit through the tree's own parser ---------------------------------------

_BUILD_AT_IMPORT = Layout.default().build   # before the tests unset KZT_BUILD_DIR
KUNIT_FILES = ("kunit_parser.py", "kunit_printer.py", "kunit_json.py")


@pytest.fixture(scope="session")
def kunit_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tree holding tools/testing/kunit: a prepared one if there is one,
    else those files taken from Debian's linux-source-6.1 tarball."""
    from kzt.kunitrun import KUNIT_TOOLS
    for build_dir in (_BUILD_AT_IMPORT, TOOLING.parent / "build"):
        tree = build_dir / "src" / "linux-6.1"
        if all((tree / KUNIT_TOOLS / f).is_file() for f in KUNIT_FILES):
            return tree
    tarball = Path(Base.load("6.1").tarball)
    if not tarball.is_file():
        pytest.skip(f"no prepared tree and no {tarball} to take tools/testing/kunit from")
    dest = tmp_path_factory.mktemp("kunit-src")
    subprocess.run(["tar", "-xJf", str(tarball), "-C", str(dest), "--wildcards",
                    *(f"*/{KUNIT_TOOLS}/{f}" for f in KUNIT_FILES)], check=True, timeout=300)
    [tree] = dest.iterdir()
    return tree


def test_tree_parser_reports_a_crash(kunit_tree: Path) -> None:
    from kzt.kunitrun import format_result, from_tree_parser, tree_parser
    parser, _ = tree_parser(kunit_tree)
    r, top = from_tree_parser(parser, read_log("kunit-6.1-crash.log"))
    [suite] = r.suites
    assert (suite.name, suite.status) == ("kztmem_tmem", "crash")
    assert [c.status for c in suite.cases] == ["ok", "crash", "crash"]
    assert suite.cases[0].name == "tmem_test_persistent"
    assert suite.cases[1].name == "(case 2 of 3: no result)"
    assert r.counts == {"ok": 1, "fail": 0, "crash": 2, "skip": 0}
    assert not r.ok
    assert "[CRASH] (case 2 of 3: no result)" in format_result(r)


def test_tree_parser_failures_skips_and_passes(kunit_tree: Path) -> None:
    from kzt.kunitrun import from_tree_parser, tree_parser
    parser, _ = tree_parser(kunit_tree)
    r, _ = from_tree_parser(parser, read_log("kunit-6.1.log"))
    assert [(s.name, s.status) for s in r.suites] == [("kztmem_xvmalloc", "fail"),
                                                      ("kztmem_tmem", "ok")]
    failed = r.suites[0].cases[1]
    assert failed.status == "fail"
    assert any("EXPECTATION FAILED at drivers/staging/kztmem/kztmem_test.c:97" in d
               for d in failed.diagnostics)
    assert r.counts == {"ok": 5, "fail": 1, "crash": 0, "skip": 1}
    ok, _ = from_tree_parser(parser, read_log("kunit-6.1-pass.log"))
    assert ok.ok


def test_tree_parser_import_leaves_no_modules_behind(kunit_tree: Path) -> None:
    from kzt.kunitrun import tree_parser
    tree_parser(kunit_tree)
    assert "kunit_parser" not in sys.modules
    with pytest.raises(KztError) as ei:
        tree_parser(kunit_tree.parent / "no-tree")
    assert "kzt prepare" in str(ei.value)


@pytest.mark.parametrize("log, rc, ok", [("kunit-6.1-pass.log", 0, True),
                                         ("kunit-6.1-crash.log", 4, False)])
def test_kunit_json_is_only_json(repo: Layout, kunit_tree: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str],
                                 log: str, rc: int, ok: bool) -> None:
    src = repo.src("6.1")
    src.parent.mkdir(parents=True)
    src.symlink_to(kunit_tree)
    lines = read_log(log)
    boots: list[vm.BootRequest] = []

    def fake_boot(layout: Layout, req: vm.BootRequest) -> vm.BootResult:
        boots.append(req)
        from kzt import console
        status = vm.BootStatus.OK if ok else vm.BootStatus.KERNEL_REPORT
        return vm.BootResult(status, 0, vm.Accel.TCG, 2.0, req.console_log, "\n".join(lines),
                             console.scan(lines))

    monkeypatch.setattr(vm, "boot", fake_boot)
    assert cli.main(["kunit", "--json", "--qemu-opt=-s"]) == rc
    cap = capsys.readouterr()
    doc = json.loads(cap.out)
    assert doc["ok"] is ok
    assert doc["parser"].endswith("tools/testing/kunit/kunit_parser.py")
    assert boots[0].append[0] == "kunit.enable=1" and boots[0].qemu_opts == ("-s",)
    if ok:
        assert doc["counts"] == {"ok": 2, "fail": 0, "crash": 0, "skip": 0}
    else:
        assert doc["suites"][0]["status"] == "crash"
        assert "kzt kunit: error" in cap.err
    # kunit.py's own JSON (KernelCI format) is kept in the run directory
    kjson = json.loads((Path(doc["run_dir"]) / "kunit.json").read_text())
    assert kjson["name"] == "KUnit Test Group"
