"""The bench report: report.json and a self-contained report.html.

Input is the document `kzt bench` keeps in bench.json (meta, plan, runs);
nothing here boots or measures.  The HTML is rendered with jinja2 from
templates/report.html.j2: tables and inline SVG bar charts, no JavaScript,
nothing fetched from the network, so it opens anywhere.  It says how the
figures were taken (TCG or KVM, guest memory, repetitions, kernel, date)
next to the figures.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

from ..errors import KztError
from .records import ERROR, FAILED, METRICS, OK, RATIO_METRICS, UNAVAILABLE, aggregate

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
CHART_WIDTH = 640
LABEL_WIDTH = 170
BAR_HEIGHT = 18
BAR_GAP = 6


def cells_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    meta = doc.get("meta") or {}
    return aggregate(doc.get("runs") or [], meta.get("baselines") or {},
                     meta.get("variants"), list(meta.get("workloads") or {}) or None)


def build(doc: dict[str, Any]) -> dict[str, Any]:
    """report.json: meta, one cell per workload x variant, the bad runs."""
    runs = doc.get("runs") or []
    meta = dict(doc.get("meta") or {})
    meta["runs_done"] = len(runs)
    meta["runs_ok"] = sum(1 for r in runs if r["status"] == OK)
    loads = [x for r in runs for x in r.get("host_load") or []]
    meta["host_load"] = [min(loads), max(loads)] if loads else None
    return {
        "meta": meta,
        "metrics": {k: {"label": lab, "unit": unit, "lower_is_better": low}
                    for k, (lab, unit, low) in METRICS.items()},
        "cells": cells_of(doc),
        "failed": [_brief(r) for r in runs if r["status"] == FAILED],
        "errors": [_brief(r) for r in runs if r["status"] == ERROR],
        "unavailable": [_brief(r) for r in runs if r["status"] == UNAVAILABLE],
    }


def _brief(r: dict[str, Any]) -> dict[str, Any]:
    return {k: r.get(k) for k in ("index", "rep", "variant", "workload", "status", "reason",
                                  "run_dir", "exit_code", "mismatches", "boot_status")}


# ------------------------------------------------------------- charts

def bar_chart(items: Sequence[dict[str, Any]], unit: str, title: str,
              digits: int = 1) -> dict[str, Any]:
    """Geometry of a horizontal bar chart: one bar per item (its median)
    with a whisker from min to max.  Items without a value get a note
    instead of a bar.  Returns what templates/report.html.j2 draws."""
    values = [float(i["max"] if i.get("max") is not None else i["value"])
              for i in items if i.get("value") is not None]
    step = _nice_step(max(values) if values else 1.0)
    top = step * max(1, math.ceil((max(values) if values else 1.0) / step - 1e-9))
    plot = CHART_WIDTH - LABEL_WIDTH - 70
    rows = []
    for n, it in enumerate(items):
        y = 24 + n * (BAR_HEIGHT + BAR_GAP)
        row: dict[str, Any] = {"label": it["label"], "y": y, "ty": y + BAR_HEIGHT - 5,
                               "note": it.get("note", ""), "cls": it.get("cls", "")}
        if it.get("value") is not None:
            v = float(it["value"])
            row["w"] = round(plot * v / top, 1)
            row["text"] = f"{v:.{digits}f}{unit}"
            if it.get("min") is not None and it.get("max") is not None:
                row["lo"] = round(LABEL_WIDTH + plot * float(it["min"]) / top, 1)
                row["hi"] = round(LABEL_WIDTH + plot * float(it["max"]) / top, 1)
            row["tx"] = round(LABEL_WIDTH + max(row["w"], row.get("hi", 0) - LABEL_WIDTH) + 4, 1)
        rows.append(row)
    ticks = [{"x": round(LABEL_WIDTH + plot * k * step / top, 1), "text": _tick(k * step)}
             for k in range(0, round(top / step) + 1)]
    height = 24 + len(items) * (BAR_HEIGHT + BAR_GAP) + 18
    return {"title": title, "rows": rows, "ticks": ticks, "width": CHART_WIDTH,
            "height": height, "x0": LABEL_WIDTH, "plot": plot, "axis_y": height - 16}


def _nice_step(v: float) -> float:
    """A round grid step (1, 2, 2.5 or 5 times a power of ten) giving
    three to five intervals up to v."""
    if v <= 0:
        return 0.25
    raw = v / 5
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def _tick(v: float) -> str:
    return f"{v:.0f}" if v >= 10 or v == int(v) else f"{v:.1f}"


def _chart_items(cells: Sequence[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    items = []
    for c in cells:
        s = c["stats"].get(key)
        it: dict[str, Any] = {"label": c["variant"], "cls": c["config"]}
        if s:
            it.update(value=s["median"], min=s["min"], max=s["max"])
        else:
            it["note"] = _cell_note(c)
        items.append(it)
    return items


def _cell_note(c: dict[str, Any]) -> str:
    n = c["counts"]
    if n[UNAVAILABLE] == c["runs"]:
        return "unavailable: " + "; ".join(c["reasons"])[:80]
    if n[FAILED]:
        return f"{n[FAILED]} FAILED run(s): data did not verify"
    if n[ERROR]:
        return f"{n[ERROR]} run(s) with errors"
    return "n/a"


# ------------------------------------------------------------- render

def _fmt(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


def _ratio_cls(x: float | None, lower_is_better: bool = True) -> str:
    if x is None:
        return ""
    if abs(x - 1) < 0.05:
        return "same"
    return "better" if (x < 1) == lower_is_better else "worse"


def render_html(rep: dict[str, Any]) -> str:
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["fmt"] = _fmt
    env.filters["ratio_cls"] = _ratio_cls
    meta = rep["meta"]
    sections = []
    for wl, wmeta in (meta.get("workloads") or {}).items():
        cells = [c for c in rep["cells"] if c["workload"] == wl]
        if not cells:
            continue
        sections.append({
            "workload": wl, "meta": wmeta, "cells": cells,
            # benches recorded before mixed workloads kept one program and its args
            "commands": wmeta.get("commands") or [" ".join([str(wmeta.get("program", "?")),
                                                            *wmeta.get("args", [])])],
            "charts": [bar_chart(_chart_items(cells, "seconds"), " s", "workload time, median (whisker: min–max)"),
                       bar_chart(_chart_items(cells, "disk_mib"), " MiB", "disk I/O, read + written", 0),
                       bar_chart(_chart_items(cells, "cpu_seconds"), " s", "guest CPU busy (both vCPUs)")]})
    accels = meta.get("accels") or []
    return env.get_template("report.html.j2").render(
        rep=rep, meta=meta, sections=sections, accels=accels,
        tcg="tcg" in accels, ratio_metrics=RATIO_METRICS, metrics=rep["metrics"],
        variants=meta.get("variants") or [], baselines=meta.get("baselines") or {})


def write(run_dir: Path, doc: dict[str, Any]) -> tuple[Path, Path]:
    """report.json and report.html in run_dir, from bench.json's document."""
    rep = build(doc)
    jpath = run_dir / "report.json"
    hpath = run_dir / "report.html"
    for path, text in ((jpath, json.dumps(rep, indent=1) + "\n"), (hpath, render_html(rep))):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return jpath, hpath


