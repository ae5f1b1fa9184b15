"""The guest library: what vm-tests and kzt.guest.work do in the guest.

Everything here runs inside the QEMU guest that virtme-ng boots (as root,
on the host's root filesystem), with the standard library only. It finds
the disks the toolkit attached, prepares swap and ext4 on them, reads
kernel counters and drives the workload programs from vm-tests/workloads.
vm-tests import it as ``from kzt.guest import lib as kg``.

Disks are found by the serial the toolkit gave them (``kzt boot --disk
NAME=FILE`` shows up as /dev/vdX with /sys/block/vdX/serial == NAME); a
device without one of our serials is never touched.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import selectors
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, Any, Callable, Optional, Sequence, Union

from .seam import EXT4_DISK, SWAP_DISK

SWAP_SERIAL = SWAP_DISK
EXT4_SERIAL = EXT4_DISK

KZTMEM_SYSFS = Path("/sys/kernel/mm/kztmem")
ZSWAP_PARAMS = Path("/sys/module/zswap/parameters")
DEBUGFS = Path("/sys/kernel/debug")

#: vm-tests/ of the checkout this package is in (tooling/kzt/guest/lib.py)
VM_TESTS_DIR = Path(__file__).resolve().parents[3] / "vm-tests"
DEFAULT_WORKLOADS_DIR = VM_TESTS_DIR / "workloads" / "bin"

#: Upper bound for one workload run under TCG (about 10x slower than KVM).
WORKLOAD_TIMEOUT = 900.0

Counter = Union[int, str]


class GuestEnvError(Exception):
    """A problem with the guest environment; the message says what to do."""


class DiskNotFound(GuestEnvError):
    def __init__(self, serial: str, seen: dict[str, str]) -> None:
        found = ", ".join(f"{dev} (serial {s!r})" for s, dev in sorted(seen.items()))
        super().__init__(
            f"no virtio disk with serial {serial!r} in this guest; boot it with "
            f"--disk {serial}=IMAGE (disks seen: {found or 'none'})"
        )
        self.serial = serial


class WorkloadMissing(GuestEnvError):
    pass


class CommandFailed(GuestEnvError):
    def __init__(self, argv: Sequence[str], proc: "subprocess.CompletedProcess[str]") -> None:
        out = (proc.stdout or "").strip()
        err = (proc.stderr or "").strip()
        super().__init__(
            f"command {list(argv)} exited {proc.returncode}"
            + (f"\nstdout: {out}" if out else "")
            + (f"\nstderr: {err}" if err else "")
        )
        self.returncode = proc.returncode


# ---------------------------------------------------------------- processes

def tool(name: str) -> str:
    """Absolute path of a system tool, looking in the sbin dirs too."""
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin:/usr/bin:/bin"
    found = shutil.which(name, path=path)
    if not found:
        raise GuestEnvError(f"{name} not found in PATH or /usr/sbin, /sbin: install it on the host")
    return found


def run(argv: Sequence[str], timeout: float = 120.0, check: bool = True,
        make_it_fail: bool = False) -> "subprocess.CompletedProcess[str]":
    """Run a command (argument list, no shell), capturing text output.

    With ``make_it_fail`` the command is a fault-injection target (see
    FaultInjection).
    """
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                          preexec_fn=_mark_make_it_fail if make_it_fail else None)
    if check and proc.returncode != 0:
        raise CommandFailed(argv, proc)
    return proc


# ------------------------------------------------------------------- guest

def kernel_release() -> str:
    return os.uname().release


def is_kernel_6_1(release: Optional[str] = None) -> bool:
    """True for 6.1 and 6.1.x releases (not 6.10, 6.11, ...)."""
    rel = kernel_release() if release is None else release
    return re.match(r"6\.1(?![0-9])", rel) is not None


def in_kzt_guest() -> bool:
    """True inside a virtme-ng guest (or when KZT_GUEST=1 forces it)."""
    forced = os.environ.get("KZT_GUEST")
    if forced is not None:
        return forced == "1"
    try:
        cmdline = Path("/proc/cmdline").read_text()
    except OSError:
        return False
    return "virtme" in cmdline


# ------------------------------------------------------------------- disks

def block_serials(sys_block: Path = Path("/sys/block")) -> dict[str, str]:
    """Map serial -> /dev path for every block device that reports one."""
    out: dict[str, str] = {}
    if not sys_block.is_dir():
        return out
    for dev in sorted(sys_block.iterdir()):
        try:
            serial = (dev / "serial").read_text().strip()
        except OSError:
            continue
        if serial:
            out[serial] = f"/dev/{dev.name}"
    return out


def find_disk(serial: str) -> str:
    """/dev path of the disk the toolkit attached as ``serial``."""
    seen = block_serials()
    if serial not in seen:
        raise DiskNotFound(serial, seen)
    return seen[serial]


# -------------------------------------------------------------------- swap

def active_swaps() -> list[str]:
    """Device paths listed in /proc/swaps."""
    lines = Path("/proc/swaps").read_text().splitlines()[1:]
    return [line.split()[0] for line in lines if line.strip()]


@dataclasses.dataclass
class SwapDevice:
    path: str

    @property
    def active(self) -> bool:
        return os.path.realpath(self.path) in {os.path.realpath(p) for p in active_swaps()}

    def on(self) -> None:
        if not self.active:
            run([tool("swapon"), self.path])

    def off(self, timeout: float = WORKLOAD_TIMEOUT) -> None:
        if self.active:
            run([tool("swapoff"), self.path], timeout=timeout)


def make_swap(path: str) -> SwapDevice:
    """mkswap ``path`` (after a swapoff if it is in use) and return it, off."""
    dev = SwapDevice(path)
    dev.off()
    run([tool("mkswap"), "-f", path])
    return dev


def device_size_mib(path: str) -> int:
    name = Path(os.path.realpath(path)).name
    sectors = int(Path(f"/sys/class/block/{name}/size").read_text())
    return sectors * 512 // (1 << 20)


# -------------------------------------------------------------------- ext4

def mkfs_ext4(path: str, block_size: Optional[int] = None) -> None:
    """mkfs.ext4; pass block_size=4096 where cleancache must see the file
    system (it ignores blocks smaller than a page, and mke2fs picks 1 KiB
    blocks on small disks)."""
    argv = [tool("mkfs.ext4"), "-F", "-q"]
    if block_size is not None:
        argv += ["-b", str(block_size)]
    run([*argv, path], timeout=300)


def is_mounted(mountpoint: Union[str, Path]) -> bool:
    target = os.path.realpath(mountpoint)
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 1 and fields[1] == target:
            return True
    return False


def mount(dev: str, mountpoint: Union[str, Path], fstype: str = "ext4",
          options: Optional[str] = None) -> None:
    argv = [tool("mount"), "-t", fstype]
    if options:
        argv += ["-o", options]
    run(argv + [dev, str(mountpoint)])


def umount(mountpoint: Union[str, Path]) -> None:
    if is_mounted(mountpoint):
        os.sync()
        run([tool("umount"), str(mountpoint)])


# --------------------------------------------------------- counters, sysfs

def _parse(text: str) -> Counter:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        return text


def read_value(path: Union[str, Path]) -> Counter:
    """One sysfs/debugfs value: an int if it parses as one, else the text."""
    return _parse(Path(path).read_text())


def save_result(name: str, data: dict[str, Any]) -> None:
    """Keep a test's figures as JSON in the run directory (build/runs/<id>/),
    when the host passed one (``KZT_RUN_DIR``)."""
    run_dir = os.environ.get("KZT_RUN_DIR")
    if run_dir and os.access(run_dir, os.W_OK):
        Path(run_dir, name).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def read_dir(directory: Union[str, Path]) -> dict[str, Counter]:
    """Every readable regular file of a sysfs/debugfs directory, by name
    ({} when the directory is absent)."""
    out: dict[str, Counter] = {}
    if not Path(directory).is_dir():
        return out
    for entry in sorted(Path(directory).iterdir()):
        if not entry.is_file():
            continue
        try:
            out[entry.name] = read_value(entry)
        except OSError:
            continue    # write-only or not readable right now
    return out


def read_text(path: Union[str, Path]) -> Optional[str]:
    """A file's stripped text, or None when it cannot be read."""
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def kztmem_present() -> bool:
    return KZTMEM_SYSFS.is_dir()


