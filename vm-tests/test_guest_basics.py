"""Guest sanity: must pass on ANY kernel the toolkit builds, kztmem or not.

Checks the ground the other suites stand on: the right kernel booted, the
toolkit's disks are there, swap really swaps and keeps data intact, and an
ext4 filesystem returns what was written after the page cache is dropped.
Also proves the verifiers themselves can fail.
"""

import os

import pytest

from kzt.guest import lib as kg

pytestmark = [pytest.mark.kzt_boot(append="", memory="384M"), pytest.mark.integrity]


def test_kernel_is_6_1() -> None:
    assert kg.is_kernel_6_1(), f"expected a 6.1 kernel, running {kg.kernel_release()}"


def test_running_as_root() -> None:
    assert os.geteuid() == 0


@pytest.mark.parametrize("serial", [kg.SWAP_SERIAL, kg.EXT4_SERIAL])
def test_disk_attached(serial: str) -> None:
    dev = kg.find_disk(serial)
    assert os.path.exists(dev), f"{serial} is {dev}, but there is no such device node"


def test_memhog_detects_corruption(workloads) -> None:
    res = kg.run_memhog(8, "mix", self_test=True)
    assert res.returncode == 1, res.describe()
    assert res.mismatches == 1 and res.summary["first_bad"] == [1024], res.describe()


def test_filecheck_detects_corruption(workloads, tmp_path) -> None:
    res = kg.run_filecheck("write", tmp_path, files=3, size="10001")
    assert res.returncode == 0, res.describe()
    assert kg.run_filecheck("verify", tmp_path, files=3, size="10001").returncode == 0
    res = kg.run_filecheck("verify", tmp_path, files=3, size="10001", self_test=True)
    assert res.returncode == 1 and res.mismatches == 1, res.describe()
    with open(tmp_path / "kzt-file-0002", "r+b") as f:
        f.seek(9000)
        f.write(b"X")
    res = kg.run_filecheck("verify", tmp_path, files=3, size="10001")
    assert res.returncode == 1, res.describe()
    assert res.summary["first_bad"] == "kzt-file-0002:8192", res.describe()


def test_swap_keeps_data_under_pressure(workloads, swap) -> None:
    """A working set larger than RAM goes through the swap disk intact."""
    size = kg.swap_pressure_mib(swap)
    before = kg.vmstat()
    res = kg.run_memhog(size, "mix")
    after = kg.vmstat()
    assert res.returncode == 0 and res.mismatches == 0, res.describe()
    assert res.summary["pages"] == size * 256
    # One page in five is random: no compressed cache takes it, so it
    # reaches the disk even on a kernel with zswap or kztmem active.
    assert after["pswpout"] > before["pswpout"], (
        f"pswpout did not move ({before['pswpout']}) with a {size} MiB working set "
        f"in a {kg.meminfo_kib()['MemTotal'] // 1024} MiB guest")
    assert after["pswpin"] > before["pswpin"], "verification read nothing back from swap"


def test_swapoff_brings_everything_back(workloads, swap) -> None:
    size = kg.swap_pressure_mib(swap)
    with kg.Workload(kg.memhog_argv(size, "mix", keep_mib=48, pause=True)) as w:
        w.wait_stage("filled")
        w.resume()
        w.wait_stage("trimmed")
        swap.off()
        assert not swap.active
        w.resume()
        res = w.finish()
    assert res.returncode == 0 and res.mismatches == 0, res.describe()


def test_ext4_roundtrip_after_drop_caches(workloads, ext4) -> None:
    data = ext4 / "data"
    res = kg.run_filecheck("write", data, files=16, size="1M")
    assert res.returncode == 0, res.describe()
    kg.drop_caches()
    before = kg.vmstat()
    res = kg.run_filecheck("verify", data, files=16, size="1M")
    after = kg.vmstat()
    assert res.returncode == 0 and res.mismatches == 0, res.describe()
    # 16 MiB read after dropping the cache must have come from the block
    # layer (pgpgin counts KiB), unless a cleancache backend served it.
    assert after["pgpgin"] - before["pgpgin"] > 0


def test_ext4_roundtrip_after_remount(workloads, ext4, ext4_device) -> None:
    data = ext4 / "data"
    res = kg.run_filecheck("write", data, files=8, size="777777", pattern="mix", seed=7)
    assert res.returncode == 0, res.describe()
    kg.umount(ext4)
    kg.mount(ext4_device, ext4)
    res = kg.run_filecheck("verify", data, files=8, size="777777", pattern="mix", seed=7)
    assert res.returncode == 0 and res.mismatches == 0, res.describe()


def test_ext4_cycle_mode(workloads, ext4) -> None:
    res = kg.run_filecheck("cycle", ext4 / "cycle", files=4, size="2M", pattern="text")
    assert res.returncode == 0 and res.mismatches == 0, res.describe()