def rerender(run_dir: Path) -> tuple[Path, Path]:
    """Render the report again from a bench directory's bench.json."""
    src = run_dir / "bench.json"
    if not src.exists():
        raise KztError(f"{src} does not exist", "give the directory of a `kzt bench` run "
                       "(build/runs/<id>-bench or build/runs/latest-bench)")
    return write(run_dir, json.loads(src.read_text()))


# ------------------------------------------------------------- summary

def summary_header(doc: dict[str, Any]) -> tuple[str, ...]:
    """The columns of the text table: one "vs X" per baseline of the bench."""
    return ("workload", "variant", "runs", "time s", "min-max",
            *(f"vs {label}" for label in _baselines(doc)), "CPU s", "disk MiB", "density")


def _baselines(doc: dict[str, Any]) -> list[str]:
    return list((doc.get("meta") or {}).get("baselines") or {})


def summary_rows(doc: dict[str, Any]) -> list[tuple[str, ...]]:
    """The text table `kzt bench` prints at the end (one row per cell)."""
    rows: list[tuple[str, ...]] = []
    for c in cells_of(doc):
        s = c["stats"].get("seconds")
        r = c["ratios"]
        rows.append((c["workload"], c["variant"], _status_text(c),
                     f"{s['median']:.1f}" if s else "-",
                     f"{s['min']:.1f}-{s['max']:.1f}" if s else "-",
                     *(_fmt_ratio(r.get(label, {}).get("seconds")) for label in _baselines(doc)),
                     _fmt_num(c["stats"].get("cpu_seconds")),
                     _fmt_num(c["stats"].get("disk_mib")),
                     _fmt_num(c["stats"].get("density"), 2)))
    return rows


def _status_text(c: dict[str, Any]) -> str:
    n = c["counts"]
    if n[UNAVAILABLE] == c["runs"]:
        return "unavailable"
    parts = [f"{n[OK]}/{c['runs']} ok"]
    if n[FAILED]:
        parts.append(f"{n[FAILED]} FAILED")
    if n[ERROR]:
        parts.append(f"{n[ERROR]} error")
    return ", ".join(parts)


def _fmt_ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def _fmt_num(s: dict[str, float] | None, digits: int = 0) -> str:
    return "-" if not s else f"{s['median']:.{digits}f}"