def kernel_config() -> dict[str, str]:
    """The running kernel's configuration (/proc/config.gz), or {}."""
    import gzip
    try:
        text = gzip.decompress(Path("/proc/config.gz").read_bytes()).decode()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        if line.startswith("CONFIG_") and "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out


def booted_with(param: str) -> bool:
    return param in Path("/proc/cmdline").read_text().split()


def kztmem_counters() -> dict[str, Counter]:
    """All of /sys/kernel/mm/kztmem/* (counters and tunables)."""
    if not kztmem_present():
        raise GuestEnvError(f"{KZTMEM_SYSFS} is absent: kernel without CONFIG_KZTMEM "
                         "or booted without the 'kztmem' parameter")
    return read_dir(KZTMEM_SYSFS)


def int_values(values: dict[str, Counter]) -> dict[str, int]:
    """Only the integer entries of a read_dir()-style dict."""
    return {k: v for k, v in values.items() if isinstance(v, int)}


def write_sysfs(path: Union[str, Path], data: Union[str, bytes]) -> int:
    """Write ``data`` with one write(2), exactly as given (no newline added).

    Errors surface as OSError with the kernel's errno (e.g. EINVAL), which a
    plain ``Path.write_text`` would also raise but possibly after a partial
    buffered write; this keeps the syscall explicit.
    """
    raw = data.encode() if isinstance(data, str) else data
    fd = os.open(str(path), os.O_WRONLY)
    try:
        return os.write(fd, raw)
    finally:
        os.close(fd)


