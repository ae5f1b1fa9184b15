"""Cleancache hooks (issue 3): the kernel calls the backend when it must.

Booted with ``cleancache_test.enable=1``, a kernel built with
CONFIG_CLEANCACHE_TEST has a trivial backend registered that keeps plain
copies of evicted pages and counts every call in
/sys/kernel/debug/cleancache_test/. Each test formats the ``kzt-ext4``
disk with 4 KiB blocks (cleancache ignores file systems whose blocks are
smaller than a page, and mke2fs picks 1 KiB blocks on small disks), mounts
it, and checks that:

- mounting ext4 creates a pool (init_fs);
- pages read from disk and then evicted are put, and reading them again
  is served by the backend (get_hit) with identical bytes, the hit taking
  the page out of the backend (exclusive get);
- truncating, overwriting with O_DIRECT or deleting a file invalidates
  its pages, a buffered overwrite, once written back, puts the new pages
  in place of the old, and a later read never returns the old bytes;
  a truncation or a direct write invalidates the range it changed, not
  the whole file (invalidate_range), and deleting the file all of it;
- unmounting invalidates the pool (invalidate_fs) and frees its pages.
"""

from __future__ import annotations

import dataclasses
import mmap
import os
from pathlib import Path
from typing import Iterable, Iterator

import pytest

from kzt.guest import lib as kg

pytestmark = [pytest.mark.kzt_boot(append="cleancache_test.enable=1"), pytest.mark.integrity]

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
BACKEND = kg.DEBUGFS / "cleancache_test"
CORE = kg.DEBUGFS / "cleancache"

#: Files used by the data tests: small enough to stay far below the test
#: backend's 16384-page limit and to fit in a 384 MiB guest many times.
FILES = 4
FILE_PAGES = 256            # 1 MiB each with 4 KiB pages


@pytest.fixture(autouse=True, scope="module")
def _require_test_backend() -> None:
    kg.ensure_debugfs()
    if BACKEND.is_dir():
        return
    if (kg.kernel_config().get("CONFIG_CLEANCACHE_TEST") == "y"
            and kg.booted_with("cleancache_test.enable=1")):
        pytest.fail(f"{BACKEND} absent although the kernel has CONFIG_CLEANCACHE_TEST=y and was "
                    "booted with cleancache_test.enable=1: the test backend did not register")
    pytest.skip(f"{BACKEND} absent: kernel built without CONFIG_CLEANCACHE_TEST, or booted "
                "without cleancache_test.enable=1")


def backend() -> dict[str, int]:
    """The test backend's counters (calls per operation, stored_pages)."""
    return {k: int(v) for k, v in kg.read_dir(BACKEND).items()}


def core() -> dict[str, int]:
    """The cleancache core's counters."""
    return {k: int(v) for k, v in kg.read_dir(CORE).items()}


@dataclasses.dataclass
class Ext4:
    dev: str
    mnt: Path

    def umount(self) -> None:
        kg.umount(self.mnt)


@pytest.fixture
def ext4_4k(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ext4]:
    """The kzt-ext4 disk, freshly formatted with 4 KiB blocks and mounted."""
    dev = kg.find_disk(kg.EXT4_SERIAL)
    mnt = tmp_path_factory.mktemp("cleancache")
    kg.run([kg.tool("mkfs.ext4"), "-F", "-q", "-b", "4096", dev], timeout=300)
    kg.mount(dev, mnt)
    fs = Ext4(dev, mnt)
    try:
        yield fs
    finally:
        fs.umount()


def write_file(path: Path, pages: int) -> bytes:
    """Write ``pages`` pages of random data to a new file; return the data."""
    data = os.urandom(pages * PAGE_SIZE)
    path.write_bytes(data)
    return data


