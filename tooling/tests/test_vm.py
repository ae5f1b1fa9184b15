"""vm.py without QEMU: the vng command line, disks, the KVM probe and the
status of a boot, with proc.stream replaced by a replay of recorded output."""
from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from conftest import read_log
from kzt import console, proc, vm
from kzt.errors import GuestError, KztError
from kzt.layout import Layout
from kzt.vm import Accel, BootRequest, BootStatus, Disk


@pytest.fixture
def layout(venv_layout: Layout) -> Layout:
    return venv_layout


@pytest.fixture
def image(tmp_path: Path) -> Path:
    p = tmp_path / "kernels with space" / "bzImage"
    p.parent.mkdir()
    p.write_bytes(b"\0" * 64)
    return p


@dataclass
class FakeStream:
    """Stands in for proc.stream and replays a recorded console.

    As with vng, kernel console lines (printk timestamp) arrive on stderr,
    the guest command's output on stdout; without on_err both go to
    on_line.
    """
    lines: list[str]
    timed_out: bool = False
    returncode: int = 0
    calls: list[list[str]] = field(default_factory=list)
    cwds: list[Path | None] = field(default_factory=list)
    links: list[dict[str, str]] = field(default_factory=list)

    def __call__(self, argv: list[str], *, cwd: Path | None = None,
                 env: Any = None, timeout: float,
                 on_line: Callable[[str], None] | None = None,
                 on_err: Callable[[str], None] | None = None,
                 log: Path | None = None) -> proc.Completed:
        self.calls.append(list(argv))
        self.cwds.append(cwd)
        self.links.append({p.name: os.readlink(p) for p in cwd.iterdir() if p.is_symlink()}
                          if cwd and cwd.is_dir() else {})
        for ln in self.lines:
            cb = on_err if on_err and console._KLINE.match(ln) else on_line
            if cb:
                cb(ln)
        if log:
            log.write_text("".join(ln + "\n" for ln in self.lines))
        return proc.Completed(list(argv), self.returncode, "\n".join(self.lines),
                              1.5, self.timed_out)


def replay(monkeypatch: pytest.MonkeyPatch, lines: list[str], **kw: Any) -> FakeStream:
    fake = FakeStream(lines, **kw)
    monkeypatch.setattr(proc, "stream", fake)
    return fake


def with_kvm_device(monkeypatch: pytest.MonkeyPatch, present: bool = True) -> None:
    real = os.access

    def access(path: Any, mode: int, **kw: Any) -> bool:
        if str(path) == "/dev/kvm":
            return present
        return real(path, mode, **kw)

    monkeypatch.setattr(os, "access", access)


# --- the vng command line ---------------------------------------------------

def test_vng_argv_tcg_with_disks_and_rwdir(layout: Layout, image: Path, tmp_path: Path) -> None:
    swap = tmp_path / "swap 1.img"
    swap.write_bytes(b"")
    run_dir = tmp_path / "run dir"
    req = BootRequest(image=image, command=["python3", "-m", "pytest", "-k", "a and b"],
                      memory="384M", cpus=2, append=("kztmem", "nocleancache"),
                      disks=(Disk("kzt-swap", swap), Disk("kzt-ext4", swap)),
                      rwdirs=(run_dir,), cwd=tmp_path)
    argv = vm.vng_argv(layout, req, Accel.TCG)
    assert all(isinstance(a, str) for a in argv)
    assert argv[0] == str(layout.venv / "bin" / "vng")
    assert argv[argv.index("--run") + 1] == str(image)
    assert argv[argv.index("--memory") + 1] == "384M"
    assert argv[argv.index("--cpus") + 1] == "2"
    assert argv[argv.index("--append") + 1] == "printk.time=1 kztmem nocleancache"
    assert "--verbose" in argv
    assert argv.count("--disable-kvm") == 1
    # disks are named on the command line; the files are reached through
    # links of those names in the directory vng runs in (see test below)
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--disk"] == ["kzt-swap", "kzt-ext4"]
    assert str(swap) not in " ".join(argv[:-1])
    assert argv[argv.index("--rwdir") + 1] == str(run_dir)
    assert argv[argv.index("--cwd") + 1] == str(tmp_path)
    # exactly one shell string: the --exec argument, last
    assert argv.count("--exec") == 1
    assert argv[-2] == "--exec"
    inner, sep, tail = argv[-1].rpartition("; ")
    assert sep and tail == "echo KZT-GUEST-EXIT=$?"
    assert shlex.split(inner) == req.command