def _kv_file(path: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in Path(path).read_text().splitlines():
        fields = line.replace(":", " ").split()
        if len(fields) >= 2:
            try:
                out[fields[0]] = int(fields[1])
            except ValueError:
                pass
    return out


def vmstat() -> dict[str, int]:
    return _kv_file("/proc/vmstat")


def meminfo_kib() -> dict[str, int]:
    return _kv_file("/proc/meminfo")


def drop_caches(level: int = 3) -> None:
    os.sync()
    write_sysfs("/proc/sys/vm/drop_caches", str(level))


def resident_bytes(path: Union[str, Path]) -> int:
    """Bytes of ``path`` in the page cache (util-linux fincore).

    drop_caches does not evict a page something still holds a reference
    to (a per-CPU LRU batch does: up to 15 pages a CPU); a test that
    expects every page of a file to come from the disk asks this first.
    """
    out = run([tool("fincore"), "--bytes", "--noheadings", "--output", "RES",
               str(path)]).stdout.split()
    return int(out[0]) if out else 0


def ensure_debugfs() -> Path:
    """Mount debugfs on /sys/kernel/debug unless it already is."""
    if not is_mounted(DEBUGFS):
        if not DEBUGFS.is_dir():
            raise GuestEnvError(f"{DEBUGFS} missing: kernel without CONFIG_DEBUG_FS")
        mount("none", DEBUGFS, fstype="debugfs")
    return DEBUGFS


def zswap_present() -> bool:
    return (ZSWAP_PARAMS / "enabled").exists()


def zswap_stats() -> dict[str, Counter]:
    directory = ensure_debugfs() / "zswap"
    if not directory.is_dir():
        raise GuestEnvError(f"{directory} missing: zswap has no debugfs stats here")
    return read_dir(directory)


# --------------------------------------------------------------- workloads

def workloads_dir() -> Path:
    return Path(os.environ.get("KZT_WORKLOADS_DIR") or DEFAULT_WORKLOADS_DIR)


def workload(name: str) -> Path:
    """Path of a built workload binary."""
    path = workloads_dir() / name
    if not os.access(path, os.X_OK):
        raise WorkloadMissing(
            f"workload {name!r} not built: {path} is missing; run "
            f"`make -C {VM_TESTS_DIR / 'workloads'}` on the host or set KZT_WORKLOADS_DIR")
    return path


def swap_pressure_mib(swap: Optional[SwapDevice] = None, extra_mib: int = 128) -> int:
    """A working-set size that cannot fit in this guest's free memory.

    MemAvailable + ``extra_mib``: at least ``extra_mib`` of anonymous pages
    must go to swap. Bounded by the swap device size (64 MiB to spare)
    when one is given. In a 384M guest this is ~440 MiB with the default.
    Every MiB costs time under TCG: ask only for as much pressure as the
    test needs.
    """
    avail = meminfo_kib()["MemAvailable"] // 1024
    size = avail + extra_mib
    if swap is not None:
        limit = device_size_mib(swap.path) - 64
        if limit < size:
            raise GuestEnvError(f"swap disk {swap.path} ({limit + 64} MiB) is too small for a "
                             f"{size} MiB working set: make it >= {size + 128} MiB")
    return size


@dataclasses.dataclass
class WorkloadResult:
    """The outcome of one memhog or filecheck run."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    summary: dict[str, Any]   # the --json line

    @property
    def mismatches(self) -> int:
        return int(self.summary.get("mismatches", -1))

    def describe(self) -> str:
        return (f"{' '.join(self.argv)} -> exit {self.returncode}\n"
                f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}")


def summary_line(stdout: str) -> dict[str, Any]:
    """A workload program's --json line (the last line that parses as an object)."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            try:
                obj = json.loads(line)
                return obj if isinstance(obj, dict) else {}
            except ValueError:
                break
    return {}


class Workload:
    """A running workload program that may stop at ``paused stage=NAME``.

    Use as a context manager: a program still running on exit is killed.
    """

    def __init__(self, argv: Sequence[str], make_it_fail: bool = False,
                 cgroup: Optional[Path] = None) -> None:
        self.argv = [str(a) for a in argv]
        self._stderr: IO[bytes] = tempfile.TemporaryFile()
        procs = str(cgroup / "cgroup.procs") if cgroup is not None else None

        def preexec() -> None:
            if procs is not None:
                join_cgroup(procs)
            if make_it_fail:
                _mark_make_it_fail()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr,
                                     preexec_fn=preexec if procs or make_it_fail else None)
        self._out = b""
        self._lines_seen = 0

    def __enter__(self) -> "Workload":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()

    def _read_more(self, deadline: float) -> bool:
        """Read what stdout has; False at EOF."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise TimeoutError(f"{self.argv[0]}: no output within the timeout")
        chunk = os.read(fd, 65536)
        self._out += chunk
        return bool(chunk)

    def wait_stage(self, stage: str, timeout: float = WORKLOAD_TIMEOUT) -> None:
        """Block until the program prints ``paused stage=<stage>``."""
        marker = f"paused stage={stage}".encode()
        deadline = time.monotonic() + timeout
        while True:
            lines = self._out.split(b"\n")
            for line in lines[self._lines_seen:-1]:
                self._lines_seen += 1
                if line.rstrip().endswith(marker):
                    return
            if not self._read_more(deadline):
                rc = self.proc.wait()
                raise GuestEnvError(f"{self.argv[0]} exited {rc} before stage {stage!r}:\n"
                                 f"{self._out.decode(errors='replace')}{self._err_text()}")

    def resume(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()

    def _err_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def finish(self, timeout: float = WORKLOAD_TIMEOUT) -> WorkloadResult:
        """Wait for the program to exit and parse its summary."""
        deadline = time.monotonic() + timeout
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        while self._read_more(deadline):
            pass
        rc = self.proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        out = self._out.decode(errors="replace")
        return WorkloadResult(self.argv, rc, out, self._err_text(), summary_line(out))


def memhog_argv(size_mib: int, pattern: str = "mix", seed: int = 1, passes: int = 1,
                keep_mib: Optional[int] = None, pause: bool = False,
                self_test: bool = False) -> list[str]:
    argv = [str(workload("memhog")), "--size", str(size_mib), "--pattern", pattern,
            "--seed", str(seed), "--passes", str(passes), "--json", "--quiet"]
    if keep_mib is not None:
        argv += ["--keep", str(keep_mib)]
    if pause:
        argv.append("--pause")
    if self_test:
        argv.append("--self-test")
    return argv


def run_memhog(size_mib: int, pattern: str = "mix", timeout: float = WORKLOAD_TIMEOUT,
               make_it_fail: bool = False, **kwargs: object) -> WorkloadResult:
    """Run memhog to completion (no pauses)."""
    with Workload(memhog_argv(size_mib, pattern, **kwargs),  # type: ignore[arg-type]
                  make_it_fail=make_it_fail) as w:
        return w.finish(timeout)


def run_filecheck(mode: str, directory: Union[str, Path], files: int = 8, size: str = "1M",
                  pattern: str = "mix", seed: int = 1, self_test: bool = False,
                  timeout: float = WORKLOAD_TIMEOUT, passes: int = 1,
                  cgroup: Optional[Path] = None) -> WorkloadResult:
    """Run filecheck to completion, inside ``cgroup`` if given (the page
    cache it fills is then charged there)."""
    argv = [str(workload("filecheck")), mode, str(directory), "--files", str(files),
            "--size", size, "--pattern", pattern, "--seed", str(seed), "--passes", str(passes),
            "--json", "--quiet"]
    if self_test:
        argv.append("--self-test")
    with Workload(argv, cgroup=cgroup) as w:
        return w.finish(timeout)


# ----------------------------------------------------------------- tunables

class Tunable:
    """A writable sysfs value whose original content is restored on exit."""

    def __init__(self, path: Union[str, Path]) -> None:
        self.path = Path(path)
        self.original = self.path.read_text().strip()

    def read(self) -> Counter:
        return read_value(self.path)

    def write(self, value: Union[str, bytes, int]) -> int:
        return write_sysfs(self.path, str(value) if isinstance(value, int) else value)

    def restore(self) -> None:
        if self.path.read_text().strip() != self.original:
            write_sysfs(self.path, self.original)

    def __enter__(self) -> "Tunable":
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()


def settled(read: "Callable[[], dict[str, Any]]", keys: Sequence[str],
            timeout: float = 60.0) -> dict[str, Any]:
    """``read()`` once ``keys`` hold still across two reads half a second apart.

    The counter files are read one by one while kswapd may still be
    storing pages, so related counters (a failed store and its reason)
    can be caught half-updated; wait until reclaim has settled.
    """
    deadline = time.monotonic() + timeout
    last = read()
    while True:
        time.sleep(0.5)
        now = read()
        if all(now.get(k) == last.get(k) for k in keys) or time.monotonic() > deadline:
            return now
        last = now


def kztmem_ints() -> dict[str, int]:
    """kztmem's integer counters (the histograms left out)."""
    return int_values(kztmem_counters())


