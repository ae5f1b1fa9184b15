"""`kzt bench`: the run loop, the machine's description, and the command.

Every planned run boots one guest through kzt.workrun, block after block
(kzt.bench.plan).  After every run the records so far go to
build/runs/<id>/bench.json and the report (report.json, report.html,
kcidb.json) is written again: an interrupted bench keeps what it
finished, and `--resume DIR` continues it.  A run the infrastructure
spoiled (the guest never ran its command, or a host-side error around the
boot) does not stop the bench: it is run once more at the end, and the
first attempt stays in bench.json, marked superseded.
"""
from __future__ import annotations

import json
import os
import platform
import re
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from .. import datafiles, guestjob, proc, ui, vm
from ..build import require_image
from ..errors import KztError
from ..guest.lib import meminfo_kib
from ..layout import Layout
from ..workrun import RunRequest, RunResult, SetupFailed, Unavailable, load_workload, run_workload
from . import cost, kcidb, report
from .plan import BenchRequest, Plan, Planned, differences, make_plan, signature
from .provenance import provenance
from .records import ERROR, FAILED, OK, UNAVAILABLE, RunRecord, record


#: QEMU's niceness for the runs of an instruction-counted bench.  The
#: guest's work is counted in instructions, but its I/O completes in host
#: time: on a loaded host QEMU's threads wait for a CPU and the guest's
#: I/O waits grow.  At -10 QEMU gets nine tenths of a contended CPU
#: against a nice-0 load such as stress-ng.  It helps, not more: on
#: memhog-mix-quick kztmem's declined stores varied as much between runs
#: on a quiet host as with load (README, "Stable under load"); what made
#: them repeat was its writeback starting before the limit.
GUEST_NICE = -10


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


@dataclass
class BenchState:
    """What is written to bench.json after every run."""
    run_dir: Path
    meta: dict[str, Any]
    plan: list[Planned]
    records: list[RunRecord] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"meta": self.meta,
                "plan": [{"index": p.index, "block": p.block, "rep": p.rep,
                          "variant": p.variant.name, "workload": p.workload} for p in self.plan],
                "runs": [r.to_json() for r in self.records]}

    def save(self) -> Path:
        path = self.run_dir / "bench.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1) + "\n")
        tmp.replace(path)
        return path


Runner = Callable[[RunRequest], RunResult]


def run_dir_name(p: Planned, attempt: int = 1) -> str:
    """r007-zswap_hdd-memhog-text-480 (r007b-... for a rerun): only
    characters virtme-ng accepts in a --rwdir path (letters, digits,
    _ + . - and /)."""
    tag = "" if attempt == 1 else "b"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"r{p.index:03d}{tag}-{p.variant.name}-{p.workload}")


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


def plan_of(layout: Layout, req: BenchRequest,
            data: datafiles.BenchSpec | None = None) -> Plan:
    """The plan a request asks for, checked (for --plan and the bench)."""
    if req.shard is not None and req.seed is None and req.resume is None:
        raise KztError(f"--shard {req.shard} needs --seed N: every shard must draw the same "
                       "blocks in the same order",
                       f"e.g. kzt bench --seed 1 --shard {req.shard} on every machine, the "
                       "same seed for all shards")
    plan = make_plan(req, data or datafiles.bench(), datafiles.configs(),
                     datafiles.workload_names(layout.vm_tests / "workloads"))
    if req.shard is not None and not plan.runs(req.shard):
        nb = len(plan.blocks())
        raise KztError(f"shard {req.shard} has no block to run: the plan has {nb} block(s) "
                       f"({plan.reps} rep(s) x {len(plan.workloads)} workload(s))",
                       f"use at most {nb} shard(s), or more --reps or workloads")
    return plan


def _resumed(req: BenchRequest) -> dict[str, Any] | None:
    """bench.json of the directory to resume, checked to be one."""
    if req.resume is None:
        return None
    src = req.resume / "bench.json"
    if not src.is_file():
        raise KztError(f"--resume {req.resume}: no bench.json there",
                       "give the directory of an interrupted `kzt bench` "
                       "(build/runs/<id>-bench or build/runs/latest-bench)")
    try:
        doc: dict[str, Any] = json.loads(src.read_text())
    except json.JSONDecodeError as e:
        raise KztError(f"--resume {req.resume}: bench.json is not JSON ({e})",
                       "start a new bench without --resume") from None
    return doc


