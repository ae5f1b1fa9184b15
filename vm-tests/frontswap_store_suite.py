"""test_frontswap.py's integrity tests that every persistent store must pass.

A module that boots kztmem with another store (test_frontswap_xvmalloc.py,
test_frontswap_zsmalloc.py) star-imports this one: pytest then collects
these test functions, and the fixtures they take, again in that module's
boot group.  One list, so that a test added to it runs on every store.
"""

from __future__ import annotations

import test_frontswap as _frontswap

__all__ = [
    # fixtures the tests take, and the module's guard
    "_require_kztmem",
    "excl_load",
    "excl_max_bytes",
    "min_raw",
    "pool_tunables",
    "wb_start",
    # the tests
    "test_compressible_pages_stored_and_loaded",
    "test_exclusive_loads_pause_while_the_pool_overflows",
    "test_exclusive_loads_take_the_copy_out",
    "test_full_pool_of_compressed_pages_declines",
    "test_full_pool_writes_oldest_pages_back",
    "test_lost_swap_page_is_never_silent",
    "test_swapoff_empties_pool",
    "test_writeback_starts_before_the_pool_is_full",
]

globals().update({name: getattr(_frontswap, name) for name in __all__})
