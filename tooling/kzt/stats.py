"""Counters people can read: kztmem's sysfs, the frontswap and cleancache
debugfs counters, and /proc/vmstat deltas, from a guest snapshot."""
from __future__ import annotations

from typing import Any

from . import ui

VMSTAT_KEYS = ("pswpin", "pswpout", "pgmajfault", "pgpgin", "pgpgout",
               "workingset_refault_file")


def _num(v: Any) -> int | None:
    try:
        return int(str(v).split()[0])
    except (ValueError, IndexError):
        return None


def counters_table(data: dict[str, Any]) -> str:
    """Counters while the workload's swap was still on, and vmstat deltas."""
    rows: list[tuple[str, ...]] = []
    during = data.get("during", {})
    before, after = data.get("before", {}), data.get("after", {})
    for group in ("kztmem", "frontswap", "cleancache", "zswap"):
        vals = during.get(group) or {}
        for k, v in vals.items():
            end = (after.get(group) or {}).get(k, "")
            rows.append((f"{group}/{k}", str(v), str(end)))
    vb, va = before.get("vmstat", {}), during.get("vmstat", {})
    for k in VMSTAT_KEYS:
        if k in va:
            rows.append((f"vmstat/{k} (delta)", str(va[k] - vb.get(k, 0)), ""))
    return ui.table(rows, ("counter", "after workload", "after swapoff"))