def kztmem_and_vmstat() -> dict[str, int]:
    """kztmem's integer counters, and /proc/vmstat with a ``vm_`` prefix."""
    values = kztmem_ints()
    values.update({"vm_" + k: v for k, v in vmstat().items()})
    return values


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    """after - before, key by key (a key new in ``after`` counts from 0)."""
    return {k: after[k] - before.get(k, 0) for k in after}


# ---------------------------------------------------------- fault injection

FAULT_ATTRS = ("failslab", "fail_page_alloc")
SLAB_SYSFS = Path("/sys/kernel/slab")
#: The slab caches kztmem allocates from while storing a page.
KZTMEM_SLAB_CACHES = ("tmem_obj", "tmem_objnode", "kzt_pampd", "kzt_eph_entry")
#: Boot argument that marks them for failslab's cache-filter (flag A).
SLUB_DEBUG_FAILSLAB = "slub_debug=A," + ",".join(KZTMEM_SLAB_CACHES)


def _failslab_flag(cache: str) -> bool:
    try:
        return (SLAB_SYSFS / cache / "failslab").read_text().strip() == "1"
    except OSError:
        return False


# ------------------------------------------------------------- cgroups

CGROUP_ROOT = Path("/sys/fs/cgroup")


def enable_memory_cgroups() -> None:
    """cgroup v2 mounted at CGROUP_ROOT, its memory controller on for children."""
    if not (CGROUP_ROOT / "cgroup.controllers").exists():
        run([tool("mount"), "-t", "cgroup2", "none", str(CGROUP_ROOT)])
    controllers = (CGROUP_ROOT / "cgroup.controllers").read_text().split()
    if "memory" not in controllers:
        raise GuestEnvError("the kernel has no memory controller (CONFIG_MEMCG); "
                            f"cgroup.controllers: {' '.join(controllers) or '-'}")
    write_sysfs(CGROUP_ROOT / "cgroup.subtree_control", "+memory")


