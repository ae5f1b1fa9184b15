"""The bench's records: one per run, and their aggregation.

A run's record says what ran (variant, workload, repetition), how it
ended (ok, FAILED when its data did not verify, error, unavailable) and
the figures taken from the guest's result (METRICS).  Aggregation makes
one cell per workload x variant: counts by status, the censored runs (those
that errored, timed out or did not verify: how many and why), the spread of
every figure over the OK runs only, and against each baseline on the same
disk profile the paired comparison of kzt.bench.stats (median ratio within
blocks, bootstrap interval, verdict).  A FAILED run never enters a median.
A run spoiled by the infrastructure and run again is kept, marked
superseded, and counted apart.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any, Sequence

from .. import vm
from ..guest.counters import pools
from ..workrun import RunResult
from ..datafiles import DiskProfile
from .cost import HEADLINE, HEADLINE_LABEL, modeled_seconds
from .plan import Planned, Variant
from .stats import compare

Record = dict[str, Any]

# status of one run
OK, FAILED, ERROR, UNAVAILABLE = "ok", "failed", "error", "unavailable"

#: per-run figures that are aggregated: key -> (label, unit, lower is better)
METRICS: dict[str, tuple[str, str, bool]] = {
    HEADLINE: (HEADLINE_LABEL, "s", True),
    "seconds": ("workload time (guest clock)", "s", True),
    "wall_seconds": ("workload time (host wall clock)", "s", True),
    "cpu_seconds": ("guest CPU busy", "s", True),
    "workload_cpu_seconds": ("workload CPU (rusage)", "s", True),
    "swap_pages": ("pswpin + pswpout", "pages", True),
    "pswpin": ("pswpin", "pages", True),
    "pswpout": ("pswpout", "pages", True),
    "disk_mib": ("disk I/O, read + written", "MiB", True),
    "disk_read_mib": ("disk read", "MiB", True),
    "disk_write_mib": ("disk written", "MiB", True),
    "disk_ios": ("disk requests", "", True),
    "disk_bios": ("disk bios submitted (requests + merges)", "", True),
    "density": ("pool density at peak (stored / pool bytes)", "x", False),
    "cleancache_hits": ("cleancache hits (pages read back from the backend)", "pages", False),
    "pool_peak_mib": ("pool size at peak", "MiB", True),
    "stored_peak_mib": ("stored at peak (uncompressed)", "MiB", False),
    "boot_seconds": ("whole boot, set-up and run", "s", True),
}
#: below this much stored, a pool's density says nothing (e.g. zram's swap header page)
MIN_DENSITY_BYTES = 2**20
#: the figures compared with the baselines, block by block (the headline first)
RATIO_METRICS = (HEADLINE, "seconds", "wall_seconds", "cpu_seconds", "swap_pages", "disk_mib",
                 "density")


def _delta(after: dict[str, Any], before: dict[str, Any], key: str) -> int:
    return int(after.get(key, 0)) - int(before.get(key, 0))


def metrics(data: dict[str, Any]) -> dict[str, float]:
    """The aggregated figures of one run from the guest's result.json."""
    m: dict[str, float] = {"seconds": float(data["seconds"])}
    before, during = data.get("before") or {}, data.get("during") or {}
    cpu = data.get("cpu") or {}
    if "busy_seconds" in cpu:
        m["cpu_seconds"] = float(cpu["busy_seconds"])
    ru = data.get("rusage") or {}
    if "user_seconds" in ru:
        m["workload_cpu_seconds"] = round(float(ru["user_seconds"]) + float(ru["system_seconds"]), 2)
    vb, vd = before.get("vmstat") or {}, during.get("vmstat") or {}
    if vd:
        m["pswpin"] = _delta(vd, vb, "pswpin")
        m["pswpout"] = _delta(vd, vb, "pswpout")
        m["swap_pages"] = m["pswpin"] + m["pswpout"]
    db, dd = before.get("diskstats") or {}, during.get("diskstats") or {}
    if dd:
        rd = wr = ios = merges = 0
        for serial, st in dd.items():
            b = db.get(serial, {})
            rd += _delta(st, b, "sectors_read")
            wr += _delta(st, b, "sectors_written")
            ios += _delta(st, b, "reads") + _delta(st, b, "writes")
            merges += _delta(st, b, "reads_merged") + _delta(st, b, "writes_merged")
        m["disk_read_mib"] = round(rd * 512 / 2**20, 2)
        m["disk_write_mib"] = round(wr * 512 / 2**20, 2)
        m["disk_mib"] = round((rd + wr) * 512 / 2**20, 2)
        m["disk_ios"] = ios
        if any("reads_merged" in st for st in dd.values()):
            m["disk_bios"] = ios + merges
    cb, cd = before.get("cleancache") or {}, during.get("cleancache") or {}
    if cd:
        m["cleancache_hits"] = _delta(cd, cb, "succ_gets")
    peak = peak_pool(data)
    if peak:
        stored, pool = peak
        m["stored_peak_mib"] = round(stored / 2**20, 2)
        m["pool_peak_mib"] = round(pool / 2**20, 2)
        if pool and stored >= MIN_DENSITY_BYTES:
            m["density"] = round(stored / pool, 3)
    return m


