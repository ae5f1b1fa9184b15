"""kztmem cleancache half (issue 5): ephemeral pages in zbud, end to end.

Booted with ``kztmem`` (kztmem is then the cleancache backend; the test
backend stays off). Every test formats the ``kzt-ext4`` disk with 4 KiB
blocks (cleancache ignores smaller blocks, and mke2fs picks 1 KiB on
small disks), mounts it, and checks through /sys/kernel/mm/kztmem/ that:

- clean pages evicted from the page cache are stored (eph_puts) and a
  re-read is served from kztmem (eph_gets), every byte verified by
  vm-tests/workloads/filecheck; pages that do not compress are kept raw
  (eph_raw_pages), most found without being compressed
  (eph_cheap_rejects), or refused with eph_raw=0 (eph_compress_poor);
  same-filled pages are kept as their value, in no zbud frame
  (eph_same_filled_pages), and the shrinker evicts both kinds too;
- overwriting in place, truncating, unlinking, renaming over and
  remounting between the eviction and the re-read never return stale
  data: each read is compared byte for byte with the new content;
- memory pressure (memhog through swap) makes the zbud shrinker evict
  frames (evicted_* move), the files still verify, the guest stays up;
  a higher eph_reclaim_cost keeps more of a file loop for its next pass;
- re-reading a file set larger than the guest's page cache needs fewer
  block reads from the ext4 disk once its pages went through kztmem than
  the same read with nothing in cleancache yet;
- a pool full of swapped-out pages leaves cleancache its share
  (eph_min_percent..eph_max_percent of the limit): with no share it gets no
  room and never hits, with one it claims its room back and hits; the
  share grows with cleancache hits and shrinks with declined swap stores;
- reclaim's puts are compressed before the i_pages lock is taken
  (eph_prepared), only their commit runs under it (eph_locked_*), a put
  whose page stays in the page cache drops its copy without leaking it,
  and ``kztmem.cc_prepare=0`` brings back the one-step put.

A kernel that has CONFIG_KZTMEM=y and CONFIG_CLEANCACHE=y and was booted
with ``kztmem`` must show the cleancache counters and move them: their
absence fails the run instead of skipping it.

Page-cache eviction uses ``drop_caches`` level 1 (page cache only).
Levels 2 and 3 also run every shrinker, kztmem's zbud shrinker included,
and so empty kztmem as well; test_drop_slab_runs_the_shrinker checks
exactly that.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import mmap
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest

from kzt.guest import lib as kg

pytestmark = [pytest.mark.kzt_boot(append="kztmem", memory="384M"), pytest.mark.integrity]

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

EPH_COUNTERS = (
    "eph_puts", "failed_eph_puts", "eph_gets", "eph_get_misses", "eph_compress_poor",
    "curr_eph_pampd_count", "curr_eph_pampd_count_max",
    "zbud_curr_raw_pages", "zbud_curr_zpages", "zbud_curr_zbytes",
    "zbud_cumul_zpages", "zbud_cumul_zbytes", "zbud_buddied_count",
    "zbpg_unused_list_count", "evicted_raw_pages", "evicted_buddied_pages",
    "evicted_unbuddied_pages", "evict_kept_pages", "zbud_evicting_pages", "eph_range_flushed",
    "eph_share_percent", "eph_share_grown", "eph_share_shrunk", "eph_room_claims",
    "pers_split_declined", "eph_prepared", "eph_prepare_aborted", "eph_locked_calls",
    "eph_locked_ns", "eph_not_admitted", "cc_admit_raised", "cc_admit_lowered",
    "eph_cheap_rejects", "eph_same_filled_pages", "eph_cgroup_limit_hit", "eph_raw_pages",
    "eph_memcg_full_hit", "eph_frames_for_swap", "eph_frames_shrunk", "eph_ghost_hits",
    "eph_reclaim_held", "eph_oom_emptied",
)
HISTOGRAMS = ("zbud_unbuddied_list_counts", "zbud_cumul_chunk_counts")
#: Callbacks under the i_pages lock by duration: < 256 ns, then powers of two.
LOCKED_HISTOGRAM = "eph_locked_ns_histogram"
LOCKED_BUCKETS = 12
CC_PREPARE = Path("/sys/module/kztmem/parameters/cc_prepare")
#: How long readers race the evictions in test_prepared_puts_race_readers.
RACE_SECONDS = 20
ONESTEP = pytest.mark.kzt_boot(append="kztmem kztmem.cc_prepare=0", memory="384M")

#: Files of the data tests: 8 x 1 MiB, small next to the guest's RAM.
FILES = 8
FILE_SIZE = 1 << 20
FILE_PAGES = FILE_SIZE // PAGE_SIZE


@pytest.fixture(autouse=True, scope="module")
def _require_kztmem_cleancache() -> None:
    config = kg.kernel_config()
    expected = (config.get("CONFIG_KZTMEM") == "y" and config.get("CONFIG_CLEANCACHE") == "y"
                and kg.booted_with("kztmem") and not kg.booted_with("nocleancache"))
    if not kg.kztmem_present():
        if expected:
            pytest.fail(f"{kg.KZTMEM_SYSFS} absent although the kernel has CONFIG_KZTMEM=y, "
                        "CONFIG_CLEANCACHE=y and was booted with 'kztmem' (see the console)")
        pytest.skip(f"{kg.KZTMEM_SYSFS} absent: kernel without CONFIG_KZTMEM or booted "
                    "without 'kztmem'")
    missing = [n for n in EPH_COUNTERS + HISTOGRAMS + (LOCKED_HISTOGRAM,)
               if not (kg.KZTMEM_SYSFS / n).exists()]
    if missing:
        if config.get("CONFIG_CLEANCACHE") == "n" or (
                "CONFIG_CLEANCACHE" not in config and config) or kg.booted_with("nocleancache"):
            pytest.skip("kztmem runs without its cleancache half (CONFIG_CLEANCACHE off or "
                        "booted with 'nocleancache')")
        pytest.fail(f"{kg.KZTMEM_SYSFS} exists but the cleancache counters do not: {missing}")


@dataclasses.dataclass
class Ext4:
    dev: str
    mnt: Path

    def mount(self) -> None:
        kg.mount(self.dev, self.mnt)

    def umount(self) -> None:
        kg.umount(self.mnt)

    def remount(self) -> None:
        self.umount()
        self.mount()

    def block_stat(self) -> tuple[int, int]:
        """(reads completed, sectors read) of the disk, /sys/block/vdX/stat."""
        name = Path(os.path.realpath(self.dev)).name
        fields = Path(f"/sys/block/{name}/stat").read_text().split()
        return int(fields[0]), int(fields[2])


@pytest.fixture
def ext4_4k(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ext4]:
    """The kzt-ext4 disk, freshly formatted with 4 KiB blocks and mounted."""
    dev = kg.find_disk(kg.EXT4_SERIAL)
    mnt = tmp_path_factory.mktemp("kztcc")
    kg.run([kg.tool("mkfs.ext4"), "-F", "-q", "-b", "4096", dev], timeout=300)
    fs = Ext4(dev, mnt)
    fs.mount()
    try:
        yield fs
    finally:
        fs.umount()


# ------------------------------------------------------- contents in Python

def page_bytes(tag: str, gen: int, index: int) -> bytes:
    """One page of compressible text unique to (tag, generation, index)."""
    line = f"{tag} gen {gen} page {index:08d} kztmem cleancache check\n".encode()
    return (line * (PAGE_SIZE // len(line) + 1))[:PAGE_SIZE]


def contents(tag: str, gen: int, pages: int) -> bytes:
    return b"".join(page_bytes(tag, gen, i) for i in range(pages))


def read_file(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def check_bytes(path: Path, expected: bytes) -> None:
    got = read_file(path)
    if got == expected:
        return
    if len(got) != len(expected):
        pytest.fail(f"{path}: {len(got)} bytes read, {len(expected)} expected")
    first = next(i for i in range(len(got)) if got[i] != expected[i])
    stale = f" (page {first // PAGE_SIZE}: {got[first:first + 40]!r})"
    pytest.fail(f"{path}: stale or wrong data from byte {first}{stale}")


def check_files(files: dict[Path, bytes]) -> None:
    """Read every file back; fail at the first whose bytes differ from ``files``."""
    for path, data in files.items():
        check_bytes(path, data)


def through_cleancache(files: dict[Path, bytes]) -> dict[str, int]:
    """Leave the pages of ``files`` in kztmem only; return the counter delta.

    The files are read back from the disk first, so the pages evicted are
    the ones a read brought in (test_written_pages_are_stored covers pages
    evicted straight after their writeback).
    """
    kg.drop_caches(1)
    check_files(files)
    before = kg.kztmem_ints()
    kg.drop_caches(1)
    return kg.delta(kg.kztmem_ints(), before)


def assert_never_stale(files: dict[Path, bytes], *, evict_first: bool = True) -> None:
    """Each file of ``files``, just changed, reads back its new bytes: first
    as it is now, then again once its pages went through kztmem.

    With ``evict_first`` the first read comes from the disk (dirty pages
    written, page cache dropped); without, it takes whatever the change left
    in the page cache, in kztmem or on the disk.
    """
    if evict_first:
        os.sync()
        kg.drop_caches(1)
    check_files(files)
    through_cleancache(files)
    check_files(files)


def make_files(root: Path, tag: str, gen: int = 1, count: int = 4,
               pages: int = FILE_PAGES) -> dict[Path, bytes]:
    files = {}
    for i in range(count):
        path = root / f"{tag}{i}"
        data = contents(f"{tag}{i}", gen, pages)
        path.write_bytes(data)
        files[path] = data
    os.sync()
    return files


def assert_stored(d: dict[str, int], pages: int) -> None:
    assert d.get("eph_puts", 0) >= pages * 8 // 10, \
        f"evicting {pages} clean pages stored only {d.get('eph_puts')} in kztmem: {d}"


# ------------------------------------------------------------------- tests

def test_sysfs_interface() -> None:
    values = kg.kztmem_counters()
    for name in EPH_COUNTERS:
        assert isinstance(values[name], int) and values[name] >= 0, (name, values[name])
        mode = (kg.KZTMEM_SYSFS / name).stat().st_mode & 0o777
        assert mode == 0o444, f"{name}: mode {oct(mode)}"
    lengths = set()
    for name in HISTOGRAMS:
        text = (kg.KZTMEM_SYSFS / name).read_text()
        assert text.endswith("\n") and text.count("\n") == 1, f"{name}: not one line: {text!r}"
        fields = text.split()
        assert all(f.isdigit() for f in fields), f"{name}: not all counts: {text!r}"
        lengths.add(len(fields))
    assert len(lengths) == 1, f"the histograms differ in length: {lengths}"
    # 4 KiB pages, 64-byte chunks, a 1-2 chunk header: 62 or 63 data chunks.
    assert lengths.pop() >= 32
    assert int(kg.read_value(kg.KZTMEM_SYSFS / "zbud_cumul_chunk_counts").split()[0]) == 0
    locked = locked_histogram()
    assert len(locked) == LOCKED_BUCKETS, f"{LOCKED_HISTOGRAM}: {locked}"
    assert (kg.KZTMEM_SYSFS / LOCKED_HISTOGRAM).stat().st_mode & 0o777 == 0o444
    assert CC_PREPARE.read_text().strip() == "Y", "two-step puts are the default"


@pytest.mark.parametrize("pattern", ["text", "mix"])
def test_put_get_roundtrip_filecheck(workloads, ext4_4k: Ext4, pattern: str) -> None:
    """filecheck files go through kztmem and come back byte for byte."""
    w = kg.run_filecheck("write", ext4_4k.mnt, files=FILES, size="1M", pattern=pattern, seed=3)
    assert w.returncode == 0, w.describe()
    os.sync()
    kg.drop_caches(1)
    r = kg.run_filecheck("verify", ext4_4k.mnt, files=FILES, size="1M", pattern=pattern, seed=3)
    assert r.returncode == 0 and r.mismatches == 0, r.describe()

    before = kg.kztmem_ints()
    kg.drop_caches(1)
    stored = kg.kztmem_ints()
    d_put = kg.delta(stored, before)
    pages = FILES * FILE_PAGES
    if pattern == "text":
        assert_stored(d_put, pages)
        assert d_put["eph_same_filled_pages"] == 0, d_put
    else:
        # mix: a fifth of the pages is random, caught from a sample and
        # kept raw; two fifths are same-filled: no zbud frame for either
        assert_stored(d_put, pages)
        assert d_put["eph_cheap_rejects"] >= pages // 10, d_put
        assert d_put["eph_raw_pages"] >= pages // 10, d_put
        assert d_put["eph_compress_poor"] == 0, d_put
        assert d_put["eph_same_filled_pages"] >= pages * 2 // 5 * 8 // 10, d_put
    entries = d_put["eph_same_filled_pages"] + d_put["eph_raw_pages"]
    assert d_put["zbud_cumul_zpages"] + entries >= d_put["eph_puts"], d_put
    assert stored["zbud_curr_zpages"] + stored["eph_same_filled_pages"] \
        + stored["eph_raw_pages"] == stored["curr_eph_pampd_count"], stored
    assert stored["zbud_curr_raw_pages"] * 2 >= stored["zbud_curr_zpages"], \
        f"more than two compressed pages per zbud frame: {stored}"
    assert stored["zbud_curr_zbytes"] <= stored["zbud_curr_raw_pages"] * PAGE_SIZE, stored

    r = kg.run_filecheck("verify", ext4_4k.mnt, files=FILES, size="1M", pattern=pattern, seed=3)
    assert r.returncode == 0 and r.mismatches == 0, r.describe()
    after = kg.kztmem_ints()
    d_get = kg.delta(after, stored)
    assert d_get["eph_gets"] >= d_put["eph_puts"] * 8 // 10, \
        f"re-reading {d_put['eph_puts']} stored pages hit only {d_get['eph_gets']}: {d_get}"
    # gets are exclusive: the hits left kztmem
    assert after["curr_eph_pampd_count"] <= stored["curr_eph_pampd_count"] - d_get["eph_gets"] \
        + d_get["eph_puts"], (stored, after)
    # and the page cache holds them now: reading again is not a get
    again = kg.kztmem_ints()
    r = kg.run_filecheck("verify", ext4_4k.mnt, files=FILES, size="1M", pattern=pattern, seed=3)
    assert r.returncode == 0, r.describe()
    assert kg.delta(kg.kztmem_ints(), again)["eph_gets"] == 0


def test_overwrite_in_place_never_stale(ext4_4k: Ext4) -> None:
    files = make_files(ext4_4k.mnt, "ow")
    assert_stored(through_cleancache(files), len(files) * FILE_PAGES)
    # new contents for every other page, written in place (no truncate)
    for path, data in list(files.items()):
        new = bytearray(data)
        with open(path, "r+b") as f:
            for i in range(0, FILE_PAGES, 2):
                page = page_bytes(path.name, 2, i)
                f.seek(i * PAGE_SIZE)
                f.write(page)
                new[i * PAGE_SIZE:(i + 1) * PAGE_SIZE] = page
        files[path] = bytes(new)
    os.sync()
    assert_never_stale(files, evict_first=False)
    # once more through kztmem, now that the new pages came from the disk
    through_cleancache(files)
    check_files(files)


def test_direct_overwrite_never_stale(ext4_4k: Ext4) -> None:
    files = make_files(ext4_4k.mnt, "dio", count=2)
    assert_stored(through_cleancache(files), len(files) * FILE_PAGES)
    for path in list(files):
        new = contents(path.name, 3, FILE_PAGES)
        fd = os.open(path, os.O_WRONLY | os.O_DIRECT)
        try:
            buf = mmap.mmap(-1, len(new))
            buf.write(new)
            assert os.write(fd, buf) == len(new)
        finally:
            os.close(fd)
        files[path] = new
    assert_never_stale(files, evict_first=False)


def test_truncate_never_stale(ext4_4k: Ext4) -> None:
    files = make_files(ext4_4k.mnt, "tr")
    assert_stored(through_cleancache(files), len(files) * FILE_PAGES)
    keep = FILE_PAGES // 4
    for path, data in list(files.items()):
        os.truncate(path, keep * PAGE_SIZE + 100)      # cut inside a page
        os.truncate(path, FILE_SIZE)                    # and grow back: a hole
        files[path] = data[:keep * PAGE_SIZE + 100] + bytes(FILE_SIZE - keep * PAGE_SIZE - 100)
    assert_never_stale(files)


def test_unlink_and_recreate_never_stale(ext4_4k: Ext4) -> None:
    files = make_files(ext4_4k.mnt, "ul")
    assert_stored(through_cleancache(files), len(files) * FILE_PAGES)
    for path in files:
        path.unlink()
    os.sync()
    # same names, likely the same inode numbers, new contents
    files = make_files(ext4_4k.mnt, "ul", gen=2)
    assert_never_stale(files)


def test_rename_over_never_stale(ext4_4k: Ext4) -> None:
    files = make_files(ext4_4k.mnt, "rn")
    assert_stored(through_cleancache(files), len(files) * FILE_PAGES)
    for path in list(files):
        tmp = path.with_name(path.name + ".new")
        new = contents(path.name, 4, FILE_PAGES)
        tmp.write_bytes(new)
        os.sync()
        os.rename(tmp, path)
        files[path] = new
    assert_never_stale(files)


def test_remount_drops_pool_never_stale(ext4_4k: Ext4) -> None:
    files = make_files(ext4_4k.mnt, "rm")
    pages = len(files) * FILE_PAGES
    assert_stored(through_cleancache(files), pages)
    held = kg.kztmem_ints()["curr_eph_pampd_count"]
    assert held >= pages * 8 // 10

    ext4_4k.remount()
    after = kg.kztmem_ints()
    assert after["curr_eph_pampd_count"] <= held - pages * 8 // 10, \
        f"umount left the pool's pages in kztmem: {held} -> {after['curr_eph_pampd_count']}"

    # change the files on the remounted fs, then remount again before reading
    for path in list(files):
        new = contents(path.name, 5, FILE_PAGES)
        path.write_bytes(new)
        files[path] = new
    os.sync()
    ext4_4k.remount()
    check_files(files)
    through_cleancache(files)
    ext4_4k.remount()
    check_files(files)


def test_memory_pressure_evicts(workloads, swap, ext4_4k: Ext4, split_tunables) -> None:
    """memhog through swap makes the shrinker give zbud frames back.

    With eph_share_guard reclaim takes only what the cleancache half holds
    above its share, and the files' own hits would raise the share: it is
    pinned at 0 here whatever the guard
    (test_reclaim_leaves_cleancache_its_share pins it at 50)."""
    pin_share(split_tunables, 0)
    files = make_files(ext4_4k.mnt, "mp", count=16, pages=FILE_PAGES * 2)
    assert_stored(through_cleancache(files), len(files) * FILE_PAGES * 2)
    before = kg.kztmem_ints()
    assert before["zbud_curr_raw_pages"] > 0, before

    size = kg.swap_pressure_mib(swap, extra_mib=32)
    res = kg.run_memhog(size, pattern="mix", seed=5)
    assert res.returncode == 0 and res.mismatches == 0, res.describe()

    after = kg.kztmem_ints()
    d = kg.delta(after, before)
    evicted = d["evicted_raw_pages"] + d["evicted_buddied_pages"] + d["evicted_unbuddied_pages"]
    assert evicted > 0, f"memory pressure evicted nothing from zbud: {d}"
    assert after["zbud_curr_raw_pages"] < before["zbud_curr_raw_pages"] or \
        d["evicted_raw_pages"] > 0, (before, after)
    # whatever was evicted comes from the disk, the rest from kztmem
    check_files(files)
    assert kg.meminfo_kib()["MemFree"] > 0
    kg.run(["true"])


@pytest.mark.parametrize("cost", [None, 1], ids=["default", "cost1"])
def test_drop_slab_runs_the_shrinker(ext4_4k: Ext4, cost: Optional[int]) -> None:
    """drop_caches level 2 runs every shrinker: zbud gives its frames back,
    at the default eph_reclaim_cost (8) and at 1."""
    with kg.Tunable(kg.KZTMEM_SYSFS / "eph_reclaim_cost") as t:
        if cost is not None:
            t.write(cost)
        drop_slab_and_check(ext4_4k, f"ds{cost}")


@pytest.mark.kzt_boot(append="kztmem kztmem.eph_reclaim_cost=16", memory="384M")
def test_drop_slab_empties_pool_at_any_reclaim_cost(ext4_4k: Ext4) -> None:
    """The same at the highest cost, in a guest of its own.  Had the cost
    scaled what drop_caches asks for, as it once did, a pool of 500
    frames would be less than one shrinker batch and most of it would
    stay; a guest of its own keeps other tests' drops from leaving the
    shrinker a deferred count that hides that."""
    assert (kg.KZTMEM_SYSFS / "eph_reclaim_cost").read_text().strip() == "16"
    drop_slab_and_check(ext4_4k, "ds16")


def drop_slab_and_check(ext4_4k: Ext4, tag: str) -> None:
    """Files through kztmem, then drop_caches level 2: at most a tenth of
    the pool is left, nothing is left evicting, every byte reads back."""
    files = make_files(ext4_4k.mnt, tag)
    assert_stored(through_cleancache(files), len(files) * FILE_PAGES)
    before = kg.kztmem_ints()
    assert before["zbud_curr_raw_pages"] > 0, before
    kg.write_sysfs("/proc/sys/vm/drop_caches", "2")
    after = kg.kztmem_ints()
    d = kg.delta(after, before)
    assert d["evicted_buddied_pages"] + d["evicted_unbuddied_pages"] > 0, d
    assert d["evicted_raw_pages"] > 0, d
    assert d["eph_frames_shrunk"] > 0, f"the shrinker's frames were not counted: {d}"
    # The shrinker settles every frame it picked: none is left evicting.
    assert after["zbud_evicting_pages"] == 0, after
    assert after["zbud_curr_raw_pages"] <= before["zbud_curr_raw_pages"] // 10, (before, after)
    assert after["curr_eph_pampd_count"] <= before["curr_eph_pampd_count"] // 10, (before, after)
    assert after["zbud_evicting_pages"] == 0, after
    # evicted pages come from the disk again, byte for byte
    check_files(files)


def evict_counted() -> tuple[dict[str, int], dict[str, int]]:
    """drop_caches level 1: kztmem's counters after it, and how they moved."""
    before = kg.kztmem_ints()
    kg.drop_caches(1)
    after = kg.kztmem_ints()
    return after, kg.delta(after, before)


