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
_NOISE = re.compile(r"^\s*(KTAP version|TAP version|1\.\.\d+|# \S+: pass:\d+)")


@dataclass
class Case:
    name: str
    status: str  # "ok", "fail", "skip"; from the tree's parser also "crash", "none", "error"
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
        c = {"ok": 0, "fail": 0, "crash": 0, "skip": 0}
        for s in self.suites:
            for t in s.cases:
                key = t.status if t.status in c else "crash"   # "none", "error"
                c[key] += 1
        return c

    @property
    def ok(self) -> bool:
        c = self.counts
        return (c["fail"] == 0 and c["crash"] == 0 and c["ok"] > 0
                and all(s.status in ("ok", "skip") for s in self.suites))


def parse(console_lines: Iterable[str]) -> KtapResult:
    """Parse KUnit output out of a console log (printk timestamps allowed).

    Suites are the `# Subtest:` blocks at depth 4; their cases are the
    results at depth 4 (a parameterised case's own results, at depth 8,
    are summed up by its depth-4 line); the depth-0 result with the
    suite's name closes it.  Diagnostic lines before a case's result are
    kept with that case.
    """
    suites: list[Suite] = []
    current: Suite | None = None
    pending: list[str] = []
    for _, msg in kernel_lines(console_lines):
        depth = len(msg) - len(msg.lstrip(" "))
        m = _SUBTEST.match(msg)
        if m:
            if depth == 4:
                current = Suite(m.group("name"))
                suites.append(current)
                pending = []
            continue
        m = _RESULT.match(msg)
        if m:
            status = "skip" if m.group("directive") else ("fail" if m.group("not") else "ok")
            if current is None:
                continue
            if depth == 4:
                current.cases.append(Case(m.group("name"), status, pending))
                pending = []
            elif depth == 0 and m.group("name") == current.name:
                current.status = status
                current = None
            continue
        if current is not None and depth >= 4 and not _NOISE.match(msg):
            pending.append(msg.strip())
    return KtapResult(suites)
