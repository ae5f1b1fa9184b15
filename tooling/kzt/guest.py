"""Runs inside the guest: pytest over vm-tests, then a counters snapshot.

Started by `kzt test` as `python -m kzt.guest RUN_DIR GROUP [pytest args]`.
Only the standard library and pytest are used here.
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


def main(argv: list[str]) -> int:
    run_dir, index, group, *rest = argv
    import pytest
    junit = Path(run_dir) / f"junit-{index}.xml"
    code = pytest.main(["-p", "kzt.guestplugin", "-p", "no:cacheprovider",
                        "--kzt-group", group, f"--junitxml={junit}", "-rs", *rest])
    try:
        (Path(run_dir) / f"counters-{index}.json").write_text(
            json.dumps(snapshot(), indent=1) + "\n")
    except OSError as e:
        print(f"kzt: could not write the counters snapshot: {e}", file=sys.stderr)
    return int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
