"""The command line: every sub-command has working --help."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from kzt import cli
from kzt.errors import KztError


def subcommands() -> list[str]:
    ap = cli.parser()
    sub = next(a for a in ap._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(sub.choices)


def help_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as ei:
        cli.main(argv)
    assert ei.value.code == 0
    return capsys.readouterr().out


def test_the_expected_subcommands_exist() -> None:
    names = subcommands()
    for name in ("setup", "doctor", "prepare", "export-patches", "config", "build",
                 "boot", "test", "kunit", "checkpatch", "series-check", "up", "check"):
        assert name in names


def test_top_level_help(capsys: pytest.CaptureFixture[str]) -> None:
    out = help_of(["--help"], capsys)
    assert out.startswith("usage: kzt")
    for name in subcommands():
        assert name in out


@pytest.mark.parametrize("name", subcommands())
def test_subcommand_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = help_of([name, "--help"], capsys)
    assert out.startswith(f"usage: kzt {name}")


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ei:
        cli.main([])
    assert ei.value.code == 2
    assert "usage: kzt" in capsys.readouterr().err


def test_bad_accel_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ei:
        cli.main(["boot", "--accel", "hvf"])
    assert ei.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_kzt_error_is_printed_with_its_exit_code(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from kzt.errors import GuestError

    def boom(a: argparse.Namespace, layout: object) -> int:
        raise GuestError("the guest fell over", "look at the console log")

    monkeypatch.setattr(cli, "cmd_prepare", boom)
    assert cli.main(["prepare"]) == 4
    err = capsys.readouterr().err
    assert "kzt prepare: error: the guest fell over" in err
    assert "-> look at the console log" in err


@pytest.mark.parametrize("argv", [
    ["run", "memhog-text-480", "--kernel", "{missing}"],
    ["run", "memhog-text-480", "--kernel", "{missing}", "--json"],
    ["boot", "--kernel", "{missing}", "--dry-run"],
    ["boot", "--kernel", "{missing}", "--exec", "true"],
])
def test_a_kernel_image_that_is_not_there_is_refused(argv: list[str], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """`--kernel` naming no file stops before a run directory is made or
    anything boots."""
    from kzt import guestjob, vm

    def never(*args: object, **kw: object) -> None:
        raise AssertionError("went on past a missing kernel image")

    monkeypatch.setattr(guestjob, "new_run", never)
    monkeypatch.setattr(vm, "boot", never)
    missing = tmp_path / "no-such-bzImage"
    assert cli.main([x.format(missing=missing) for x in argv]) == KztError.exit_code
    err = capsys.readouterr().err
    assert f"kernel image {missing} does not exist" in err and "give --kernel a bzImage" in err