def test_vng_argv_kvm_has_no_disable_kvm(layout: Layout, image: Path) -> None:
    argv = vm.vng_argv(layout, BootRequest(image=image), Accel.KVM)
    assert "--disable-kvm" not in argv
    assert "--disk" not in argv and "--rwdir" not in argv
    assert argv[argv.index("--cwd") + 1] == str(Path.cwd())
    assert shlex.split(argv[-1].rpartition("; ")[0]) == ["uname", "-r"]


def test_vng_argv_quotes_env_and_awkward_arguments(layout: Layout, image: Path) -> None:
    cmd = ["sh", "-c", "echo 'it''s' \"$HOME\"; exit 3"]
    req = BootRequest(image=image, command=cmd,
                      env=(("PYTHONPATH", "/a b/tooling"), ("X", "$(rm -rf /)")))
    argv = vm.vng_argv(layout, req, Accel.TCG)
    inner = argv[-1].rpartition("; echo KZT-GUEST-EXIT=")[0]
    assert shlex.split(inner) == ["env", "PYTHONPATH=/a b/tooling", "X=$(rm -rf /)", *cmd]


def test_vng_argv_renices_qemu_when_asked(layout: Layout, image: Path) -> None:
    plain = vm.vng_argv(layout, BootRequest(image=image), Accel.TCG)
    argv = vm.vng_argv(layout, BootRequest(image=image, nice=-10), Accel.TCG)
    assert argv == ["nice", "-n", "-10", *plain]
    assert plain[0] == str(layout.venv / "bin" / "vng")


def test_may_renice(monkeypatch: pytest.MonkeyPatch) -> None:
    import resource
    monkeypatch.setattr(vm.os, "getpriority", lambda which, who: 0)
    monkeypatch.setattr(vm.os, "geteuid", lambda: 1000)
    assert vm.may_renice(5)                       # lowering the priority needs no right
    monkeypatch.setattr(resource, "getrlimit", lambda r: (0, 0))
    assert not vm.may_renice(-10)
    monkeypatch.setattr(resource, "getrlimit", lambda r: (30, 30))   # down to nice -10
    assert vm.may_renice(-10) and not vm.may_renice(-11)
    monkeypatch.setattr(vm.os, "geteuid", lambda: 0)
    assert vm.may_renice(-11)


def test_vng_argv_sets_the_clock_s_cpu_under_tcg_only(layout: Layout, image: Path) -> None:
    clk = vm.clock("icount")
    assert clk.qemu_cpu is not None and "erms=off" in clk.qemu_cpu and "fsrm=off" in clk.qemu_cpu
    assert vm.clock("icount-erms").qemu_cpu is None and vm.clock("wall").qemu_cpu is None
    assert "-cpu max,erms=off" in clk.description
    req = BootRequest(image=image, cpus=1, icount_shift=0, qemu_cpu=clk.qemu_cpu,
                      qemu_opts=("-s",))
    opts = shlex.split(vm.vng_argv(layout, req, Accel.TCG)[-1][len("--qemu-opts="):])
    # after vng's own -cpu max (QEMU takes the last), before the user's own options
    assert opts == ["-icount", "shift=0,sleep=on", "-cpu", clk.qemu_cpu, "-s"]
    kvm = vm.vng_argv(layout, BootRequest(image=image, qemu_cpu=clk.qemu_cpu), Accel.KVM)
    assert not any(a.startswith("--qemu-opts") for a in kvm)
    plain = vm.vng_argv(layout, BootRequest(image=image), Accel.TCG)
    assert not any(a.startswith("--qemu-opts") for a in plain)


def test_clock_names_of_the_command_line_are_the_clocks() -> None:
    from kzt import cli
    assert set(cli.CLOCK_NAMES) == set(vm.CLOCKS)