def filecheck_files(ext4: Ext4, pattern: str, seed: int) -> Callable[[], None]:
    """Write FILES filecheck files of ``pattern`` on ``ext4``, sync them and
    drop them from the page cache; return what verifies them byte for byte."""
    def verify() -> None:
        r = kg.run_filecheck("verify", ext4.mnt, files=FILES, size="1M", pattern=pattern,
                             seed=seed)
        assert r.returncode == 0 and r.mismatches == 0, r.describe()

    w = kg.run_filecheck("write", ext4.mnt, files=FILES, size="1M", pattern=pattern, seed=seed)
    assert w.returncode == 0, w.describe()
    os.sync()
    kg.drop_caches(1)
    return verify


@pytest.mark.parametrize("pattern", ["zero", "same"])
def test_same_filled_pages_take_no_frame(workloads, ext4_4k: Ext4, pattern: str) -> None:
    """A same-filled page (all zero, or one word repeated) is kept as its
    value: it takes no zbud frame, reads back whole, and the shrinker
    (drop_caches level 2) evicts it like a frame. Before, each took half a
    zbud frame."""
    pages = FILES * FILE_PAGES
    verify = filecheck_files(ext4_4k, pattern, seed=5)
    verify()
    stored, d = evict_counted()
    assert_stored(d, pages)
    assert d["eph_same_filled_pages"] >= d["eph_puts"], d
    assert d["zbud_cumul_zpages"] == 0 and d["zbud_curr_raw_pages"] <= 0, \
        f"same-filled pages went to zbud: {d}"

    verify()
    d = kg.delta(kg.kztmem_ints(), stored)
    assert d["eph_gets"] >= pages * 8 // 10, \
        f"re-reading {pages} same-filled pages got only {d['eph_gets']} from kztmem: {d}"
    assert d["eph_same_filled_pages"] <= -d["eph_gets"], d

    kg.drop_caches(1)
    stored = kg.kztmem_ints()
    assert stored["eph_same_filled_pages"] >= pages * 8 // 10, stored
    kg.write_sysfs("/proc/sys/vm/drop_caches", "2")
    after = kg.kztmem_ints()
    assert after["eph_same_filled_pages"] <= stored["eph_same_filled_pages"] // 10, \
        f"the shrinker left same-filled pages: {stored} -> {after}"
    assert after["curr_eph_pampd_count"] <= stored["curr_eph_pampd_count"] // 10, (stored, after)
    # evicted pages come from the disk again, byte for byte
    verify()


