"""kzt.guest.plugin under pytester: boot groups from kzt_boot markers."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from kzt.guest import plugin as guestplugin
from kzt.guest.schema import check
from kzt.guest.seam import GROUP_LISTING, BootGroup

MARKED = """
import pytest

pytestmark = pytest.mark.kzt_boot(append="kztmem")


def test_swap():
    pass


def test_cleancache():
    pass
"""

UNMARKED = """
def test_plain():
    pass
"""

MIXED = """
import pytest


@pytest.mark.kzt_boot(append="kztmem nofrontswap", memory="1G", cpus=1)
def test_no_frontswap():
    pass


def test_default():
    pass
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_marked=MARKED, test_unmarked=UNMARKED)
    return pytester


def test_list_writes_one_group_per_boot(suite: pytest.Pytester, tmp_path: Path) -> None:
    out = tmp_path / "groups.json"
    res = suite.runpytest("-p", "kzt.guest.plugin", "--collect-only", "-q",
                          f"--kzt-list={out}")
    groups = json.loads(out.read_text())
    check(groups, GROUP_LISTING, str(out))     # what kzt test reads back
    assert len(groups) == 2, res.stdout.str()
    by_append = {g["append"]: g for g in groups}
    assert set(by_append) == {"kztmem", ""}
    assert by_append["kztmem"]["tests"] == ["test_marked.py::test_swap",
                                            "test_marked.py::test_cleancache"]
    assert by_append[""]["tests"] == ["test_unmarked.py::test_plain"]
    for g in groups:
        assert g["memory"] == guestplugin.DEFAULT_MEMORY
        assert g["cpus"] == 2
    # listing runs nothing
    res.assert_outcomes()


def test_group_runs_only_that_group(suite: pytest.Pytester) -> None:
    key = BootGroup("kztmem", "384M", 2).key
    res = suite.runpytest("-p", "kzt.guest.plugin", "--kzt-group", key, "-v")
    res.assert_outcomes(passed=2, deselected=1)
    res.stdout.fnmatch_lines(["*test_marked.py::test_swap PASSED*",
                              "*test_marked.py::test_cleancache PASSED*"])
    res.stdout.no_fnmatch_line("*test_plain*PASSED*")


def test_group_of_unmarked_tests(suite: pytest.Pytester) -> None:
    res = suite.runpytest("-p", "kzt.guest.plugin", "--kzt-group", "384M|2|")
    res.assert_outcomes(passed=1, deselected=2)


def test_unknown_group_runs_nothing(suite: pytest.Pytester) -> None:
    res = suite.runpytest("-p", "kzt.guest.plugin", "--kzt-group", "1G|4|nothing")
    res.assert_outcomes(deselected=3)


def test_function_marker_with_memory_and_cpus(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(test_mixed=MIXED)
    out = tmp_path / "groups.json"
    pytester.runpytest("-p", "kzt.guest.plugin", "--collect-only", f"--kzt-list={out}")
    groups = json.loads(out.read_text())
    assert {(g["append"], g["memory"], g["cpus"], tuple(g["tests"])) for g in groups} == {
        ("kztmem nofrontswap", "1G", 1, ("test_mixed.py::test_no_frontswap",)),
        ("", "384M", 2, ("test_mixed.py::test_default",)),
    }
    key = "1G|1|kztmem nofrontswap"
    res = pytester.runpytest("-p", "kzt.guest.plugin", f"--kzt-group={key}")
    res.assert_outcomes(passed=1, deselected=1)


def test_marker_is_registered(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_marked=MARKED)
    res = pytester.runpytest("-p", "kzt.guest.plugin", "--strict-markers")
    res.assert_outcomes(passed=2)


def test_without_options_everything_runs(suite: pytest.Pytester) -> None:
    res = suite.runpytest("-p", "kzt.guest.plugin")
    res.assert_outcomes(passed=3)


SELECTABLE = """
import pytest

pytestmark = pytest.mark.kzt_boot(append="kztmem")


@pytest.mark.debug_kernel
def test_faults():
    pass


@pytest.mark.integrity
def test_roundtrip():
    pass


def test_other():
    pass
"""


@pytest.mark.parametrize("markers, expected", [
    ("not debug_kernel", ["test_sel.py::test_roundtrip", "test_sel.py::test_other"]),
    ("integrity or debug_kernel", ["test_sel.py::test_faults", "test_sel.py::test_roundtrip"]),
])
def test_list_honours_marker_selection(pytester: pytest.Pytester, tmp_path: Path,
                                       markers: str, expected: list[str]) -> None:
    pytester.makeini("[pytest]\nmarkers =\n    debug_kernel: x\n    integrity: x\n")
    pytester.makepyfile(test_sel=SELECTABLE)
    out = tmp_path / "groups.json"
    res = pytester.runpytest("-p", "kzt.guest.plugin", "--collect-only", "-q", "-m", markers,
                             f"--kzt-list={out}")
    groups = json.loads(out.read_text())
    assert [t for g in groups for t in g["tests"]] == expected, res.stdout.str()
