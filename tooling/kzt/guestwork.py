"""Runs inside the guest: one workload from its data file, then counters.

`python -m kzt.guestwork WORKLOAD.json OUT.json` prepares the disks the
workload names (swap on kzt-swap, ext4 on kzt-ext4), runs its program,
and writes the program's result with before/after counters to OUT.json.
It prints a counters table; its exit status is the program's.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "vm-tests"))

import kztguest as kg  # noqa: E402

from .guest import snapshot  # noqa: E402


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    out = Path(argv[1])
    disks = set(spec.get("disks", []))
    swap = None
    mnt = None
    if kg.SWAP_SERIAL in disks:
        swap = kg.make_swap(kg.find_disk(kg.SWAP_SERIAL))
        swap.on()
    if kg.EXT4_SERIAL in disks:
        dev = kg.find_disk(kg.EXT4_SERIAL)
        kg.mkfs_ext4(dev)
        mnt = tempfile.mkdtemp(prefix="kzt-ext4-")
        kg.mount(dev, mnt)
    prog = str(kg.workload(spec["program"]))
    args = [a.replace("{ext4_mount}", mnt or "/tmp") for a in spec.get("args", [])]
    before = snapshot()
    t0 = time.monotonic()
    try:
        p = subprocess.run([prog, *args], stdout=subprocess.PIPE, text=True,
                           timeout=float(spec.get("timeout_seconds", 900)))
        rc, stdout = p.returncode, p.stdout
    except subprocess.TimeoutExpired as e:
        rc, stdout = 124, str(e.stdout or "")
    seconds = time.monotonic() - t0
    during = snapshot()
    if mnt:
        kg.umount(mnt)
    if swap:
        swap.off()
    after = snapshot()
    print(stdout.strip())
    result = {"workload": spec["name"], "exit_code": rc, "seconds": round(seconds, 2),
              "stdout": stdout, "before": before, "during": during, "after": after}
    out.write_text(json.dumps(result, indent=1) + "\n")
    return rc


if __name__ == "__main__":
    os.environ.setdefault("KZT_GUEST", "1")
    sys.exit(main(sys.argv[1:]))
