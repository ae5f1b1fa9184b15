"""kzt.guestjob: one boot for one job, with its disks, environment and clean-up."""
from __future__ import annotations

from pathlib import Path

import pytest

from kzt import guestjob, vm
from kzt.errors import GuestError
from kzt.layout import Layout


def job(tmp_path: Path, **kw: object) -> guestjob.GuestJob:
    run_dir = tmp_path / "run"
    run_dir.mkdir(exist_ok=True)
    return guestjob.GuestJob(image=tmp_path / "bzImage", command=("true",), run_dir=run_dir,
                             **kw)  # type: ignore[arg-type]


def test_a_job_boots_with_its_disks_and_environment_then_removes_the_disks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[vm.BootRequest] = []

    def fake_boot(layout: Layout, req: vm.BootRequest) -> vm.BootResult:
        seen.append(req)
        assert [d.path.stat().st_size for d in req.disks] == [guestjob.DISK_SIZE] * 2
        return vm.BootResult(vm.BootStatus.OK, 0, vm.Accel.TCG, 1.0, req.console_log, "")
    monkeypatch.setattr(vm, "boot", fake_boot)
    layout = Layout(tmp_path / "repo")
    j = job(tmp_path, disks=guestjob.TEST_DISKS, bins=Path("/bins"), tag="3",
            throttle=vm.Throttle(1, 2), env=(("KZT_X", "1"),))
    assert guestjob.run(layout, j).ok
    (req,) = seen
    assert [(d.name, d.path.name, d.throttle) for d in req.disks] == [
        ("kzt-swap", "kzt-swap-3.img", vm.Throttle(1, 2)),
        ("kzt-ext4", "kzt-ext4-3.img", vm.Throttle(1, 2))]
    assert not any(d.path.exists() for d in req.disks)
    assert req.rwdirs == (j.run_dir,) and req.console_log == j.run_dir / "console-3.log"
    assert dict(req.env) == {"PYTHONPATH": str(layout.root / "tooling"),
                             "PYTHONDONTWRITEBYTECODE": "1", "KZT_WORKLOADS_DIR": "/bins",
                             "KZT_X": "1"}


def test_the_disks_go_even_when_the_boot_fails(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Path] = []

    def failing_boot(layout: Layout, req: vm.BootRequest) -> vm.BootResult:
        made.extend(d.path for d in req.disks)
        raise GuestError("KVM cannot boot a guest on this host")
    monkeypatch.setattr(vm, "boot", failing_boot)
    with pytest.raises(GuestError):
        guestjob.run(Layout(tmp_path), job(tmp_path, disks=("kzt-swap",)))
    assert made and not any(p.exists() for p in made)
    assert job(tmp_path).console_log.name == "console.log"


def test_new_run_makes_a_fresh_directory_and_a_latest_link(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    a = guestjob.new_run(layout, "test")
    b = guestjob.new_run(layout, "test")
    assert a != b and a.is_dir() and b.is_dir()
    assert (layout.runs / "latest-test").resolve() == b.resolve()
