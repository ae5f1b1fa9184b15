"""kzt.testrun's test selection and kzt.guest.runner's kmemleak handling."""
from __future__ import annotations

from pathlib import Path

import pytest

from kzt import testrun
from kzt.guest import runner
from kzt.testrun import TestRequest as Req


def test_default_flavour_deselects_debug_kernel_tests() -> None:
    assert testrun.selection(Req()) == ("-m", "not debug_kernel")


def test_debug_flavour_runs_integrity_and_fault_tests() -> None:
    args = testrun.selection(Req(flavour="debug", pytest_args=("-x",)))
    assert args == ("-m", "integrity or debug_kernel", "-x")


@pytest.mark.parametrize("given", [("-m", "soak"), ("-msoak",)])
def test_explicit_marker_expression_wins(given: tuple[str, ...]) -> None:
    assert testrun.selection(Req(flavour="debug", pytest_args=given)) == given


LEAK = """unreferenced object 0xffff888004a1c000 (size 64):
  comm "memhog", pid 312, jiffies 4294901234 (age 12.340s)
  backtrace:
    [<ffffffff81234567>] kmem_cache_alloc+0x1a0/0x2c0
    [<ffffffff81876543>] kzt_obj_alloc+0x20/0x60
"""


class FakeKmemleak:
    """Stands in for /sys/kernel/debug/kmemleak: records commands, returns a report."""

    def __init__(self, path: Path, report: str) -> None:
        self.path = path
        self.report = report
        self.commands: list[str] = []

    def command(self, cmd: str) -> None:
        self.commands.append(cmd)
        self.path.write_text(self.report if cmd == "scan" else "")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeKmemleak:
    f = FakeKmemleak(tmp_path / "kmemleak", "")
    monkeypatch.setattr(runner, "KMEMLEAK", f.path)
    monkeypatch.setattr(runner, "_kmemleak", f.command)
    monkeypatch.setattr(runner, "KMEMLEAK_MIN_AGE", 0.0)
    return f


def test_no_kmemleak_means_no_baseline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(runner, "KMEMLEAK", tmp_path / "absent")
    assert runner.kmemleak_baseline() is False


def test_baseline_scans_then_clears(fake: FakeKmemleak) -> None:
    fake.path.write_text("")
    assert runner.kmemleak_baseline() is True
    assert fake.commands == ["scan=off", "scan", "clear"]


def test_leaks_are_counted_and_kept(fake: FakeKmemleak, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    fake.report = LEAK + LEAK
    out = tmp_path / "kmemleak-1.txt"
    assert runner.kmemleak_report(out) == 2
    assert out.read_text() == LEAK + LEAK
    assert "kmemleak found 2 unreferenced object(s)" in capsys.readouterr().err


def test_clean_scan_reports_no_leaks(fake: FakeKmemleak, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert runner.kmemleak_report(tmp_path / "k.txt") == 0
    assert "no leaks" in capsys.readouterr().out


def test_kmemleak_switched_off_is_a_failed_check(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    def refuse(cmd: str) -> None:
        raise PermissionError(1, "Operation not permitted")
    monkeypatch.setattr(runner, "_kmemleak", refuse)
    monkeypatch.setattr(runner, "KMEMLEAK_MIN_AGE", 0.0)
    assert runner.kmemleak_report(tmp_path / "k.txt") == -1
    assert "no leak check was made" in capsys.readouterr().err


def test_guest_deadline_by_flavour_unless_given() -> None:
    limits = testrun.GUEST_TIMEOUT
    assert Req().deadline == limits["default"]
    assert Req(flavour="debug").deadline == limits["debug"] > limits["default"]
    assert Req(flavour="plain").deadline == limits["default"]
    assert Req(flavour="debug", timeout=60).deadline == 60


def test_missing_kernel_image_is_named_before_any_run(tmp_path: Path) -> None:
    from kzt.errors import KztError
    from kzt.layout import Layout
    layout = Layout(tmp_path)
    with pytest.raises(KztError, match="absent-bzImage does not exist"):
        testrun.run_tests(layout, Req(kernel=tmp_path / "absent-bzImage"))
    assert not (tmp_path / "build" / "runs").exists()


def test_k_reaches_pytest_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from kzt import cli
    seen: list[Req] = []

    def fake_run(layout: object, req: Req) -> testrun.TestResult:
        seen.append(req)
        return testrun.TestResult(tmp_path)
    monkeypatch.setattr(testrun, "run_tests", fake_run)
    # kzt test brings the kernel up to date first: not here
    from kzt import kernel, stages
    monkeypatch.setattr(kernel, "ensure_kernel", lambda *a, **k: tmp_path / "bzImage")
    monkeypatch.setattr(stages, "ensure_venv_python", lambda *a, **k: None)
    cli.main(["test", "-k", "frontswap", "--", "-x"])
    (req,) = seen
    assert req.pytest_args.count("-k") == 1
    assert req.pytest_args == ("-x", "-k", "frontswap")
    assert testrun.selection(req) == ("-m", "not debug_kernel", "-x", "-k", "frontswap")


def test_up_and_check_take_typed_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    from kzt import cli, stages, vm
    seen: list[object] = []
    monkeypatch.setattr(stages, "up", lambda layout, req: seen.append(req) or 0)
    monkeypatch.setattr(stages, "check", lambda layout, req: seen.append(req) or 0)
    assert cli.main(["up", "--accel", "tcg"]) == 0
    assert cli.main(["check", "--skip", "kunit", "--skip", "mypy"]) == 0
    assert seen == [stages.UpRequest("6.1", vm.Accel.TCG, stages.UP_WORKLOAD),
                    stages.CheckRequest("6.1", vm.Accel.AUTO, ("kunit", "mypy"))]


def test_guest_collects_only_the_modules_of_its_boot_group(tmp_path: Path) -> None:
    from kzt.layout import Layout
    lay = Layout(tmp_path)
    lay.vm_tests.mkdir(parents=True)
    (lay.vm_tests / "test_a.py").write_text("")
    tests = ("test_b.py::test_x[lz4]", "test_a.py::test_y", "test_b.py::test_z[p: q]")
    assert testrun.group_modules(lay, ("-m", "not debug_kernel", "-k", "lz4"), tests) == \
        ("test_a.py", "test_b.py")
    # the user named a path: the guest collects it, as the host did
    for named in ("test_a.py", "test_a.py::test_y"):
        assert testrun.group_modules(lay, ("-m", "x", named), tests) == ()
