"""`kzt bench`: every configuration against every bench workload, N times.

What is compared is data: the configurations (data/configs.json), the
bench workloads, the quick subset and the disk profiles (data/bench.json).
A *variant* is a configuration on a disk profile, written CONFIG@DISK
(e.g. zswap@hdd): the swap and ext4 disks of its runs are throttled to
that profile, and its ratios are taken against plain swap and zswap on the
same profile.

Runs are interleaved (for each repetition, for each workload, every
variant in turn), so that a slow drift of the host hits every variant
alike.  After every run the records so far go to build/runs/<id>/bench.json
and the report (report.json, report.html) is rendered again: an interrupted
bench keeps what it finished.  A run whose data did not verify is FAILED;
it is reported on its own and never enters a median.
"""
from __future__ import annotations

import json
import os
import platform
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from . import runs, ui, vm
from .build import require_image
from .errors import GuestError, KztError
from .layout import Layout
from .guest.counters import pools, ratio
from .guest.lib import meminfo_kib
from .workrun import BENCH, RunRequest, RunResult, SetupFailed, Unavailable, load_configs, \
    load_disk_profiles, load_workload, run_workload

Record = dict[str, Any]

# status of one run
OK, FAILED, ERROR, UNAVAILABLE = "ok", "failed", "error", "unavailable"

#: per-run figures that are aggregated: key -> (label, unit, lower is better)
METRICS: dict[str, tuple[str, str, bool]] = {
    "seconds": ("workload time", "s", True),
    "cpu_seconds": ("guest CPU busy", "s", True),
    "workload_cpu_seconds": ("workload CPU (rusage)", "s", True),
    "swap_pages": ("pswpin + pswpout", "pages", True),
    "pswpin": ("pswpin", "pages", True),
    "pswpout": ("pswpout", "pages", True),
    "disk_mib": ("disk I/O, read + written", "MiB", True),
    "disk_read_mib": ("disk read", "MiB", True),
    "disk_write_mib": ("disk written", "MiB", True),
    "disk_ios": ("disk requests", "", True),
    "density": ("pool density at peak (stored / pool bytes)", "x", False),
    "pool_peak_mib": ("pool size at peak", "MiB", True),
    "stored_peak_mib": ("stored at peak (uncompressed)", "MiB", False),
    "boot_seconds": ("whole boot, set-up and run", "s", True),
}
#: below this much stored, a pool's density says nothing (e.g. zram's swap header page)
MIN_DENSITY_BYTES = 2**20
#: the figures shown as ratios to the baselines
RATIO_METRICS = ("seconds", "cpu_seconds", "swap_pages", "disk_mib")


# ------------------------------------------------------------------ plan

@dataclass(frozen=True)
class Variant:
    config: str
    disk: str | None = None

    @property
    def name(self) -> str:
        return f"{self.config}@{self.disk}" if self.disk else self.config

    @classmethod
    def parse(cls, spec: str, default_disks: Sequence[str]) -> list["Variant"]:
        """CONFIG@DISK, or CONFIG alone for CONFIG on each default disk."""
        config, sep, disk = spec.strip().partition("@")
        if sep:
            return [cls(config, disk or None)]
        return [cls(config, d) for d in default_disks] or [cls(config)]


@dataclass(frozen=True)
class BenchData:
    """data/bench.json, checked."""
    disk_profiles: dict[str, vm.Throttle]
    baselines: dict[str, str]
    modes: dict[str, dict[str, Any]]
    path: Path = BENCH
    console_notes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = BENCH) -> "BenchData":
        raw = json.loads(path.read_text())
        profiles = {n: p.throttle for n, p in load_disk_profiles(path).items()}
        return cls(profiles, dict(raw.get("baselines", {})),
                   {m: raw[m] for m in ("full", "quick") if m in raw}, path,
                   dict(raw.get("console_notes", {})))

    def mode(self, quick: bool) -> dict[str, Any]:
        name = "quick" if quick else "full"
        if name not in self.modes:
            raise KztError(f"{self.path} has no '{name}' section")
        return self.modes[name]


@dataclass(frozen=True)
class BenchRequest:
    quick: bool = False
    reps: int | None = None
    configs: tuple[str, ...] = ()      # CONFIG or CONFIG@DISK; () = bench.json's
    workloads: tuple[str, ...] = ()    # () = bench.json's
    base: str = "6.1"
    flavour: str = "default"
    accel: vm.Accel = vm.Accel.AUTO
    timeout: float = 1800


@dataclass(frozen=True)
class Planned:
    index: int        # 1-based position in the bench
    rep: int          # 1-based
    variant: Variant
    workload: str


