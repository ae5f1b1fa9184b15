"""The real-program workloads check what the programs produced, and a
wrong result is reported as a mismatch (kzt.guest.real)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from kzt.guest import real


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict[str, Any]]:
    rc = real.main(argv)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    return rc, json.loads(line)


def test_pyheap_walks_and_verifies(capsys: pytest.CaptureFixture[str]) -> None:
    rc, s = _run(capsys, ["pyheap", "--mib", "2", "--walks", "2"])
    assert rc == 0 and s["mismatches"] == 0
    assert s["records"] > 1000 and s["checks"] == 2 * s["records"]


def test_pyheap_reports_a_damaged_record(capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    digest = real._digest

    def flaky(rec: dict[str, Any]) -> int:
        # the walk's digest of one record differs from the one taken at build
        calls["n"] += 1
        return digest(rec) ^ (1 if calls["n"] == 700 else 0)
    monkeypatch.setattr(real, "_digest", flaky)
    rc, s = _run(capsys, ["pyheap", "--mib", "1", "--walks", "1"])
    assert rc == 1 and s["mismatches"] == 1 and s["first_bad"]


def test_sort_output_is_compared_with_the_expected_order(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, s = _run(capsys, ["sort", "--mib", "2", "--dir", str(tmp_path / "s")])
    assert rc == 0 and s["mismatches"] == 0
    assert s["input_bytes"] == s["lines"] * real.SORT_LINE
    assert not list((tmp_path / "s").iterdir()), "input, output and expected are removed"


def test_a_sort_that_loses_a_line_is_a_mismatch(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # a `sort` first on PATH that sorts, then drops the output's 10th line
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "sort").write_text(
        "#!/bin/sh\n"
        'for a; do shift; [ "$prev" = -o ] && out=$a; prev=$a; set -- "$@" "$a"; done\n'
        '/usr/bin/sort "$@" && sed -i 10d "$out"\n')
    (fake / "sort").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    rc, s = _run(capsys, ["sort", "--mib", "1", "--dir", str(tmp_path / "s")])
    assert rc == 1 and s["mismatches"] == 1
    assert "differs" in s["first_bad"][0]


def test_sort_puts_its_programs_not_itself_in_the_cgroup(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "joins"

    def join(procs_file: str) -> None:
        # runs in each child between fork and exec
        with open(log, "a") as f:
            f.write(f"{os.getpid()} {procs_file}\n")
    monkeypatch.setattr(real.kg, "join_cgroup", join)
    rc, s = _run(capsys, ["sort", "--mib", "1", "--dir", str(tmp_path / "s"),
                          "--cgroup-procs", "/cg/cgroup.procs"])
    assert rc == 0 and s["mismatches"] == 0
    joins = [line.split() for line in log.read_text().splitlines()]
    # awk twice, sort and cmp; never this process
    assert len(joins) == 4 and {p for _, p in joins} == {"/cg/cgroup.procs"}
    assert str(os.getpid()) not in {pid for pid, _ in joins}


def test_keys_are_a_permutation() -> None:
    n = 1000
    step = real._step(n)
    assert sorted((i * step) % n for i in range(n)) == list(range(n))
