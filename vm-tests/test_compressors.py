"""kztmem with each compressor (issue 14): kztmem.compressor=lzo|lzo-rle|lz4|zstd.

One guest per compressor, booted with ``kztmem kztmem.compressor=NAME``;
lzo's is the zsmalloc store's guest (test_frontswap_zsmalloc.py), booted
with ``kztmem.pers_pool=zsmalloc kztmem.compressor=lzo``, which saves a
boot and covers the default compressor on the second store.  In each,
/sys/kernel/mm/kztmem/compressor names the algorithm asked for
and is read-only, the kernel log says which one the driver enabled, and
memhog puts a mix of all page kinds (zero, same, text, mixed, random)
through swap and reads it back: every byte must verify, pages must have been stored
and loaded back through that compressor, and random pages kept raw
(writeback is on by default; the cheap reject finds them without a full
compression) rather than declined.

A name the driver does not know is tested in test_boot_params.py.
"""

from __future__ import annotations

import pytest

from kzt.guest import lib as kg
from test_frontswap_zsmalloc import CMDLINE as ZSMALLOC_LZO

COMPRESSORS = ("lzo", "lzo-rle", "lz4", "zstd")


def _boot(name: str) -> pytest.MarkDecorator:
    if name == "lzo":
        return pytest.mark.kzt_boot(append=ZSMALLOC_LZO, memory="384M")
    return pytest.mark.kzt_boot(append=f"kztmem kztmem.compressor={name}", memory="384M")


pytestmark = pytest.mark.integrity


@pytest.mark.parametrize("compressor", [pytest.param(c, marks=_boot(c)) for c in COMPRESSORS])
def test_swap_verifies_with_compressor(compressor: str, workloads, swap: kg.SwapDevice) -> None:
    if not kg.booted_with(f"kztmem.compressor={compressor}"):
        pytest.fail(f"this test needs the guest booted with kztmem.compressor={compressor}")
    assert kg.kztmem_present(), f"{kg.KZTMEM_SYSFS} absent: kztmem did not start"
    path = kg.KZTMEM_SYSFS / "compressor"
    assert path.read_text().strip() == compressor, \
        f"booted with kztmem.compressor={compressor}, {path} says {path.read_text().strip()!r}"
    assert not path.stat().st_mode & 0o222, f"{path} is writable: {oct(path.stat().st_mode)}"
    log = kg.run([kg.tool("dmesg")]).stdout
    enabled = [ln for ln in log.splitlines() if "kztmem: enabled:" in ln]
    assert enabled and enabled[-1].endswith(f"({compressor})"), \
        f"kernel log does not say kztmem enabled {compressor}: {enabled}"

    size = kg.swap_pressure_mib(swap, 64)
    before = kg.kztmem_and_vmstat()
    res = kg.run_memhog(size, "mix", seed=14, passes=1)
    after = kg.kztmem_and_vmstat()
    assert res.returncode == 0 and res.mismatches == 0, res.describe()
    d = kg.delta(after, before)
    assert d["pers_puts"] > 0 and d["pers_gets"] > 0, \
        f"nothing stored or loaded through {compressor}: {d}"
    assert d["failed_pers_gets"] == 0, f"lost pages with {compressor}: {d}"
    assert after["pers_raw_pages_max"] > 0 and d["pers_cheap_rejects"] > 0, \
        f"random pages were not found incompressible and kept raw: {d}"
    assert d["compress_poor"] == 0, f"pages declined as incompressible with writeback on: {d}"
