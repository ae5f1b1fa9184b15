"""`kzt profile`: where a workload's guest CPU time goes.

Boots like `kzt run` (by default on the bench's clock, so that the samples
follow the instructions the bench's modeled time counts), runs the
workload's programs under `perf record -a -g` in the guest, and has perf
tabulate the samples by function in the guest, where /proc/kallsyms
names the kernel's.  The run directory keeps perf.data, perf-self.txt
(each function's own share) and perf-children.txt (with its callees).

A profiled run is not a measurement: perf's own sampling and writing
run in the same guest, so its figures are not comparable with a bench's.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from . import vm
from .errors import KztError
from .layout import Layout
from .workrun import RunRequest, RunResult, run_workload

#: a prime, so that the samples do not fall in step with the timer tick
DEFAULT_HZ = 997

_ROW = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s+(?:(\d+(?:\.\d+)?)%\s+)?\[([k.])\]\s+(\S.*?)\s*$")


@dataclass(frozen=True)
class Row:
    """One line of a perf table: a function's share of the samples."""
    percent: float
    kernel: bool
    symbol: str


@dataclass
class ProfileResult:
    run: RunResult
    self_rows: list[Row]
    #: perf-self.txt and perf-children.txt
    tables: tuple[Path, Path]


def rows(text: str) -> list[Row]:
    """The rows of `perf report --stdio -g none --sort sym`, in its order.
    With --children the first percentage (with callees) is the one kept."""
    out = []
    for line in text.splitlines():
        m = _ROW.match(line)
        if m:
            out.append(Row(float(m.group(1)), m.group(3) == "k", m.group(4)))
    return out


def profile(layout: Layout, req: RunRequest) -> ProfileResult:
    """`kzt run`'s request, with `profile_hz` the sampling rate."""
    if req.profile_hz < 1 or req.profile_hz > 10000:
        raise KztError(f"sampling rate {req.profile_hz} Hz is out of range", "use --hz 1..10000")
    r = run_workload(layout, req)
    if r.data is None:
        raise KztError(f"the workload produced no result: {vm.explain(r.boot, req.timeout)}",
                       f"see {r.run_dir}")
    if r.data.unavailable:
        raise KztError(f"configuration {req.with_} is unavailable: {r.data.unavailable}")
    if r.data.error:
        raise KztError(f"the run failed: {r.data.error}",
                       "install perf on the host (`kzt setup` installs linux-perf): the "
                       "guest runs the host's" if "profiler" in r.data.error else
                       f"see {r.run_dir}")
    prof = r.data.doc.get("profile")
    if not prof:
        raise KztError(f"the guest recorded no profile (run dir {r.run_dir})")
    if prof["exit_code"] != 0:
        raise KztError(f"perf record exited with status {prof['exit_code']}",
                       f"see {r.run_dir / 'perf-record.log'}")
    tables = (r.run_dir / "perf-self.txt", r.run_dir / "perf-children.txt")
    self_rows = rows(tables[0].read_text())
    if not self_rows:
        raise KztError(f"perf recorded no samples: {tables[0]} has no rows",
                       f"see {r.run_dir / 'perf-record.log'}")
    return ProfileResult(r, self_rows, tables)


def render(res: ProfileResult, top: int) -> str:
    lines = [f"{'self':>7}  function"]
    for row in res.self_rows[:top]:
        lines.append(f"{row.percent:6.2f}%  {'' if row.kernel else '(user) '}{row.symbol}")
    kernel = sum(r.percent for r in res.self_rows if r.kernel)
    lines.append(f"kernel functions: {kernel:.1f}% of the samples (rows of 0.1% and more); "
                 f"tables: {res.tables[0]}, {res.tables[1]}")
    return "\n".join(lines)