def make_memory_cgroup(name: str, settings: dict[str, str]) -> Path:
    """A child cgroup of the root with its memory.* files set, e.g.
    {"memory.max": "48M"}."""
    enable_memory_cgroups()
    cg = CGROUP_ROOT / name
    cg.mkdir(exist_ok=True)
    for key, value in settings.items():
        write_sysfs(cg / key, value)
    return cg


def remove_cgroup(cg: Path) -> None:
    """rmdir a cgroup whose programs have exited (a dying one may take a moment)."""
    deadline = time.monotonic() + 10
    while cg.exists():
        try:
            cg.rmdir()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def cgroup_ints(cg: Path) -> dict[str, int]:
    """A cgroup's single-value memory files and memory.stat, as integers
    ("max" as -1); memory.stat's keys get a "stat." prefix."""
    out: dict[str, int] = {}
    for name in ("memory.current", "memory.max", "memory.swap.current",
                 "memory.zswap.current", "memory.zswap.max"):
        f = cg / name
        if f.exists():
            v = f.read_text().strip()
            out[name] = -1 if v == "max" else int(v)
    stat = cg / "memory.stat"
    if stat.exists():
        for line in stat.read_text().splitlines():
            key, _, value = line.partition(" ")
            if value.strip().isdigit():
                out["stat." + key] = int(value)
    return out


