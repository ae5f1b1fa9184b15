"""Runs inside the guest: pytest over vm-tests, then a counters snapshot.

Started by `kzt test` as `python -m kzt.guest RUN_DIR GROUP [pytest args]`.
Only the standard library and pytest are used here.  On a kernel with
kmemleak (the debug flavour) the leaks found at boot are cleared before
the tests and a scan after them fails the group if anything leaked.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SNAPSHOT_DIRS = {
    "kztmem": "/sys/kernel/mm/kztmem",
    "frontswap": "/sys/kernel/debug/frontswap",
    "cleancache": "/sys/kernel/debug/cleancache",
    "zswap": "/sys/kernel/debug/zswap",
    "zswap_params": "/sys/module/zswap/parameters",
}


def read_dir(path: str) -> dict[str, str]:
    """Every readable file of a sysfs/debugfs directory, as text."""
    out: dict[str, str] = {}
    d = Path(path)
    if not d.is_dir():
        return out
    for f in sorted(d.iterdir()):
        try:
            if f.is_file():
                out[f.name] = f.read_text().strip()
        except OSError as e:
            out[f.name] = f"<{e.strerror}>"
    return out


def snapshot() -> dict[str, object]:
    if not os.path.ismount("/sys/kernel/debug"):
        subprocess.run(["mount", "-t", "debugfs", "none", "/sys/kernel/debug"],
                       stderr=subprocess.DEVNULL, check=False)
    snap: dict[str, object] = {k: read_dir(v) for k, v in SNAPSHOT_DIRS.items()}
    vm = {}
    with open("/proc/vmstat") as f:
        for line in f:
            k, v = line.split()
            vm[k] = int(v)
    snap["vmstat"] = vm
    mem = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            mem[k] = int(v.split()[0])
    snap["meminfo_kib"] = mem
    snap["zram"] = {d.name: {"mm_stat": (d / "mm_stat").read_text().strip()}
                    for d in Path("/sys/block").glob("zram*") if (d / "mm_stat").exists()}
    snap["diskstats"] = _diskstats()
    snap["uname"] = os.uname().release
    with open("/proc/cmdline") as f:
        snap["cmdline"] = f.read().strip()
    return snap


def _diskstats() -> dict[str, dict[str, int]]:
    """Reads and sectors read/written of the virtio disks, by serial."""
    out: dict[str, dict[str, int]] = {}
    for dev in Path("/sys/block").glob("vd*"):
        try:
            serial = (dev / "serial").read_text().strip() or dev.name
            f = (dev / "stat").read_text().split()
        except OSError:
            continue
        out[serial] = {"reads": int(f[0]), "sectors_read": int(f[2]),
                       "writes": int(f[4]), "sectors_written": int(f[6])}
    return out


KMEMLEAK = Path("/sys/kernel/debug/kmemleak")
#: kmemleak reports an object only once it is this old (its min_age).
KMEMLEAK_MIN_AGE = 5.0


def _kmemleak(command: str) -> None:
    with open(KMEMLEAK, "w") as f:
        f.write(command)


def kmemleak_baseline() -> bool:
    """Forget what leaked before the tests (boot); False without kmemleak.

    The automatic scan thread is stopped first: its console report of a
    boot-time suspect would otherwise fail the run.
    """
    if not KMEMLEAK.exists():
        return False
    _kmemleak("scan=off")
    _kmemleak("scan")
    _kmemleak("clear")
    return True


def kmemleak_report(out: Path) -> int:
    """Scan for leaks made during the tests; write them to ``out``; count
    them.  -1 when kmemleak switched itself off meanwhile (no check)."""
    import time
    time.sleep(KMEMLEAK_MIN_AGE + 1)
    try:
        _kmemleak("scan")
        _kmemleak("scan")
    except OSError as e:
        print(f"kzt: kmemleak could not scan after the tests ({e.strerror}): it switched "
              "itself off, see the console (memory pool empty?); no leak check was made",
              file=sys.stderr)
        return -1
    text = KMEMLEAK.read_text()
    leaks = text.count("unreferenced object")
    out.write_text(text)
    if leaks:
        print(f"kzt: kmemleak found {leaks} unreferenced object(s) after the tests "
              f"(full report: {out}):\n{text[:6000]}", file=sys.stderr)
    else:
        print("kzt: kmemleak scan after the tests: no leaks")
    return leaks


def main(argv: list[str]) -> int:
    run_dir, index, group, *rest = argv
    import pytest
    junit = Path(run_dir) / f"junit-{index}.xml"
    snapshot()          # mounts debugfs
    leak_check = kmemleak_baseline()
    code = pytest.main(["-p", "kzt.guestplugin", "-p", "no:cacheprovider",
                        "--kzt-group", group, f"--junitxml={junit}", "-rs", *rest])
    if leak_check and kmemleak_report(Path(run_dir) / f"kmemleak-{index}.txt") and code == 0:
        code = 1
    try:
        (Path(run_dir) / f"counters-{index}.json").write_text(
            json.dumps(snapshot(), indent=1) + "\n")
    except OSError as e:
        print(f"kzt: could not write the counters snapshot: {e}", file=sys.stderr)
    return int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
