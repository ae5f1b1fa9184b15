"""Soak (issue 7): swap and file clients at once, on 2 and 4 vCPUs.

For KZT_SOAK_SECONDS (45 by default; ``kzt soak --minutes N`` sets it)
four clients run side by side in one guest booted with ``kztmem``, each
repeating its run until the time is up:

- memhog through swap, a new seed each pass, every byte verified;
- filecheck cycles on ext4 (write, sync, drop the page cache, verify, drop
  it again, verify: the last read comes largely from cleancache);
- stress-ng vm stressors with --verify;
- fio write + crc32c verify on ext4.

At the end every run of every client must have passed, kztmem's both
halves must have worked (puts and gets), and tearing down must leave
nothing behind: swapoff empties the persistent pool and unmounting the
file system empties the ephemeral one.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from kzt.guest import lib as kg

pytestmark = [pytest.mark.integrity, pytest.mark.soak]

SECONDS = int(os.environ.get("KZT_SOAK_SECONDS", "45"))
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Client:
    """One client: ``one_run`` returns None when a run passed, else why not."""

    name: str
    one_run: Callable[[int], "str | None"]
    runs: int = 0
    failures: list[str] = field(default_factory=list)

    def loop(self, deadline: float) -> None:
        while time.monotonic() < deadline and not self.failures:
            try:
                why = self.one_run(self.runs)
            except Exception as e:  # noqa: BLE001 - reported as a failure
                why = f"{type(e).__name__}: {e}"
            self.runs += 1
            if why:
                self.failures.append(f"run {self.runs}: {why}")


def _result(res: object) -> "str | None":
    rc = res.returncode  # type: ignore[attr-defined]
    if rc == 0:
        return None
    text = (res.stdout + res.stderr)[-1500:]  # type: ignore[attr-defined]
    return f"exit {rc}: {text}"


@pytest.mark.parametrize("cpus", [
    pytest.param(2, marks=pytest.mark.kzt_boot(append="kztmem", cpus=2, memory="384M")),
    pytest.param(4, marks=pytest.mark.kzt_boot(append="kztmem", cpus=4, memory="512M")),
])
def test_soak(cpus: int, workloads: Path, swap: kg.SwapDevice, ext4: Path) -> None:
    assert os.cpu_count() == cpus, f"booted with {os.cpu_count()} CPUs, wanted {cpus}"
    avail = kg.meminfo_kib()["MemAvailable"] // 1024
    hog_mib = avail * 6 // 10
    vm_mib = avail * 4 // 10
    files_dir = ext4 / "filecheck"
    fio_dir = ext4 / "fio"
    stress_dir = ext4 / "stress-ng"     # its scratch files; the cwd is read-only
    for d in (files_dir, fio_dir, stress_dir):
        d.mkdir()

    def memhog(i: int) -> "str | None":
        r = kg.run_memhog(hog_mib, "mix", seed=100 + i)
        if r.returncode or r.mismatches:
            return f"memhog: {r.describe()[-1500:]}"
        return None

    def filecheck(i: int) -> "str | None":
        # cycle: write, drop, read back from the disk; then drop the page
        # cache again (those pages, read from the disk, are put) and read
        # once more, now largely from kztmem: cleancache gets.
        for mode in ("cycle", "verify"):
            if mode == "verify":
                kg.drop_caches(1)
            r = kg.run_filecheck(mode, files_dir, files=16, size="2M", seed=200 + i)
            if r.returncode or r.mismatches:
                return f"filecheck {mode}: {r.describe()[-1500:]}"
        return None

    def stress(i: int) -> "str | None":
        left = max(10, int(deadline - time.monotonic()))
        return _result(kg.run([kg.tool("stress-ng"), "--vm", "1", "--vm-bytes", f"{vm_mib}M",
                               "--vm-keep", "--verify", "--temp-path", str(stress_dir),
                               "--timeout", f"{left}s"],
                              timeout=left + 900, check=False))

    def fio(i: int) -> "str | None":
        return _result(kg.run([kg.tool("fio"), "--name=soak", f"--directory={fio_dir}",
                               "--rw=randwrite", "--bs=16k", "--size=48M", "--numjobs=2",
                               "--ioengine=psync", "--verify=crc32c", "--verify_fatal=1",
                               "--do_verify=1", "--buffer_compress_percentage=60",
                               "--buffer_compress_chunk=4k", "--refill_buffers",
                               f"--randseed={300 + i}"], timeout=1800, check=False))

    clients = [Client("memhog", memhog), Client("filecheck", filecheck),
               Client("stress-ng", stress), Client("fio", fio)]
    before = kg.kztmem_ints()
    deadline = time.monotonic() + SECONDS
    threads = [threading.Thread(target=c.loop, args=(deadline,), name=c.name) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    during = kg.kztmem_ints()

    summary = ", ".join(f"{c.name} {c.runs} run(s)" for c in clients)
    d = {k: during[k] - before[k] for k in before}
    run_dir = os.environ.get("KZT_RUN_DIR")
    if run_dir:     # kzt soak reports from here
        (Path(run_dir) / f"soak-{cpus}cpu.json").write_text(json.dumps({
            "cpus": cpus, "seconds": SECONDS,
            "clients": {c.name: {"runs": c.runs, "failures": c.failures} for c in clients},
            "delta": d}, indent=1) + "\n")
    failed = [f"{c.name} {f}" for c in clients for f in c.failures]
    assert not failed, f"{summary}; failures:\n" + "\n".join(failed)
    assert all(c.runs > 0 for c in clients), summary
    for name in ("pers_puts", "pers_gets", "eph_puts", "eph_gets"):
        assert d[name] > 0, f"{name} did not move in {SECONDS} s ({summary}): {d}"

    # Teardown leaves nothing behind.
    swap.off()
    kg.umount(ext4)
    after = kg.kztmem_ints()
    assert after["curr_pers_pampd_count"] == 0, f"pages left after swapoff: {after}"
    assert after["curr_eph_pampd_count"] == 0, f"pages left after umount: {after}"
