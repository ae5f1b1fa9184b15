"""Fault injection (issue 7): kztmem keeps every byte while its
allocations fail.

Needs a kernel with CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC and
CONFIG_FAULT_INJECTION_DEBUG_FS: the ``debug`` flavour, run by
``kzt test --debug``. failslab and fail_page_alloc fail a share of the
non-sleeping allocations of the workload and of kswapd
(kzt.guest.lib.FaultInjection), failslab only in kztmem's own slab caches
(so kmemleak and the rest of the kernel are spared); every allocation
kztmem makes to store a page is one of those. Each test checks that

- the workload reads back exactly what it wrote (zero mismatches);
- the failures reached kztmem (failed_alloc moved) and were declined
  cleanly: counted as failed puts, the pages went to the swap disk or
  were simply not cached;
- stores still succeed in between (the driver did not wedge).

The console scan of ``kzt test`` fails the run on any oops, KASAN, lockdep
or other report meanwhile.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kzt.guest import lib as kg

# slub_debug=A,... marks kztmem's slab caches for failslab (and nothing else).
pytestmark = [pytest.mark.kzt_boot(append="kztmem " + kg.SLUB_DEBUG_FAILSLAB),
              pytest.mark.integrity, pytest.mark.debug_kernel]

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
PROBABILITY = 20          # percent of the targeted allocations that fail


@pytest.fixture(autouse=True, scope="module")
def _require() -> None:
    if not kg.kztmem_present():
        pytest.fail(f"{kg.KZTMEM_SYSFS} missing: boot with 'kztmem'")
    if not kg.fault_injection_available():
        cfg = kg.kernel_config()
        if cfg.get("CONFIG_FAILSLAB") == "y" and cfg.get("CONFIG_FAIL_PAGE_ALLOC") == "y":
            pytest.fail("CONFIG_FAILSLAB and CONFIG_FAIL_PAGE_ALLOC are set, but "
                        "failslab/fail_page_alloc are missing from debugfs")
        pytest.skip("kernel without fault injection: run `kzt test --debug`")


def test_swap_keeps_data_while_allocations_fail(workloads, swap) -> None:
    size = kg.swap_pressure_mib(swap, extra_mib=96)
    before = kg.kztmem_and_vmstat()
    with kg.FaultInjection(PROBABILITY, pids=kg.kswapd_pids(),
                           slab_caches=kg.KZTMEM_SLAB_CACHES):
        res = kg.run_memhog(size, "mix", make_it_fail=True)
    settled = kg.settled(kg.kztmem_and_vmstat, ("failed_pers_puts", "compress_poor",
                                                "pool_limit_hit", "failed_alloc", "vm_pswpout"))
    d = kg.delta(settled, before)
    assert res.returncode == 0 and res.mismatches == 0, res.describe()
    assert d["failed_alloc"] > 0, f"no injected failure reached kztmem: {d}"
    assert d["pers_puts"] > 0, f"no store succeeded between the failures: {d}"
    reasons = d["compress_poor"] + d["pool_limit_hit"] + d["failed_alloc"]
    assert d["failed_pers_puts"] == reasons, \
        f"declined stores {d['failed_pers_puts']} != compress_poor + pool_limit_hit + " \
        f"failed_alloc = {reasons}: {d}"
    assert d["vm_pswpout"] >= d["failed_pers_puts"], \
        f"{d['failed_pers_puts']} declined stores but only {d['vm_pswpout']} pages " \
        f"written to the swap disk"

    # With injection off, everything comes back and the pool empties.
    swap.off()
    left = kg.kztmem_ints()["curr_pers_pampd_count"]
    assert left == 0, f"{left} persistent pages left after swapoff"


def page_text(tag: str, index: int) -> bytes:
    """One compressible page, different for every file and index."""
    line = f"{tag} page {index:06d}: the quick brown fox jumps over the lazy dog\n".encode()
    return (line * (PAGE_SIZE // len(line) + 1))[:PAGE_SIZE]


def test_files_keep_data_while_allocations_fail(ext4: Path) -> None:
    files = {}
    for i in range(4):
        path = ext4 / f"f{i}"
        data = b"".join(page_text(path.name, n) for n in range(512))
        path.write_bytes(data)
        files[path] = data
    os.sync()
    kg.drop_caches(1)
    for path, data in files.items():          # read from disk: now eligible
        assert path.read_bytes() == data, f"{path}: wrong data from disk"
    pages = sum(len(d) for d in files.values()) // PAGE_SIZE

    before = kg.kztmem_and_vmstat()
    with kg.FaultInjection(PROBABILITY, pids=kg.kswapd_pids(),
                           slab_caches=kg.KZTMEM_SLAB_CACHES):
        kg.run(["sh", "-c", "sync; echo 1 > /proc/sys/vm/drop_caches"], make_it_fail=True)
    put = kg.delta(kg.kztmem_and_vmstat(), before)
    offered = put["eph_puts"] + put["failed_eph_puts"]
    assert offered >= pages * 8 // 10, f"only {offered} of {pages} pages offered: {put}"
    assert put["failed_alloc"] > 0, f"no injected failure reached kztmem: {put}"
    assert put["eph_puts"] > 0, f"no put succeeded between the failures: {put}"
    assert put["failed_eph_puts"] >= put["failed_alloc"], put

    for path, data in files.items():
        assert path.read_bytes() == data, f"{path}: data differs after failed puts"
    got = kg.delta(kg.kztmem_and_vmstat(), before)
    assert 0 < got["eph_gets"] <= put["eph_puts"], \
        f"{put['eph_puts']} pages stored, {got['eph_gets']} served: {got}"
