"""Real clients (issue 7): stress-ng and fio, tools nobody on this project
wrote, verify their own data while kztmem holds it.

Booted with ``kztmem``:

- stress-ng's vm stressors rewrite and verify a working set larger than
  the guest's free memory, so it goes through swap and kztmem's
  persistent pool, while its swap stressor adds and removes small swap
  files (each swapon/swapoff creates and destroys a kztmem pool);
- fio writes files on ext4 with crc32c verification headers in every
  block, verifies them, then verifies them again after the page cache
  was dropped, so the blocks come back through cleancache and kztmem.

Both must finish without one verification error, and kztmem's counters
must show it took part.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from kzt.guest import lib as kg

pytestmark = [pytest.mark.kzt_boot(append="kztmem"), pytest.mark.integrity]

#: How long stress-ng runs; raise it for a longer local run.
STRESS_SECONDS = int(os.environ.get("KZT_STRESS_SECONDS", "40"))


@pytest.fixture(autouse=True, scope="module")
def _require() -> None:
    if not kg.kztmem_present():
        pytest.fail(f"{kg.KZTMEM_SYSFS} missing: boot with 'kztmem'")


def output_of(res: subprocess.CompletedProcess) -> str:
    return f"exit {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"


def test_stress_ng_vm_and_swap_verify(swap: kg.SwapDevice, ext4: Path) -> None:
    per_worker = (kg.meminfo_kib()["MemAvailable"] // 1024 + 96) // 2
    before = kg.kztmem_and_vmstat()
    res = kg.run([kg.tool("stress-ng"), "--vm", "2", "--vm-bytes", f"{per_worker}M",
                  "--vm-keep", "--verify", "--swap", "1", "--temp-path", str(ext4),
                  "--timeout", f"{STRESS_SECONDS}s", "--metrics-brief"],
                 timeout=STRESS_SECONDS + 900, check=False)
    d = kg.delta(kg.kztmem_and_vmstat(), before)
    text = res.stdout + res.stderr
    assert res.returncode == 0, f"stress-ng failed:\n{output_of(res)}"
    failures = [line for line in text.splitlines()
                if " fail:" in line or ("verif" in line.lower() and "error" in line.lower())]
    assert not failures, "stress-ng reported:\n" + "\n".join(failures)
    assert d["pers_puts"] > 0 and d["pers_gets"] > 0, \
        f"the working set did not go through kztmem: {d}"


def fio_job(directory: Path) -> list[str]:
    return [kg.tool("fio"), "--name=kzt", f"--directory={directory}", "--rw=write",
            "--bs=64k", "--size=96M", "--numjobs=3", "--ioengine=psync",
            "--verify=crc32c", "--verify_fatal=1", "--do_verify=1",
            # Compressible blocks, or kztmem (rightly) refuses them all.
            "--buffer_compress_percentage=60", "--buffer_compress_chunk=4k",
            "--refill_buffers", "--output-format=json"]


def fio_errors(res: subprocess.CompletedProcess) -> list[str]:
    out = res.stdout
    start = out.find("{")
    assert start >= 0, f"no JSON from fio:\n{output_of(res)}"
    report = json.loads(out[start:])
    jobs = report.get("jobs", [])
    assert jobs, f"fio ran no jobs:\n{output_of(res)}"
    return [f"job {j.get('jobname')}: error {j['error']}" for j in jobs if j.get("error")]


def test_fio_crc32c_verify_through_cleancache(ext4: Path) -> None:
    job = fio_job(ext4)
    first = kg.run(job, timeout=1800, check=False)
    assert first.returncode == 0 and not fio_errors(first), \
        f"fio write+verify failed:\n{output_of(first)}"

    kg.drop_caches(1)
    before = kg.kztmem_and_vmstat()
    again = kg.run([*job, "--verify_only"], timeout=1800, check=False)
    d = kg.delta(kg.kztmem_and_vmstat(), before)
    assert again.returncode == 0 and not fio_errors(again), \
        f"fio verify after dropping the page cache failed:\n{output_of(again)}"
    assert d["eph_gets"] > 0, f"no block came back through kztmem: {d}"
