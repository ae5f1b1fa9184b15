"""ktap.parse() of recorded KUnit 6.1 consoles (lib/kunit/test.c format)."""
from __future__ import annotations

import pytest

from conftest import read_log
from kzt import ktap
from kzt.kunitrun import format_result


def test_two_suites_with_failure_and_skip() -> None:
    r = ktap.parse(read_log("kunit-6.1.log"))
    assert [s.name for s in r.suites] == ["kztmem_xvmalloc", "kztmem_tmem"]
    xv, tm = r.suites
    assert xv.status == "fail"
    assert tm.status == "ok"
    assert [(c.name, c.status) for c in xv.cases] == [
        ("xv_test_sizes", "ok"),
        ("xv_test_page_freed_when_empty", "fail"),
        ("xv_test_coalescing", "skip"),
        ("xv_test_random", "ok"),
    ]
    assert [(c.name, c.status) for c in tm.cases] == [
        ("tmem_test_persistent", "ok"),
        ("tmem_test_ephemeral", "ok"),
        ("tmem_test_replace", "ok"),
    ]
    assert r.counts == {"ok": 5, "fail": 1, "crash": 0, "skip": 1}
    assert r.ok is False


def test_failure_diagnostics_name_the_expectation() -> None:
    r = ktap.parse(read_log("kunit-6.1.log"))
    failed = r.suites[0].cases[1]
    assert failed.status == "fail"
    assert any("EXPECTATION FAILED at drivers/staging/kztmem/kztmem_test.c:97" in d
               for d in failed.diagnostics)
    # the passing cases carry no diagnostics of their neighbours
    assert r.suites[0].cases[0].diagnostics == []
    assert r.suites[0].cases[2].diagnostics == []


def test_failure_diagnostics_keep_the_expected_values() -> None:
    # 6.1 prints the assertion as several lines; only the first starts
    # with '#'.  "Expected pages == 0, but / pages == 1" is what the
    # developer needs to see in `kzt kunit` output.
    failed = ktap.parse(read_log("kunit-6.1.log")).suites[0].cases[1]
    text = "\n".join(failed.diagnostics)
    assert "Expected pages == 0, but" in text
    assert "pages == 1 (0x1)" in text


def test_all_passing_is_ok() -> None:
    r = ktap.parse(read_log("kunit-6.1-pass.log"))
    assert [s.name for s in r.suites] == ["kztmem_tmem"]
    assert r.suites[0].status == "ok"
    assert r.counts == {"ok": 2, "fail": 0, "crash": 0, "skip": 0}
    assert r.ok is True


def test_empty_output_is_not_ok() -> None:
    r = ktap.parse([])
    assert r.suites == []
    assert r.counts == {"ok": 0, "fail": 0, "crash": 0, "skip": 0}
    assert r.ok is False


def test_boot_without_kunit_output_is_not_ok() -> None:
    r = ktap.parse(read_log("console-clean-boot.log"))
    assert r.suites == []
    assert r.ok is False


@pytest.mark.parametrize("lines, status, counts", [
    # only skips
    (["[    0.1]     # Subtest: kztmem_tmem",
      "[    0.2]     ok 1 tmem_test_model # SKIP no swap",
      "[    0.3] ok 1 kztmem_tmem # SKIP"], "skip", {"ok": 0, "fail": 0, "crash": 0, "skip": 1}),
    # a suite that failed without a failed case, e.g. suite_init failed:
    # "# failed to initialize", then "not ok 1 suite"
    (["[    0.1]     KTAP version 1",
      "[    0.1]     # Subtest: kztmem_tmem",
      "[    0.1]     1..1",
      "[    0.2]     # failed to initialize (-12)",
      "[    0.3] not ok 1 kztmem_tmem"], "fail", None),
])
def test_skips_only_or_a_failed_suite_is_not_ok(lines: list[str], status: str,
                                                counts: dict[str, int] | None) -> None:
    r = ktap.parse(lines)
    if counts is not None:
        assert r.counts == counts
    assert r.suites[0].status == status
    assert r.ok is False


def test_dash_form_is_accepted() -> None:
    lines = ["[    0.1]     # Subtest: kztmem_tmem",
             "[    0.2]     ok 1 - tmem_test_model",
             "[    0.3] ok 1 - kztmem_tmem"]
    r = ktap.parse(lines)
    assert [(c.name, c.status) for c in r.suites[0].cases] == [("tmem_test_model", "ok")]
    assert r.suites[0].status == "ok"
    assert r.ok


def test_parameterised_case_does_not_end_the_suite() -> None:
    # 6.1 prints a parameterised case as a subtest 8 spaces deep.
    r = ktap.parse(read_log("kunit-6.1-param.log"))
    assert [s.name for s in r.suites] == ["kztmem_tmem"]
    suite = r.suites[0]
    assert suite.status == "ok"
    names = [c.name for c in suite.cases]
    for name in ("tmem_test_persistent", "tmem_test_sizes", "tmem_test_replace"):
        assert name in names
    assert all(c.status == "ok" for c in suite.cases)
    assert r.ok


def test_suite_cut_short_by_a_crash_is_not_ok() -> None:
    # One case passed, then the kernel oopsed: no suite result line ever came.
    r = ktap.parse(read_log("kunit-6.1-crash.log"))
    assert [s.name for s in r.suites] == ["kztmem_tmem"]
    assert r.suites[0].status == "unknown"
    assert r.ok is False


def test_format_result_lists_failure_details() -> None:
    text = format_result(ktap.parse(read_log("kunit-6.1.log")))
    assert "kztmem_xvmalloc: fail" in text
    assert "[FAIL ] xv_test_page_freed_when_empty" in text
    assert "EXPECTATION FAILED" in text
    assert "[SKIP ] xv_test_coalescing" in text
    assert text.splitlines()[-1] == "5 passed, 1 failed, 0 crashed, 1 skipped"