def read_file(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def cycle_through_backend(files: dict[Path, bytes]) -> None:
    """Leave the pages of ``files`` in the backend only.

    The files are read back from the disk first, so the pages evicted are
    the ones a read brought in. After this, none of their pages is in the
    page cache.
    """
    kg.drop_caches(3)
    for path, data in files.items():
        assert read_file(path) == data, f"{path}: wrong data read back from disk"
    kg.drop_caches(3)


def cached_pages(files: Iterable[Path]) -> int:
    """Pages of ``files`` still in the page cache after a drop_caches.

    drop_caches skips pages something holds (a per-CPU LRU batch does, up
    to 15 pages a CPU), so a file written just before can keep a few; the
    tests expect calls for the pages that left, not for all. Fails if so
    many stayed that the test would prove little.
    """
    paths = list(files)
    pages = sum(kg.resident_bytes(p) for p in paths) // PAGE_SIZE
    total = sum(p.stat().st_size for p in paths) // PAGE_SIZE
    assert pages <= total // 8, \
        f"drop_caches left {pages} of {total} pages cached; the test needs them evicted"
    return pages


def make_files(root: Path, count: int = FILES, pages: int = FILE_PAGES) -> dict[Path, bytes]:
    files = {}
    for i in range(count):
        path = root / f"file{i}"
        files[path] = write_file(path, pages)
    os.sync()
    return files


def file_in_backend(path: Path) -> bytes:
    """Write a new file of FILE_PAGES random pages at ``path`` and leave its
    pages in the backend only; return its data."""
    data = write_file(path, FILE_PAGES)
    os.sync()
    cycle_through_backend({path: data})
    return data


def assert_holds(counters: dict[str, int], pages: int) -> None:
    """The backend holds at least 9 in 10 of the ``pages`` pages just evicted."""
    assert counters["stored_pages"] >= pages * 9 // 10, \
        f"the backend holds {counters['stored_pages']} pages, fewer than 9 in 10 of " \
        f"the {pages} just evicted"


def assert_invalidated(what: str, before: dict[str, int], after: dict[str, int],
                       op: str = "invalidate_inode") -> None:
    """Between ``before`` and ``after``, ``what`` called the backend's ``op``
    (``invalidate_inode``: the whole file, ``invalidate_range``: a range)."""
    assert after[op] > before[op], \
        f"{what} did not call {op}: {kg.delta(after, before)}"


def test_mount_creates_pool_and_umount_drops_it(tmp_path_factory: pytest.TempPathFactory) -> None:
    dev = kg.find_disk(kg.EXT4_SERIAL)
    mnt = tmp_path_factory.mktemp("cleancache")
    kg.run([kg.tool("mkfs.ext4"), "-F", "-q", "-b", "4096", dev], timeout=300)

    before = backend()
    kg.mount(dev, mnt)
    try:
        mounted = backend()
        assert mounted["init_fs"] == before["init_fs"] + 1, \
            f"mounting ext4 did not create exactly one pool: {kg.delta(mounted, before)}"
        files = make_files(mnt, count=1)
        cycle_through_backend(files)
        stored = backend()["stored_pages"] - before["stored_pages"]
        evicted = FILE_PAGES - cached_pages(files)
        assert stored >= evicted, \
            f"the evicted file is not in the backend: {stored} of {evicted} evicted pages stored"
    finally:
        kg.umount(mnt)
    after = backend()
    assert after["invalidate_fs"] == before["invalidate_fs"] + 1, \
        f"umount did not invalidate the pool: {kg.delta(after, before)}"
    assert after["stored_pages"] == before["stored_pages"], \
        f"umount left {after['stored_pages'] - before['stored_pages']} pages in the backend"


def test_evicted_pages_are_put_and_read_back(ext4_4k: Ext4) -> None:
    files = make_files(ext4_4k.mnt)
    npages = FILES * FILE_PAGES

    # Read from disk (marks the pages as backed by disk), then evict them.
    kg.drop_caches(3)
    for path, data in files.items():
        assert read_file(path) == data
    b0, c0 = backend(), core()
    kg.drop_caches(3)
    b1, c1 = backend(), core()
    put = kg.delta(b1, b0)
    evicted = npages - cached_pages(files)
    assert put["put"] >= evicted, \
        f"evicting {evicted} clean pages put only {put['put']}: {put}"
    assert c1["puts"] - c0["puts"] == put["put"], "core and backend disagree on puts"
    kept = put["stored_pages"]
    assert kept >= npages * 9 // 10, f"the backend kept only {kept} of {npages} pages: {put}"

    # Read again: every kept page comes from the backend, byte for byte,
    # and a hit takes the page out of the backend.
    for path, data in files.items():
        assert read_file(path) == data, f"{path}: data from cleancache differs"
    b2, c2 = backend(), core()
    got = kg.delta(b2, b1)
    assert got["get_hit"] == kept, f"{kept} pages kept but {got['get_hit']} hits: {got}"
    assert c2["succ_gets"] - c1["succ_gets"] == got["get_hit"], \
        "core succ_gets and backend get_hit disagree"
    assert b2["stored_pages"] == b1["stored_pages"] - kept, \
        "a get that hit did not take the page out of the backend"


def test_reads_from_disk_ask_the_backend_first(ext4_4k: Ext4) -> None:
    files = make_files(ext4_4k.mnt, count=1)
    kg.drop_caches(3)
    # Pages drop_caches left cached are not read from disk, so they cannot
    # ask the backend (a CI run saw 12 of 256 stay).
    from_disk = FILE_PAGES - cached_pages(files)
    before = backend()
    for path, data in files.items():
        assert read_file(path) == data
    got = kg.delta(backend(), before)
    assert got["get_miss"] + got["get_hit"] >= from_disk, \
        f"reading {from_disk} mapped pages from disk asked the backend only " \
        f"{got['get_miss'] + got['get_hit']} times: {got}"


def test_truncate_invalidates(ext4_4k: Ext4) -> None:
    path = ext4_4k.mnt / "trunc"
    old = file_in_backend(path)
    before = backend()
    assert_holds(before, FILE_PAGES)

    half = FILE_PAGES // 2 * PAGE_SIZE
    os.truncate(path, half)
    after = backend()
    assert_invalidated("truncate", before, after, "invalidate_range")
    dropped = before["stored_pages"] - after["stored_pages"]
    # The tail is gone; the head, which did not change, stays.
    assert FILE_PAGES // 2 * 8 // 10 <= dropped <= FILE_PAGES // 2, \
        f"truncating to half dropped {dropped} pages, expected the tail's {FILE_PAGES // 2}"

    # Grow it again: the old tail must read back as zeros, not old bytes.
    os.truncate(path, FILE_PAGES * PAGE_SIZE)
    os.sync()
    kg.drop_caches(3)
    data = read_file(path)
    assert data[:half] == old[:half]
    assert data[half:] == bytes(len(data) - half), "old data came back after truncate"


def test_overwrite_in_place_replaces(ext4_4k: Ext4) -> None:
    path = ext4_4k.mnt / "over"
    file_in_backend(path)
    before = backend()
    assert_holds(before, FILE_PAGES)

    # Whole pages written in place are not read first: the backend's old
    # copies stay until the new pages are evicted. Written back without an
    # error, the new pages are known to be on the disk (series patch "ext4:
    # mark written-back pages mapped to disk"), so their eviction puts them
    # in place of the old copies, which must never be served again.
    new = os.urandom(FILE_PAGES * PAGE_SIZE)
    with open(path, "r+b") as f:
        f.write(new)
    os.sync()
    kg.drop_caches(3)
    mid = backend()
    assert mid["put"] - before["put"] >= FILE_PAGES * 9 // 10, \
        f"evicting {FILE_PAGES} rewritten, written-back pages put fewer: {kg.delta(mid, before)}"
    assert_holds(mid, FILE_PAGES)

    assert read_file(path) == new, "stale data after overwrite"
    after = backend()
    assert after["get_hit"] - mid["get_hit"] >= FILE_PAGES * 9 // 10, \
        f"the rewritten pages were not served by the backend: {kg.delta(after, mid)}"


def test_direct_write_invalidates(ext4_4k: Ext4) -> None:
    path = ext4_4k.mnt / "direct"
    old = file_in_backend(path)
    before = backend()

    buf = mmap.mmap(-1, PAGE_SIZE)       # page aligned, as O_DIRECT needs
    buf.write(b"D" * PAGE_SIZE)
    fd = os.open(path, os.O_WRONLY | os.O_DIRECT)
    try:
        assert os.pwrite(fd, buf, 3 * PAGE_SIZE) == PAGE_SIZE
    finally:
        os.close(fd)
    after = backend()
    assert_invalidated("an O_DIRECT write", before, after, "invalidate_range")
    # Only the page written is dropped: the rest of the file stays.
    assert before["stored_pages"] - after["stored_pages"] <= 1, \
        f"a one-page O_DIRECT write dropped {before['stored_pages'] - after['stored_pages']} " \
        "pages from the backend"
    assert after["invalidate_inode"] == before["invalidate_inode"], \
        "a one-page O_DIRECT write dropped the whole file"

    expected = bytearray(old)
    expected[3 * PAGE_SIZE:4 * PAGE_SIZE] = b"D" * PAGE_SIZE
    assert read_file(path) == bytes(expected), "stale data after an O_DIRECT write"


def test_unlink_invalidates(ext4_4k: Ext4) -> None:
    files = make_files(ext4_4k.mnt, count=2)
    cycle_through_backend(files)
    before = backend()
    assert_holds(before, 2 * FILE_PAGES)

    victim = next(iter(files))
    victim.unlink()
    after = backend()
    assert_invalidated("unlink", before, after)
    dropped = before["stored_pages"] - after["stored_pages"]
    assert FILE_PAGES * 9 // 10 <= dropped <= FILE_PAGES, \
        f"unlink dropped {dropped} pages, expected the file's {FILE_PAGES}"

    # A new file may reuse the inode number: it must not see the old pages.
    reuse = ext4_4k.mnt / "reuse"
    fresh = write_file(reuse, FILE_PAGES)
    os.sync()
    kg.drop_caches(3)
    assert read_file(reuse) == fresh, "a new file read the pages of a deleted one"
