"""`kzt bench`: the run loop, the machine's description, and the command.

Every planned run boots one guest through kzt.workrun.  After every run
the records so far go to build/runs/<id>/bench.json and the report
(report.json, report.html) is rendered again: an interrupted bench keeps
what it finished.
"""
from __future__ import annotations

import json
import os
import platform
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .. import datafiles, guestjob, proc, ui, vm
from ..build import require_image
from ..errors import GuestError, KztError
from ..guest.lib import meminfo_kib
from ..layout import Layout
from ..workrun import RunRequest, RunResult, SetupFailed, Unavailable, load_workload, run_workload
from . import cost, report
from .plan import BenchRequest, Planned, make_plan
from .records import ERROR, FAILED, OK, UNAVAILABLE, RunRecord, record


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
    try:
        r = proc.run(["git", "-C", str(root), "describe", "--always", "--dirty"],
                     check=False, timeout=30)
    except KztError:
        return ""
    return r.output.strip() if r.returncode == 0 else ""


@dataclass
class BenchState:
    """What is written to bench.json after every run."""
    run_dir: Path
    meta: dict[str, Any]
    plan: list[Planned]
    records: list[RunRecord] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"meta": self.meta,
                "plan": [{"index": p.index, "rep": p.rep, "variant": p.variant.name,
                          "workload": p.workload} for p in self.plan],
                "runs": [r.to_json() for r in self.records]}

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


def _describe(rec: RunRecord) -> str:
    m = rec.metrics or {}
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
    for meaning, n in (rec.console_notes or {}).items():
        parts.append(f"console: {n} x {meaning}")
    return ", ".join(p for p in parts if p)


def run_bench(layout: Layout, req: BenchRequest, *, runner: Runner | None = None,
              data: datafiles.BenchSpec | None = None) -> BenchState:
    """Plan, run every planned run, and keep bench.json and the report current."""
    data = data or datafiles.bench()
    configs = datafiles.configs()
    plan = make_plan(req, data, configs,
                     datafiles.workload_names(layout.vm_tests / "workloads"))
    image = require_image(layout, req.base, req.flavour)
    bins = guestjob.build_workloads(layout) if runner is None else layout.build / "workloads"
    run_dir = guestjob.new_run(layout, "bench")
    planned = plan.runs()
    meta = {
        "mode": plan.mode, "reps": plan.reps, "variants": [v.name for v in plan.variants],
        "workloads": {w: _workload_meta(layout, w) for w in plan.workloads},
        "baselines": data.baselines,
        "disk_profiles": {n: {"iops": t.iops, "bps": t.bps} for n, t in data.disk_profiles.items()
                          if any(v.disk == n for v in plan.variants)},
        "configs": {v.config: {"append": list(c.append), "description": c.description,
                               "setup": list(c.setup)}
                    for v in plan.variants for c in [configs[v.config]]},
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
    clk = vm.clock(req.clock)
    meta["clock"] = {"name": clk.name, "cpus": clk.cpus, "icount_shift": clk.icount_shift,
                     "description": clk.description}
    meta["guest_cpus"] = clk.cpus
    meta["headline"] = {"metric": cost.HEADLINE, "label": cost.HEADLINE_LABEL,
                        "clock": clk.description,
                        "definition": cost.DEFINITION}
    if clk.icount_shift is None:
        ui.warn("--clock wall: guest CPU time follows the host's load, so the headline "
                "(modeled time) does too; use --clock icount to compare configurations")
    if clk.icount_shift is not None:
        if accel is vm.Accel.KVM:
            raise KztError("--clock icount runs under TCG; --accel kvm cannot count instructions",
                           "use --accel auto or tcg, or --clock wall")
        accel = vm.Accel.TCG
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
                                  echo=False, cpus=clk.cpus, icount_shift=clk.icount_shift)
                try:
                    res = run(rreq)
                except Unavailable as e:
                    unavailable[p.variant.config] = e.why
                    res = e.result
                except SetupFailed as e:
                    res = e.result
                rec = record(p, res, started=started, explain=vm.explain(res.boot, req.timeout)
                             if not res.boot.ok else "", notes=data.console_notes,
                             profile=data.disk_profile(p.variant.disk) if p.variant.disk else None)
                if rec.accel:
                    state.meta.setdefault("accels", [])
                    if rec.accel not in state.meta["accels"]:
                        state.meta["accels"].append(rec.accel)
                if rec.kernel:
                    state.meta["kernel"] = rec.kernel
                # the host's 1-minute load: other guests or builds skew a run
                rec.host_load = [round(load_before, 2), round(os.getloadavg()[0], 2)]
            state.records.append(rec)
            _announce(rec)
            state.save()
            report.write(state.run_dir, state.to_json())
            if rec.boot_status == vm.BootStatus.NO_BOOT.value:
                raise GuestError(f"run {p.index}: the guest never ran its command; bench stopped",
                                 f"{rec.reason.splitlines()[0]}; what finished is in {run_dir}")
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


def _announce(rec: RunRecord) -> None:
    if rec.status == OK:
        ui.info(f"ok: {_describe(rec)}")
    elif rec.status == UNAVAILABLE:
        ui.info(f"unavailable: {rec.reason}")
    else:
        what = "FAILED" if rec.status == FAILED else "ERROR"
        reason = rec.reason if rec.status == FAILED else (rec.reason.splitlines() or [""])[0]
        ui.warn(f"run {rec.index} {rec.variant} x {rec.workload}: {what} -- {reason} "
                f"(run dir {rec.run_dir or None})")


def _workload_meta(layout: Layout, name: str) -> dict[str, Any]:
    _, wl = load_workload(layout, name)
    return {"memory": wl.get("memory", "384M"), "description": wl.get("description", ""),
            "commands": [" ".join([st["program"], *st.get("args", [])])
                         for st in wl.get("programs") or [wl]],
            "disks": wl.get("disks", [])}


def main(layout: Layout, req: BenchRequest, render: Path | None = None) -> int:
    """`kzt bench`: run (or only re-render) a bench and print its summary.

    Exit status 1 if any run FAILED (data did not verify) or had an error;
    unavailable configurations alone do not fail the command.
    """
    if render is not None:
        jpath, hpath = report.rerender(render)
        doc = json.loads((render / "bench.json").read_text())
        ui.step(f"report rendered again: {hpath} ({jpath.name})")
    else:
        state = run_bench(layout, req)
        doc = state.to_json()
    print(ui.table(report.summary_rows(doc), report.summary_header(doc)))
    bad = [r for r in doc["runs"] if r["status"] in (FAILED, ERROR)]
    for r in bad:
        print(f"kzt bench: run {r['index']} {r['variant']} x {r['workload']}: "
              f"{r['status'].upper()}: {(r.get('reason') or '').splitlines()[0]}")
    return 1 if bad else 0
