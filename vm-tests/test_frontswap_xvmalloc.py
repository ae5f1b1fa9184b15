"""The frontswap integrity tests again, with xvmalloc as kztmem's store (issue 14).

Booted with ``kztmem kztmem.pers_pool=xvmalloc kztmem.compressor=lzo``:
the default store is split (xvmalloc for objects of up to half a page,
zsmalloc above), so this guest covers xvmalloc alone, the origin's store,
which keeps the larger objects too.  The same memhog runs as
test_frontswap.py's (every byte verified, the counters move, swapoff
empties the pool, a full pool writes its oldest pages back or, holding
only compressed pages, declines new ones, exclusive loads take copies
out and pause while the pool overflows, a lost page is a SIGBUS and
never wrong data), collected again in this module's boot group.
"""

from __future__ import annotations

import pytest

from frontswap_store_suite import *  # noqa: F401,F403  (collected here again)
from test_frontswap import assert_booted_store

STORE = "xvmalloc"
CMDLINE = f"kztmem kztmem.pers_pool={STORE} kztmem.compressor=lzo"

pytestmark = [pytest.mark.kzt_boot(append=CMDLINE, memory="384M"), pytest.mark.integrity]


def test_pers_pool_shows_xvmalloc() -> None:
    assert_booted_store(STORE, CMDLINE)
