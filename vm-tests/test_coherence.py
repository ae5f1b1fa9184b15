"""Cleancache coherence (issue 11): no read ever returns an older version.

A clean page that leaves the page cache may live on in cleancache (kztmem)
and be read back from there instead of from the disk, so every change of a
file's contents must drop the copies it makes stale, including changes
that race with evictions. The tests here write versioned pages, change
them under concurrent evictions, and compare every byte read back with
what was written last:

- test_direct_write_race_never_stale: vm-tests/workloads/cacherace races
  O_DIRECT writers, buffered readers, fadvise(DONTNEED) evictions and
  anonymous memory pressure on a 64-page file for a minute, in phases of
  30 ms (a stale copy survives only until the next direct write drops the
  file from cleancache, so it is the last writes of a phase that can leave
  one: short phases give the race many chances); after every phase, with
  everything quiet, every page must read back (from the
  page cache, then from cleancache after an eviction) at its last written
  version. It runs with kztmem and, as a control, on the same image
  without it. With kztmem the puts counter must move, or nothing was
  tested.
- test_insert_collapse_race_never_stale: cacherace shift alternates
  INSERT_RANGE and COLLAPSE_RANGE of the first page of a 16-page file, as
  fast as it can for 30 s, while threads read and evict it; after each,
  every page must be the one now at its place. Truncation of the page
  cache returns early when it finds the mapping empty, so a page evicted
  into cleancache just then survives the shift at its old index.
- test_fallocate_truncate_match_model: random PUNCH_HOLE, ZERO_RANGE,
  COLLAPSE_RANGE, INSERT_RANGE, ftruncate shrink/grow and buffered writes
  on files whose pages sit in cleancache (put straight after their
  writeback, or after a read from the disk) (direct writes are left to the
  race above: with them, this test fails on the direct-write race first
  and says nothing about the others), while two other
  processes evict them in a loop (one also reads a page before each
  eviction, so the mappings keep going from populated to empty); after every operation each file is read
  back, as cached and after an eviction, and compared with a byte model.
- test_big_invalidation_no_stall (debug kernel): truncating and unlinking
  files whose sixteen thousand pages are in kztmem completes without an
  RCU stall, soft lockup or lockdep report (in the console, which the
  toolkit scans, and in the kernel log, which the test scans itself), the
  CPU doing it lets a heartbeat thread run within the soft-lockup
  threshold, and the pool gives the pages back.
"""

from __future__ import annotations

import ctypes
import json
import mmap
import os
import random
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Optional

import pytest

from kzt.guest import lib as kg

pytestmark = pytest.mark.integrity

WITH_KZTMEM = pytest.mark.kzt_boot(append="kztmem", memory="384M")
WITHOUT_KZTMEM = pytest.mark.kzt_boot(append="", memory="384M")
BACKENDS = [pytest.param("kztmem", marks=WITH_KZTMEM, id="kztmem"),
            pytest.param("none", marks=WITHOUT_KZTMEM, id="no-kztmem")]

PAGE = os.sysconf("SC_PAGE_SIZE")

#: The race: guest seconds, and what it must at least have done.
RACE_SECONDS = 60
RACE_PAGES = 64
MIN_PHASES = 100
SHIFT_SECONDS = 30


# ------------------------------------------------------------------ helpers

def cleancache_counters() -> dict[str, int]:
    """/sys/kernel/debug/cleancache/* (puts, succ_gets, ...), or {}."""
    d = kg.ensure_debugfs() / "cleancache"
    return kg.int_values(kg.read_dir(d)) if d.is_dir() else {}


def cache_counters() -> dict[str, int]:
    """kztmem's counters (when it runs) and cleancache's, the latter prefixed."""
    values = kg.kztmem_ints() if kg.kztmem_present() else {}
    values.update({"cleancache_" + k: v for k, v in cleancache_counters().items()})
    return values


