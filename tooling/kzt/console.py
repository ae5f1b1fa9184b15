"""Reading a guest's console: what the kernel reported.

A panic, oops, BUG, WARNING, KASAN, UBSAN, lockdep or kmemleak report
fails a run, and so does kmemleak switching itself off (no leak check).  Only lines that carry a printk timestamp are kernel lines, so
a test that prints "BUG:" itself is not mistaken for the kernel.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

_KLINE = re.compile(r"^(?:<\d+>)?\[\s*\d+\.\d+\]\s?(?P<msg>.*)$")

# (kind, pattern on the kernel message)
PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("panic", re.compile(r"^Kernel panic - not syncing")),
    ("oops", re.compile(r"^Oops:|general protection fault|unable to handle (kernel|page)", re.I)),
    ("kasan", re.compile(r"BUG: KASAN:")),
    ("ubsan", re.compile(r"UBSAN:")),
    ("lockdep", re.compile(r"possible (circular|recursive) locking|inconsistent lock state|"
                           r"BUG: sleeping function called|WARNING: suspicious RCU usage|"
                           r"BUG: scheduling while atomic|lock held when returning")),
    ("kmemleak", re.compile(r"kmemleak: \d+ new suspected memory leaks")),
    # kmemleak switching itself off voids the leak check of the run
    ("kmemleak-off", re.compile(r"kmemleak: (Memory pool empty|Cannot allocate a kmemleak|"
                                r"Kernel memory leak detector disabled)")),
    ("bug", re.compile(r"^(kernel )?BUG[: ]|^BUG: ")),
    ("warning", re.compile(r"^WARNING: |------------\[ cut here \]------------")),
    ("hung", re.compile(r"blocked for more than \d+ seconds|soft lockup|hard LOCKUP|"
                        r"rcu_.*detected (expedited )?stalls|rcu_.*self-detected stall")),
    ("oom", re.compile(r"Out of memory: Killed process|invoked oom-killer")),
]

# Reports that fail a run by default ("oom" is reported but does not fail:
# tests that push memory may legitimately see it).
FATAL = {"panic", "oops", "kasan", "ubsan", "lockdep", "kmemleak", "kmemleak-off", "bug",
         "warning", "hung"}


@dataclass(frozen=True)
class Report:
    kind: str
    line: int  # 1-based line in the console log
    excerpt: str


def kernel_lines(lines: Iterable[str]) -> Iterable[tuple[int, str]]:
    for n, line in enumerate(lines, 1):
        m = _KLINE.match(line.strip("\r"))
        if m:
            yield n, m.group("msg")


def scan(lines: list[str], context: int = 12) -> list[Report]:
    """All kernel reports in a console log, one per first line."""
    reports: list[Report] = []
    seen_until = 0
    for n, msg in kernel_lines(lines):
        if n <= seen_until:
            continue
        for kind, pat in PATTERNS:
            if pat.search(msg):
                excerpt = "\n".join(lines[n - 1: n - 1 + context])
                reports.append(Report(kind, n, excerpt))
                if kind in FATAL:
                    seen_until = n + context // 2
                break
    return reports


def fatal(reports: list[Report], allow: set[str] = frozenset()) -> list[Report]:  # type: ignore[assignment]
    return [r for r in reports if r.kind in FATAL and r.kind not in allow]