def peak_pool(data: dict[str, Any]) -> tuple[int, int] | None:
    """(stored, pool) bytes at the moment the compressed stores held most.

    From the samples taken during the workload; the end-of-workload
    snapshot is a fallback (by then the program has exited and freed
    most of what was stored).
    """
    best: tuple[int, int] | None = None
    for s in data.get("samples") or []:
        p = s.get("pools") or {}
        if not p:
            continue
        stored = sum(int(v[0]) for v in p.values())
        pool = sum(int(v[1]) for v in p.values())
        if best is None or stored > best[0]:
            best = (stored, pool)
    if best is None:
        p2 = pools(data.get("during") or {})
        if p2:
            best = (sum(s for s, _ in p2.values()), sum(b for _, b in p2.values()))
    return best


def _cgroup_oom_kills(data: dict[str, Any]) -> int:
    cg = data.get("cgroup")
    events = cg.get("memory.events") if isinstance(cg, dict) else None
    return int(events.get("oom_kill") or 0) if isinstance(events, dict) else 0


def _cgroup_max(data: dict[str, Any]) -> str:
    cg = data.get("cgroup")
    return str(cg.get("memory.max", "?")) if isinstance(cg, dict) else "?"


def classify(boot_status: str, data: dict[str, Any] | None,
             explain: str = "") -> tuple[str, str]:
    """(status, reason) of one run.

    Mismatches make a run FAILED whatever else happened; a run that did
    not produce a verified result for another reason is an ERROR.
    """
    if data is not None and data.get("unavailable"):
        return UNAVAILABLE, str(data["unavailable"])
    if data is None:
        return ERROR, explain or f"no result (guest {boot_status})"
    if data.get("error"):
        return ERROR, str(data["error"])
    summary = data.get("summary") or {}
    mism = summary.get("mismatches")
    if mism:
        return FAILED, (f"DATA DID NOT VERIFY: {mism} mismatch(es), first bad "
                        f"{summary.get('first_bad')}")
    rc = data.get("exit_code")
    oom = _cgroup_oom_kills(data)
    if rc != 0 and oom:
        return ERROR, (f"the workload's cgroup OOM-killed {oom} process(es) (memory.events "
                       f"oom_kill; memory.max {_cgroup_max(data)}): the configuration could "
                       f"not run it in that cgroup; see the run's console.log")
    if rc == 1 and mism is None:
        return FAILED, "DATA DID NOT VERIFY: the workload exited 1 (mismatches) without a summary"
    if rc == 124:
        return ERROR, f"the workload did not finish within its timeout ({data.get('seconds')} s)"
    if rc != 0:
        return ERROR, f"the workload exited {rc}"
    if mism is None:
        return ERROR, "the workload printed no summary, so nothing says it verified"
    if boot_status != vm.BootStatus.OK.value:
        return ERROR, explain or f"guest {boot_status}"
    return OK, ""


def console_notes(output: str, notes: dict[str, str]) -> dict[str, int]:
    """How many console lines contain each noted text, by its meaning
    (e.g. zram's "Write-error on swap-device" when it is at its mem_limit)."""
    counts: dict[str, int] = {}
    for line in output.splitlines():
        for text, meaning in notes.items():
            if text in line:
                counts[meaning] = counts.get(meaning, 0) + 1
    return counts


