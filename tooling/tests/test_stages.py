"""`kzt check`'s stage order: the debug kernel builds beside the vm-tests."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kzt import stages, testrun
from kzt.errors import KztError
from kzt.layout import Layout

# every stage that needs neither a kernel tree nor a guest is skipped
HOST_ONLY = ("host-tests", "mypy", "workload-selftest", "checkpatch", "static", "kunit")


class FakeJob:
    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.cancelled = False

    def elapsed(self) -> float:
        return 42.0

    def cancel(self) -> None:
        self.cancelled = True


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    ev: list[str] = []
    monkeypatch.setattr(stages, "ensure_venv_python", lambda layout: None)
    monkeypatch.setattr(stages, "ensure_kernel",
                        lambda layout, base, flavour="default", **k: ev.append(f"build {flavour}")
                        or tmp_path / flavour)

    def run_tests(layout: Layout, req: testrun.TestRequest) -> Any:
        ev.append(f"tests {req.flavour}")
        return testrun.TestResult(tmp_path, [testrun.GroupResult(None, 1, _Ok())],  # type: ignore[arg-type]
                                  1.0)
    monkeypatch.setattr(testrun, "run_tests", run_tests)
    monkeypatch.setattr(testrun, "print_result", lambda res: None)
    return ev


class _Ok:
    ok = True


def _check(tmp_path: Path, skip: tuple[str, ...] = HOST_ONLY) -> int:
    return stages.check(Layout(tmp_path), stages.CheckRequest(skip=skip))


def test_debug_kernel_builds_while_the_vm_tests_run(
        events: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    jobs: list[FakeJob] = []

    def start(layout: Layout, base: str, flavour: str) -> FakeJob:
        events.append(f"start {flavour}")
        jobs.append(FakeJob(events))
        return jobs[-1]
    monkeypatch.setattr(stages, "start_kernel", start)
    monkeypatch.setattr(stages, "finish_kernel",
                        lambda job, flavour: events.append(f"wait {flavour}") or tmp_path)
    assert _check(tmp_path) == 0
    assert events == ["build default", "start debug", "tests default", "wait debug",
                      "tests debug"]
    assert "built beside vm-tests, 42 s in all" in capsys.readouterr().out


def test_a_debug_kernel_that_cannot_start_fails_its_stage_not_the_vm_tests(
        events: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    def start(layout: Layout, base: str, flavour: str) -> FakeJob:
        raise KztError("config (debug): CONFIG_KASAN wanted y got n: depends on X")
    monkeypatch.setattr(stages, "start_kernel", start)
    assert _check(tmp_path) == 1
    assert events == ["build default", "tests default"]
    out = capsys.readouterr()
    assert "CONFIG_KASAN wanted y" in out.err
    assert "debug-tests" in out.out and "not run" in out.out


def test_an_interrupted_check_stops_the_background_build(
        events: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    jobs: list[FakeJob] = []
    monkeypatch.setattr(stages, "start_kernel",
                        lambda layout, base, flavour: jobs.append(FakeJob(events)) or jobs[-1])

    def interrupted(layout: Layout, req: testrun.TestRequest) -> Any:
        raise KeyboardInterrupt
    monkeypatch.setattr(testrun, "run_tests", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _check(tmp_path)
    assert jobs and jobs[0].cancelled


def test_without_vm_tests_the_debug_kernel_builds_in_its_own_stage(
        events: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(stages, "start_kernel", lambda *a: pytest.fail("started in background"))
    assert _check(tmp_path, (*HOST_ONLY, "vm-tests")) == 0
    assert events == ["build default", "build debug", "tests debug"]
