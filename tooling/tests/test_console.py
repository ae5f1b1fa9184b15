"""console.scan() over recorded 6.1 x86 console logs."""
from __future__ import annotations

import pytest

from conftest import read_log
from kzt import console


def kinds(reports: list[console.Report]) -> list[str]:
    return [r.kind for r in reports]


def line_of(lines: list[str], needle: str) -> int:
    """1-based number of the first line containing needle."""
    return next(n for n, ln in enumerate(lines, 1) if needle in ln)


def test_clean_boot_has_no_report() -> None:
    lines = read_log("console-clean-boot.log")
    assert len(lines) > 30
    assert console.scan(lines) == []


def test_kernel_lines_strip_the_timestamp_and_skip_guest_output() -> None:
    lines = ["[    0.614000] Run /init as init process",
             "<4>[   12.000001] with a log level",
             "[  245.812000]",
             "6.1.192",
             "not a [ 1.0] kernel line"]
    assert list(console.kernel_lines(lines)) == [
        (1, "Run /init as init process"), (2, "with a log level"), (3, "")]


def test_guest_text_without_timestamp_is_not_a_kernel_report() -> None:
    lines = read_log("console-guest-prints-bug.log")
    assert any(ln == "BUG: foo" for ln in lines)
    assert console.scan(lines) == []


def test_the_same_text_with_a_timestamp_is_a_report() -> None:
    lines = ["[    3.000000] BUG: foo"]
    reports = console.scan(lines)
    assert kinds(reports) == ["bug"]
    assert console.fatal(reports) == reports


def test_panic() -> None:
    lines = read_log("console-panic.log")
    reports = console.scan(lines)
    first = reports[0]
    assert first.kind == "panic"
    assert first.line == line_of(lines, "Kernel panic - not syncing: No working init")
    assert first.excerpt.startswith(lines[first.line - 1])
    assert "Call Trace:" in first.excerpt
    assert console.fatal(reports)


def test_panic_trailer_is_not_a_second_panic() -> None:
    # "---[ end Kernel panic - not syncing: ... ]---" closes the same panic;
    # counting it again makes `kzt boot` say "2 problem(s)" for one panic.
    reports = console.scan(read_log("console-panic.log"))
    assert kinds(reports) == ["panic"]


def test_oops_general_protection_fault_with_call_trace() -> None:
    lines = read_log("console-oops.log")
    reports = console.scan(lines)
    assert kinds(reports) == ["oops"]
    r = reports[0]
    assert r.line == line_of(lines, "general protection fault")
    assert "RIP: 0010:tmem_put" in r.excerpt
    assert "Call Trace:" in r.excerpt
    assert console.fatal(reports) == reports


def test_null_pointer_oops_is_fatal_and_reported_once_at_its_first_line() -> None:
    lines = read_log("console-null-deref.log")
    reports = console.scan(lines)
    assert len(reports) == 1
    assert reports[0].line == line_of(lines, "BUG: kernel NULL pointer dereference")
    assert reports[0].kind in console.FATAL
    assert "Oops: 0000" in reports[0].excerpt


# Recorded consoles with one splat each: the kind it is reported as, text of
# the line the report starts at, and text its excerpt must carry.
ONE_SPLAT = {
    "kasan": ("console-kasan.log", "kasan", "BUG: KASAN: slab-out-of-bounds", "xv_malloc"),
    # a lockdep splat starts with "WARNING:" but is not a plain warning
    "lockdep-not-a-plain-warning": ("console-lockdep.log", "lockdep",
                                    "possible circular locking dependency", "tmem_put"),
    # reported once, from "[ cut here ]", not again at its "WARNING:" line
    "warning-once-from-cut-here": ("console-warning.log", "warning", "[ cut here ]",
                                   "kztmem.c:412"),
}


@pytest.mark.parametrize("log, kind, first_line, detail", ONE_SPLAT.values(), ids=ONE_SPLAT)
def test_a_splat_is_one_fatal_report_from_its_first_line(log: str, kind: str, first_line: str,
                                                         detail: str) -> None:
    lines = read_log(log)
    reports = console.scan(lines)
    assert kinds(reports) == [kind]
    assert reports[0].line == line_of(lines, first_line)
    assert detail in reports[0].excerpt
    assert console.fatal(reports) == reports


