"""`kzt stats`: counters people can read.

The snapshot and its derived figures (effective compression ratio, hit
rate, reject rate by reason, the pool's share of RAM) come from
kzt.guest.counters; this module lays them out as a table, as JSON, or
redrawn with deltas (--watch).  With --cgroup, one memory cgroup's
figures come too: what kztmem (or zswap) holds for it and its limit.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from . import ui
from .errors import KztError
from .guest import counters
from .guest import lib as guestlib
from .guest.counters import VMSTAT_KEYS, Snapshot, derive


def cgroup_dir(path: str) -> Path:
    """A cgroup named by its path under /sys/fs/cgroup, or absolutely."""
    cg = Path(path)
    if not cg.is_absolute():
        cg = guestlib.CGROUP_ROOT / path
    if not (cg / "cgroup.procs").is_file():
        raise KztError(f"{cg} is not a cgroup v2 directory (no cgroup.procs)",
                       "name it relative to /sys/fs/cgroup (e.g. 'kzt-workload') or absolutely")
    return cg


def cgroup_snapshot(cg: Path) -> dict[str, object]:
    """The cgroup's memory figures, and the effective ratio of what is
    stored for it (pages held x page size / bytes charged)."""
    vals = guestlib.cgroup_ints(cg)
    if "memory.zswap.current" not in vals:
        raise KztError(f"{cg} has no memory.zswap.current",
                       "the kernel needs CONFIG_MEMCG_KMEM and the series' patch "
                       "'mm: memcontrol: let any frontswap backend charge a cgroup' "
                       "(or zswap), and the memory controller on for this cgroup")
    out: dict[str, object] = {"path": str(cg), **vals}
    held, charged = vals.get("stat.zswapped", 0), vals["memory.zswap.current"]
    if charged:
        out["ratio"] = round(held * counters.PAGE_SIZE / charged, 3)
    return out


def rows(snap: Snapshot, before: Snapshot | None = None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    cg = snap.get("cgroup")
    if cg:
        name = Path(str(cg["path"])).name
        for key, v in cg.items():
            if key in ("path", "memory.max", "memory.current", "memory.swap.current",
                       "memory.zswap.current", "memory.zswap.max", "ratio",
                       "stat.zswap", "stat.zswapped", "stat.anon"):
                out.append((f"cgroup {name}/{key}", str(v)))
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


def take(cgroup: Path | None) -> Snapshot:
    snap = dict(counters.snapshot())
    if cgroup is not None:
        snap["cgroup"] = cgroup_snapshot(cgroup)
    return snap


def run_cli(as_json: bool, watch: float | None, cgroup: str | None = None) -> int:
    """`kzt stats` inside the guest."""
    cg = cgroup_dir(cgroup) if cgroup is not None else None
    if watch is None:
        snap = take(cg)
        if as_json:
            print(json.dumps({"counters": snap, "derived": derive(snap)}, indent=1))
        else:
            print(render(snap))
        return 0
    first = take(cg)
    try:
        while True:
            snap = take(cg)
            text = render(snap, first)
            if sys.stdout.isatty():
                sys.stdout.write("\x1b[H\x1b[2J")
            print(time.strftime("%H:%M:%S"), "(deltas since start)")
            print(text, flush=True)
            time.sleep(watch)
    except KeyboardInterrupt:
        return 0