def _image(layout: Layout, req: BenchRequest) -> Path:
    if req.kernel is None:
        return require_image(layout, req.base, req.flavour)
    if not req.kernel.is_file():
        raise KztError(f"--kernel {req.kernel}: no such file", "give --kernel a bzImage")
    return req.kernel.resolve()


def run_bench(layout: Layout, req: BenchRequest, *, runner: Runner | None = None,
              data: datafiles.BenchSpec | None = None) -> BenchState:
    """Plan, run every planned run (or those of one shard, or those a
    resumed bench has not finished), rerun the runs the infrastructure
    spoiled, and keep bench.json and the report current."""
    data = data or datafiles.bench()
    configs = datafiles.configs()
    old = _resumed(req)
    if old is not None and req.seed is None:
        req = replace(req, seed=(old.get("meta") or {}).get("seed"))
    plan = plan_of(layout, req, data)
    image = _image(layout, req)
    planned = plan.runs(req.shard)
    clk = vm.clock(req.clock)
    prov = provenance(layout, image, req.base)
    prov["host_load_at_start"] = [round(x, 2) for x in os.getloadavg()]
    meta = {
        "mode": plan.mode, "reps": plan.reps, "seed": plan.seed,
        "shard": str(req.shard) if req.shard else None,
        "variants": [v.name for v in plan.variants],
        "workloads": {w: _workload_meta(layout, w) for w in plan.workloads},
        "baselines": data.baselines,
        "disk_profiles": {n: {"iops": t.iops, "bps": t.bps} for n, t in data.disk_profiles.items()
                          if any(v.disk == n for v in plan.variants)},
        "configs": {v.config: {"append": list(c.append), "description": c.description,
                               "setup": list(c.setup),
                               # the budgets and compressors the guest checks before every run
                               "pinned": {str(r["path"]): str(r["equals"])
                                          for r in c.requires if "equals" in r}}
                    for v in plan.variants for c in [configs[v.config]]},
        "image": str(image), "base": req.base, "flavour": req.flavour,
        "accel_requested": req.accel.value, "guest_cpus": clk.cpus,
        "machine": machine(), "toolkit": prov.get("toolkit", ""), "provenance": prov,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "finished": None,
        "interrupted": None, "planned_runs": len(planned),
        #: every block of the whole plan (also those of other shards) and its order
        "blocks": [{"block": b.id, "rep": b.rep, "workload": b.workload,
                    "order": [v.name for v in b.order]} for b in plan.blocks()],
        "clock": {"name": clk.name, "cpus": clk.cpus, "icount_shift": clk.icount_shift,
                  "qemu_cpu": clk.qemu_cpu, "description": clk.description},
        "headline": {"metric": cost.HEADLINE, "label": cost.HEADLINE_LABEL,
                     "clock": clk.description, "definition": cost.DEFINITION}}
    accel = req.accel
    if clk.icount_shift is None:
        ui.warn("--clock wall: guest CPU time follows the host's load, so the headline "
                "(modeled time) does too; use --clock icount to compare configurations")
    if clk.icount_shift is not None:
        if accel is vm.Accel.KVM:
            raise KztError("--clock icount runs under TCG; --accel kvm cannot count instructions",
                           "use --accel auto or tcg, or --clock wall")
        accel = vm.Accel.TCG
    nice = 0
    if clk.icount_shift is not None:
        if vm.may_renice(GUEST_NICE):
            nice = GUEST_NICE
        else:
            ui.warn(f"cannot run the guests at niceness {GUEST_NICE} (not root, RLIMIT_NICE "
                    "too low): a loaded host will delay their I/O more; run the bench as root "
                    "or raise RLIMIT_NICE (ulimit -e) for results a loaded host cannot move")
    meta["guest_nice"] = nice
    meta["disks_throttled"] = clk.icount_shift is None
    records: list[RunRecord] = []
    if old is not None:
        assert req.resume is not None
        old_meta = old.get("meta") or {}
        diff = differences(signature(meta), signature(old_meta))
        if old_meta.get("shard") != meta["shard"]:
            diff.append(f"shard: {meta['shard']!r} against {old_meta.get('shard')!r}")
        if diff:
            raise KztError(f"--resume {req.resume}: that bench has another plan or image: "
                           + "; ".join(diff),
                           "resume with the options it was started with (its bench.json "
                           "meta has them), or start a new bench without --resume")
        run_dir = req.resume
        records = [RunRecord.from_json(r) for r in old.get("runs") or []]
        meta["started"] = old_meta.get("started", meta["started"])
        meta["resumed"] = [*(old_meta.get("resumed") or []), time.strftime("%Y-%m-%d %H:%M:%S %Z")]
        for k in ("accels", "kernel"):
            if k in old_meta:
                meta[k] = old_meta[k]
    else:
        run_dir = guestjob.new_run(layout, "bench")
    state = BenchState(run_dir, meta, planned, records)
    #: runs that stand (a final attempt), and the spoiled ones waiting for their rerun
    done = {r.index for r in records if not r.superseded and (not r.infra or r.attempt > 1)}
    reruns = [r for r in records if r.infra and r.attempt == 1 and not r.superseded
              and r.index not in done]
    todo = [p for p in planned if p.index not in done and all(r.index != p.index for r in reruns)]
    state.save()
    what = f"shard {req.shard} of " if req.shard else ""
    ui.step(f"bench ({plan.mode}, seed {plan.seed}): {what}{len(plan.variants)} variant(s) x "
            f"{len(plan.workloads)} workload(s) x {plan.reps} rep(s): {len(planned)} runs "
            f"in {len({p.block for p in planned})} block(s), results in {run_dir}")
    if old is not None:
        ui.info(f"resuming: {len(done)} run(s) finished, {len(todo)} to run, "
                f"{len(reruns)} to run again")
    ui.info("variants: " + ", ".join(v.name for v in plan.variants))
    ui.info("workloads: " + ", ".join(plan.workloads))
    bins = guestjob.build_workloads(layout) if runner is None else layout.build / "workloads"
    run = runner or (lambda r: run_workload(layout, r, bins))
    if runner is None and accel is vm.Accel.AUTO:
        # probe once for the whole bench, not once per boot
        accel = vm.resolve_accel(layout, vm.BootRequest(image=image, accel=accel))
    meta["accel_used"] = accel.value
    unavailable: dict[str, str] = {r.config: r.reason for r in records
                                   if r.status == UNAVAILABLE and r.booted}
    by_index = {p.index: p for p in planned}
    t_start = time.monotonic()
    total = len(todo) + len(reruns)

    def one(p: Planned, attempt: int, n: int) -> RunRecord:
        elapsed = time.monotonic() - t_start
        eta = f", about {_fmt_duration(elapsed / n * (total - n))} left" if n else ""
        again = " (again: the first attempt was spoiled)" if attempt > 1 else ""
        ui.step(f"run {p.index}/{plan.reps * len(plan.workloads) * len(plan.variants)} "
                f"(block {p.block}, rep {p.rep}/{plan.reps}): {p.variant.name} x {p.workload}"
                f"{again} [elapsed {_fmt_duration(elapsed)}{eta}]")
        started = time.time()
        load_before = os.getloadavg()[0]
        if p.variant.config in unavailable:
            rec = record(p, None, started=started,
                         why=unavailable[p.variant.config] + " (not booted again)")
            rec.attempt = attempt
            return rec
        rreq = RunRequest(p.workload, p.variant.config, req.base, req.flavour, accel,
                          req.timeout, disk=p.variant.disk,
                          run_dir=run_dir / run_dir_name(p, attempt),
                          echo=False, cpus=clk.cpus, icount_shift=clk.icount_shift,
                          qemu_cpu=clk.qemu_cpu, kernel=image if req.kernel else None, nice=nice)
        try:
            res = run(rreq)
        except Unavailable as e:
            unavailable[p.variant.config] = e.why
            res = e.result
        except SetupFailed as e:
            res = e.result
        except (KztError, OSError) as e:
            rec = record(p, None, started=started)
            rec.status = ERROR
            rec.reason = rec.infra = f"host-side error around the boot: {e}"
            rec.attempt = attempt
            rec.host_load = [round(load_before, 2), round(os.getloadavg()[0], 2)]
            return rec
        rec = record(p, res, started=started, explain=vm.explain(res.boot, req.timeout)
                     if not res.boot.ok else "", notes=data.console_notes,
                     profile=data.disk_profile(p.variant.disk) if p.variant.disk else None)
        rec.attempt = attempt
        if rec.boot_status == vm.BootStatus.NO_BOOT.value:
            rec.infra = "the guest never ran its command: " + \
                (rec.reason.splitlines() or ["no boot"])[0]
        if rec.accel:
            state.meta.setdefault("accels", [])
            if rec.accel not in state.meta["accels"]:
                state.meta["accels"].append(rec.accel)
        if rec.kernel:
            state.meta["kernel"] = rec.kernel
        # the host's 1-minute load: other guests or builds skew a run
        rec.host_load = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        return rec

    def keep(rec: RunRecord) -> None:
        state.records.append(rec)
        _announce(rec)
        state.save()
        report.write(state.run_dir, state.to_json())

    try:
        n = 0
        for p in todo:
            rec = one(p, 1, n)
            n += 1
            keep(rec)
            if rec.infra:
                reruns.append(rec)
        for first in reruns:
            ui.warn(f"run {first.index} {first.variant} x {first.workload} was spoiled by the "
                    f"infrastructure ({first.infra.splitlines()[0]}): running it again")
            second = one(by_index[first.index], 2, n)
            n += 1
            # only now: a bench interrupted during the rerun still owes it
            first.superseded = True
            keep(second)
    except KeyboardInterrupt:
        state.meta["interrupted"] = "interrupted (Ctrl-C)"
        ui.warn(f"bench interrupted after {len(state.records)} of {len(planned)} runs; "
                f"continue it with --resume {run_dir}")
        raise
    except SystemExit as e:
        # SIGTERM (kill, timeout(1), a CI runner's cancel): see cli.py
        state.meta["interrupted"] = f"terminated (exit {e.code})"
        ui.warn(f"bench terminated after {len(state.records)} of {len(planned)} runs; "
                f"continue it with --resume {run_dir}")
        raise
    except KztError as e:
        state.meta["interrupted"] = str(e).splitlines()[0]
        raise
    finally:
        state.meta["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        state.meta["elapsed_seconds"] = round(time.monotonic() - t_start, 1)
        state.save()
        paths = report.write(state.run_dir, state.to_json())
        kcidb.write(state.run_dir, state.to_json())
        ui.step(f"report: {paths[1]} (and {paths[0].name}, kcidb.json, bench.json)")
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


def colour_verdicts(text: str) -> str:
    """The summary table with its verdicts coloured (for a terminal)."""
    codes = {"win": "32;1", "loss": "31;1", "inconclusive": "2"}
    return re.sub(r"\b(win|loss|inconclusive)\b",
                  lambda m: f"\033[{codes[m.group(1)]}m{m.group(1)}\033[0m", text)


def print_summary(doc: dict[str, Any]) -> int:
    """The summary table, then every run that FAILED or had an error;
    1 if there was one (superseded first attempts do not count)."""
    text = ui.table(report.summary_rows(doc), report.summary_header(doc))
    print(colour_verdicts(text) if sys.stdout.isatty() else text)
    bad = [r for r in doc["runs"] if r["status"] in (FAILED, ERROR) and not r.get("superseded")]
    for r in bad:
        print(f"kzt bench: run {r['index']} {r['variant']} x {r['workload']}: "
              f"{r['status'].upper()}: {(r.get('reason') or '').splitlines()[0]}")
    return 1 if bad else 0


def print_plan(layout: Layout, req: BenchRequest, as_json: bool) -> int:
    """`kzt bench --plan`: the blocks, their order and the shards; runs nothing."""
    plan = plan_of(layout, req)
    doc = plan.to_json(req.shard)
    doc["clock"] = req.clock
    if as_json:
        print(json.dumps(doc, indent=1))
        return 0
    rows = [(str(b["block"]), str(b["rep"]), b["workload"], str(b["shard"]),
             " ".join(b["order"])) for b in doc["blocks"]]
    print(ui.table(rows, ("block", "rep", "workload", "shard", "order")))
    ui.info(f"seed {plan.seed}: {doc['planned_runs']} runs in {len(rows)} block(s), "
            f"{doc['shards']['n']} shard(s); this invocation would run {len(doc['runs'])}")
    return 0


def main(layout: Layout, req: BenchRequest, render: Path | None = None) -> int:
    """`kzt bench`: run (or only re-render) a bench and print its summary.

    Exit status 1 if any run FAILED (data did not verify) or had an error;
    unavailable configurations alone do not fail the command.
    """
    if render is not None:
        jpath, hpath = report.rerender(render)
        doc = json.loads((render / "bench.json").read_text())
        kcidb.write(render, doc)
        ui.step(f"report rendered again: {hpath} ({jpath.name}, kcidb.json)")
    else:
        state = run_bench(layout, req)
        doc = state.to_json()
    return print_summary(doc)