def test_vng_argv_needs_the_venv(tmp_path: Path, image: Path) -> None:
    with pytest.raises(KztError) as ei:
        vm.vng_argv(Layout(tmp_path / "empty"), BootRequest(image=image), Accel.TCG)
    assert "kzt setup" in str(ei.value)


# --- Disk.parse -------------------------------------------------------------

def test_disk_parse(tmp_path: Path) -> None:
    f = tmp_path / "swap.img"
    f.write_bytes(b"")
    assert Disk.parse(f"kzt-swap={f}") == Disk("kzt-swap", f.resolve())
    assert Disk.parse(str(f)) == Disk("swap", f.resolve())
    assert Disk.parse(f"a.b_c-1={f}").name == "a.b_c-1"


@pytest.mark.parametrize("name", ["", "has space", "a/b", "x" * 21, "é", "a;b"])
def test_disk_parse_rejects_bad_names(tmp_path: Path, name: str) -> None:
    f = tmp_path / "d.img"
    f.write_bytes(b"")
    with pytest.raises(KztError) as ei:
        Disk.parse(f"{name}={f}")
    assert "bad disk name" in str(ei.value)


def test_disk_parse_rejects_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(KztError) as ei:
        Disk.parse(f"swap={tmp_path / 'nope.img'}")
    assert "nope.img" in str(ei.value) and "does not exist" in str(ei.value)
    with pytest.raises(KztError):
        Disk.parse(f"swap={tmp_path}")


# --- the KVM probe and the choice of accelerator ----------------------------

HANG = ["[    0.000000] Linux version 6.1.192 (root@kzt)",
        "[    0.102000] devtmpfs: initialized"]
ABORT = ["qemu-system-x86_64: ../../target/i386/kvm/kvm.c:1832: kvm_arch_init_vcpu: "
         "Assertion `ret == 0' failed.",
         "Aborted (core dumped)"]


