"""Real programs as bench workloads, each with its result checked.

The synthetic workloads (memhog, filecheck) were written here and know
their own data.  These run programs that were not: CPython's allocator
and object graph, GNU sort with its temporary files.  This module only
prepares their input, runs them and checks what they produced; it prints
one JSON summary line like memhog's ("mismatches" is the number of
checks that failed), so the bench and the tests treat it alike.

    python -m kzt.guest.real pyheap --mib 160 --walks 2 [--seed S]
    python -m kzt.guest.real sort --mib 192 --dir DIR [--buffer-mib M]
                                   [--cgroup-procs FILE]

pyheap: this interpreter builds about MIB MiB of dicts, lists, strings
and tuples from a seeded generator, records a digest of every record as
it builds it, then walks the whole structure WALKS times (after the
kernel has swapped most of it out when the workload's cgroup is smaller)
and compares each record's digest again.

sort: awk writes a file of fixed-width lines whose keys are a
permutation of 0..N-1 (line i holds key (i * STEP) mod N, STEP prime to
N) into DIR; `sort` orders it with a buffer as large as the file (so it
wants more memory than its cgroup grants) and DIR for its temporary
files; awk writes the expected output (keys 0..N-1 in order, same
format) and `cmp` compares the two byte for byte.  With --cgroup-procs,
this driver stays where it is and puts awk, sort and cmp into the cgroup
of that cgroup.procs file: the cgroup's memory is then the program's,
not shared with this interpreter.
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import os
import random
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any, Callable

from kzt.guest import lib as kg

#: bytes per sort line: an 8-digit key, a space, a 54-byte payload, "\n"
SORT_LINE = 64
#: awk's format for one sort line: the key twice, so the payload is
#: derived from the key (a line that moved keeps its payload, a damaged
#: one differs from the expected file)
SORT_AWK_LINE = 'printf "%08d %08d-%045d\\n", k, k, k * 7919'


def _summary(program: str, checks: int, bad: list[str], **extra: Any) -> dict[str, Any]:
    return {"program": program, "checks": checks, "mismatches": len(bad),
            "bad_bytes": 0, "first_bad": bad[:8], **extra}


# ----------------------------------------------------------------- pyheap

def _record(rng: random.Random, i: int) -> dict[str, Any]:
    """One record of the heap: a dict of strings, ints, a list and a tuple,
    some text repeated as real heaps repeat it (keys, names)."""
    words = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
             "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa")
    name = " ".join(rng.choice(words) for _ in range(rng.randint(2, 6)))
    return {
        "id": i,
        "name": name,
        "tag": f"{rng.choice(words)}-{i % 977}",
        "values": [rng.randint(0, 1 << 30) for _ in range(rng.randint(4, 24))],
        "pair": (rng.random(), str(rng.getrandbits(64))),
        "blob": rng.randbytes(rng.randint(16, 96)).hex(),
        "children": {rng.choice(words): rng.randint(0, 9999) for _ in range(rng.randint(1, 5))},
    }


def _digest(rec: dict[str, Any]) -> int:
    text = json.dumps(rec, sort_keys=True, separators=(",", ":"))
    return zlib.crc32(text.encode())


def pyheap(mib: int, walks: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    heap: list[dict[str, Any]] = []
    digests: list[int] = []
    # about 1.7 KiB of heap per record with its digest (tracemalloc,
    # CPython 3.11, 20000 records)
    n = mib * 1024 * 1024 // 1700
    t0 = time.monotonic()
    for i in range(n):
        rec = _record(rng, i)
        heap.append(rec)
        digests.append(_digest(rec))
    built = time.monotonic() - t0
    bad: list[str] = []
    checks = 0
    for w in range(walks):
        # walk in an order of its own each time, as a program's later
        # phases do, so that swap-in is not one sequential stream
        order = list(range(n))
        random.Random(seed + 1 + w).shuffle(order)
        for i in order:
            checks += 1
            if _digest(heap[i]) != digests[i] or heap[i]["id"] != i:
                bad.append(f"walk {w} record {i}")
    return _summary("pyheap", checks, bad, records=n, build_seconds=round(built, 2),
                    walk_seconds=round(time.monotonic() - t0 - built, 2))


# ------------------------------------------------------------------- sort

def _step(n: int) -> int:
    """A multiplier prime to n, near n * 0.618, so neighbouring lines of the
    input are far apart in the output."""
    s = max(1, int(n * 0.6180339887))
    while math.gcd(s, n) != 1:
        s += 1
    return s


def _joiner(procs_file: str | None) -> Callable[[], None] | None:
    """preexec_fn that moves a child into the cgroup of procs_file."""
    return functools.partial(kg.join_cgroup, procs_file) if procs_file is not None else None


def _awk(program: str, out: Path, join: Callable[[], None] | None = None) -> None:
    with out.open("wb") as f:
        subprocess.run(["awk", program], stdout=f, check=True, preexec_fn=join)


def sort(mib: int, directory: Path, buffer_mib: int | None,
         procs_file: str | None = None) -> dict[str, Any]:
    n = mib * 1024 * 1024 // SORT_LINE
    step = _step(n)
    join = _joiner(procs_file)
    directory.mkdir(parents=True, exist_ok=True)
    src, out, want = directory / "input", directory / "sorted", directory / "expected"
    t0 = time.monotonic()
    _awk(f"BEGIN {{ for (i = 0; i < {n}; i++) {{ k = (i * {step}) % {n}; {SORT_AWK_LINE} }} }}",
         src, join)
    _awk(f"BEGIN {{ for (k = 0; k < {n}; k++) {SORT_AWK_LINE} }}", want, join)
    made = time.monotonic() - t0
    env = {**os.environ, "LC_ALL": "C"}
    buf = buffer_mib if buffer_mib is not None else mib
    t1 = time.monotonic()
    r = subprocess.run(["sort", "-S", f"{buf}M", "-T", str(directory), "-o", str(out), str(src)],
                       env=env, stderr=subprocess.PIPE, text=True, preexec_fn=join)
    sorted_s = time.monotonic() - t1
    bad: list[str] = []
    if r.returncode != 0:
        bad.append(f"sort exited {r.returncode}: {r.stderr.strip()[:200]}")
    else:
        c = subprocess.run(["cmp", str(out), str(want)], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, preexec_fn=join)
        if c.returncode != 0:
            bad.append(f"sorted output differs from the expected order: {c.stdout.strip()[:200]}")
    size = src.stat().st_size
    for p in (src, out, want):
        p.unlink(missing_ok=True)
    return _summary("sort", 1, bad, lines=n, input_bytes=size, buffer_mib=buf,
                    make_seconds=round(made, 2), sort_seconds=round(sorted_s, 2))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m kzt.guest.real", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("pyheap", help="CPython builds a heap of objects, then walks it")
    p.add_argument("--mib", type=int, required=True)
    p.add_argument("--walks", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p = sub.add_parser("sort", help="GNU sort of a file larger than its memory")
    p.add_argument("--mib", type=int, required=True)
    p.add_argument("--dir", type=Path, required=True)
    p.add_argument("--buffer-mib", type=int, default=None)
    p.add_argument("--cgroup-procs", default=None, metavar="FILE",
                   help="run awk, sort and cmp in the cgroup of this cgroup.procs file")
    a = ap.parse_args(argv)
    if a.mib < 1:
        ap.error("--mib must be at least 1")
    if a.what == "pyheap":
        s = pyheap(a.mib, a.walks, a.seed)
    else:
        s = sort(a.mib, a.dir, a.buffer_mib, a.cgroup_procs)
    print(json.dumps(s), flush=True)
    return 1 if s["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
