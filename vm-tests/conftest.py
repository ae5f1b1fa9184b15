"""pytest configuration for the kzt in-guest suites.

These tests run inside the QEMU guest the toolkit boots, as root. The host
runner decides how to boot each module from its ``kzt_boot`` marker, e.g.::

    pytestmark = pytest.mark.kzt_boot(append="kztmem", memory="384M")

The marker is registered by the toolkit's plugin (kzt.guest.plugin,
loaded below); in the guest it only selects the tests of one boot group.
The helpers live in the guest library: ``from kzt.guest import lib as kg``
(kzt is importable through PYTHONPATH=tooling, which the toolkit sets on
the host and in the guest). Outside a virtme guest every
test is skipped (they mkswap and mkfs block devices); KZT_GUEST=1 forces
them to run anyway.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from kzt.guest import lib as kg

pytest_plugins = ["kzt.guest.plugin"]


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "integrity: a data-integrity suite; `kzt test --debug` runs these on the debug kernel",
        "debug_kernel: needs the debug flavour (fault injection); deselected by default "
        "on other kernels",
        "soak: long concurrent run, KZT_SOAK_SECONDS long (`kzt soak --minutes N`)",
    ):
        config.addinivalue_line("markers", line)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if kg.in_kzt_guest():
        return
    skip = pytest.mark.skip(reason="not inside a kzt virtme guest (these tests format block "
                                   "devices); run them through the toolkit, or set KZT_GUEST=1")
    for item in items:
        item.add_marker(skip)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"kzt guest: kernel {kg.kernel_release()}, "
            f"MemTotal {kg.meminfo_kib().get('MemTotal', 0) // 1024} MiB, "
            f"disks {kg.block_serials()}, workloads {kg.workloads_dir()}"]


@pytest.fixture
def swap() -> Iterator[kg.SwapDevice]:
    """The kzt-swap disk, freshly mkswap'ed and swapped on; off at teardown."""
    dev = kg.make_swap(kg.find_disk(kg.SWAP_SERIAL))
    try:
        dev.on()
        yield dev
    finally:
        dev.off()


@pytest.fixture
def ext4(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh ext4 filesystem on the kzt-ext4 disk, mounted; unmounted at
    teardown (unless the test did). 4 KiB blocks, so cleancache sees it."""
    dev = kg.find_disk(kg.EXT4_SERIAL)
    mnt = tmp_path_factory.mktemp("kzt-ext4")
    kg.mkfs_ext4(dev, block_size=4096)
    kg.mount(dev, mnt)
    try:
        yield mnt
    finally:
        if kg.is_mounted(mnt):
            kg.umount(mnt)


@pytest.fixture
def ext4_device() -> str:
    return kg.find_disk(kg.EXT4_SERIAL)


@pytest.fixture(scope="session")
def workloads() -> Path:
    """The directory of built workload binaries (fails clearly if unbuilt)."""
    kg.workload("memhog")
    kg.workload("filecheck")
    return kg.workloads_dir()


@pytest.fixture
def kztmem() -> Path:
    """/sys/kernel/mm/kztmem, or skip when the driver is not active."""
    if not kg.kztmem_present():
        pytest.skip(f"{kg.KZTMEM_SYSFS} absent: kernel without CONFIG_KZTMEM or booted "
                    "without 'kztmem'")
    return kg.KZTMEM_SYSFS


@pytest.fixture(autouse=True)
def _share_starts_at_its_minimum() -> None:
    """Every test starts with cleancache's share at its minimum.

    The share follows hits across tests (and ghost hits, with
    eph_share_guard). Swap stores at the limit take zbud frames back only
    above it, and with the guard reclaim leaves it alone too: one test's
    hits would keep pages in the pool that the next test expects swap or
    memory pressure to take. Lowering the maximum to the minimum and back
    brings the share down (the driver moves it inside new bounds at once).
    """
    top = kg.KZTMEM_SYSFS / "eph_max_percent"
    if not top.exists():
        return
    with kg.Tunable(top) as t:
        t.write((kg.KZTMEM_SYSFS / "eph_min_percent").read_text().strip())


@pytest.fixture(autouse=True)
def _cleancache_admits_all() -> Iterator[None]:
    """Every test runs with kztmem admitting every evicted clean page.

    kztmem's admission shift adapts to what the pool wastes and hits, within
    a test and across tests: one that evicts a lot would leave the next
    admitting one run in eight. Tests that count stored pages need them all
    offered, so the ceiling is 0 during each test (restored afterwards);
    the admission tests in test_cleancache_kztmem.py set it themselves.
    """
    ceiling = kg.KZTMEM_SYSFS / "cc_admit_max_shift"
    if not ceiling.exists():
        yield
        return
    with kg.Tunable(ceiling) as t:
        t.write(0)
        yield
