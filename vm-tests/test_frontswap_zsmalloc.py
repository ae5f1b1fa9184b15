"""The frontswap integrity tests again, with zsmalloc as kztmem's store (issue 14).

Booted with ``kztmem kztmem.pers_pool=zsmalloc kztmem.compressor=lzo``
(lzo, the default, named so that test_compressors.py's lzo case shares
this guest): the same memhog runs as
test_frontswap.py's (every byte verified, the counters move, swapoff
empties the pool, a full pool writes its oldest pages back or, holding
only compressed pages, declines new ones, exclusive loads take copies
out and pause while the pool overflows, a lost page is
a SIGBUS and never wrong data), with the
compressed pages in zsmalloc instead of xvmalloc. The test functions are
test_frontswap.py's own, collected again in this module's boot group.
"""

from __future__ import annotations

import pytest

from frontswap_store_suite import *  # noqa: F401,F403  (collected here again)
from test_frontswap import assert_booted_store, pressure_run

STORE = "zsmalloc"
CMDLINE = f"kztmem kztmem.pers_pool={STORE} kztmem.compressor=lzo"

pytestmark = [pytest.mark.kzt_boot(append=CMDLINE, memory="384M"), pytest.mark.integrity]


def test_pers_pool_shows_the_store_booted_with() -> None:
    assert_booted_store(STORE, CMDLINE)


def test_mixed_pages_pack_more_than_one_per_page(workloads, swap) -> None:
    """Half-compressible pages (2-3 KiB each) share pages in zsmalloc: the
    pool holds more bytes of swapped pages than it takes (xvmalloc: about 1)."""
    before, during, after, res = pressure_run(swap, "mixed", extra_mib=128)
    compressed = during["pers_compressed_bytes"]
    pool = during["pers_pool_bytes"]
    held = during["curr_pers_pampd_count"] - during["same_filled_pages"]
    assert held > 1000 and pool > 0, f"too little stored to judge: {during}"
    # compressed bytes per pool byte: xvmalloc wastes the rest of each page
    # a 2-3 KiB object sits in; zsmalloc does not.
    print(f"{STORE}: {held} pages, {compressed} compressed bytes in a {pool}-byte pool: "
          f"{compressed / pool:.3f} (xvmalloc measured 0.661)")
    assert compressed / pool > 0.75, \
        f"{held} pages, {compressed} compressed bytes in a {pool}-byte pool: " \
        f"{compressed / pool:.3f} (xvmalloc measured 0.661)"