def join_cgroup(procs_file: str) -> None:
    """preexec_fn: move the child into a cgroup (raw system calls only)."""
    fd = os.open(procs_file, os.O_WRONLY)
    try:
        os.write(fd, b"0")
    finally:
        os.close(fd)


def _mark_make_it_fail() -> None:
    """preexec_fn: make the child (and what it execs) a fault-injection target."""
    with open("/proc/self/make-it-fail", "w") as f:
        f.write("1")


def fault_injection_available() -> bool:
    ensure_debugfs()
    return all((DEBUGFS / a / "probability").is_file() for a in FAULT_ATTRS)


def kswapd_pids() -> list[int]:
    """The kswapd threads: they do most swap-outs and page-cache evictions."""
    pids = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().startswith("kswapd"):
                pids.append(int(comm.parent.name))
        except OSError:
            continue
    return pids


class FaultInjection:
    """failslab and fail_page_alloc armed for the allocations kztmem makes.

    Every allocation kztmem makes while storing a page is GFP_NOWAIT (it
    runs in reclaim), so both attributes are limited to allocations that
    cannot sleep (``ignore-gfp-wait``) and to target tasks (``task-filter``):
    ``pids`` given here (kswapd, typically) and children started with
    ``make_it_fail=True``. The workloads' own page faults can sleep and are
    left alone. Everything is restored on exit, probability first.
    """

    def __init__(self, probability: int = 10, pids: Sequence[int] = (),
                 slab_caches: Sequence[str] = ()) -> None:
        if not 0 < probability <= 100:
            raise ValueError(f"probability {probability} not in 1..100")
        self.settings = {
            "probability": str(probability), "interval": "1", "times": "-1",
            "space": "0", "verbose": "0", "task-filter": "Y", "ignore-gfp-wait": "Y",
        }
        # With slab_caches, failslab fails only those caches (its
        # cache-filter): kztmem's own, not kmemleak's or the rest of the
        # kernel's.  A cache's failslab flag is read-only at run time; it is
        # set at boot with slub_debug=A,<cache>,... (see SLUB_DEBUG_FAILSLAB).
        self.extra = {"failslab": {"cache-filter": "Y" if slab_caches else "N"},
                      "fail_page_alloc": {"ignore-gfp-highmem": "N", "min-order": "0"}}
        self.pids = list(pids)
        self.slab_caches = list(slab_caches)
        self._saved: list[tuple[Path, str]] = []

    def _set(self, path: Path, value: str) -> None:
        self._saved.append((path, path.read_text().strip()))
        write_sysfs(path, value)

    def __enter__(self) -> "FaultInjection":
        if not fault_injection_available():
            raise GuestEnvError("failslab/fail_page_alloc missing in debugfs: kernel without "
                             "CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC and "
                             "CONFIG_FAULT_INJECTION_DEBUG_FS (use `kzt test --debug`)")
        try:
            for attr in FAULT_ATTRS:
                d = DEBUGFS / attr
                for name, value in {**self.settings, **self.extra[attr]}.items():
                    if name != "probability":
                        self._set(d / name, value)
            for pid in self.pids:
                self._set(Path(f"/proc/{pid}/make-it-fail"), "1")
            unflagged = [c for c in self.slab_caches if not _failslab_flag(c)]
            if unflagged:
                raise GuestEnvError(f"slab caches {unflagged} do not have failslab set: boot "
                                 f"with {SLUB_DEBUG_FAILSLAB}")
            for attr in FAULT_ATTRS:
                self._set(DEBUGFS / attr / "probability", self.settings["probability"])
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        # Disarm first (probability 0), then put everything else back.
        for path, value in sorted(reversed(self._saved),
                                  key=lambda pv: pv[0].name != "probability"):
            try:
                write_sysfs(path, value)
            except OSError:
                pass   # a target task that has exited
        self._saved.clear()
