"""`kzt bench table DIR`: a bench's cells as a Markdown table.

The README's bench tables are this output, so that each of them can be
made again from the recorded `bench.json` alone.  One row per cell
(workload x variant, in the plan's order): the headline's median and its
range over the blocks, the paired ratio to each baseline with its
bootstrap 95% interval and verdict (a verdict needs Student's t interval
too, shown as "(t: ...)" where it held one back), as report.json has
them: computed again from bench.json, so an old report.json cannot
disagree; then the medians of guest CPU time, disk I/O, disk requests
and pool density, and how many runs ended OK.  A cell with censored or failed runs says so
in its last column; nothing is left out.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..errors import KztError
from . import report
from .merge import load

#: the medians shown after the ratios: key -> column title
FIGURES = {
    "cpu_seconds": "CPU s",
    "disk_mib": "disk MiB",
    "disk_ios": "disk requests",
    "density": "density",
}


@dataclass(frozen=True)
class TableRequest:
    bench_dir: Path
    #: keys of the bench's baselines (plain, zswap, zsmalloc); () = every
    #: baseline the plan ran
    baselines: tuple[str, ...] = ()


def _num(x: float | None, digits: int) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _ratio(cell: dict[str, Any], base: str, metric: str) -> str:
    entry = (cell.get("ratios") or {}).get(base) or {}
    if entry.get("is_baseline"):
        return "–"
    r = entry.get(metric) or {}
    if r.get("median") is None:
        return "n/a"
    # the report's form, with a win or a loss in bold
    text = report.fmt_cmp(r)
    verdict = r["verdict"]
    return text[:-len(verdict)] + f"**{verdict}**" if verdict in ("win", "loss") else text


def _runs(cell: dict[str, Any]) -> str:
    counts = cell.get("counts") or {}
    text = f"{counts.get('ok', 0)}/{cell.get('runs', 0)}"
    extra = []
    if counts.get("failed"):
        extra.append(f"{counts['failed']} FAILED")
    cens = cell.get("censored") or {}
    if cens.get("n"):
        extra.append(f"{cens['n']} censored: " + "; ".join(cens.get("why") or []))
    if counts.get("unavailable"):
        extra.append(f"{counts['unavailable']} unavailable")
    return text + (f" ({', '.join(extra)})" if extra else "")


def _figure(cell: dict[str, Any], key: str) -> str:
    s = (cell.get("stats") or {}).get(key) or {}
    digits = 2 if key == "density" else (1 if key == "cpu_seconds" else 0)
    return _num(s.get("median"), digits)


def baselines_of(meta: dict[str, Any], cells: Sequence[dict[str, Any]],
                 wanted: Sequence[str]) -> list[str]:
    """The baselines to show: those asked for (each must be one of the
    bench's), or every one whose variant the plan ran."""
    known = dict(meta.get("baselines") or {})
    if wanted:
        bad = [b for b in wanted if b not in known]
        if bad:
            raise KztError(f"no baseline {', '.join(bad)} in this bench",
                           f"its baselines are {', '.join(known) or 'none'}")
        return list(wanted)
    ran = {c.get("config") for c in cells}
    return [k for k, cfg in known.items() if cfg in ran]


def table(req: TableRequest) -> str:
    doc = load(req.bench_dir)
    meta, cells = dict(doc.get("meta") or {}), report.cells_of(doc)
    head = report.headline(meta)
    bases = baselines_of(meta, cells, req.baselines)
    cfgs = dict(meta.get("baselines") or {})
    cols = ["workload", "variant", f"{head}: median (min-max)",
            *(f"÷ {cfgs[b]}" for b in bases), *FIGURES.values(), "runs OK"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    wl_order = list(meta.get("workloads") or {})
    var_order = list(meta.get("variants") or [])

    def key(c: dict[str, Any]) -> tuple[int, int]:
        w, v = c.get("workload"), c.get("variant")
        return (wl_order.index(w) if w in wl_order else len(wl_order),
                var_order.index(v) if v in var_order else len(var_order))
    for c in sorted(cells, key=key):
        s = (c.get("stats") or {}).get(head) or {}
        span = f"{_num(s.get('median'), 1)} ({_num(s.get('min'), 1)}-{_num(s.get('max'), 1)})"
        row = [str(c.get("workload")), str(c.get("variant")), span,
               *(_ratio(c, b, head) for b in bases),
               *(_figure(c, k) for k in FIGURES), _runs(c)]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)