@pytest.fixture
def cc_cgroups() -> Iterator[tuple[Path, Path]]:
    """(limited, unlimited) memory cgroups; the first gets its
    memory.zswap.max in the test."""
    made: list[Path] = []
    try:
        for name in ("kzt-cc-limited", "kzt-cc-unlimited"):
            made.append(kg.make_memory_cgroup(name, {}))
        if not (made[0] / "memory.zswap.max").exists():
            pytest.fail(f"{made[0]}/memory.zswap.max missing: the kernel lacks the series' "
                        "'mm: memcontrol' patch or CONFIG_MEMCG_KMEM")
        yield made[0], made[1]
    finally:
        for cg in made:
            kg.remove_cgroup(cg)


CC_LIMIT = 256 * 1024
#: the limit is checked before a page is compressed (one put at a time here)
CC_SLACK = 2 * PAGE_SIZE


def filecheck_in(ext4: Ext4, cg: Path, seed: int, mode: str) -> None:
    """filecheck ``mode`` on FILES text files of cgroup ``cg``'s own
    directory, run inside ``cg`` (so the page cache it reads is charged there)."""
    r = kg.run_filecheck(mode, ext4.mnt / cg.name, files=FILES, size="1M", pattern="text",
                         seed=seed, cgroup=cg)
    assert r.returncode == 0 and r.mismatches == 0, r.describe()


