"""Runs inside the guest: pytest over vm-tests, then a counters snapshot.

Started by `kzt test` as `python -m kzt.guest.runner JOB.json` (a kzt.guest.seam.TestJob).
Only the standard library and pytest are used here.  On a kernel with
kmemleak (the debug flavour) the leaks found at boot are cleared before
the tests and a scan after them fails the group if anything leaked.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from .counters import snapshot
from .lib import DEBUGFS
from .seam import TestJob, read

KMEMLEAK = DEBUGFS / "kmemleak"
#: kmemleak reports an object only once it is this old (its min_age).
KMEMLEAK_MIN_AGE = 5.0


def _kmemleak(command: str) -> None:
    with open(KMEMLEAK, "w") as f:
        f.write(command)


def kmemleak_baseline() -> bool:
    """Forget what leaked before the tests (boot); False without kmemleak.

    The automatic scan thread is stopped first: its console report of a
    boot-time suspect would otherwise fail the run.
    """
    if not KMEMLEAK.exists():
        return False
    _kmemleak("scan=off")
    _kmemleak("scan")
    _kmemleak("clear")
    return True


def kmemleak_report(out: Path) -> int:
    """Scan for leaks made during the tests; write them to ``out``; count
    them.  -1 when kmemleak switched itself off meanwhile (no check)."""
    time.sleep(KMEMLEAK_MIN_AGE + 1)
    try:
        _kmemleak("scan")
        _kmemleak("scan")
    except OSError as e:
        print(f"kzt: kmemleak could not scan after the tests ({e.strerror}): it switched "
              "itself off, see the console (memory pool empty?); no leak check was made",
              file=sys.stderr)
        return -1
    text = KMEMLEAK.read_text()
    leaks = text.count("unreferenced object")
    out.write_text(text)
    if leaks:
        print(f"kzt: kmemleak found {leaks} unreferenced object(s) after the tests "
              f"(full report: {out}):\n{text[:6000]}", file=sys.stderr)
    else:
        print("kzt: kmemleak scan after the tests: no leaks")
    return leaks


def main(argv: list[str]) -> int:
    job = TestJob.from_json(read(Path(argv[0])), argv[0])
    import pytest
    run_dir, index = Path(job.run_dir), job.index
    junit = run_dir / f"junit-{index}.xml"
    snapshot()          # mounts debugfs
    leak_check = kmemleak_baseline()
    code = pytest.main(["-p", "kzt.guest.plugin", "-p", "no:cacheprovider",
                        "--kzt-group", job.group.key, f"--junitxml={junit}", "-rs",
                        *job.pytest_args])
    if leak_check and kmemleak_report(run_dir / f"kmemleak-{index}.txt") and code == 0:
        code = 1
    try:
        (run_dir / f"counters-{index}.json").write_text(json.dumps(snapshot(), indent=1) + "\n")
    except OSError as e:
        print(f"kzt: could not write the counters snapshot: {e}", file=sys.stderr)
    return int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
