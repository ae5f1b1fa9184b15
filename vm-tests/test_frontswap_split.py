"""The frontswap integrity tests again, with the split store (issue 14).

Booted with ``kztmem kztmem.pers_pool=split kztmem.compressor=lzo``: the
store keeps compressed pages of up to half a page in xvmalloc and larger
ones in zsmalloc.  The same memhog runs as test_frontswap.py's (every
byte verified, the counters move, swapoff empties the pool, a full pool
writes its oldest pages back or, holding only compressed pages, declines
new ones, a lost page is a SIGBUS and never wrong data), collected again
in this module's boot group; and half-compressible pages, which go to
zsmalloc, share pages as they do there.  Which object goes where is the
KUnit case kzt_st_test_split_routes_by_size.
"""

from __future__ import annotations

import pytest

from kzt.guest import lib as kg
from test_frontswap import (  # noqa: F401  (collected here again)
    _require_kztmem,
    min_raw,
    pressure_run,
    small_pool,
    test_compressible_pages_stored_and_loaded,
    test_full_pool_of_compressed_pages_declines,
    test_full_pool_writes_oldest_pages_back,
    test_lost_swap_page_is_never_silent,
    test_swapoff_empties_pool,
    test_writeback_starts_before_the_pool_is_full,
    wb_start,
)

STORE = "split"
CMDLINE = f"kztmem kztmem.pers_pool={STORE} kztmem.compressor=lzo"

pytestmark = [pytest.mark.kzt_boot(append=CMDLINE, memory="384M"), pytest.mark.integrity]


def test_pers_pool_shows_the_split_store() -> None:
    assert kg.booted_with(f"kztmem.pers_pool={STORE}"), \
        f"this module needs the guest booted with {CMDLINE!r}"
    path = kg.KZTMEM_SYSFS / "pers_pool"
    assert path.read_text() == f"{STORE}\n", f"{path}: {path.read_text()!r}"
    log = kg.run([kg.tool("dmesg")]).stdout
    enabled = [line for line in log.splitlines() if "kztmem: enabled:" in line]
    assert enabled and f"frontswap ({STORE})" in enabled[-1], \
        f"no 'kztmem: enabled: frontswap ({STORE})' line: {enabled}"


@pytest.mark.parametrize("pattern, least", [
    # 2-3 KiB objects go to zsmalloc and share pages (xvmalloc: 0.661)
    ("mixed", 0.75),
    # a few hundred bytes each go to xvmalloc, many to a page
    ("text", 0.75),
])
def test_split_store_packs_both_sizes(workloads, swap, pattern: str, least: float) -> None:
    """Compressed bytes per pool byte while the pages are swapped out."""
    before, during, after, res = pressure_run(swap, pattern, extra_mib=128)
    compressed = during["pers_compressed_bytes"]
    pool = during["pers_pool_bytes"]
    held = during["curr_pers_pampd_count"] - during["same_filled_pages"]
    assert held > 1000 and pool > 0, f"too little stored to judge: {during}"
    print(f"{pattern}: {held} pages, {compressed} compressed bytes in a {pool}-byte pool: "
          f"{compressed / pool:.3f}")
    assert compressed / pool > least, \
        f"{pattern}: {held} pages, {compressed} compressed bytes in a {pool}-byte pool: " \
        f"{compressed / pool:.3f} <= {least}"