def assert_charged_roundtrip(ext4: Ext4, cg: Path, seed: int) -> None:
    """``cg``'s files, read inside it and evicted from outside it, are stored
    and charged to it at their compressed size (memory.zswap.current,
    memory.stat's zswap, and zswapped in bytes: pages times PAGE_SIZE);
    reading them back from kztmem gives the charge back."""
    pages = FILES * FILE_PAGES
    filecheck_in(ext4, cg, seed, "verify")
    before = kg.kztmem_ints()
    kg.drop_caches(1)
    d = kg.delta(kg.kztmem_ints(), before)
    held = kg.cgroup_ints(cg)
    assert_stored(d, pages)
    assert held["stat.zswapped"] // PAGE_SIZE >= pages * 8 // 10, \
        f"{cg}'s pages were not charged: {held}"
    assert held["memory.zswap.current"] == held["stat.zswap"], held
    # charged at their compressed size: what zbud holds for them, not a page each
    assert 0 < held["memory.zswap.current"] <= d["zbud_curr_zbytes"] + CC_SLACK, (held, d)
    assert held["memory.zswap.current"] < pages * PAGE_SIZE // 2, held
    assert d["eph_cgroup_limit_hit"] == 0, d

    filecheck_in(ext4, cg, seed, "verify")
    got = kg.cgroup_ints(cg)
    assert got["memory.zswap.current"] <= CC_SLACK and got["stat.zswapped"] <= CC_SLACK, \
        f"reading the pages back from kztmem left {cg} charged: {got}"


def write_cgroup_files(ext4: Ext4, cgs: dict[Path, int]) -> None:
    for cg, seed in cgs.items():
        (ext4.mnt / cg.name).mkdir()
        filecheck_in(ext4, cg, seed, "write")
    os.sync()
    kg.drop_caches(1)


def test_cleancache_pages_charge_their_cgroup(workloads, ext4_4k: Ext4, cc_cgroups) -> None:
    """Clean pages kztmem stores are charged to the cgroup of their page, at
    their compressed size, and a get gives the charge back. At its
    memory.zswap.max a cgroup's puts are declined (eph_cgroup_limit_hit) and
    it holds no more than the limit, while another cgroup's pages are stored
    and charged as before."""
    limited, free = cc_cgroups
    pages = FILES * FILE_PAGES
    write_cgroup_files(ext4_4k, {limited: 41, free: 42})
    assert_charged_roundtrip(ext4_4k, limited, 41)

    kg.write_sysfs(limited / "memory.zswap.max", str(CC_LIMIT))
    filecheck_in(ext4_4k, limited, 41, "verify")
    filecheck_in(ext4_4k, free, 42, "verify")
    before = kg.kztmem_ints()
    kg.drop_caches(1)
    d = kg.delta(kg.kztmem_ints(), before)
    a, b = kg.cgroup_ints(limited), kg.cgroup_ints(free)
    assert d["eph_cgroup_limit_hit"] >= pages // 2, \
        f"{limited} at memory.zswap.max {CC_LIMIT} had only {d['eph_cgroup_limit_hit']} puts declined: {d}"
    assert 0 < a["memory.zswap.current"] <= CC_LIMIT + CC_SLACK, \
        f"{limited} holds {a['memory.zswap.current']} bytes with memory.zswap.max {CC_LIMIT}"
    assert b["stat.zswapped"] // PAGE_SIZE >= pages * 8 // 10, f"{free}'s pages were not stored: {b}"
    assert b["memory.zswap.current"] > 2 * CC_LIMIT, b
    assert d["eph_puts"] >= b["stat.zswapped"] // PAGE_SIZE, (d, b)
    # every byte of both comes back, the stored ones from kztmem
    filecheck_in(ext4_4k, limited, 41, "verify")
    filecheck_in(ext4_4k, free, 42, "verify")
    after = kg.cgroup_ints(limited), kg.cgroup_ints(free)
    assert all(c["memory.zswap.current"] <= CC_SLACK for c in after), after


def memory_events(cg: Path) -> dict[str, int]:
    return {k: int(v) for k, v in
            (ln.split() for ln in (cg / "memory.events").read_text().splitlines())}


#: a cgroup as small as the bench's sort-16 runs in
SMALL_MAX = 8 << 20
#: The share is checked against the cgroup's statistics without a flush
#: (the check must not sleep), which hide up to a charge batch (64 pages)
#: per CPU: what kztmem holds may pass the share by that much.
SHARE_SLACK = 2 * 64 * PAGE_SIZE


def assert_small_cgroup_keeps_running(ext4: Ext4, cg: Path, limit: str = "memory.max") -> None:
    """A cgroup with ``limit`` (memory.max or memory.high) 8M reads its
    files. By default (eph_memcg_max_percent 0) kztmem keeps none of its
    clean pages. With a share of 50%, it reads 48 MiB twice: clean pages
    that memcg reclaim evicts are not stored while the cgroup is at its
    limit (kztmem's shrinker cannot give them back to it), and kztmem
    holds at most half the limit for it: the reads finish, nothing is
    OOM-killed, every byte verifies. Before, under memory.max, every
    evicted page was stored and charged until the charges alone filled
    it and the reader was OOM-killed; under memory.high alone they were
    stored, charged and kept whatever the share."""
    kg.write_sysfs(cg / limit, str(SMALL_MAX))
    with kg.Tunable(kg.KZTMEM_SYSFS / "eph_memcg_max_percent") as share:
        for pct, files in ((0, 2), (50, 6)):
            share.write(pct)
            top = ext4.mnt / f"{cg.name}-{pct}"
            top.mkdir()
            before = kg.kztmem_ints()
            r = kg.run_filecheck("cycle", top, files=files, size="8M", pattern="mix",
                                 seed=51, passes=2, cgroup=cg)
            events, held = memory_events(cg), kg.cgroup_ints(cg)
            d = kg.delta(kg.kztmem_ints(), before)
            info = f"{limit}, share {pct}%: memory.events {events}; {cg}: {held}; kztmem {d}"
            assert events["oom_kill"] == 0 and r.returncode == 0 and r.mismatches == 0, \
                f"{r.describe()}; {info}"
            assert held["memory.zswap.current"] <= SMALL_MAX * pct // 100 + SHARE_SLACK, info
            assert d["eph_memcg_full_hit"] > 0, f"no clean page was declined for the cgroup: {info}"
            if pct == 0:
                assert held["memory.zswap.current"] == 0 and held["stat.zswapped"] == 0, \
                    f"clean pages kept for a cgroup with a {limit}: {info}"
            shutil.rmtree(top)
            os.sync()