@dataclass
class RunRecord:
    """One run of the bench: what ran, how it ended, its figures."""
    index: int
    rep: int
    block: int
    variant: str
    config: str
    disk: str | None
    workload: str
    started: str
    status: str = UNAVAILABLE
    reason: str = ""
    booted: bool = False
    # of a booted run
    boot_status: str = ""
    accel: str = ""
    memory: str = ""
    boot_seconds: float = 0.0
    run_dir: str = ""
    exit_code: int | None = None
    console_notes: dict[str, int] | None = None
    # of a run whose guest wrote a result
    has_result: bool = False
    kernel: str | None = None
    mismatches: int | None = None
    metrics: dict[str, float] | None = None
    #: the host's 1-minute load before and after the run
    host_load: list[float] | None = None
    #: the budgets and compressors the guest read back before the workload
    pinned: dict[str, str] | None = None
    #: why the infrastructure spoiled this run (the guest never ran its
    #: command, or a host-side error around the boot); "" if it did not
    infra: str = ""
    #: 1, or 2 for the one rerun of a run the infrastructure spoiled
    attempt: int = 1
    #: a later attempt of the same run replaces this one
    superseded: bool = False

    @classmethod
    def from_json(cls, d: Record) -> "RunRecord":
        """A run as bench.json keeps it, back (for --resume): to_json() of
        the result gives the same document."""
        names = set(cls.__dataclass_fields__)
        rec = cls(**{k: v for k, v in d.items() if k in names})
        rec.has_result = "kernel" in d or "mismatches" in d
        return rec

    def to_json(self) -> Record:
        """The run as bench.json keeps it (what aggregate() and the report read)."""
        rec: Record = {k: getattr(self, k) for k in ("index", "rep", "block", "variant", "config",
                                                      "disk", "workload", "started", "status",
                                                      "reason", "booted")}
        if self.booted:
            rec.update({k: getattr(self, k) for k in ("boot_status", "accel", "memory",
                                                      "boot_seconds", "run_dir", "exit_code")})
        if self.console_notes is not None:
            rec["console_notes"] = self.console_notes
        if self.has_result:
            rec.update(kernel=self.kernel, mismatches=self.mismatches)
        if self.metrics is not None:
            rec["metrics"] = self.metrics
        if self.host_load is not None:
            rec["host_load"] = self.host_load
        if self.pinned is not None:
            rec["pinned"] = self.pinned
        if self.infra:
            rec["infra"] = self.infra
        if self.attempt != 1:
            rec["attempt"] = self.attempt
        if self.superseded:
            rec["superseded"] = True
        return rec


