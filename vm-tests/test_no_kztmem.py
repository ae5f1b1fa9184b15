"""A kernel booted WITHOUT ``kztmem``: the driver stays out of the way.

The same image must behave like a plain 6.1 kernel: no kztmem sysfs
directory, and zswap (which registers its frontswap ops only when kztmem
did not take the slot first) can be switched on and stores pages.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from kzt.guest import lib as kg

pytestmark = pytest.mark.kzt_boot(append="", memory="384M")


def test_kztmem_inactive_without_boot_parameter() -> None:
    assert not kg.kztmem_present(), \
        f"{kg.KZTMEM_SYSFS} exists although the kernel was booted without 'kztmem'"


@pytest.fixture
def zswap_on() -> Iterator[None]:
    if not kg.zswap_present():
        pytest.skip("kernel built without CONFIG_ZSWAP (/sys/module/zswap/parameters absent)")
    kg.ensure_debugfs()
    if not (kg.DEBUGFS / "zswap").is_dir():
        pytest.skip(f"{kg.DEBUGFS}/zswap absent: zswap statistics need CONFIG_DEBUG_FS")
    with kg.Tunable(kg.ZSWAP_PARAMS / "zpool") as zpool, \
            kg.Tunable(kg.ZSWAP_PARAMS / "enabled") as enabled:
        # zsmalloc holds a text working set without disk I/O; zbud's 2:1 cap
        # makes the run several times slower under TCG. Keep the default
        # pool when zsmalloc is not built in.
        try:
            zpool.write("zsmalloc")
        except OSError:
            pass
        enabled.write("1")
        assert enabled.read() in ("Y", 1), f"zswap did not switch on: {enabled.read()!r}"
        yield


def test_zswap_takes_pages(workloads, swap, zswap_on) -> None:
    size = kg.swap_pressure_mib(swap, 64)
    before = kg.int_values(kg.zswap_stats())
    with kg.Workload(kg.memhog_argv(size, "text", pause=True)) as w:
        w.wait_stage("filled")
        during = kg.int_values(kg.zswap_stats())
        w.resume()
        res = w.finish()
    assert res.returncode == 0 and res.mismatches == 0, res.describe()
    moved = {k: during[k] - before[k] for k in ("stored_pages", "written_back_pages")
             if k in during and k in before}
    assert any(v > 0 for v in moved.values()), \
        f"zswap stored nothing from a {size} MiB text working set: before {before} during {during}"