def test_cgroup_at_memory_max_keeps_running(workloads, ext4_4k: Ext4, cc_cgroups) -> None:
    assert_small_cgroup_keeps_running(ext4_4k, cc_cgroups[0])


def test_cgroup_at_memory_high_keeps_no_clean_pages(workloads, ext4_4k: Ext4,
                                                    cc_cgroups) -> None:
    """The same with a memory.high and no memory.max: the lower of the two
    is the cgroup's limit."""
    assert_small_cgroup_keeps_running(ext4_4k, cc_cgroups[0], "memory.high")


@ONESTEP
def test_onestep_cgroup_at_memory_max_keeps_running(workloads, ext4_4k: Ext4,
                                                    cc_cgroups) -> None:
    """As above, with the one-step put, which makes the same checks."""
    assert_small_cgroup_keeps_running(ext4_4k, cc_cgroups[0])


@ONESTEP
def test_onestep_puts_charge_their_cgroup(workloads, ext4_4k: Ext4, cc_cgroups) -> None:
    """The one-step put, under the i_pages lock with interrupts off, charges
    the same way (it does not check memory.zswap.max: that check may sleep)."""
    cg = cc_cgroups[1]
    write_cgroup_files(ext4_4k, {cg: 43})
    assert_charged_roundtrip(ext4_4k, cg, 43)


@pytest.fixture
def eph_raw() -> Iterator[kg.Tunable]:
    with kg.Tunable(kg.KZTMEM_SYSFS / "eph_raw") as t:
        yield t


def test_incompressible_pages_kept_raw_or_refused(workloads, ext4_4k: Ext4, eph_raw) -> None:
    """Random pages are kept raw (eph_raw=1, the default): no zbud frame,
    read back whole from kztmem, and drop_caches level 2 evicts them; with
    eph_raw=0 they are refused, found from a sample without a compression,
    and the re-read comes from the disk."""
    pages = FILES * FILE_PAGES
    verify = filecheck_files(ext4_4k, "random", seed=7)

    eph_raw.write("1")
    verify()
    stored, d = evict_counted()
    assert_stored(d, pages)
    assert d["eph_raw_pages"] >= d["eph_puts"] * 9 // 10, d
    assert d["eph_cheap_rejects"] >= d["eph_raw_pages"] * 9 // 10, d
    assert d["zbud_cumul_zpages"] <= pages // 100 and d["eph_compress_poor"] == 0, d
    verify()
    got = kg.delta(kg.kztmem_ints(), stored)
    assert got["eph_gets"] >= pages * 8 // 10, got
    kg.drop_caches(1)
    held = kg.kztmem_ints()
    kg.write_sysfs("/proc/sys/vm/drop_caches", "2")
    after = kg.kztmem_ints()
    assert after["eph_raw_pages"] <= held["eph_raw_pages"] // 10, (held, after)

    eph_raw.write("0")
    verify()
    before = kg.kztmem_ints()
    kg.drop_caches(1)
    d = kg.delta(kg.kztmem_ints(), before)
    assert d["eph_puts"] <= pages // 100 and d["eph_raw_pages"] == 0, d
    assert d["eph_compress_poor"] >= pages * 8 // 10, d
    assert d["eph_cheap_rejects"] >= pages * 8 // 10, d
    verify()
    assert kg.delta(kg.kztmem_ints(), before)["eph_gets"] == 0