def test_probe_hang(layout: Layout, image: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with_kvm_device(monkeypatch)
    fake = replay(monkeypatch, HANG, timed_out=True, returncode=-9)
    ok, detail = vm.probe_kvm(layout, image, use_cache=False)
    assert ok is False
    assert "did not finish booting" in detail and "hung" in detail
    assert len(fake.calls) == 1
    assert "--disable-kvm" not in fake.calls[0]


def test_probe_abort(layout: Layout, image: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with_kvm_device(monkeypatch)
    replay(monkeypatch, ABORT, returncode=134)
    ok, detail = vm.probe_kvm(layout, image, use_cache=False)
    assert ok is False
    assert detail.startswith("QEMU failed under KVM")
    assert "Aborted (core dumped)" in detail


def test_probe_success(layout: Layout, image: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with_kvm_device(monkeypatch)
    replay(monkeypatch, read_log("console-clean-boot.log"))
    ok, detail = vm.probe_kvm(layout, image, use_cache=False)
    assert ok is True
    assert "booted" in detail


def test_probe_without_dev_kvm_boots_nothing(layout: Layout, image: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    with_kvm_device(monkeypatch, present=False)
    fake = replay(monkeypatch, read_log("console-clean-boot.log"))
    ok, detail = vm.probe_kvm(layout, image, use_cache=False)
    assert ok is False and "/dev/kvm" in detail
    assert fake.calls == []


def test_accel_kvm_fails_clearly_when_the_probe_hangs(layout: Layout, image: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    with_kvm_device(monkeypatch)
    replay(monkeypatch, HANG, timed_out=True)
    with pytest.raises(GuestError) as ei:
        vm.resolve_accel(layout, BootRequest(image=image, accel=Accel.KVM))
    msg = str(ei.value)
    assert "KVM cannot boot a guest" in msg
    assert "hung" in msg
    assert "--accel tcg" in msg
    assert ei.value.exit_code == 4


def test_accel_kvm_fails_clearly_when_qemu_aborts(layout: Layout, image: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    with_kvm_device(monkeypatch)
    replay(monkeypatch, ABORT, returncode=134)
    with pytest.raises(GuestError) as ei:
        vm.resolve_accel(layout, BootRequest(image=image, accel=Accel.KVM))
    assert "Aborted" in str(ei.value)


@pytest.mark.parametrize("lines, timed_out", [(HANG, True), (ABORT, False)])
def test_accel_auto_falls_back_to_tcg(layout: Layout, image: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str],
                                      lines: list[str], timed_out: bool) -> None:
    with_kvm_device(monkeypatch)
    replay(monkeypatch, lines, timed_out=timed_out, returncode=134)
    assert vm.resolve_accel(layout, BootRequest(image=image)) is Accel.TCG
    assert "using TCG" in capsys.readouterr().out


def test_accel_auto_uses_kvm_when_it_works(layout: Layout, image: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    with_kvm_device(monkeypatch)
    replay(monkeypatch, read_log("console-clean-boot.log"))
    assert vm.resolve_accel(layout, BootRequest(image=image)) is Accel.KVM


def test_accel_tcg_never_probes(layout: Layout, image: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    with_kvm_device(monkeypatch)
    fake = replay(monkeypatch, HANG, timed_out=True)
    assert vm.resolve_accel(layout, BootRequest(image=image, accel=Accel.TCG)) is Accel.TCG
    assert fake.calls == []


def test_probe_result_is_cached_for_auto_only(layout: Layout, image: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with_kvm_device(monkeypatch)
    fake = replay(monkeypatch, HANG, timed_out=True)
    assert vm.resolve_accel(layout, BootRequest(image=image)) is Accel.TCG
    cache = layout.build / "state" / "kvm-probe.json"
    assert json.loads(cache.read_text())["ok"] is False
    assert vm.resolve_accel(layout, BootRequest(image=image)) is Accel.TCG
    assert len(fake.calls) == 1  # second auto run used the cache
    with pytest.raises(GuestError):
        vm.resolve_accel(layout, BootRequest(image=image, accel=Accel.KVM))
    assert len(fake.calls) == 2  # --accel kvm always probes afresh


# --- the status of a boot ---------------------------------------------------

def run(layout: Layout, image: Path, monkeypatch: pytest.MonkeyPatch, lines: list[str],
        timed_out: bool = False, **req: Any) -> vm.BootResult:
    replay(monkeypatch, lines, timed_out=timed_out)
    return vm._run(layout, BootRequest(image=image, echo=False, **req), Accel.TCG)


def test_status_ok(layout: Layout, image: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    res = run(layout, image, monkeypatch, read_log("console-clean-boot.log"))
    assert res.status is BootStatus.OK and res.ok
    assert res.exit_code == 0
    assert res.reports == []
    assert res.accel is Accel.TCG


def test_status_command_failed(layout: Layout, image: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    lines = read_log("console-clean-boot.log")[:-1] + ["KZT-GUEST-EXIT=3"]
    res = run(layout, image, monkeypatch, lines)
    assert res.status is BootStatus.COMMAND_FAILED
    assert res.exit_code == 3
    assert not res.ok
    assert "exited with status 3" in vm.explain(res, 600)


def test_status_no_boot_without_marker(layout: Layout, image: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    res = run(layout, image, monkeypatch, read_log("console-timeout.log"))
    assert res.status is BootStatus.NO_BOOT
    assert res.exit_code is None
    msg = vm.explain(res, 600)
    assert "never ran its command" in msg and "initializing udev" in msg


def test_status_qemu_error_is_no_boot(layout: Layout, image: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    res = run(layout, image, monkeypatch, ABORT)
    assert res.status is BootStatus.NO_BOOT


@pytest.mark.parametrize("log, kind", [("console-kasan.log", "kasan"),
                                       ("console-warning.log", "warning"),
                                       ("console-lockdep.log", "lockdep")])
def test_kernel_report_fails_even_with_exit_0(layout: Layout, image: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              log: str, kind: str) -> None:
    lines = read_log(log)
    assert lines[-1] == "KZT-GUEST-EXIT=0"
    res = run(layout, image, monkeypatch, lines)
    assert res.status is BootStatus.KERNEL_REPORT
    assert res.exit_code == 0
    assert res.reports[0].kind == kind
    msg = vm.explain(res, 600)
    assert f"first a {kind} at console line {res.reports[0].line}" in msg


def test_panic_with_exit_0_is_kernel_report(layout: Layout, image: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    res = run(layout, image, monkeypatch, read_log("console-panic.log") + ["KZT-GUEST-EXIT=0"])
    assert res.status is BootStatus.KERNEL_REPORT
    assert res.reports[0].kind == "panic"


def test_panic_without_marker_is_kernel_report_not_no_boot(layout: Layout, image: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    res = run(layout, image, monkeypatch, read_log("console-panic.log"))
    assert res.status is BootStatus.KERNEL_REPORT


def test_allowed_report_kind_does_not_fail(layout: Layout, image: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    res = run(layout, image, monkeypatch, read_log("console-warning.log"),
              allow_reports=frozenset({"warning"}))
    assert res.status is BootStatus.OK
    assert [r.kind for r in res.reports] == ["warning"]  # still reported


def test_guest_text_that_looks_like_a_report_is_ok(layout: Layout, image: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    res = run(layout, image, monkeypatch, read_log("console-guest-prints-bug.log"))
    assert res.status is BootStatus.OK


def test_timeout_wins(layout: Layout, image: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    res = run(layout, image, monkeypatch, read_log("console-hung.log"), timed_out=True)
    assert res.status is BootStatus.TIMEOUT
    msg = vm.explain(res, 123)
    assert "did not finish within 123 s" in msg
    assert "soft lockup" in msg


def test_timeout_after_exit_marker_is_still_timeout(layout: Layout, image: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    res = run(layout, image, monkeypatch, read_log("console-clean-boot.log"), timed_out=True)
    assert res.status is BootStatus.TIMEOUT


def test_echo_prints_guest_output_but_not_kernel_lines_or_marker(
        layout: Layout, image: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    replay(monkeypatch, read_log("console-clean-boot.log"))
    vm._run(layout, BootRequest(image=image, echo=True), Accel.TCG)
    out = capsys.readouterr().out
    assert out == "6.1.192\n"


def test_run_links_each_disk_by_name_in_the_directory_vng_runs_in(
        layout: Layout, image: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a.img", tmp_path / "b.img"
    a.write_bytes(b"")
    b.write_bytes(b"")
    fake = replay(monkeypatch, read_log("console-clean-boot.log"))
    res = vm._run(layout, BootRequest(image=image, echo=False,
                                      disks=(Disk("kzt-swap", a), Disk("kzt-ext4", b))),
                  Accel.TCG)
    assert res.ok
    assert fake.links == [{"kzt-swap": str(a), "kzt-ext4": str(b)}]
    cwd = fake.cwds[0]
    assert cwd is not None and not cwd.exists()  # removed after the boot


def test_relative_kernel_path_still_found_from_the_disk_directory(
        layout: Layout, image: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `kzt boot --kernel out/bzImage`: vng runs in a temporary directory
    # (the disk links), so the image must be given to it as an absolute path.
    monkeypatch.chdir(image.parent.parent)
    rel = Path(image.parent.name) / image.name
    assert rel.exists()
    fake = replay(monkeypatch, read_log("console-clean-boot.log"))
    vm._run(layout, BootRequest(image=rel, echo=False), Accel.TCG)
    run_arg = Path(fake.calls[0][fake.calls[0].index("--run") + 1])
    cwd = fake.cwds[0]
    assert cwd is not None
    assert (run_arg if run_arg.is_absolute() else cwd / run_arg) == image


def test_boot_refuses_a_missing_image(layout: Layout, tmp_path: Path) -> None:
    with pytest.raises(KztError) as ei:
        vm.boot(layout, BootRequest(image=tmp_path / "no-bzImage"))
    assert "no-bzImage" in str(ei.value) and "kzt build" in str(ei.value)


def test_boot_end_to_end_with_fake_stream(layout: Layout, image: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    fake = replay(monkeypatch, read_log("console-clean-boot.log"))
    log = tmp_path / "console.log"
    res = vm.boot(layout, BootRequest(image=image, accel=Accel.TCG, console_log=log, echo=False))
    assert res.ok
    assert res.console_log == log
    assert len(fake.calls) == 1 and "--disable-kvm" in fake.calls[0]