def require_backend(backend: str) -> None:
    """Fail (not skip) when the guest was not booted the way the test says."""
    if backend == "none":
        assert not kg.kztmem_present(), f"{kg.KZTMEM_SYSFS} exists in the control guest"
        return
    config = kg.kernel_config()
    if not kg.kztmem_present() or not (kg.KZTMEM_SYSFS / "eph_puts").exists():
        if config.get("CONFIG_CLEANCACHE") == "n" or kg.booted_with("nocleancache"):
            pytest.skip("kztmem runs without its cleancache half")
        pytest.fail(f"booted with 'kztmem' but {kg.KZTMEM_SYSFS}/eph_puts is absent "
                    f"(CONFIG_KZTMEM={config.get('CONFIG_KZTMEM')}, "
                    f"CONFIG_CLEANCACHE={config.get('CONFIG_CLEANCACHE')})")


def last_json(stdout: str) -> dict:
    """The last JSON object line a workload printed, or {}."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    return {}


def cacherace(*args: object, timeout: float = kg.WORKLOAD_TIMEOUT) -> kg.WorkloadResult:
    argv = [str(kg.workload("cacherace")), *(str(a) for a in args), "--json"]
    with kg.Workload(argv) as w:
        return w.finish(timeout)


def pressure_mib() -> int:
    """Anonymous memory for cacherace's pressure thread: what the guest can
    spare but 128 MiB (there is no swap: too much would call the OOM killer)."""
    return max(16, kg.meminfo_kib()["MemAvailable"] // 1024 - 128)


# ---------------------------------------------------------- 1. the race

@pytest.mark.parametrize("backend", BACKENDS)
def test_direct_write_race_never_stale(backend: str, ext4: Path) -> None:
    require_backend(backend)
    kg.workload("cacherace")

    # The check can fail: one page is expected one version ahead of it.
    st = cacherace("race", ext4 / "selftest", "--pages", 16, "--seconds", 2,
                   "--self-test", "--quiet")
    assert st.returncode == 1 and st.summary.get("stale", 0) >= 1, \
        f"cacherace --self-test did not report the page it was told to: {st.describe()}"

    pressure = pressure_mib()
    before = cache_counters()
    res = cacherace("race", ext4 / "race", "--pages", RACE_PAGES, "--seconds", RACE_SECONDS,
                    "--phase-ms", 30, "--writers", 2, "--readers", 1, "--evictors", 1,
                    "--chasers", 2,
                    "--run-pages", 4, "--pressure-mib", pressure, "--seed", 11, "--quiet")
    d = kg.delta(cache_counters(), before)
    s = res.summary
    kg.save_result(f"coherence-race-{backend}.json",
                {"summary": s, "counters_delta": d, "pressure_mib": pressure})
    print(f"cacherace ({backend}): {res.stdout.strip()}\ncounter deltas: {d}")
    assert res.returncode in (0, 1) and s, f"cacherace did not run: {res.describe()}"
    assert s["phases"] >= MIN_PHASES and s["writes"] > 0 and s["evictions"] > 0, \
        f"too little was raced to conclude anything: {s}"
    if backend == "kztmem":
        assert d.get("eph_puts", 0) > 0, \
            f"no page of the raced file went into kztmem (eph_puts did not move): {d}"
        assert d.get("eph_prepared", 0) > 0, \
            f"no put of the raced file was prepared before the i_pages lock: {d}"
    assert s["corrupt"] == 0, \
        f"{s['corrupt']} page reads returned torn or misplaced data; first: {s['first_bad']}"
    assert s["stale"] == 0, (
        f"{s['stale']} stale page(s) in {s['phases']} phases with {backend}: a buffered read "
        f"returned an older version than the last O_DIRECT write ({s['stale_cached']} as "
        f"cached, {s['stale_evicted']} after an eviction); first (phase:page:pass:got:want:"
        f"disk): {s['first_bad']}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_insert_collapse_race_never_stale(backend: str, ext4: Path) -> None:
    """INSERT_RANGE and COLLAPSE_RANGE of the first page in turn, as fast as
    the disk allows, while other threads read and evict the file: after
    each, every page must be the one now at its place."""
    require_backend(backend)
    before = cache_counters()
    res = cacherace("shift", ext4 / "shift", "--pages", 16, "--seconds", SHIFT_SECONDS,
                    "--seed", 5, "--quiet")
    d = kg.delta(cache_counters(), before)
    s = res.summary
    kg.save_result(f"coherence-shift-{backend}.json", {"summary": s, "counters_delta": d})
    print(f"cacherace shift ({backend}): {res.stdout.strip()}\ncounter deltas: {d}")
    assert res.returncode in (0, 1) and s, f"cacherace did not run: {res.describe()}"
    assert s["phases"] >= 100, f"too few shifts to conclude anything: {s}"
    if backend == "kztmem":
        assert d.get("eph_puts", 0) > 0, f"no page of the file went into kztmem: {d}"
    assert s["stale"] == 0 and s["corrupt"] == 0, (
        f"{s['stale']} page(s) read back from before a shift, {s['corrupt']} unrecognised, "
        f"in {s['phases']} shifts with {backend}; first (shift:place:pass:got page:"
        f"want page): {s['first_bad']}")


# ------------------------------------------ 2. fallocate, ftruncate, model

FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_COLLAPSE_RANGE = 0x08
FALLOC_FL_ZERO_RANGE = 0x10
FALLOC_FL_INSERT_RANGE = 0x20

MODEL_FILES = 3
MODEL_PAGES = 64            # each file's size at the start
MODEL_MAX_PAGES = 160       # INSERT_RANGE and growth stop here
MODEL_OPS = 4000
MODEL_SECONDS = 40          # whichever comes first
LINE = 64                   # bytes per text line of a model page

_libc = ctypes.CDLL(None, use_errno=True)
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]


def fallocate(fd: int, mode: int, offset: int, length: int) -> None:
    if _libc.fallocate(fd, mode, offset, length) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"fallocate(mode={mode:#x}, {offset}, {length}): "
                           f"{os.strerror(err)}")


def model_page(fid: int, index: int, version: int) -> bytes:
    """A compressible page naming its file, the index it was written at and
    its version, in 64-byte lines."""
    line = f"kzt-model file {fid:02d} page {index:06d} version {version:06d}".encode()
    line = line.ljust(LINE - 1, b".") + b"\n"
    return line * (PAGE // LINE)


_PAGE_RE = re.compile(rb"kzt-model file (\d+) page (\d+) version (\d+)")


def describe_page(data: bytes) -> str:
    """What a page read back (or expected) is, for a failure message."""
    if not data:
        return "nothing (beyond the end of the file)"
    if not data.strip(b"\0"):
        return "zeroes"
    m = _PAGE_RE.match(data)
    if m and data == model_page(int(m[1]), int(m[2]), int(m[3]))[:len(data)]:
        return f"file {int(m[1])} page {int(m[2])} version {int(m[3])}"
    if m:
        return f"file {int(m[1])} page {int(m[2])} version {int(m[3])}, damaged"
    return f"unrecognised bytes {data[:32]!r}"


class ModelFile:
    """One file on the kzt-ext4 disk and the bytes it must hold."""

    def __init__(self, path: Path, fid: int) -> None:
        self.path, self.fid = path, fid
        self.model = bytearray()
        self.version = 0
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)

    def close(self) -> None:
        os.close(self.fd)

    @property
    def pages(self) -> int:
        return len(self.model) // PAGE

    def new_pages(self, first: int, count: int) -> bytes:
        self.version += 1
        return b"".join(model_page(self.fid, first + i, self.version) for i in range(count))

    def write(self, first: int, count: int) -> None:
        data = self.new_pages(first, count)
        off = first * PAGE
        n = os.pwrite(self.fd, data, off)
        assert n == len(data), f"{self.path}: short write {n} of {len(data)}"
        if off > len(self.model):
            self.model.extend(bytes(off - len(self.model)))
        self.model[off:off + len(data)] = data

    def evict(self) -> None:
        os.posix_fadvise(self.fd, 0, 0, os.POSIX_FADV_DONTNEED)

    def read(self) -> bytes:
        size = os.fstat(self.fd).st_size
        return os.pread(self.fd, max(size, len(self.model)) + PAGE, 0)

    def into_cleancache(self, rng: random.Random) -> None:
        """Dirty pages to the disk, evict: the written-back pages go to
        cleancache; half the time read them back from the disk and evict
        them again, so that read pages go there too. Then read a random few
        back into the page cache, so the next change meets pages in both
        places."""
        os.fsync(self.fd)
        self.evict()
        if rng.random() < 0.5:
            self.read()
            self.evict()
        for _ in range(rng.randrange(4)):
            os.pread(self.fd, PAGE * rng.randrange(1, 4), PAGE * rng.randrange(self.pages + 1))


def disk_page(path: Path, page: int) -> bytes:
    """Page ``page`` of ``path`` as the disk has it (O_DIRECT: no cache)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    try:
        with mmap.mmap(-1, PAGE) as buf:        # page-aligned, as O_DIRECT wants
            n = os.preadv(fd, [buf], page * PAGE)
            return bytes(buf[:n])
    finally:
        os.close(fd)