def test_fewer_block_reads_with_kztmem(workloads, ext4_4k: Ext4) -> None:
    """Files that fell out of the page cache read back with fewer block reads
    once their pages went through kztmem.

    A set of single-file filecheck directories larger than the page cache is
    read once cold (remounted, nothing in cleancache: every page comes from
    the disk) and then the files that are no longer in the page cache (util-
    linux fincore) are read again, the most recently evicted first. Without
    kztmem each of those reads goes to the disk again, as in the cold read;
    with kztmem a good part of them is served from it.
    """
    size_mib = 8
    total_mib = kg.meminfo_kib()["MemAvailable"] // 1024 + 64
    dirs = []
    for i in range(total_mib // size_mib + 1):
        d = ext4_4k.mnt / f"set{i:03d}"
        d.mkdir()
        w = kg.run_filecheck("write", d, files=1, size=f"{size_mib}M", pattern="text",
                             seed=100 + i)
        assert w.returncode == 0, w.describe()
        dirs.append(d)
    os.sync()
    ext4_4k.remount()          # a fresh pool: nothing of these files in kztmem
    kg.drop_caches(3)

    c0, (r0, s0) = kg.kztmem_ints(), ext4_4k.block_stat()
    for i, d in enumerate(dirs):
        r = kg.run_filecheck("verify", d, files=1, size=f"{size_mib}M", pattern="text",
                             seed=100 + i)
        assert r.returncode == 0 and r.mismatches == 0, r.describe()
    c1, (r1, s1) = kg.kztmem_ints(), ext4_4k.block_stat()
    per_file = (s1 - s0) / len(dirs)
    evicted = [(i, d) for i, d in enumerate(dirs)
               if kg.resident_bytes(d / "kzt-file-0000") < (size_mib << 20) // 2]
    assert evicted, "every file is still in the page cache: the set is too small"

    for i, d in reversed(evicted):
        r = kg.run_filecheck("verify", d, files=1, size=f"{size_mib}M", pattern="text",
                             seed=100 + i)
        assert r.returncode == 0 and r.mismatches == 0, r.describe()
    c2, (r2, s2) = kg.kztmem_ints(), ext4_4k.block_stat()

    cold = per_file * len(evicted)
    warm = s2 - s1
    gets = kg.delta(c2, c1)["eph_gets"]
    info = (f"{len(dirs)} x {size_mib} MiB, {len(evicted)} evicted; cold read "
            f"{r1 - r0} reads / {s1 - s0} sectors ({cold:.0f} for the evicted files); "
            f"re-read of the evicted files {r2 - r1} reads / {warm} sectors, eph_gets {gets}; "
            f"kztmem during the cold read {kg.delta(c1, c0)}, during the re-read {kg.delta(c2, c1)}")
    print(info)
    run_dir = os.environ.get("KZT_RUN_DIR")
    if run_dir and os.access(run_dir, os.W_OK):
        Path(run_dir, "cleancache-block-reads.txt").write_text(info + "\n")
    assert kg.delta(c1, c0)["eph_gets"] == 0, f"the cold read hit kztmem: {info}"
    assert gets > 0, f"the re-read never hit kztmem: {info}"
    assert warm < cold * 0.9, f"kztmem did not save block reads: {info}"
    # the saving is kztmem's: each hit is a page (8 sectors) not read
    assert gets * (PAGE_SIZE // 512) >= (cold - warm) // 2, info


# ------------------------------------------------- the split between halves

@pytest.fixture
def split_tunables() -> Iterator[dict[str, kg.Tunable]]:
    """max_pool_percent, the share's bounds and its guard, restored afterwards."""
    names = ("max_pool_percent", "eph_min_percent", "eph_max_percent", "eph_share_guard")
    with contextlib.ExitStack() as stack:
        yield {n: stack.enter_context(kg.Tunable(kg.KZTMEM_SYSFS / n)) for n in names}


def pin_share(tunables: dict[str, kg.Tunable], percent: int) -> None:
    tunables["eph_min_percent"].write(percent)
    tunables["eph_max_percent"].write(percent)
    share = kg.kztmem_ints()["eph_share_percent"]
    assert share == percent, f"share bounds {percent}..{percent}: eph_share_percent {share}"


def cleancache_rounds(files: dict[Path, bytes], rounds: int) -> dict[str, int]:
    """Put ``files`` through kztmem ``rounds`` times, each read verified
    (and served by kztmem where the previous round left pages); the delta."""
    before = kg.kztmem_ints()
    for _ in range(rounds):
        through_cleancache(files)
    check_files(files)
    return kg.delta(kg.kztmem_ints(), before)


def test_swap_leaves_cleancache_its_share(workloads, swap, ext4_4k: Ext4,
                                          split_tunables) -> None:
    """With the pool full of swapped-out pages, cleancache gets no room
    without a share (the old single budget: no hit at all) and claims its
    share back from the persistent half with one, and then hits."""
    t = split_tunables
    t["max_pool_percent"].write(10)
    pin_share(t, 0)
    files = make_files(ext4_4k.mnt, "sh", count=8, pages=FILE_PAGES * 2)
    pages = len(files) * FILE_PAGES * 2
    limit = kg.meminfo_kib()["MemTotal"] * 1024 // 10
    size = kg.swap_pressure_mib(swap, extra_mib=96)
    # memhog's oldest pages fill the pool; it then lets go of all but the
    # oldest 128 MiB, so that the files run with memory to spare and only
    # kztmem's budget stands between them and the pool
    with kg.Workload(kg.memhog_argv(size, "mixed", keep_mib=128, pause=True)) as w:
        w.wait_stage("filled")
        w.resume()
        w.wait_stage("trimmed")
        full = kg.kztmem_ints()
        assert full["pool_total_bytes"] >= limit * 9 // 10, \
            f"memhog did not fill the {limit >> 20} MiB pool: {full}"
        unshared = cleancache_rounds(files, 3)
        pin_share(t, 30)
        shared = cleancache_rounds(files, 3)
        w.resume()
        res = w.finish()
    assert res.returncode == 0 and res.mismatches == 0, res.describe()
    info = f"{pages} file pages; share 0: {unshared}; share 30: {shared}"
    assert unshared["eph_puts"] + unshared["failed_eph_puts"] >= pages, \
        f"the files were not offered to kztmem: {info}"
    assert unshared["eph_gets"] * 20 <= pages, f"no share, yet cleancache hit: {info}"
    assert shared["eph_room_claims"] > 0, f"cleancache never claimed its share: {info}"
    assert shared["pers_split_declined"] + shared["pers_written_back"] > 0, \
        f"the persistent half gave nothing up: {info}"
    assert shared["eph_gets"] * 4 >= pages, f"cleancache hit too little with a share: {info}"
    check_files(files)


def test_swap_stores_take_frames_back(workloads, swap, ext4_4k: Ext4,
                                     split_tunables) -> None:
    """With no share for cleancache, a swap store that finds the pool at its
    limit takes zbud frames back before it is declined, and
    eph_frames_for_swap counts them apart from what the shrinker takes
    (eph_frames_shrunk): the two are how a cleancache page leaves the
    pool under swap pressure.  The files still read back intact."""
    t = split_tunables
    t["max_pool_percent"].write(4)
    pin_share(t, 0)
    files = make_files(ext4_4k.mnt, "fb", count=8, pages=FILE_PAGES * 2)
    assert_stored(through_cleancache(files), len(files) * FILE_PAGES * 2)
    before = kg.kztmem_ints()
    assert before["zbud_curr_raw_pages"] > 0, before
    res = kg.run_memhog(kg.swap_pressure_mib(swap, extra_mib=64), pattern="mixed", seed=11)
    assert res.returncode == 0 and res.mismatches == 0, res.describe()
    d = kg.delta(kg.kztmem_ints(), before)
    assert d["pers_puts"] > 0, f"memhog stored nothing: {d}"
    assert d["eph_frames_for_swap"] > 0, \
        f"swap stores at the limit took no zbud frame back: {d}"
    check_files(files)


def test_share_follows_hits_and_swap(workloads, swap, ext4_4k: Ext4, split_tunables) -> None:
    """Cleancache hits move the share up, declined swap stores move it back."""
    t = split_tunables
    t["max_pool_percent"].write(2)
    pin_share(t, 10)
    t["eph_max_percent"].write(50)
    assert kg.kztmem_ints()["eph_share_percent"] == 10
    # 8 MiB of text: about 4 MiB of zbud frames, inside the 2% pool
    files = make_files(ext4_4k.mnt, "mv", count=4, pages=FILE_PAGES * 2)
    hits = cleancache_rounds(files, 3)
    grown = kg.kztmem_ints()
    info = f"three rounds of {len(files)} files: {hits}"
    assert hits["eph_gets"] >= 2 * 128, f"too few hits to move the share: {info}"
    assert hits["eph_share_grown"] > 0 and hits["eph_share_shrunk"] == 0, info
    assert grown["eph_share_percent"] > 10, info

    size = kg.swap_pressure_mib(swap, extra_mib=32)
    res = kg.run_memhog(size, pattern="mixed", seed=9)
    assert res.returncode == 0 and res.mismatches == 0, res.describe()
    after = kg.kztmem_ints()
    d = kg.delta(after, grown)
    info = f"share {grown['eph_share_percent']} -> {after['eph_share_percent']}; {d}"
    assert d["pool_limit_hit"] > 0, f"memhog never found the pool full: {info}"
    assert d["eph_share_shrunk"] > 0, info
    assert after["eph_share_percent"] < grown["eph_share_percent"], info
    check_files(files)


def test_evicted_pages_leave_ghosts(ext4_4k: Ext4, split_tunables) -> None:
    """A page the pool gave back leaves a ghost: read again, it misses
    kztmem and counts a ghost hit (a read the pool would have saved), and
    with eph_share_guard ghost hits move the share up as hits do."""
    t = split_tunables
    t["eph_share_guard"].write(1)
    pin_share(t, 0)
    t["eph_max_percent"].write(50)
    files = make_files(ext4_4k.mnt, "gh", count=8, pages=FILE_PAGES * 2)
    pages = len(files) * FILE_PAGES * 2
    assert_stored(through_cleancache(files), pages)
    kg.write_sysfs("/proc/sys/vm/drop_caches", "2")     # the shrinker takes it all
    before = kg.kztmem_ints()
    check_files(files)                                  # from the disk
    after = kg.kztmem_ints()
    d = kg.delta(after, before)
    info = f"{pages} pages evicted, then read: share {after['eph_share_percent']}; {d}"
    assert d["eph_gets"] * 10 <= pages, f"drop_caches left the pages in kztmem: {info}"
    assert d["eph_ghost_hits"] >= pages // 2, f"evicted pages read again left no ghost: {info}"
    assert d["eph_ghost_hits"] <= d["eph_get_misses"], info
    assert d["eph_share_grown"] > 0 and after["eph_share_percent"] >= 10, \
        f"ghost hits did not move the share: {info}"


def test_reclaim_leaves_cleancache_its_share(workloads, swap, ext4_4k: Ext4,
                                            split_tunables) -> None:
    """With eph_share_guard, memory pressure takes from the cleancache half
    only what it holds above its share. At a share of 0, memhog through
    swap takes the files' frames (test_memory_pressure_evicts); with the
    share pinned at 50% of the pool limit, more than the files hold, the
    same pressure leaves them, reclaim is held back at the share, and the
    files are read back from kztmem."""
    t = split_tunables
    t["eph_share_guard"].write(1)
    pin_share(t, 50)
    files = make_files(ext4_4k.mnt, "rl", count=8, pages=FILE_PAGES * 2)
    pages = len(files) * FILE_PAGES * 2
    assert_stored(through_cleancache(files), pages)
    stored = kg.kztmem_ints()
    limit_pages = kg.meminfo_kib()["MemTotal"] * 1024 // PAGE_SIZE * \
        stored["max_pool_percent"] // 100
    assert stored["zbud_curr_raw_pages"] < limit_pages // 2, \
        f"the files' frames do not fit the share of {limit_pages // 2} pages: {stored}"
    res = kg.run_memhog(kg.swap_pressure_mib(swap, extra_mib=64), pattern="mix", seed=7)
    assert res.returncode == 0 and res.mismatches == 0, res.describe()
    pressed = kg.kztmem_ints()
    check_files(files)
    during = kg.delta(pressed, stored)
    d = kg.delta(kg.kztmem_ints(), pressed)
    info = f"{pages} file pages; during memhog {during}; re-read {d}"
    assert during["pers_puts"] > 0, f"memhog swapped nothing: {info}"
    assert d["eph_gets"] * 10 >= pages * 9, f"memory pressure took the share's pages: {info}"
    assert during["eph_reclaim_held"] > 0, f"no reclaim scan stopped at the share: {info}"


# ------------------------------------------------------------- admission

@pytest.fixture
def admit_tunables() -> Iterator[dict[str, kg.Tunable]]:
    """The admission shift and its ceiling, restored afterwards."""
    names = ("cc_admit_shift", "cc_admit_max_shift")
    with contextlib.ExitStack() as stack:
        yield {n: stack.enter_context(kg.Tunable(kg.KZTMEM_SYSFS / n)) for n in names}


def test_admission_follows_waste_and_hits(workloads, ext4_4k: Ext4, admit_tunables) -> None:
    """A file loop longer than the page cache and the pool together wastes
    what kztmem stores (evicted unread, or no page for its frame): the
    admission shift goes up and runs are left out, every byte still
    verified. Then files that fit in the pool hit, waste nothing, and the
    shift comes back down to admitting every page."""
    t = admit_tunables
    t["cc_admit_max_shift"].write(3)
    t["cc_admit_shift"].write(0)
    loop = ext4_4k.mnt / "loop"
    loop.mkdir()
    before = kg.kztmem_ints()
    # filecheck-reread-512: 512 MiB written, evicted, read twice in 384 MiB
    r = kg.run_filecheck("cycle", loop, files=64, size="8M", pattern="mix", seed=21,
                         passes=2)
    assert r.returncode == 0 and r.mismatches == 0, r.describe()
    looped = kg.kztmem_ints()
    d = kg.delta(looped, before)
    info = f"shift {looped['cc_admit_shift']}; {d}"
    assert d["cc_admit_raised"] > 0, f"a loop longer than the pool never raised the shift: {info}"
    assert d["eph_not_admitted"] > 0, f"no page was left out: {info}"
    assert d["eph_gets"] > 0, f"the pages admitted never hit: {info}"

    shutil.rmtree(loop)        # its pages leave kztmem with the files
    os.sync()
    t["cc_admit_shift"].write(3)
    files = make_files(ext4_4k.mnt, "adm", count=8, pages=FILE_PAGES * 4)
    start = kg.kztmem_ints()
    shifts = []
    for _ in range(12):
        through_cleancache(files)
        shifts.append(kg.kztmem_ints()["cc_admit_shift"])
        if shifts[-1] == 0:
            break
    d = kg.delta(kg.kztmem_ints(), start)
    info = f"shift after each round: {shifts}; {d}"
    assert d["eph_gets"] > 0 and d["cc_admit_lowered"] > 0, info
    assert shifts[-1] == 0, f"32 MiB of files that fit never brought the shift down: {info}"
    check_files(files)


@pytest.fixture
def reclaim_cost(admit_tunables) -> Iterator[kg.Tunable]:
    """eph_reclaim_cost, restored afterwards, with every page admitted (so
    that only the shrinker decides how long a page stays)."""
    admit_tunables["cc_admit_max_shift"].write(0)
    with kg.Tunable(kg.KZTMEM_SYSFS / "eph_reclaim_cost") as t:
        yield t


def test_reclaim_cost_keeps_clean_pages_longer(workloads, ext4_4k: Ext4, reclaim_cost) -> None:
    """The same file loop, longer than the page cache, run with the
    shrinker's cost per frame at 1 and at 16: at 16 reclaim takes fewer
    frames back for each page-cache page it scans, so more of the loop's
    pages are still in kztmem when it comes round to them again."""
    got = {}
    for cost in (1, 16):
        reclaim_cost.write(cost)
        loop = ext4_4k.mnt / f"cost{cost}"
        loop.mkdir()
        kg.drop_caches(3)
        before = kg.kztmem_ints()
        r = kg.run_filecheck("cycle", loop, files=48, size="8M", pattern="mix", seed=31,
                             passes=2)
        assert r.returncode == 0 and r.mismatches == 0, r.describe()
        got[cost] = kg.delta(kg.kztmem_ints(), before)
        shutil.rmtree(loop)    # its pages leave kztmem with the files
        os.sync()
    info = "; ".join(f"cost {c}: eph_gets {d['eph_gets']}, eph_puts {d['eph_puts']}, "
                     f"evicted frames {d['evicted_buddied_pages'] + d['evicted_unbuddied_pages']}"
                     for c, d in got.items())
    print(info)
    run_dir = os.environ.get("KZT_RUN_DIR")
    if run_dir and os.access(run_dir, os.W_OK):
        Path(run_dir, "cleancache-reclaim-cost.txt").write_text(info + "\n")
    assert got[1]["eph_puts"] > 0 and got[16]["eph_puts"] > 0, info
    assert got[16]["eph_gets"] > got[1]["eph_gets"] * 5 // 4, \
        f"a 16 times higher reclaim cost did not keep more pages for the loop: {info}"


def test_page_left_out_drops_its_older_copy(ext4_4k: Ext4, admit_tunables) -> None:
    """A page whose run is no longer admitted does not leave its older copy
    in kztmem: files stored whole (shift 0), then rewritten and evicted at
    shift 6, read back their new bytes, from the disk."""
    t = admit_tunables
    t["cc_admit_max_shift"].write(6)
    files = make_files(ext4_4k.mnt, "lo", count=4, pages=FILE_PAGES * 2)
    pages = len(files) * FILE_PAGES * 2
    assert_stored(through_cleancache(files), pages)
    t["cc_admit_shift"].write(6)
    rewritten = {}
    for path in files:
        # in place: a truncation would drop the old copies itself
        data = contents(path.name, 2, FILE_PAGES * 2)
        with open(path, "r+b") as f:
            f.write(data)
        rewritten[path] = data
    os.sync()
    before = kg.kztmem_ints()
    kg.drop_caches(1)
    d = kg.delta(kg.kztmem_ints(), before)
    assert d["eph_not_admitted"] >= pages // 2, \
        f"at shift 6, {pages} rewritten pages were not left out: {d}"
    check_files(rewritten)
    through_cleancache(rewritten)
    check_files(rewritten)


# ------------------------------------------------- puts prepared before the lock

def locked_histogram() -> list[int]:
    return [int(f) for f in (kg.KZTMEM_SYSFS / LOCKED_HISTOGRAM).read_text().split()]


def core_stat(name: str) -> int:
    """A counter of the cleancache core, /sys/kernel/debug/cleancache/NAME."""
    return int((kg.ensure_debugfs() / "cleancache" / name).read_text())


def check_locked_accounting(d: dict[str, int], hist_before: list[int]) -> None:
    """Every store and every commit ran under the lock once and was timed."""
    hist = [a - b for a, b in zip(locked_histogram(), hist_before)]
    assert sum(hist) == d["eph_locked_calls"], (hist, d)
    assert d["eph_locked_calls"] >= d["eph_puts"], d
    assert d["eph_locked_ns"] > 0, d


def evict_timed(ext4: Ext4, tag: str) -> tuple[dict[Path, bytes], dict[str, int], list[int], int]:
    """Write files, read them back, evict them into kztmem: return the files,
    the counter delta of the eviction (every page stored), the lock-hold
    histogram and the core's prepared count from before it."""
    files = make_files(ext4.mnt, tag)
    kg.drop_caches(1)
    check_files(files)
    before, hist, core = kg.kztmem_ints(), locked_histogram(), core_stat("prepared")
    kg.drop_caches(1)
    d = kg.delta(kg.kztmem_ints(), before)
    assert_stored(d, len(files) * FILE_PAGES)
    return files, d, hist, core


def test_puts_are_prepared_before_the_lock(ext4_4k: Ext4) -> None:
    """Reclaim's puts are compressed before the i_pages lock: the driver
    counts them prepared, the lock only sees the commit, and the pages come
    back byte for byte."""
    files, d, hist, core = evict_timed(ext4_4k, "pp")
    pages = len(files) * FILE_PAGES
    assert d["eph_prepared"] >= pages * 8 // 10, f"puts were not prepared: {d}"
    assert core_stat("prepared") - core >= d["eph_prepared"], \
        f"the cleancache core counted fewer prepared puts than kztmem: {d}"
    check_locked_accounting(d, hist)

    got = kg.kztmem_ints()
    check_files(files)
    assert kg.delta(kg.kztmem_ints(), got)["eph_gets"] >= d["eph_puts"] * 8 // 10


@ONESTEP
def test_onestep_puts_store_under_the_lock(ext4_4k: Ext4) -> None:
    """kztmem.cc_prepare=0: nothing is prepared, puts compress under the
    lock as before, and the data still comes back byte for byte."""
    assert CC_PREPARE.read_text().strip() == "N"
    files, d, hist, core = evict_timed(ext4_4k, "os")
    assert d["eph_prepared"] == 0 and d["eph_prepare_aborted"] == 0, d
    assert core_stat("prepared") == core, "the core prepared puts without prepare_page"
    check_locked_accounting(d, hist)
    check_files(files)


def test_prepared_puts_race_readers(workloads, ext4_4k: Ext4) -> None:
    """Readers take references to the pages reclaim is preparing: a folio
    that stays in the page cache has its prepared copy dropped, none is
    leaked, and no read ever returns other bytes than the file's.

    Three cacherace processes evict the files in a loop for RACE_SECONDS,
    two of them reading a few pages before each eviction: an eviction that prepared a
    page a reader then took a reference to finds the page busy.
    """
    files = make_files(ext4_4k.mnt, "rr", count=4)
    before = kg.kztmem_ints()
    procs = [subprocess.Popen(
        [str(kg.workload("cacherace")), "evict", *(str(p) for p in files),
         "--seconds", "120", "--seed", str(n), "--json", *extra],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n, extra in enumerate(([], ["--read"], ["--read"]))]
    try:
        time.sleep(RACE_SECONDS)
    finally:
        # closing their stdin stops them
        outputs = [p.communicate(timeout=60) for p in procs]
    d = kg.delta(kg.kztmem_ints(), before)
    info = f"evictors: {[out.strip().splitlines()[-1:] for out, _ in outputs]}; {d}"
    kg.save_result("cleancache-prepared-race.json",
                   {"evictors": [out.strip().splitlines()[-1:] for out, _ in outputs],
                    "counters_delta": d})
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, f"cacherace evict failed: {out} {err}"
    assert d["eph_prepared"] > 0 and d["eph_gets"] > 0, info
    assert d["eph_prepare_aborted"] > 0, \
        f"no prepared put found its page taken meanwhile: the race was not run; {info}"
    check_files(files)
    kg.drop_caches(1)
    check_files(files)

    # Every prepared copy was committed or dropped: an unmount frees them all.
    ext4_4k.umount()
    try:
        left = kg.kztmem_ints()
        assert left["curr_eph_pampd_count"] == 0 and left["zbud_curr_zpages"] == 0 \
            and left["eph_raw_pages"] == 0 and left["eph_same_filled_pages"] == 0, \
            f"pages left in kztmem after the pool went away: {left}; {info}"
    finally:
        ext4_4k.mount()


#: Splices the file argv[1] into a pipe, which then holds a reference to
#: every page of it; says "held", waits for a line on stdin, then copies
#: the pipe's bytes to stdout.
PIPE_HOLDER = r"""
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
r, w = os.pipe()
fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, size)
off = 0
while off < size:
    n = os.splice(fd, w, size - off, offset_src=off)
    if n <= 0:
        sys.exit(f"splice gave {n} at {off} of {size}")
    off += n
print("held", flush=True)
sys.stdin.readline()
got = bytearray()
while len(got) < size:
    got += os.read(r, size - len(got))
sys.stdout.buffer.write(got)
"""


def cgroup_reclaim(cg: Path, nbytes: int) -> None:
    """Ask the cgroup's own reclaim for ``nbytes`` (memory.reclaim). It
    answers EAGAIN when it freed less, as it must while pages are busy."""
    try:
        with open(cg / "memory.reclaim", "w") as f:
            f.write(str(nbytes))
    except OSError as e:
        if e.errno != errno.EAGAIN:
            raise


def test_reclaim_skips_pages_in_use(ext4_4k: Ext4) -> None:
    """Reclaim prepares no put for a page somebody else holds (series patch
    "mm: cleancache: prepare no put for a folio that is in use").

    A process in a memory cgroup splices a file into a pipe, which keeps a
    reference to each of its pages; the cgroup's memory.reclaim then finds
    them all busy. Each is skipped, counted in the core's prepare_skipped,
    and stays in the page cache: none is compressed and then dropped
    (prepare_aborted). Before the patch every reclaim pass compressed all of
    them for nothing. Once the pipe is drained the same reclaim prepares and
    stores them, and they come back byte for byte from kztmem.
    """
    files = make_files(ext4_4k.mnt, "bz", count=1)
    (path, data), = files.items()
    kg.drop_caches(1)
    cg = kg.make_memory_cgroup("kzt-busy", {})
    try:
        holder = subprocess.Popen(
            [sys.executable, "-c", PIPE_HOLDER, str(path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=lambda: kg.join_cgroup(str(cg / "cgroup.procs")))
        try:
            assert holder.stdout is not None and holder.stdin is not None
            line = holder.stdout.readline()
            assert line == b"held\n", f"the pipe holder did not start: {line!r}"
            core = {n: core_stat(n) for n in ("prepared", "prepare_aborted", "prepare_skipped")
                    if (kg.ensure_debugfs() / "cleancache" / n).exists()}
            before = kg.kztmem_ints()
            cgroup_reclaim(cg, 4 * FILE_SIZE)
            held = {n: core_stat(n) - v for n, v in core.items()}
            held_d = kg.delta(kg.kztmem_ints(), before)
            resident = kg.resident_bytes(path)
            out, err = holder.communicate(b"\n", timeout=120)
        finally:
            if holder.poll() is None:
                holder.kill()
                holder.wait()
        assert holder.returncode == 0, f"the pipe holder failed: {err!r}"
        assert out == data, "the pipe gave other bytes than the file's"
        info = f"core while held: {held}; kztmem: {held_d}"
        kg.save_result("cleancache-busy-skipped.json",
                       {"core_delta_while_held": held, "counters_delta_while_held": held_d})
        assert resident == FILE_SIZE, f"a page held by the pipe left the page cache: {info}"
        assert held["prepare_aborted"] <= FILE_PAGES // 16, \
            f"reclaim compressed pages in use and dropped the copies: {info}"
        assert "prepare_skipped" in held, \
            "the cleancache core has no prepare_skipped counter: a kernel without the patch"
        assert held["prepare_skipped"] >= FILE_PAGES * 8 // 10, \
            f"of {FILE_PAGES} busy pages only {held['prepare_skipped']} were skipped: {info}"

        # Nobody holds them now: the same reclaim prepares and stores them.
        prepared = core_stat("prepared")
        before = kg.kztmem_ints()
        cgroup_reclaim(cg, 4 * FILE_SIZE)
        d = kg.delta(kg.kztmem_ints(), before)
        assert core_stat("prepared") - prepared >= FILE_PAGES * 8 // 10, d
        assert_stored(d, FILE_PAGES)
        before = kg.kztmem_ints()
        check_files(files)
        assert kg.delta(kg.kztmem_ints(), before)["eph_gets"] >= FILE_PAGES * 8 // 10
    finally:
        kg.remove_cgroup(cg)


def test_written_pages_are_stored(ext4_4k: Ext4) -> None:
    """Pages written back and evicted before anyone read them again are
    stored (series patch "ext4: mark written-back pages mapped to disk"):
    kztmem gets them, the cleancache core does not count them in
    evicted_unmapped, and reading them back is served by kztmem, byte for
    byte. Before that patch, none of them was offered."""
    files = make_files(ext4_4k.mnt, "wr")
    pages = len(files) * FILE_PAGES
    before, core = kg.kztmem_ints(), core_stat("evicted_unmapped")
    kg.drop_caches(1)
    d = kg.delta(kg.kztmem_ints(), before)
    unmapped = core_stat("evicted_unmapped") - core
    assert unmapped < pages // 10, \
        f"evicting {pages} written-back pages counted {unmapped} not known on the disk: {d}"
    assert_stored(d, pages)

    before = kg.kztmem_ints()
    check_files(files)
    d = kg.delta(kg.kztmem_ints(), before)
    assert d["eph_gets"] >= pages * 8 // 10, \
        f"reading {pages} written pages back got only {d['eph_gets']} from kztmem: {d}"