@dataclass(frozen=True)
class Plan:
    variants: tuple[Variant, ...]
    workloads: tuple[str, ...]
    reps: int
    mode: str

    def runs(self) -> list[Planned]:
        """Interleaved: for each rep, for each workload, every variant."""
        out: list[Planned] = []
        for rep in range(1, self.reps + 1):
            for wl in self.workloads:
                for v in self.variants:
                    out.append(Planned(len(out) + 1, rep, v, wl))
        return out


def make_plan(req: BenchRequest, data: BenchData, known_configs: Iterable[str],
              known_workloads: Iterable[str]) -> Plan:
    """The variants, workloads and repetitions a request asks for, checked."""
    mode = data.mode(req.quick)
    disks = list(mode.get("disks", []))
    if req.configs:
        variants: list[Variant] = []
        for spec in req.configs:
            variants += Variant.parse(spec, disks)
    else:
        variants = [v for s in mode.get("variants", []) for v in Variant.parse(s, disks)]
    known_c = set(known_configs)
    for v in variants:
        if v.config not in known_c:
            raise KztError(f"unknown configuration '{v.config}'",
                           f"choose from: {', '.join(sorted(known_c))} (data/configs.json); "
                           "CONFIG@DISK picks a disk profile")
        if v.disk is not None and v.disk not in data.disk_profiles:
            raise KztError(f"unknown disk profile '{v.disk}' in '{v.name}'",
                           f"choose from: {', '.join(sorted(data.disk_profiles))} (data/bench.json)")
    variants = list(dict.fromkeys(variants))
    workloads = list(dict.fromkeys(req.workloads or mode.get("workloads", [])))
    known_w = set(known_workloads)
    for w in workloads:
        if w not in known_w:
            raise KztError(f"unknown workload '{w}'",
                           f"choose from: {', '.join(sorted(known_w))} (vm-tests/workloads/*.json)")
    reps = req.reps if req.reps is not None else int(mode.get("reps", 1))
    if reps < 1:
        raise KztError("--reps must be at least 1")
    if not variants or not workloads:
        raise KztError("nothing to run: no configuration or no workload selected")
    return Plan(tuple(variants), tuple(workloads), reps, "quick" if req.quick else "full")


# --------------------------------------------------------- one run's record

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
        rd = wr = ios = 0
        for serial, st in dd.items():
            b = db.get(serial, {})
            rd += _delta(st, b, "sectors_read")
            wr += _delta(st, b, "sectors_written")
            ios += _delta(st, b, "reads") + _delta(st, b, "writes")
        m["disk_read_mib"] = round(rd * 512 / 2**20, 2)
        m["disk_write_mib"] = round(wr * 512 / 2**20, 2)
        m["disk_mib"] = round((rd + wr) * 512 / 2**20, 2)
        m["disk_ios"] = ios
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


