"""`kzt stats`: counters people can read.

The snapshot and its derived figures (effective compression ratio, hit
rate, reject rate by reason, the pool's share of RAM) come from
kzt.guest.counters; this module lays them out as a table, as JSON, or
redrawn with deltas (--watch).
"""
from __future__ import annotations

import json
import sys
import time

from . import ui
from .guest import counters
from .guest.counters import VMSTAT_KEYS, Snapshot, derive


def rows(snap: Snapshot, before: Snapshot | None = None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for group in ("kztmem", "frontswap", "cleancache", "zswap"):
        for name, v in (snap.get(group) or {}).items():
            out.append((f"{group}/{name}", str(v)))
    for name, dev in (snap.get("zram") or {}).items():
        out.append((f"{name}/mm_stat", str(dev.get("mm_stat"))))
    vm = snap.get("vmstat") or {}
    vb = (before or {}).get("vmstat") or {}
    for key in VMSTAT_KEYS:
        if key in vm:
            label = f"vmstat/{key}" + (" (delta)" if before else "")
            out.append((label, str(vm[key] - vb.get(key, 0))))
    for serial, st in (snap.get("diskstats") or {}).items():
        sb = ((before or {}).get("diskstats") or {}).get(serial, {})
        out.append((f"disk {serial} reads/writes" + (" (delta)" if before else ""),
                    f"{st['reads'] - sb.get('reads', 0)}/{st['writes'] - sb.get('writes', 0)}"))
    for name, v in derive(snap).items():
        out.append((f"derived/{name}", f"{v:.3f}"))
    return out


def render(snap: Snapshot, before: Snapshot | None = None) -> str:
    """Scalar counters as a table; histograms and multi-field files below."""
    all_rows = rows(snap, before)
    scalar = [r for r in all_rows if " " not in r[1].strip()]
    multi = [r for r in all_rows if " " in r[1].strip()]
    text = ui.table(scalar, ("counter", "value"))
    if multi:
        text += "\n" + "\n".join(f"{n}: {' '.join(v.split())}" for n, v in multi)
    return text


def run_cli(as_json: bool, watch: float | None) -> int:
    """`kzt stats` inside the guest."""
    if watch is None:
        snap = counters.snapshot()
        if as_json:
            print(json.dumps({"counters": snap, "derived": derive(snap)}, indent=1))
        else:
            print(render(snap))
        return 0
    first = counters.snapshot()
    try:
        while True:
            snap = counters.snapshot()
            text = render(snap, first)
            if sys.stdout.isatty():
                sys.stdout.write("\x1b[H\x1b[2J")
            print(time.strftime("%H:%M:%S"), "(deltas since start)")
            print(text, flush=True)
            time.sleep(watch)
    except KeyboardInterrupt:
        return 0