def record(p: Planned, res: RunResult | None, *, started: float, why: str = "",
           explain: str = "", notes: dict[str, str] | None = None,
           profile: DiskProfile | None = None) -> RunRecord:
    rec = RunRecord(p.index, p.rep, p.block, p.variant.name, p.variant.config, p.variant.disk,
                    p.workload, time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)))
    if res is None:
        rec.reason = why
        return rec
    data = res.data.doc if res.data else None
    rec.status, rec.reason = classify(res.boot.status.value, data, explain)
    rec.booted = True
    rec.boot_status = res.boot.status.value
    rec.accel = res.boot.accel.value
    rec.memory = res.memory
    rec.boot_seconds = round(res.boot.elapsed, 1)
    rec.run_dir = str(res.run_dir)
    rec.exit_code = res.data.exit_code if res.data else None
    if notes:
        rec.console_notes = console_notes(res.boot.output, notes)
    if res.data is not None and data is not None:
        rec.has_result = True
        rec.kernel = res.data.snapshot("during").get("uname") or res.data.uname
        rec.mismatches = res.data.summary.get("mismatches")
        if isinstance(data.get("pinned"), dict):
            rec.pinned = {str(k): str(v) for k, v in data["pinned"].items()}
        if rec.status in (OK, FAILED, ERROR) and "seconds" in data:
            rec.metrics = metrics(data)
            rec.metrics["boot_seconds"] = rec.boot_seconds
            if res.wall_seconds is not None:
                rec.metrics["wall_seconds"] = res.wall_seconds
            modeled = modeled_seconds(rec.metrics, profile or res.disk)
            if modeled is not None:
                rec.metrics[HEADLINE] = modeled
    return rec


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, min, max, and the quartiles from 4 values up."""
    v = sorted(values)
    out = {"n": float(len(v)), "median": statistics.median(v), "min": v[0], "max": v[-1]}
    if len(v) >= 4:
        q = statistics.quantiles(v, n=4, method="inclusive")
        out["q1"], out["q3"] = q[0], q[2]
    return out


def _order(r: Record) -> tuple[int, int]:
    return (int(r.get("index", 0)), int(r.get("attempt", 1)))


def aggregate(records: Sequence[Record], baselines: dict[str, str],
              variants: Sequence[str] | None = None,
              workloads: Sequence[str] | None = None, seed: int = 0) -> list[dict[str, Any]]:
    """One cell per (workload, variant): counts by status, censored runs,
    spread of every metric over the OK runs only, and the paired comparison
    with each baseline (plain swap and zswap on the same disk profile).

    The records may come in any order (a merge of shards): they are taken
    in the order of the plan, so the same runs always give the same cells.
    """
    everything = sorted(records, key=_order)
    live = [r for r in everything if not r.get("superseded")]
    wl_order = list(workloads or dict.fromkeys(r["workload"] for r in everything))
    v_order = list(variants or dict.fromkeys(r["variant"] for r in everything))
    by: dict[tuple[str, str], list[Record]] = {}
    superseded: dict[tuple[str, str], int] = {}
    disk_of: dict[str, str | None] = {}
    config_of: dict[str, str] = {}
    for r in everything:
        disk_of[r["variant"]] = r.get("disk")
        config_of[r["variant"]] = r["config"]
        if r.get("superseded"):
            wv = (r["workload"], r["variant"])
            superseded[wv] = superseded.get(wv, 0) + 1
    for r in live:
        by.setdefault((r["workload"], r["variant"]), []).append(r)
    cells: list[dict[str, Any]] = []
    #: (workload, variant) -> block (its repetition) -> metrics of an OK run
    per_block: dict[tuple[str, str], dict[int, dict[str, float]]] = {}
    for wl in wl_order:
        for v in v_order:
            rs = by.get((wl, v), [])
            if not rs:
                continue
            ok = [r for r in rs if r["status"] == OK]
            per_block[(wl, v)] = {int(r["rep"]): r.get("metrics") or {} for r in ok}
            stats: dict[str, dict[str, float]] = {}
            for key in METRICS:
                vals = [float(r["metrics"][key]) for r in ok if key in r.get("metrics", {})]
                if vals:
                    stats[key] = spread(vals)
            counts = {s: sum(1 for r in rs if r["status"] == s) for s in (OK, FAILED, ERROR, UNAVAILABLE)}
            reasons = list(dict.fromkeys(r["reason"] for r in rs if r["status"] != OK and r.get("reason")))
            censored = [r for r in rs if r["status"] in (FAILED, ERROR)]
            notes: dict[str, dict[str, int]] = {}
            for r in rs:
                for meaning, n in (r.get("console_notes") or {}).items():
                    e = notes.setdefault(meaning, {"lines": 0, "runs": 0})
                    e["lines"] += n
                    e["runs"] += 1
            loads = [x for r in rs for x in r.get("host_load") or []]
            cells.append({"workload": wl, "variant": v, "config": config_of[v], "disk": disk_of[v],
                          "runs": len(rs), "counts": counts, "reasons": reasons,
                          "censored": {"n": len(censored),
                                       "why": list(dict.fromkeys(
                                           (r.get("reason") or r["status"]).splitlines()[0]
                                           for r in censored))},
                          "superseded": superseded.get((wl, v), 0),
                          "stats": stats, "notes": notes,
                          "host_load": [min(loads), max(loads)] if loads else None})
    for c in cells:
        c["ratios"] = {}
        mine = per_block.get((c["workload"], c["variant"]), {})
        for label, base_config in baselines.items():
            base_v = Variant(base_config, c["disk"]).name
            base = per_block.get((c["workload"], base_v), {})
            entry: dict[str, Any] = {"baseline": base_v, "is_baseline": base_v == c["variant"]}
            for k in RATIO_METRICS:
                pairs = [(float(mine[b][k]), float(base[b][k])) for b in sorted(mine)
                         if b in base and k in mine[b] and k in base[b]]
                entry[k] = compare(pairs, METRICS[k][2],
                                   f"{seed}:{c['workload']}:{c['variant']}:{label}:{k}").to_json()
            c["ratios"][label] = entry
    return cells