def record(p: Planned, res: RunResult | None, *, started: float, why: str = "",
           explain: str = "", notes: dict[str, str] | None = None) -> Record:
    rec: Record = {"index": p.index, "rep": p.rep, "variant": p.variant.name,
                   "config": p.variant.config, "disk": p.variant.disk, "workload": p.workload,
                   "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started))}
    if res is None:
        rec.update(status=UNAVAILABLE, reason=why, booted=False)
        return rec
    data = res.data
    status, reason = classify(res.boot.status.value, data, explain)
    rec.update(status=status, reason=reason, booted=True, boot_status=res.boot.status.value,
               accel=res.boot.accel.value, memory=res.memory,
               boot_seconds=round(res.boot.elapsed, 1),
               run_dir=str(res.run_dir), exit_code=(data or {}).get("exit_code"))
    if notes:
        rec["console_notes"] = console_notes(res.boot.output, notes)
    if data is not None:
        rec["kernel"] = (data.get("during") or {}).get("uname") or data.get("uname")
        summary = data.get("summary") or {}
        rec["mismatches"] = summary.get("mismatches")
        if status in (OK, FAILED, ERROR) and "seconds" in data:
            rec["metrics"] = metrics(data)
            rec["metrics"]["boot_seconds"] = round(res.boot.elapsed, 1)
    return rec


# ------------------------------------------------------------ aggregation

def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, min, max, and the quartiles from 4 values up."""
    v = sorted(values)
    out = {"n": float(len(v)), "median": statistics.median(v), "min": v[0], "max": v[-1]}
    if len(v) >= 4:
        q = statistics.quantiles(v, n=4, method="inclusive")
        out["q1"], out["q3"] = q[0], q[2]
    return out


def aggregate(records: Sequence[Record], baselines: dict[str, str],
              variants: Sequence[str] | None = None,
              workloads: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """One cell per (workload, variant): counts by status, spread of every
    metric over the OK runs only, and ratios of medians to the baselines
    (plain swap and zswap on the same disk profile)."""
    wl_order = list(workloads or dict.fromkeys(r["workload"] for r in records))
    v_order = list(variants or dict.fromkeys(r["variant"] for r in records))
    by: dict[tuple[str, str], list[Record]] = {}
    disk_of: dict[str, str | None] = {}
    config_of: dict[str, str] = {}
    for r in records:
        by.setdefault((r["workload"], r["variant"]), []).append(r)
        disk_of[r["variant"]] = r.get("disk")
        config_of[r["variant"]] = r["config"]
    cells: list[dict[str, Any]] = []
    med: dict[tuple[str, str], dict[str, float]] = {}
    for wl in wl_order:
        for v in v_order:
            rs = by.get((wl, v), [])
            if not rs:
                continue
            ok = [r for r in rs if r["status"] == OK]
            stats: dict[str, dict[str, float]] = {}
            for key in METRICS:
                vals = [float(r["metrics"][key]) for r in ok if key in r.get("metrics", {})]
                if vals:
                    stats[key] = spread(vals)
            med[(wl, v)] = {k: s["median"] for k, s in stats.items()}
            counts = {s: sum(1 for r in rs if r["status"] == s) for s in (OK, FAILED, ERROR, UNAVAILABLE)}
            reasons = list(dict.fromkeys(r["reason"] for r in rs if r["status"] != OK and r.get("reason")))
            notes: dict[str, dict[str, int]] = {}
            for r in rs:
                for meaning, n in (r.get("console_notes") or {}).items():
                    e = notes.setdefault(meaning, {"lines": 0, "runs": 0})
                    e["lines"] += n
                    e["runs"] += 1
            loads = [x for r in rs for x in r.get("host_load") or []]
            cells.append({"workload": wl, "variant": v, "config": config_of[v], "disk": disk_of[v],
                          "runs": len(rs), "counts": counts, "reasons": reasons, "stats": stats,
                          "notes": notes,
                          "host_load": [min(loads), max(loads)] if loads else None})
    for c in cells:
        c["ratios"] = {}
        for label, base_config in baselines.items():
            base_v = Variant(base_config, c["disk"]).name
            base = med.get((c["workload"], base_v))
            mine = med.get((c["workload"], c["variant"]))
            c["ratios"][label] = {
                "baseline": base_v,
                **{k: ratio((mine or {}).get(k), (base or {}).get(k)) for k in RATIO_METRICS}}
    return cells


# ------------------------------------------------------------------ meta

def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = meminfo_kib().get("MemTotal", 0) * 1024
    except OSError:
        mem = 0
    return {"hostname": platform.node(), "arch": platform.machine(), "cpu_model": model,
            "cpus": os.cpu_count() or 0, "memory_gib": round(mem / 2**30, 1),
            "host_kernel": platform.release(), "python": platform.python_version()}


def _git_rev(root: Path) -> str:
    from . import proc
    try:
        r = proc.run(["git", "-C", str(root), "describe", "--always", "--dirty"],
                     check=False, timeout=30)
    except KztError:
        return ""
    return r.output.strip() if r.returncode == 0 else ""


# ------------------------------------------------------------------ bench

@dataclass
class BenchState:
    """What is written to bench.json after every run."""
    run_dir: Path
    meta: dict[str, Any]
    plan: list[Planned]
    records: list[Record] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"meta": self.meta,
                "plan": [{"index": p.index, "rep": p.rep, "variant": p.variant.name,
                          "workload": p.workload} for p in self.plan],
                "runs": self.records}

    def save(self) -> Path:
        path = self.run_dir / "bench.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1) + "\n")
        tmp.replace(path)
        return path


Runner = Callable[[RunRequest], RunResult]


def run_dir_name(p: Planned) -> str:
    """r007-zswap_hdd-memhog-text-480: only characters virtme-ng accepts
    in a --rwdir path (letters, digits, _ + . - and /)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"r{p.index:03d}-{p.variant.name}-{p.workload}")