def first_mismatch(got: bytes, want: bytes) -> Optional[int]:
    if got == want:
        return None
    n = min(len(got), len(want))
    return next((i for i in range(n) if got[i] != want[i]), n)


def random_op(f: ModelFile, rng: random.Random) -> str:
    """Apply one random change to ``f`` and its model; return what it was."""
    n = f.pages
    size = len(f.model)
    while True:
        kind = rng.choice(("write", "punch", "zero", "collapse", "insert", "shrink",
                           "grow"))
        k = rng.randrange(1, 9)
        if kind == "write":
            first = rng.randrange(0, min(n + 2, MODEL_MAX_PAGES - k) + 1)
            f.write(first, k)
            return f"write pages {first}+{k}"
        if kind in ("punch", "zero") and n >= 1:
            first = rng.randrange(n)
            k = min(k, n - first)
            mode = (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE if kind == "punch"
                    else FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE)
            fallocate(f.fd, mode, first * PAGE, k * PAGE)
            f.model[first * PAGE:(first + k) * PAGE] = bytes(k * PAGE)
            return f"{kind} pages {first}+{k}"
        if kind == "collapse" and n > k + 1:
            # the range must end before the end of the file
            first = rng.randrange(n - k)
            if (first + k) * PAGE >= size:
                continue
            fallocate(f.fd, FALLOC_FL_COLLAPSE_RANGE, first * PAGE, k * PAGE)
            del f.model[first * PAGE:(first + k) * PAGE]
            return f"collapse pages {first}+{k}"
        if kind == "insert" and n >= 1 and n + k <= MODEL_MAX_PAGES:
            first = rng.randrange(n)      # must start before the end of the file
            fallocate(f.fd, FALLOC_FL_INSERT_RANGE, first * PAGE, k * PAGE)
            f.model[first * PAGE:first * PAGE] = bytes(k * PAGE)
            return f"insert pages {first}+{k}"
        if kind == "shrink" and size > PAGE:
            # page-aligned half the time, inside a page otherwise
            new = rng.randrange(PAGE, size)
            if rng.random() < 0.5:
                new -= new % PAGE
            os.ftruncate(f.fd, new)
            del f.model[new:]
            return f"ftruncate shrink {size} -> {new}"
        if kind == "grow" and size < MODEL_MAX_PAGES * PAGE - 8 * PAGE:
            new = size + rng.randrange(1, 8 * PAGE)
            os.ftruncate(f.fd, new)
            f.model.extend(bytes(new - size))
            return f"ftruncate grow {size} -> {new}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_fallocate_truncate_match_model(backend: str, ext4: Path) -> None:
    require_backend(backend)
    seed = int(os.environ.get("KZT_COHERENCE_SEED", "2026"))
    rng = random.Random(seed)
    files = [ModelFile(ext4 / f"model{i}", i) for i in range(MODEL_FILES)]
    history: list[str] = []
    before = cache_counters()
    try:
        for f in files:
            f.write(0, MODEL_PAGES)
            os.fsync(f.fd)
            f.evict()
        written = kg.delta(cache_counters(), before)
        if backend == "kztmem":
            # Written back and evicted, never read: they are on the disk, so
            # they must be put (series patch "ext4: mark written-back pages
            # mapped to disk"), and the model below starts from them.
            pages = MODEL_FILES * MODEL_PAGES
            assert written.get("eph_puts", 0) >= pages * 8 // 10, \
                f"evicting {pages} written-back pages stored fewer in kztmem: {written}"
    except BaseException:
        for f in files:      # open files would keep the disk from unmounting
            f.close()
        raise
    # One process only evicts, one reads a few pages (and their readahead)
    # before each eviction: the mappings keep going from full to empty.
    evictors = [subprocess.Popen(
        [str(kg.workload("cacherace")), "evict", *(str(f.path) for f in files),
         "--seconds", "3600", "--seed", str(seed + n), "--json", *extra],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n, extra in enumerate(([], ["--read"]))]
    try:
        deadline = time.monotonic() + MODEL_SECONDS
        for op in range(MODEL_OPS):
            if time.monotonic() > deadline:
                break
            f = files[op % MODEL_FILES]
            f.into_cleancache(rng)
            desc = random_op(f, rng)
            history.append(f"{op}: model{f.fid} {desc}")
            for when in ("as cached", "after an eviction"):
                if when != "as cached":
                    f.evict()
                got, want = f.read(), bytes(f.model)
                bad = first_mismatch(got, want)
                if bad is None:
                    continue
                page = bad // PAGE
                pytest.fail(
                    f"seed {seed}, op {op} ({desc}) on {f.path.name}, read {when}: first "
                    f"difference at byte {bad} (page {page}): expected "
                    f"{describe_page(want[page * PAGE:(page + 1) * PAGE])}, got "
                    f"{describe_page(got[page * PAGE:(page + 1) * PAGE])}, on the disk "
                    f"{describe_page(disk_page(f.path, page))}; file size "
                    f"{os.fstat(f.fd).st_size}, model {len(want)}; last ops: {history[-6:]}")
    finally:
        # closing their stdin stops them
        outputs = [e.communicate(timeout=60) for e in evictors]
        for f in files:
            f.close()
    d = kg.delta(cache_counters(), before)
    rounds = [int(last_json(out).get("rounds", 0)) for out, _ in outputs]
    kg.save_result(f"coherence-model-{backend}.json",
                {"seed": seed, "ops": len(history), "evictor_rounds": rounds,
                 "counters_delta": d})
    print(f"seed {seed}: {len(history)} operations, evictor rounds {rounds}, counters {d}")
    for e, (out, err), n in zip(evictors, outputs, rounds):
        assert e.returncode == 0 and n > 0, f"an evictor did not run: {out} {err}"
    assert len(history) >= 200, f"only {len(history)} operations in {MODEL_SECONDS} s"
    if backend == "kztmem":
        assert d.get("eph_puts", 0) > 0, f"no page went into kztmem: {d}"
        assert d.get("eph_gets", 0) > 0, f"no read was served by kztmem: {d}"


# -------------------------------------------- 3. big invalidations, debug

#: Console reports of a CPU held too long or of a locking problem (the same
#: kinds tooling/kzt/console.py fails a run on, checked here too so that the
#: test itself fails and says when).
STALL_RE = re.compile(r"soft lockup|hard LOCKUP|rcu_\w+ (self-)?detected stall|"
                      r"detected (expedited )?stalls on CPUs|blocked for more than \d+ seconds|"
                      r"possible (circular|recursive) locking|inconsistent lock state|"
                      r"BUG: sleeping function called|suspicious RCU usage|"
                      r"BUG: scheduling while atomic")


#: What the soft-lockup detector would report (2 x watchdog_thresh's 10 s);
#: the test measures it itself, since the kernels here are built without
#: CONFIG_SOFTLOCKUP_DETECTOR.
SOFT_LOCKUP_SECONDS = 20.0


class Heartbeat(threading.Thread):
    """Wakes every 5 ms on one CPU and keeps the longest gap between two
    wake-ups: on a kernel without preemption, that is the longest stretch
    the kernel kept the CPU from it, e.g. in a loop without cond_resched()."""

    def __init__(self, cpu: int) -> None:
        super().__init__(daemon=True)
        self.cpu, self.longest, self.stop = cpu, 0.0, threading.Event()

    def run(self) -> None:
        os.sched_setaffinity(0, {self.cpu})
        last = time.monotonic()
        while not self.stop.wait(0.005):
            now = time.monotonic()
            self.longest = max(self.longest, now - last)
            last = now


_STAMP_RE = re.compile(r"^\[\s*(\d+\.\d+)\]")


def kernel_log_since(uptime: float) -> list[str]:
    """Kernel log lines stamped at or after ``uptime`` (seconds since boot;
    the printk clock and /proc/uptime agree to well within the 1 s margin)."""
    lines = []
    for line in kg.run([kg.tool("dmesg")]).stdout.splitlines():
        m = _STAMP_RE.match(line)
        if m and float(m[1]) >= uptime - 1.0:
            lines.append(line)
    return lines


def uptime() -> float:
    return float(Path("/proc/uptime").read_text().split()[0])


def debug_locks() -> Optional[int]:
    """lockdep's debug_locks (1: still checking), None without lockdep."""
    try:
        text = Path("/proc/lockdep_stats").read_text()
    except OSError:
        return None
    m = re.search(r"debug_locks:\s+(\d+)", text)
    return int(m[1]) if m else None


@pytest.mark.debug_kernel
@pytest.mark.kzt_boot(append="kztmem " + kg.SLUB_DEBUG_FAILSLAB)
def test_big_invalidation_no_stall(workloads, ext4: Path) -> None:
    require_backend("kztmem")
    size_mib = 32
    for name in ("trunc", "unlink"):
        w = kg.run_filecheck("write", ext4 / name, files=1, size=f"{size_mib}M",
                             pattern="text", seed=7)
        assert w.returncode == 0, w.describe()
    kg.drop_caches(1)
    for name in ("trunc", "unlink"):             # from the disk: eligible now
        r = kg.run_filecheck("verify", ext4 / name, files=1, size=f"{size_mib}M",
                             pattern="text", seed=7)
        assert r.returncode == 0 and r.mismatches == 0, r.describe()
    before = kg.kztmem_ints()
    kg.drop_caches(1)
    full = kg.kztmem_ints()
    pages = 2 * (size_mib << 20) // PAGE
    stored = full["curr_eph_pampd_count"] - before["curr_eph_pampd_count"]
    assert stored >= pages * 7 // 10, \
        f"only {stored} of the {pages} evicted pages are held by kztmem: {kg.delta(full, before)}"
    started = uptime()

    # Everything on CPU 0, with a heartbeat there that the invalidation
    # must let run.
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    beat = Heartbeat(0)
    beat.start()
    try:
        time.sleep(0.1)
        t0 = time.monotonic()
        os.truncate(ext4 / "trunc" / "kzt-file-0000", 0)
        t1 = time.monotonic()
        (ext4 / "unlink" / "kzt-file-0000").unlink()
        os.sync()
        t2 = time.monotonic()
        time.sleep(0.1)
    finally:
        beat.stop.set()
        beat.join()
        os.sched_setaffinity(0, cpus)

    after = kg.kztmem_ints()
    info = (f"{stored} pages in kztmem; truncate {t1 - t0:.2f} s, unlink + sync "
            f"{t2 - t1:.2f} s; longest the CPU was kept from its heartbeat "
            f"{beat.longest:.2f} s; curr_eph_pampd_count {full['curr_eph_pampd_count']} -> "
            f"{after['curr_eph_pampd_count']}, zbud_curr_raw_pages "
            f"{full['zbud_curr_raw_pages']} -> {after['zbud_curr_raw_pages']}")
    print(info)
    kg.save_result("coherence-big-invalidation.json",
                {"info": info, "before": full, "after": after})
    reports = [line for line in kernel_log_since(started) if STALL_RE.search(line)]
    assert not reports, f"the invalidations stalled a CPU or upset lockdep ({info}):\n" + \
        "\n".join(reports[:20])
    assert debug_locks() in (None, 1), "lockdep switched itself off: nothing was checked"
    assert beat.longest < SOFT_LOCKUP_SECONDS, \
        f"the invalidations kept CPU 0 for {beat.longest:.1f} s without rescheduling: {info}"
    assert after["curr_eph_pampd_count"] <= full["curr_eph_pampd_count"] - stored * 9 // 10, \
        f"truncate and unlink left the files' pages in kztmem: {info}"
    assert after["zbud_curr_raw_pages"] < full["zbud_curr_raw_pages"], \
        f"no zbud frame was freed: {info}"
