"""Runs inside the guest: one workload from its definition, then counters.

`python -m kzt.guest.work JOB.json` reads a kzt.guest.seam.WorkJob: the
workload definition and the guest half of a configuration (data/
configs.json).  It checks the configuration's requirements, prepares the
disks the workload names (swap on kzt-swap, ext4 on kzt-ext4), runs the
configuration's set-up steps (e.g. a zram swap device above the disk
swap), runs the workload's program (a mixed workload runs several, at once
or in turn) while sampling the compressed stores every few seconds, and
writes the programs' result with before/after counters, CPU time and the
samples to the job's "out" path, a document of the seam's version.

A configuration whose requirement is not met (e.g. no /sys/kernel/mm/kztmem)
is not run: the result then holds "unavailable" with the reason, and the
exit status is UNAVAILABLE (77).  Otherwise the exit status is the program's
(the first non-zero one of several).
"""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from . import lib as kg
from .counters import cpu_busy, cpu_jiffies, density, pool_sample, pools, snapshot
from .seam import VERSION, WALL_MARKS, WorkJob, check_work_result, read

UNAVAILABLE = 77
SAMPLE_SECONDS = 2.0
Teardown = Callable[[], None]


# ----------------------------------------------------------- requirements

def unmet(requires: list[dict[str, Any]]) -> str | None:
    """The reason of the first requirement this guest does not meet."""
    for r in requires:
        p = Path(r["path"])
        why = str(r.get("why") or f"{p} is missing")
        if r.get("absent"):
            if p.exists():
                return why
            continue
        if not p.exists():
            if r.get("missing_ok"):
                continue
            return why
        if "equals" in r:
            try:
                got = p.read_text().strip()
            except OSError as e:
                return f"{why} ({p}: {e.strerror})"
            if got != str(r["equals"]):
                return f"{why} ({p} is '{got}', not '{r['equals']}')"
    return None


def verified(requires: list[dict[str, Any]]) -> dict[str, str]:
    """What the guest read for each requirement with a value: the pinned
    budgets and compressors, as the run saw them."""
    out: dict[str, str] = {}
    for r in requires:
        p = Path(r["path"])
        if "equals" in r and p.exists():
            out[str(p)] = p.read_text().strip()
    return out


# ----------------------------------------------------------- set-up steps

def _mem_total_bytes() -> int:
    return int(kg.meminfo_kib()["MemTotal"]) * 1024


