"""KTAP/TAP results of KUnit, read from a guest console.

Only what `kzt kunit` needs: suites with their test cases, each ok, not ok
or skipped, plus the diagnostic lines printed for a failure.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from .console import kernel_lines

_RESULT = re.compile(r"^(?P<indent>\s*)(?P<not>not )?ok (?P<num>\d+)(?: -)? (?P<name>[^#\s]+)"
                     r"(?:\s*#\s*(?P<directive>SKIP|skip)\b.*)?")
_SUBTEST = re.compile(r"^\s*# Subtest: (?P<name>\S+)")


@dataclass
class Case:
    name: str
    status: str  # "ok", "fail", "skip"
    diagnostics: list[str] = field(default_factory=list)


@dataclass
class Suite:
    name: str
    status: str = "unknown"
    cases: list[Case] = field(default_factory=list)


@dataclass
class KtapResult:
    suites: list[Suite]

    @property
    def counts(self) -> dict[str, int]:
        c = {"ok": 0, "fail": 0, "skip": 0}
        for s in self.suites:
            for t in s.cases:
                c[t.status] += 1
        return c

    @property
    def ok(self) -> bool:
        c = self.counts
        return c["fail"] == 0 and c["ok"] > 0 and all(s.status != "fail" for s in self.suites)


def parse(console_lines: Iterable[str]) -> KtapResult:
    """Parse KUnit output out of a console log (printk timestamps allowed)."""
    suites: list[Suite] = []
    current: Suite | None = None
    pending: list[str] = []
    for _, msg in kernel_lines(console_lines):
        m = _SUBTEST.match(msg)
        if m and msg.startswith("    "):
            current = Suite(m.group("name"))
            suites.append(current)
            pending = []
            continue
        m = _RESULT.match(msg)
        if m:
            status = "skip" if m.group("directive") else ("fail" if m.group("not") else "ok")
            depth = len(m.group("indent"))
            if depth >= 8 and current is not None:
                current.cases.append(Case(m.group("name"), status, pending))
                pending = []
            elif depth >= 4 and current is not None and m.group("name") != current.name:
                # a parameterised case's summary line at suite depth
                current.cases.append(Case(m.group("name"), status, pending))
                pending = []
            elif current is not None and m.group("name") == current.name:
                current.status = status
                current = None
            continue
        if current is not None and msg.strip().startswith("#") and "Subtest" not in msg:
            pending.append(msg.strip())
    return KtapResult(suites)
