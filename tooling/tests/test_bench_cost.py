"""The bench's headline: guest CPU time plus the disk time of the counted
I/O at the run's disk profile (kzt.bench.cost)."""
from __future__ import annotations

from kzt.bench.cost import disk_seconds, modeled_seconds
from kzt.datafiles import DiskProfile

SSD = DiskProfile("ssd", 1500, 100_000_000)


def test_many_small_requests_cost_their_iops() -> None:
    # 34320 requests of 6 KiB on average: the IOPS limit decides
    assert disk_seconds(34320, 207.84 * 2**20, SSD) == 34320 / 1500


def test_few_large_requests_cost_their_bytes() -> None:
    # 6000 requests of 112 KiB on average: the bandwidth decides
    assert disk_seconds(6000, 659.55 * 2**20, SSD) == 659.55 * 2**20 / 100_000_000


def test_modeled_time_adds_cpu_and_disk() -> None:
    m = {"cpu_seconds": 3.13, "disk_ios": 12040.0, "disk_mib": 659.55}
    assert modeled_seconds(m, SSD) == round(3.13 + 12040 / 1500, 3)


def test_no_model_without_its_inputs() -> None:
    m = {"cpu_seconds": 3.0, "disk_ios": 10.0, "disk_mib": 1.0}
    assert modeled_seconds(m, None) is None
    for key in m:
        assert modeled_seconds({k: v for k, v in m.items() if k != key}, SSD) is None