def _fmt_duration(s: float) -> str:
    s = int(s)
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def _describe(rec: Record) -> str:
    m = rec.get("metrics") or {}
    parts = [f"{m['seconds']:.1f} s workload" if "seconds" in m else ""]
    if "cpu_seconds" in m:
        parts.append(f"cpu {m['cpu_seconds']:.0f} s")
    if "swap_pages" in m:
        parts.append(f"pswpin/out {int(m['pswpin'])}/{int(m['pswpout'])}")
    if "disk_mib" in m:
        parts.append(f"disk {m['disk_read_mib']:.0f}/{m['disk_write_mib']:.0f} MiB r/w")
    if "density" in m:
        parts.append(f"density {m['density']:.2f} at {m['pool_peak_mib']:.0f} MiB pool")
    if "boot_seconds" in m:
        parts.append(f"boot total {m['boot_seconds']:.0f} s")
    for meaning, n in (rec.get("console_notes") or {}).items():
        parts.append(f"console: {n} x {meaning}")
    return ", ".join(p for p in parts if p)


def run_bench(layout: Layout, req: BenchRequest, *, runner: Runner | None = None,
              data: BenchData | None = None) -> BenchState:
    """Plan, run every planned run, and keep bench.json and the report current."""
    from . import report
    from .workloads import build_workloads
    data = data or BenchData.load()
    wl_dir = layout.vm_tests / "workloads"
    plan = make_plan(req, data, load_configs(), (p.stem for p in wl_dir.glob("*.json")))
    image = require_image(layout, req.base, req.flavour)
    bins = build_workloads(layout) if runner is None else layout.build / "workloads"
    run_dir = runs.new_run(layout, "bench")
    planned = plan.runs()
    meta = {
        "mode": plan.mode, "reps": plan.reps, "variants": [v.name for v in plan.variants],
        "workloads": {w: _workload_meta(layout, w) for w in plan.workloads},
        "baselines": data.baselines,
        "disk_profiles": {n: {"iops": t.iops, "bps": t.bps} for n, t in data.disk_profiles.items()
                          if any(v.disk == n for v in plan.variants)},
        "configs": {v.config: {"append": list(c.append), "description": c.description,
                               "setup": list(c.setup)}
                    for v in plan.variants for c in [load_configs()[v.config]]},
        "image": str(image), "base": req.base, "flavour": req.flavour,
        "accel_requested": req.accel.value, "guest_cpus": 2,
        "machine": machine(), "toolkit": _git_rev(layout.root),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "finished": None,
        "interrupted": None, "planned_runs": len(planned)}
    state = BenchState(run_dir, meta, planned)
    state.save()
    ui.step(f"bench ({plan.mode}): {len(plan.variants)} variant(s) x {len(plan.workloads)} "
            f"workload(s) x {plan.reps} rep(s) = {len(planned)} runs, results in {run_dir}")
    ui.info("variants: " + ", ".join(v.name for v in plan.variants))
    ui.info("workloads: " + ", ".join(plan.workloads))
    run = runner or (lambda r: run_workload(layout, r, bins))
    accel = req.accel
    if runner is None and accel is vm.Accel.AUTO:
        # probe once for the whole bench, not once per boot
        accel = vm.resolve_accel(layout, vm.BootRequest(image=image, accel=accel))
    meta["accel_used"] = accel.value
    unavailable: dict[str, str] = {}
    t_start = time.monotonic()
    try:
        for p in planned:
            elapsed = time.monotonic() - t_start
            done = len(state.records)
            eta = f", about {_fmt_duration(elapsed / done * (len(planned) - done))} left" if done else ""
            ui.step(f"run {p.index}/{len(planned)} (rep {p.rep}/{plan.reps}): {p.variant.name} "
                    f"x {p.workload} [elapsed {_fmt_duration(elapsed)}{eta}]")
            started = time.time()
            load_before = os.getloadavg()[0]
            if p.variant.config in unavailable:
                rec = record(p, None, started=started,
                             why=unavailable[p.variant.config] + " (not booted again)")
            else:
                rreq = RunRequest(p.workload, p.variant.config, req.base, req.flavour, accel,
                                  req.timeout, disk=p.variant.disk,
                                  run_dir=run_dir / run_dir_name(p),
                                  echo=False)
                try:
                    res = run(rreq)
                except Unavailable as e:
                    unavailable[p.variant.config] = e.why
                    res = e.result
                except SetupFailed as e:
                    res = e.result
                rec = record(p, res, started=started, explain=vm.explain(res.boot, req.timeout)
                             if not res.boot.ok else "", notes=data.console_notes)
                if rec.get("accel"):
                    state.meta.setdefault("accels", [])
                    if rec["accel"] not in state.meta["accels"]:
                        state.meta["accels"].append(rec["accel"])
                if rec.get("kernel"):
                    state.meta["kernel"] = rec["kernel"]
                # the host's 1-minute load: other guests or builds skew a run
                rec["host_load"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
            state.records.append(rec)
            _announce(rec)
            state.save()
            report.write(state.run_dir, state.to_json())
            if rec.get("boot_status") == vm.BootStatus.NO_BOOT.value:
                raise GuestError(f"run {p.index}: the guest never ran its command; bench stopped",
                                 f"{rec['reason'].splitlines()[0]}; what finished is in {run_dir}")
    except KeyboardInterrupt:
        state.meta["interrupted"] = "interrupted (Ctrl-C)"
        ui.warn(f"bench interrupted after {len(state.records)} of {len(planned)} runs")
        raise
    except KztError as e:
        state.meta["interrupted"] = str(e).splitlines()[0]
        raise
    finally:
        state.meta["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        state.meta["elapsed_seconds"] = round(time.monotonic() - t_start, 1)
        state.save()
        paths = report.write(state.run_dir, state.to_json())
        ui.step(f"report: {paths[1]} (and {paths[0].name}, bench.json)")
    return state


def _announce(rec: Record) -> None:
    st = rec["status"]
    if st == OK:
        ui.info(f"ok: {_describe(rec)}")
    elif st == UNAVAILABLE:
        ui.info(f"unavailable: {rec['reason']}")
    elif st == FAILED:
        ui.warn(f"run {rec['index']} {rec['variant']} x {rec['workload']}: FAILED -- "
                f"{rec['reason']} (run dir {rec.get('run_dir')})")
    else:
        ui.warn(f"run {rec['index']} {rec['variant']} x {rec['workload']}: ERROR -- "
                f"{rec['reason'].splitlines()[0] if rec['reason'] else ''} "
                f"(run dir {rec.get('run_dir')})")


def _workload_meta(layout: Layout, name: str) -> dict[str, Any]:
    _, wl = load_workload(layout, name)
    return {"memory": wl.get("memory", "384M"), "description": wl.get("description", ""),
            "commands": [" ".join([st["program"], *st.get("args", [])])
                         for st in wl.get("programs") or [wl]],
            "disks": wl.get("disks", [])}


def summary_rows(doc: dict[str, Any]) -> list[tuple[str, ...]]:
    """The text table `kzt bench` prints at the end (one row per cell)."""
    from .report import cells_of
    rows: list[tuple[str, ...]] = []
    for c in cells_of(doc):
        s = c["stats"].get("seconds")
        r = c["ratios"]
        rows.append((c["workload"], c["variant"], _status_text(c),
                     f"{s['median']:.1f}" if s else "-",
                     f"{s['min']:.1f}-{s['max']:.1f}" if s else "-",
                     _fmtratio(r.get("plain", {}).get("seconds")),
                     _fmtratio(r.get("zswap", {}).get("seconds")),
                     _fmt_num(c["stats"].get("cpu_seconds")),
                     _fmt_num(c["stats"].get("disk_mib")),
                     _fmt_num(c["stats"].get("density"), 2)))
    return rows


SUMMARY_HEADER = ("workload", "variant", "runs", "time s", "min-max", "vs plain", "vs zswap",
                  "CPU s", "disk MiB", "density")


def _status_text(c: dict[str, Any]) -> str:
    n = c["counts"]
    if n[UNAVAILABLE] == c["runs"]:
        return "unavailable"
    parts = [f"{n[OK]}/{c['runs']} ok"]
    if n[FAILED]:
        parts.append(f"{n[FAILED]} FAILED")
    if n[ERROR]:
        parts.append(f"{n[ERROR]} error")
    return ", ".join(parts)


def _fmtratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def _fmt_num(s: dict[str, float] | None, digits: int = 0) -> str:
    return "-" if not s else f"{s['median']:.{digits}f}"



def main(layout: Layout, req: BenchRequest, render: Path | None = None) -> int:
    """`kzt bench`: run (or only re-render) a bench and print its summary.

    Exit status 1 if any run FAILED (data did not verify) or had an error;
    unavailable configurations alone do not fail the command.
    """
    from . import report
    if render is not None:
        jpath, hpath = report.rerender(render)
        doc = json.loads((render / "bench.json").read_text())
        ui.step(f"report rendered again: {hpath} ({jpath.name})")
    else:
        state = run_bench(layout, req)
        doc = state.to_json()
    print(ui.table(summary_rows(doc), SUMMARY_HEADER))
    bad = [r for r in doc["runs"] if r["status"] in (FAILED, ERROR)]
    for r in bad:
        print(f"kzt bench: run {r['index']} {r['variant']} x {r['workload']}: "
              f"{r['status'].upper()}: {(r.get('reason') or '').splitlines()[0]}")
    return 1 if bad else 0
