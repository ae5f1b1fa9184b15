"""kztmem_reject's KUnit suite regenerates the workload patterns in the
kernel (drivers-staging-kztmem/kztmem_pam_test.c), because the driver may
not include vm-tests/workloads/kzt_pattern.h.  Its false-reject rate only
means something while the copy produces the same pages: the text lines
and the generator's constants must stay the same in both."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KERNEL = REPO / "drivers-staging-kztmem" / "kztmem_pam_test.c"
USER = REPO / "vm-tests" / "workloads" / "kzt_pattern.h"


def _table(text: str, name: str) -> list[str]:
    m = re.search(rf"{name}\[\w*\]\s*=\s*\{{(.*?)\}};", text, re.S)
    assert m, f"no table {name}"
    return re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1))


def _constants(text: str) -> set[str]:
    return {c.lower() for c in re.findall(r"0x[0-9a-fA-F]{16}", text)}


def test_kernel_copy_of_the_patterns_matches_the_workloads() -> None:
    k, u = KERNEL.read_text(), USER.read_text()
    lines = _table(u, "kzt_lines")
    assert lines and _table(k, "kzt_rt_lines") == lines
    assert _constants(u) and _constants(u) <= _constants(k)
    header = '"kzt block %llu seed %llu\\n"'
    assert header in k and header in u, "each block starts with the same header line"