def test_hung_task_and_soft_lockup() -> None:
    lines = read_log("console-hung.log")
    reports = console.scan(lines)
    assert kinds(reports) == ["hung", "hung"]
    assert reports[0].line == line_of(lines, "blocked for more than 120 seconds")
    assert reports[1].line == line_of(lines, "soft lockup")
    assert console.fatal(reports) == reports


def test_truncated_boot_has_no_report() -> None:
    assert console.scan(read_log("console-timeout.log")) == []


@pytest.mark.parametrize("msg, kind", [
    ("BUG: KASAN: use-after-free in tmem_get+0x40/0x1f0", "kasan"),
    ("UBSAN: shift-out-of-bounds in drivers/staging/kztmem/xvmalloc.c:88:20", "ubsan"),
    ("BUG: sleeping function called from invalid context at mm/slab.h:723", "lockdep"),
    ("WARNING: suspicious RCU usage", "lockdep"),
    ("WARNING: possible recursive locking detected", "lockdep"),
    ("kmemleak: 3 new suspected memory leaks (see /sys/kernel/debug/kmemleak)", "kmemleak"),
    ("kmemleak: Memory pool empty, consider increasing CONFIG_DEBUG_KMEMLEAK_MEM_POOL_SIZE",
     "kmemleak-off"),
    ("kmemleak: Kernel memory leak detector disabled", "kmemleak-off"),
    ("kernel BUG at mm/frontswap.c:123!", "bug"),
    ("BUG: unable to handle page fault for address: ffffc90000000000", "oops"),
    ("rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:", "hung"),
    ("rcu: INFO: rcu_sched self-detected stall on CPU", "hung"),
    ("rcu: INFO: rcu_sched detected expedited stalls on CPUs/tasks: {", "hung"),
    ("memhog invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0", "oom"),
])
def test_kinds(msg: str, kind: str) -> None:
    assert kinds(console.scan([f"[   10.000000] {msg}"])) == [kind]


def test_oom_is_reported_but_not_fatal_and_allow_filters() -> None:
    lines = ["[   10.000000] Out of memory: Killed process 88 (memhog) total-vm:600000kB",
             "[   10.000001] filler", "[   10.000002] filler", "[   10.000003] filler",
             "[   10.000004] filler", "[   10.000005] filler", "[   10.000006] filler",
             "[   10.000007] filler",
             "[   11.000000] WARNING: CPU: 0 PID: 1 at mm/page_alloc.c:5525 foo+0x1/0x2"]
    reports = console.scan(lines)
    assert kinds(reports) == ["oom", "warning"]
    assert kinds(console.fatal(reports)) == ["warning"]
    assert console.fatal(reports, {"warning"}) == []


def test_a_non_fatal_report_does_not_hide_a_fatal_one_right_after_it() -> None:
    lines = ["[   20.000000] Out of memory: Killed process 88 (memhog) total-vm:600000kB",
             "[   20.001000] oom_reaper: reaped process 88 (memhog), now anon-rss:0kB",
             "[   20.002000] ------------[ cut here ]------------",
             "[   20.002100] WARNING: CPU: 1 PID: 34 at drivers/staging/kztmem/kztmem.c:412 "
             "kzt_pers_pampd_free+0x7a/0x90"]
    reports = console.scan(lines)
    assert kinds(console.fatal(reports)) == ["warning"]


def test_kmemleak_switching_off_is_one_fatal_report() -> None:
    # As seen on a debug guest whose kmemleak pool ran dry.
    lines = ["[  418.110888] kmemleak: Memory pool empty, consider increasing "
             "CONFIG_DEBUG_KMEMLEAK_MEM_POOL_SIZE",
             "[  418.118991] kmemleak: Cannot allocate a kmemleak_object structure",
             "[  418.119938] kmemleak: Kernel memory leak detector disabled",
             "[  418.130657] kmemleak: Automatic memory scanning thread ended"]
    reports = console.fatal(console.scan(lines))
    assert kinds(reports) == ["kmemleak-off"]
    assert "Kernel memory leak detector disabled" in reports[0].excerpt


def test_kmemleak_start_up_lines_are_not_reports() -> None:
    lines = ["[   22.268417] kmemleak: Kernel memory leak detector initialized "
             "(mem pool available: 14849)",
             "[   22.268756] kmemleak: Automatic memory scanning thread started"]
    assert console.scan(lines) == []