def setup_zram_swap(step: dict[str, Any]) -> Teardown:
    """A zram swap device with a RAM budget, above the disk swap."""
    dev = Path("/sys/block/zram0")
    if not dev.exists() or (dev / "disksize").read_text().strip() != "0":
        dev = Path(f"/sys/block/zram{Path('/sys/class/zram-control/hot_add').read_text().strip()}")
    ram = _mem_total_bytes()
    if "comp_algorithm" in step:
        kg.write_sysfs(dev / "comp_algorithm", str(step["comp_algorithm"]))
    # whole pages: zram keeps its limit in pages (and rounds a value up)
    limit = ram * int(step.get("mem_limit_percent", 0)) // 100 // 4096 * 4096
    if "mem_limit_percent" in step:
        kg.write_sysfs(dev / "mem_limit", str(limit))
    size = ram * int(step.get("disksize_percent", 50)) // 100
    kg.write_sysfs(dev / "disksize", str(size // 4096 * 4096))
    # the budget and the compressor are what the bench compares under:
    # read them back rather than trust the writes
    if "mem_limit_percent" in step:
        got = int((dev / "mm_stat").read_text().split()[3])
        if got != limit:
            raise kg.GuestEnvError(f"{dev.name}: mem_limit is {got}, not the {limit} written")
    if "comp_algorithm" in step:
        algo = (dev / "comp_algorithm").read_text()
        if f"[{step['comp_algorithm']}]" not in algo:
            raise kg.GuestEnvError(f"{dev.name}: comp_algorithm is '{algo.strip()}', "
                                   f"not [{step['comp_algorithm']}]")
    path = f"/dev/{dev.name}"
    kg.run([kg.tool("mkswap"), "-f", path])
    kg.run([kg.tool("swapon"), "-p", str(int(step.get("priority", 100))), path])
    print(f"kzt: {path}: swap priority {step.get('priority', 100)}, disksize {size >> 20} MiB, "
          f"mem_limit {step.get('mem_limit_percent', '-')}% of {ram >> 20} MiB, "
          f"comp_algorithm {(dev / 'comp_algorithm').read_text().strip()}", file=sys.stderr)

    def teardown() -> None:
        kg.SwapDevice(path).off()
        kg.write_sysfs(dev / "reset", "1")
    return teardown


def setup_sysfs(step: dict[str, Any]) -> Teardown:
    """Write one value to a sysfs/procfs file (restored afterwards)."""
    t = kg.Tunable(step["path"])
    t.write(str(step["value"]))

    def teardown() -> None:
        t.restore()
    return teardown


SETUP_STEPS: dict[str, Callable[[dict[str, Any]], Teardown]] = {
    "zram-swap": setup_zram_swap,
    "sysfs": setup_sysfs,
}


# --------------------------------------------------------------- sampling

def _pool_sample(t0: float) -> dict[str, Any]:
    """Where the pools and swap stand, t seconds into the workload."""
    snap = pool_sample()
    vm = kg.vmstat()
    s: dict[str, Any] = {"t": round(time.monotonic() - t0, 1),
                         "pswpin": vm.get("pswpin"), "pswpout": vm.get("pswpout"),
                         "pools": {n: list(v) for n, v in pools(snap).items()}}
    d = density(snap)
    if d is not None:
        s["density"] = round(d, 3)
    return s


class Sampler(threading.Thread):
    def __init__(self, interval: float) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.samples: list[dict[str, Any]] = []
        self._halt = threading.Event()
        self._t0 = time.monotonic()

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            try:
                self.samples.append(_pool_sample(self._t0))
            except (OSError, ValueError) as e:
                self.samples.append({"t": round(time.monotonic() - self._t0, 1), "error": str(e)})

    def stop(self) -> list[dict[str, Any]]:
        self._halt.set()
        self.join(timeout=10)
        return self.samples


# ------------------------------------------------------------------- main

def program(name: str) -> list[str]:
    """A workload program: a built workload binary (memhog, filecheck), or
    a module of this package run by this interpreter (kzt.guest.real, the
    driver of real programs)."""
    if name.startswith("kzt.guest."):
        return [sys.executable, "-m", name]
    return [str(kg.workload(name))]


CGROUP_NAME = "kzt-workload"
#: an argument that stands for the workload cgroup's cgroup.procs file: a
#: program given it stays outside the cgroup and puts its own children in
#: (kzt.guest.real sort: the driver's interpreter would otherwise take a
#: third of sort-64's 24M from the program being measured)
CGROUP_PROCS_ARG = "{cgroup_procs}"


def programs(spec: dict[str, Any], mnt: str | None,
             cgroup: Path | None = None) -> list[list[str]]:
    """The argument lists the workload runs: its one `program` with `args`,
    or every entry of `programs` (started all at once, or one after the
    other when the workload says "in_turn").  CGROUP_PROCS_ARG becomes
    the cgroup.procs file of cgroup, the workload's; naming it in a
    workload without one is an error."""
    steps = spec.get("programs") or [{"program": spec["program"], "args": spec.get("args", [])}]

    def arg(a: str) -> str:
        a = a.replace("{ext4_mount}", mnt or "/tmp")
        if a != CGROUP_PROCS_ARG:
            return a
        if cgroup is None:
            raise ValueError(f"workload {spec.get('name')}: {CGROUP_PROCS_ARG} needs a cgroup "
                             "(cgroup_memory_max) to put programs in")
        return str(cgroup / "cgroup.procs")
    return [[*program(st["program"]), *(arg(a) for a in st.get("args", []))] for st in steps]


def make_cgroup(memory_max: str) -> Path:
    """A cgroup v2 for the workload's programs with memory.max set, as
    zswap's own postings run their workloads: reclaim (and so swap)
    happens inside the cgroup while the guest still has free memory."""
    return kg.make_memory_cgroup(CGROUP_NAME, {"memory.max": memory_max})


def cgroup_stats(cg: Path) -> dict[str, Any]:
    """What the cgroup went through: its memory.events and peak-ish figures."""
    out: dict[str, Any] = {"path": str(cg), "memory.max": (cg / "memory.max").read_text().strip()}
    for name in ("memory.events", "memory.stat"):
        f = cg / name
        if f.exists():
            out[name] = {k: int(v) for k, v in (ln.split() for ln in f.read_text().splitlines())
                         if v.isdigit()}
    return out


def combine(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """One summary for programs that ran together: mismatches and bad bytes
    add up (None if any program printed none, so nothing claims it
    verified), first_bad lists each program's, and "programs" keeps them all."""
    if len(summaries) == 1:
        return summaries[0]
    out: dict[str, Any] = {"programs": summaries}
    for key in ("mismatches", "bad_bytes"):
        vals = [s.get(key) for s in summaries]
        out[key] = sum(int(v) for v in vals if v is not None) if None not in vals else None
    out["first_bad"] = [f"{s.get('program')}: {b}" for s in summaries for b in _places(s)]
    return out


def _places(summary: dict[str, Any]) -> list[str]:
    """A summary's first bad places: memhog lists them, filecheck prints
    them as one "FILE:OFFSET,..." string."""
    bad = summary.get("first_bad") or []
    return [b for b in bad.split(",") if b] if isinstance(bad, str) else [str(b) for b in bad]


def run_programs(argvs: list[list[str]], timeout: float,
                 in_turn: bool = False, cgroup: Path | None = None) -> tuple[int, list[str]]:
    """Run the programs all at once (or, in_turn, one after the other)
    under one deadline; the exit status is the first non-zero one (124
    when the deadline passed: every program still running is killed, and
    those not started yet never start).  With a cgroup, each program joins
    it before it executes, except one given the cgroup's cgroup.procs file
    as an argument: that one puts its own children in."""
    procs_file = str(cgroup / "cgroup.procs") if cgroup else None

    def join_cgroup() -> None:
        # runs in the child between fork and exec
        if procs_file is not None:
            kg.join_cgroup(procs_file)
    outs = [tempfile.TemporaryFile(mode="w+") for _ in argvs]
    deadline = time.monotonic() + timeout
    procs: list[subprocess.Popen[str]] = []
    codes: list[int] = []

    def wait(p: subprocess.Popen[str]) -> None:
        try:
            codes.append(p.wait(timeout=max(0.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            codes.append(124)
    for argv, f in zip(argvs, outs):
        if codes and codes[-1] == 124:
            break
        joins = procs_file is not None and procs_file not in argv
        procs.append(subprocess.Popen(argv, stdout=f, text=True,
                                      preexec_fn=join_cgroup if joins else None))
        if in_turn:
            wait(procs[-1])
    if not in_turn:
        for p in procs:
            wait(p)
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    texts = []
    for f in outs:
        f.seek(0)
        texts.append(f.read())
        f.close()
    return next((c for c in codes if c != 0), 0), texts


class Profiler:
    """`kzt profile`: `perf record -a -g` over every CPU while the programs
    run, into the run directory (perf.data, and its own output in
    perf-record.log); report() then writes perf's tables beside it."""

    def __init__(self, hz: int, outdir: Path) -> None:
        self.perf = kg.tool("perf")
        self.outdir = outdir
        self.data = outdir / "perf.data"
        self.log = open(outdir / "perf-record.log", "w")
        self.proc = subprocess.Popen([self.perf, "record", "-a", "-g", "-F", str(hz),
                                      "-o", str(self.data)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        time.sleep(1)   # its events are open before the programs start
        if self.proc.poll() is not None:
            self.log.close()
            raise kg.GuestEnvError(f"perf record exited at once with status {self.proc.returncode}:"
                                   f" {(outdir / 'perf-record.log').read_text().strip()[-400:]}")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        # perf record ends by raising the SIGINT it caught, once its data is written
        return 0 if rc == -signal.SIGINT else rc

    def report(self) -> list[str]:
        """perf-self.txt (each function's own samples) and
        perf-children.txt (with what it called), both by symbol."""
        tables = (("perf-self.txt", ["--no-children", "--percent-limit", "0.1"]),
                  ("perf-children.txt", ["--children", "--percent-limit", "0.5"]))
        for name, how in tables:
            r = kg.run([self.perf, "report", "-i", str(self.data), "--stdio", "-g", "none",
                        "--sort", "sym", *how], timeout=900, check=False)
            (self.outdir / name).write_text(r.stdout if r.returncode == 0
                                            else f"perf report failed ({r.returncode}):\n{r.stderr}")
        return ["perf.data", "perf-record.log", *(n for n, _ in tables)]


def _cpu() -> dict[str, int]:
    return cpu_jiffies(Path("/proc/stat").read_text())


def main(argv: list[str]) -> int:
    t_start = time.monotonic()
    phases: dict[str, float] = {}

    def phase(name: str) -> None:
        phases[name] = round(time.monotonic() - t_start, 2)

    job = WorkJob.from_json(read(Path(argv[0])), argv[0])
    spec, config, out = job.workload, job.config, Path(job.out)
    head = {"version": VERSION, "workload": spec["name"], "config": config["name"],
            "uname": os.uname().release}
    snapshot()  # mounts debugfs, which some requirements read
    why = unmet(list(config.get("requires", [])))
    if why:
        print(f"kzt: configuration {config['name']} unavailable: {why}")
        out.write_text(json.dumps({**head, "unavailable": why}) + "\n")
        return UNAVAILABLE
    disks = set(spec.get("disks", []))
    swap = None
    mnt = None
    teardowns: list[Teardown] = []
    if kg.SWAP_SERIAL in disks:
        swap = kg.make_swap(kg.find_disk(kg.SWAP_SERIAL))
        swap.on()
    if kg.EXT4_SERIAL in disks:
        dev = kg.find_disk(kg.EXT4_SERIAL)
        kg.mkfs_ext4(dev)
        mnt = tempfile.mkdtemp(prefix="kzt-ext4-")
        kg.mount(dev, mnt)
    for step in config.get("setup", []):
        try:
            teardowns.append(SETUP_STEPS[step["kind"]](step))
        except (OSError, KeyError, ValueError, kg.GuestEnvError) as e:
            why = f"set-up step {step.get('kind')} failed: {e}"
            print(f"kzt: {why}", file=sys.stderr)
            out.write_text(json.dumps({**head, "error": why}) + "\n")
            return 2
    cgroup = None
    if spec.get("cgroup_memory_max"):
        try:
            cgroup = make_cgroup(str(spec["cgroup_memory_max"]))
        except (OSError, kg.GuestEnvError) as e:
            why = f"the workload's memory cgroup could not be made: {e}"
            print(f"kzt: {why}", file=sys.stderr)
            out.write_text(json.dumps({**head, "error": why}) + "\n")
            return 2
    pinned = verified(list(config.get("requires", [])))
    for zram in sorted(Path("/sys/block").glob("zram*")):
        if (zram / "disksize").exists() and (zram / "disksize").read_text().strip() != "0":
            pinned[f"{zram / 'mm_stat'}:mem_limit"] = (zram / "mm_stat").read_text().split()[3]
            pinned[str(zram / "comp_algorithm")] = (zram / "comp_algorithm").read_text().strip()
    phase("set_up")
    argvs = programs(spec, mnt, cgroup)
    kg.drop_caches()  # every configuration starts from the same empty page cache
    profiler = None
    if job.profile_hz:
        try:
            profiler = Profiler(job.profile_hz, out.parent)
        except (OSError, kg.GuestEnvError) as e:
            why = f"the profiler could not start: {e}"
            print(f"kzt: {why}", file=sys.stderr)
            out.write_text(json.dumps({**head, "error": why}) + "\n")
            return 2
    before = snapshot()
    cpu0, ru0 = _cpu(), resource.getrusage(resource.RUSAGE_CHILDREN)
    sampler = Sampler(float(spec.get("sample_seconds", SAMPLE_SECONDS)))
    sampler.start()
    (out.parent / WALL_MARKS[0]).write_text("start\n")
    t0 = time.monotonic()
    rc, stdouts = run_programs(argvs, float(config.get("workload_timeout_seconds")
                                            or spec.get("timeout_seconds", 900)),
                               in_turn=bool(spec.get("in_turn")), cgroup=cgroup)
    stdout = "".join(stdouts)
    seconds = time.monotonic() - t0
    (out.parent / WALL_MARKS[1]).write_text("end\n")
    samples = sampler.stop()
    cpu1, ru1 = _cpu(), resource.getrusage(resource.RUSAGE_CHILDREN)
    perf_rc = profiler.stop() if profiler else 0
    phase("workload_done")
    during = snapshot()
    cg_stats = cgroup_stats(cgroup) if cgroup else None
    if mnt:
        kg.umount(mnt)
    for td in reversed(teardowns):
        td()
    if swap:
        swap.off()
    after = snapshot()
    phase("torn_down")
    print(stdout.strip())
    hz = os.sysconf("SC_CLK_TCK")
    result = {**head, "exit_code": rc,
              "seconds": round(seconds, 2), "stdout": stdout,
              "summary": combine([kg.summary_line(o) for o in stdouts]),
              "cpu": {"busy_seconds": round((cpu_busy(cpu1) - cpu_busy(cpu0)) / hz, 2),
                      "jiffies": {k: cpu1[k] - cpu0.get(k, 0) for k in cpu1}, "hz": hz},
              "rusage": {"user_seconds": round(ru1.ru_utime - ru0.ru_utime, 2),
                         "system_seconds": round(ru1.ru_stime - ru0.ru_stime, 2),
                         "max_rss_kib": ru1.ru_maxrss},
              "samples": samples, "sample_seconds": sampler.interval,
              "phases": phases, "guest_uptime": float(Path("/proc/uptime").read_text().split()[0]),
              "before": before, "during": during, "after": after, "pinned": pinned}
    if cg_stats is not None:
        result["cgroup"] = cg_stats
    if profiler is not None:
        result["profile"] = {"hz": job.profile_hz, "exit_code": perf_rc,
                             "files": profiler.report()}
    check_work_result(result, "kzt.guest.work's result")
    out.write_text(json.dumps(result, indent=1) + "\n")
    return rc


if __name__ == "__main__":
    os.environ.setdefault("KZT_GUEST", "1")
    sys.exit(main(sys.argv[1:]))
