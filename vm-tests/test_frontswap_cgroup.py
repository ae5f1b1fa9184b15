"""Memory cgroups as kztmem's clients (issue 15): charges and limits.

kztmem charges each stored page to its page's cgroup, as zswap does
(the series' "mm: memcontrol" patch builds memcg's zswap helpers for any
frontswap backend): memory.zswap.current and memory.stat's zswap/zswapped lines
count it, and memory.zswap.max limits it. Two cgroups, each with a
memory.max that forces its memhog to swap: one limited to ZSWAP_MAX,
one not. Each memhog fills its memory, then pauses while the counters
are read, and finally reads every byte back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest

from kzt.guest import lib as kg
from test_frontswap import KZT, _require_kztmem  # noqa: F401  (the same guard)

pytestmark = [pytest.mark.kzt_boot(append="kztmem", memory="384M"), pytest.mark.integrity]

MIB = 1 << 20
MEMORY_MAX = "48M"
ZSWAP_MAX_MIB = 4
#: memhog's size in each cgroup: about twice its memory.max
HOG_MIB = 96
#: the limit is checked before a page is compressed, so a cgroup may go
#: over by the pages being stored at that moment (two vCPUs here)
SLACK = 256 * 1024


@pytest.fixture
def cgroups() -> Iterator[tuple[Path, Path]]:
    """(limited, unlimited): both with memory.max, the first with memory.zswap.max."""
    made: list[Path] = []
    try:
        limited = kg.make_memory_cgroup("kzt-limited", {
            "memory.max": MEMORY_MAX, "memory.zswap.max": f"{ZSWAP_MAX_MIB}M"})
        made.append(limited)
        free = kg.make_memory_cgroup("kzt-unlimited", {"memory.max": MEMORY_MAX})
        made.append(free)
        if not (limited / "memory.zswap.max").exists():
            pytest.fail(f"{limited}/memory.zswap.max missing: the kernel lacks the series' 'mm: memcontrol' patch "
                        "or CONFIG_MEMCG_KMEM")
        yield limited, free
    finally:
        for cg in made:
            kg.remove_cgroup(cg)


def test_cgroup_limit_holds_and_spares_other_cgroups(workloads, swap, cgroups) -> None:
    limited, free = cgroups
    limit = ZSWAP_MAX_MIB * MIB
    before = kg.kztmem_and_vmstat()
    with kg.Workload(kg.memhog_argv(HOG_MIB, "text", seed=31, pause=True), cgroup=limited) as a:
        a.wait_stage("filled")
        mid = kg.kztmem_and_vmstat()
        a_filled = kg.cgroup_ints(limited)
        with kg.Workload(kg.memhog_argv(HOG_MIB, "text", seed=32, pause=True),
                         cgroup=free) as b:
            b.wait_stage("filled")
            after_b = kg.kztmem_and_vmstat()
            b_filled = kg.cgroup_ints(free)
            a_later = kg.cgroup_ints(limited)
            shown = json.loads(kg.run([KZT, "stats", "--json", "--cgroup", limited.name]).stdout)
            b.resume()
            res_b = b.finish()
        a.resume()
        res_a = a.finish()
    assert res_a.returncode == 0 and res_a.mismatches == 0, res_a.describe()
    assert res_b.returncode == 0 and res_b.mismatches == 0, res_b.describe()

    # the limited cgroup: its pages are charged, up to its limit and no more
    assert a_filled["stat.zswapped"] > 0, f"no page of {limited} was charged: {a_filled}"
    assert 0 < a_filled["memory.zswap.current"] <= limit + SLACK, \
        f"{limited} holds {a_filled['memory.zswap.current']} bytes with zswap.max {limit}"
    assert a_filled["memory.zswap.current"] == a_filled["stat.zswap"], a_filled
    d = kg.delta(mid, before)
    assert d["cgroup_limit_hit"] > 0, f"{limited} never reached its limit: {d}"
    assert d["vm_pswpout"] > 0, f"the declined pages did not go to the swap device: {d}"

    # the other cgroup: stores beyond the first one's limit and is never
    # declined for it; the first cgroup's pages stay where they were
    assert b_filled["memory.zswap.current"] > limit + SLACK, \
        f"{free} (no zswap.max) holds only {b_filled['memory.zswap.current']} bytes: {b_filled}"
    d = kg.delta(after_b, mid)
    assert d["cgroup_limit_hit"] == 0, f"{free}'s pages were declined for a cgroup limit: {d}"
    assert a_later["memory.zswap.current"] == a_filled["memory.zswap.current"], \
        f"{limited}'s pages changed while {free} ran: {a_filled} -> {a_later}"

    # kzt stats --cgroup shows the same figures
    cg = shown["counters"]["cgroup"]
    assert cg["memory.zswap.current"] == a_later["memory.zswap.current"], (cg, a_later)
    assert cg["memory.zswap.max"] == limit and cg["stat.zswapped"] == a_later["stat.zswapped"], cg

    # every charge is given back once the pages have left: the programs'
    # exits free most slots, swapoff the few the swap slot cache still holds
    swap.off()
    for cg in (limited, free):
        left = kg.cgroup_ints(cg)
        assert left["memory.zswap.current"] == 0 and left["stat.zswapped"] == 0, \
            f"{cg} still charged after its program exited and swapoff: {left}"
