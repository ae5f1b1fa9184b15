"""`kzt stats`: counters people can read.

In the guest it reads kztmem's sysfs, the frontswap, cleancache and zswap
debugfs counters, zram's mm_stat, /proc/vmstat and the test disks'
/proc/diskstats (through kzt.guest.snapshot), and derives the figures that
matter: effective compression ratio, hit rate, reject rate by reason and
the pool's share of RAM.
"""
from __future__ import annotations

import json
import sys
import time
from typing import Any

from . import ui

PAGE_SIZE = 4096
VMSTAT_KEYS = ("pswpin", "pswpout", "pgmajfault", "pgpgin", "pgpgout",
               "workingset_refault_file")
Snapshot = dict[str, Any]


def num(v: Any) -> int | None:
    """An integer counter value, or None for text/histograms/errors."""
    try:
        return int(str(v).split()[0])
    except (ValueError, IndexError):
        return None


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def pools(snap: Snapshot) -> dict[str, tuple[int, int]]:
    """(stored bytes, pool bytes) of each compressed store in a snapshot.

    stored: the uncompressed size of what the store holds; pool: the RAM
    it takes for that (allocator pages, not just compressed bytes).
    kztmem counts its persistent (frontswap) pool, zswap its zpool and
    zram its mem_used_total.  A store that holds nothing is left out.
    """
    out: dict[str, tuple[int, int]] = {}
    k = snap.get("kztmem") or {}
    stored, pool = num(k.get("curr_pers_pampd_count")), num(k.get("pers_pool_bytes"))
    if stored is not None and pool is not None:
        out["kztmem"] = (stored * PAGE_SIZE, pool)
    z = snap.get("zswap") or {}
    stored, pool = num(z.get("stored_pages")), num(z.get("pool_total_size"))
    if stored is not None and pool is not None:
        out["zswap"] = (stored * PAGE_SIZE, pool)
    for name, dev in (snap.get("zram") or {}).items():
        f = str(dev.get("mm_stat", "")).split()
        if len(f) >= 3 and all(x.isdigit() for x in f[:3]):
            out[name] = (int(f[0]), int(f[2]))
    return {n: v for n, v in out.items() if v[0] or v[1]}


def density(snap: Snapshot) -> float | None:
    """Stored bytes / pool bytes over all compressed stores of a snapshot."""
    p = pools(snap)
    return _ratio(sum(s for s, _ in p.values()), sum(b for _, b in p.values())) if p else None


def cpu_jiffies(stat_text: str) -> dict[str, int]:
    """The first (all-CPU) line of /proc/stat as named jiffy counts."""
    names = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
    for line in stat_text.splitlines():
        f = line.split()
        if f and f[0] == "cpu":
            return {n: int(v) for n, v in zip(names, f[1:])}
    return {}


def cpu_busy(j: dict[str, int]) -> int:
    """Jiffies spent neither idle nor waiting for I/O."""
    return sum(v for n, v in j.items() if n not in ("idle", "iowait"))


def _rejects(k: dict[str, int | None], name: str, puts: str, failed: str,
             poor: str, limit: str) -> dict[str, float | None]:
    """Reject rate of one half of kztmem and its share by reason.

    Every store is a put or a declined one, and each decline has one
    reason: too poorly compressible, the pool at its limit, or an
    allocation that failed.  failed_alloc counts both halves together, so
    a half's allocation failures are what its other two reasons leave."""
    p, f = k.get(puts), k.get(failed)
    tries = None if p is None or f is None else p + f
    alloc = None if f is None else f - (k.get(poor) or 0) - (k.get(limit) or 0)
    return {name: _ratio(f, tries),
            f"{name}.compress_poor": _ratio(k.get(poor), tries),
            f"{name}.pool_limit": _ratio(k.get(limit), tries),
            f"{name}.failed_alloc": _ratio(alloc, tries)}


def derive(snap: Snapshot) -> dict[str, float | None]:
    """Derived figures from one snapshot (None where not applicable)."""
    k = {n: num(v) for n, v in (snap.get("kztmem") or {}).items()}
    z = {n: num(v) for n, v in (snap.get("zswap") or {}).items()}
    cc = {n: num(v) for n, v in (snap.get("cleancache") or {}).items()}
    mem_kib = (snap.get("meminfo_kib") or {}).get("MemTotal")
    ram = mem_kib * 1024 if mem_kib else None
    d: dict[str, float | None] = {}
    stored = k.get("curr_pers_pampd_count")
    pool = k.get("pers_pool_bytes")
    d["kztmem.pers_ratio"] = _ratio(stored * PAGE_SIZE if stored is not None else None, pool)
    d.update(_rejects(k, "kztmem.reject_rate", "pers_puts", "failed_pers_puts",
                      "compress_poor", "pool_limit_hit"))
    eph = k.get("zbud_curr_raw_pages")
    # both halves: the xvmalloc pool and the zbud frames
    d["kztmem.pool_share_of_ram"] = _ratio(None if pool is None else pool + (eph or 0) * PAGE_SIZE,
                                           ram)
    d["kztmem.eph_ratio"] = _ratio(k.get("curr_eph_pampd_count"), eph)
    d.update(_rejects(k, "kztmem.eph_reject_rate", "eph_puts", "failed_eph_puts",
                      "eph_compress_poor", "eph_pool_limit_hit"))
    gets = k.get("eph_gets")
    d["kztmem.eph_hit_rate"] = _ratio(gets, None if gets is None else
                                      gets + (k.get("eph_get_misses") or 0))
    d["cleancache.hit_rate"] = _ratio(cc.get("succ_gets"),
                                      None if cc.get("succ_gets") is None else
                                      (cc.get("succ_gets") or 0) + (cc.get("failed_gets") or 0))
    zs = z.get("stored_pages")
    d["zswap.ratio"] = _ratio(zs * PAGE_SIZE if zs is not None else None, z.get("pool_total_size"))
    d["zswap.pool_share_of_ram"] = _ratio(z.get("pool_total_size"), ram)
    for name, dev in (snap.get("zram") or {}).items():
        f = [int(x) for x in str(dev.get("mm_stat", "")).split()[:3]]
        if len(f) == 3:
            d[f"{name}.ratio"] = _ratio(f[0], f[1])
            d[f"{name}.density"] = _ratio(f[0], f[2])
            d[f"{name}.pool_share_of_ram"] = _ratio(f[2], ram)
    return {n: v for n, v in d.items() if v is not None}


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
    from .guest import snapshot
    if watch is None:
        snap = snapshot()
        if as_json:
            print(json.dumps({"counters": snap, "derived": derive(snap)}, indent=1))
        else:
            print(render(snap))
        return 0
    first = snapshot()
    try:
        while True:
            snap = snapshot()
            text = render(snap, first)
            if sys.stdout.isatty():
                sys.stdout.write("\x1b[H\x1b[2J")
            print(time.strftime("%H:%M:%S"), "(deltas since start)")
            print(text, flush=True)
            time.sleep(watch)
    except KeyboardInterrupt:
        return 0
