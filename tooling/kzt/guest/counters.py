"""The counter snapshot and the figures derived from it.

This is the one place that names counters: which sysfs and debugfs
directories a snapshot reads (kztmem, frontswap, cleancache, zswap, zram's
mm_stat, /proc/vmstat, /proc/meminfo, the test disks' stat), which vmstat
lines people are shown, and how the derived figures (compression ratio,
hit rate, reject rate by reason, share of RAM) are computed from them.
`kzt stats` renders it, `kzt run` and `kzt bench` read it from the guest's
result, and kzt.guest.work samples the pools with it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import lib

SNAPSHOT_DIRS = {
    "kztmem": str(lib.KZTMEM_SYSFS),
    "frontswap": str(lib.DEBUGFS / "frontswap"),
    "cleancache": str(lib.DEBUGFS / "cleancache"),
    "zswap": str(lib.DEBUGFS / "zswap"),
    "zswap_params": str(lib.ZSWAP_PARAMS),
}
#: the counters kzt.guest.work samples while a workload runs (cheap to read)
POOL_SAMPLE = {
    "kztmem": ("curr_pers_pampd_count", "pers_pool_bytes"),
    "zswap": ("stored_pages", "pool_total_size"),
}
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


def ratio(a: float | None, b: float | None) -> float | None:
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
    return ratio(sum(s for s, _ in p.values()), sum(b for _, b in p.values())) if p else None


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
             poor: str, limit: str, cgroup: tuple[str, ...] = ()) -> dict[str, float | None]:
    """Reject rate of one half of kztmem and its share by reason.

    Every store is a put or a declined one, and each decline has one
    reason: too poorly compressible, the pool at its limit, the page's
    cgroup (at its memory.zswap.max, or for clean pages also near its
    memory.max: the ``cgroup`` counters, summed), or an allocation that
    failed.  failed_alloc counts both halves together, so a half's
    allocation failures are what its other reasons leave."""
    p, f = k.get(puts), k.get(failed)
    tries = None if p is None or f is None else p + f
    present = [k[c] for c in cgroup if k.get(c) is not None]
    cg: int | None = sum(v or 0 for v in present) if present else None
    alloc = None if f is None else f - (k.get(poor) or 0) - (k.get(limit) or 0) - (cg or 0)
    out = {name: ratio(f, tries),
           f"{name}.compress_poor": ratio(k.get(poor), tries),
           f"{name}.pool_limit": ratio(k.get(limit), tries),
           f"{name}.failed_alloc": ratio(alloc, tries)}
    if cgroup:
        out[f"{name}.cgroup_limit"] = ratio(cg, tries)
    return out


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
    d["kztmem.pers_ratio"] = ratio(stored * PAGE_SIZE if stored is not None else None, pool)
    d.update(_rejects(k, "kztmem.reject_rate", "pers_puts", "failed_pers_puts",
                      "compress_poor", "pool_limit_hit", ("cgroup_limit_hit",)))
    # part of compress_poor: declined from a sample, without compressing
    puts, declined = k.get("pers_puts"), k.get("failed_pers_puts")
    d["kztmem.reject_rate.compress_poor_cheap"] = ratio(
        k.get("pers_cheap_rejects"),
        None if puts is None or declined is None else puts + declined)
    eph = k.get("zbud_curr_raw_pages")
    # both halves: the persistent store, the zbud frames and raw clean pages
    eph_pages = (eph or 0) + (k.get("eph_raw_pages") or 0)
    d["kztmem.pool_share_of_ram"] = ratio(None if pool is None else pool + eph_pages * PAGE_SIZE,
                                           ram)
    # compressed clean pages per zbud frame: same-filled and raw ones hold none
    held = k.get("curr_eph_pampd_count")
    entries = (k.get("eph_same_filled_pages") or 0) + (k.get("eph_raw_pages") or 0)
    d["kztmem.eph_ratio"] = ratio(None if held is None else held - entries, eph)
    d.update(_rejects(k, "kztmem.eph_reject_rate", "eph_puts", "failed_eph_puts",
                      "eph_compress_poor", "eph_pool_limit_hit",
                      ("eph_cgroup_limit_hit", "eph_memcg_full_hit")))
    gets = k.get("eph_gets")
    d["kztmem.eph_hit_rate"] = ratio(gets, None if gets is None else
                                      gets + (k.get("eph_get_misses") or 0))
    d["cleancache.hit_rate"] = ratio(cc.get("succ_gets"),
                                      None if cc.get("succ_gets") is None else
                                      (cc.get("succ_gets") or 0) + (cc.get("failed_gets") or 0))
    zs = z.get("stored_pages")
    d["zswap.ratio"] = ratio(zs * PAGE_SIZE if zs is not None else None, z.get("pool_total_size"))
    d["zswap.pool_share_of_ram"] = ratio(z.get("pool_total_size"), ram)
    for name, dev in (snap.get("zram") or {}).items():
        f = [int(x) for x in str(dev.get("mm_stat", "")).split()[:3]]
        if len(f) == 3:
            d[f"{name}.ratio"] = ratio(f[0], f[1])
            d[f"{name}.density"] = ratio(f[0], f[2])
            d[f"{name}.pool_share_of_ram"] = ratio(f[2], ram)
    return {n: v for n, v in d.items() if v is not None}


def snapshot() -> Snapshot:
    """Every counter of the running kernel (mounts debugfs first)."""
    try:
        lib.ensure_debugfs()
    except lib.GuestEnvError:
        pass    # no debugfs: its directories read as empty
    snap: Snapshot = {k: lib.read_dir(v) for k, v in SNAPSHOT_DIRS.items()}
    snap["vmstat"] = lib.vmstat()
    snap["meminfo_kib"] = lib.meminfo_kib()
    snap["zram"] = zram_stats()
    snap["diskstats"] = diskstats()
    snap["uname"] = os.uname().release
    snap["cmdline"] = Path("/proc/cmdline").read_text().strip()
    return snap


def pool_sample() -> Snapshot:
    """The few counters of POOL_SAMPLE and zram's mm_stat, enough for pools()."""
    snap: Snapshot = {group: {n: lib.read_text(Path(SNAPSHOT_DIRS[group]) / n) for n in names}
                      for group, names in POOL_SAMPLE.items()}
    snap["zram"] = zram_stats()
    return snap


def zram_stats() -> dict[str, dict[str, str | None]]:
    return {d.name: {"mm_stat": lib.read_text(d / "mm_stat")}
            for d in Path("/sys/block").glob("zram*") if (d / "mm_stat").exists()}


def diskstats() -> dict[str, dict[str, int]]:
    """Requests, merges and sectors read/written of the virtio disks, by
    serial.  Requests + merges = the bios the guest submitted (each merge
    is one bio added to a request already queued)."""
    out: dict[str, dict[str, int]] = {}
    for dev in Path("/sys/block").glob("vd*"):
        try:
            serial = (dev / "serial").read_text().strip() or dev.name
            f = (dev / "stat").read_text().split()
        except OSError:
            continue
        out[serial] = {"reads": int(f[0]), "reads_merged": int(f[1]),
                       "sectors_read": int(f[2]), "writes": int(f[4]),
                       "writes_merged": int(f[5]), "sectors_written": int(f[6])}
    return out
