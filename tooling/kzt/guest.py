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
    snap["uname"] = os.uname().release
    with open("/proc/cmdline") as f:
        snap["cmdline"] = f.read().strip()
    return snap


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
