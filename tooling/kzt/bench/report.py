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
from .stats import INCONCLUSIVE, LEVEL, RESAMPLES

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
CHART_WIDTH = 640
LABEL_WIDTH = 170
BAR_HEIGHT = 18
BAR_GAP = 6


def cells_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    meta = doc.get("meta") or {}
    return aggregate(doc.get("runs") or [], meta.get("baselines") or {},
                     meta.get("variants"), list(meta.get("workloads") or {}) or None,
                     seed=int(meta.get("seed") or 0))


def headline(meta: dict[str, Any]) -> str:
    """The headline metric of a bench (meta.headline.metric; "seconds" for
    benches recorded before it was named)."""
    return str((meta.get("headline") or {}).get("metric") or "seconds")


def ratio_order(meta: dict[str, Any]) -> list[str]:
    """The compared metrics, the headline first and host wall time beside it."""
    h = headline(meta)
    rest = [k for k in RATIO_METRICS if k != h]
    if "wall_seconds" in rest:
        rest.remove("wall_seconds")
        rest.insert(0, "wall_seconds")
    return [h, *rest]


def build(doc: dict[str, Any]) -> dict[str, Any]:
    """report.json: meta, one cell per workload x variant, the bad runs."""
    everything = doc.get("runs") or []
    runs = [r for r in everything if not r.get("superseded")]
    meta = dict(doc.get("meta") or {})
    meta["runs_done"] = len(runs)
    meta["runs_ok"] = sum(1 for r in runs if r["status"] == OK)
    meta.setdefault("headline", {"metric": "seconds", "label": "workload time", "clock": ""})
    meta["bootstrap"] = {"resamples": RESAMPLES, "level": LEVEL,
                         "method": "percentile bootstrap of the median of the paired "
                                   "(same-block) ratios variant / baseline",
                         "verdict": "win or loss only when this interval and Student's t "
                                    "interval of the geometric mean ratio (t_ci) both lie "
                                    "on one side of 1"}
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
        "superseded": [_brief(r) | {"infra": r.get("infra", "")}
                       for r in everything if r.get("superseded")],
    }


def _brief(r: dict[str, Any]) -> dict[str, Any]:
    return {k: r.get(k) for k in ("index", "rep", "block", "variant", "workload", "status",
                                  "reason", "run_dir", "exit_code", "mismatches", "boot_status",
                                  "attempt")}


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


def fmt_cmp(c: dict[str, Any] | None, html: bool = False) -> str:
    """0.83x [0.78-0.90] win: a paired comparison in one line."""
    if not c or c.get("median") is None:
        return "-"
    x = "×" if html else "x"
    dash = "–" if html else "-"
    if c.get("ci"):
        lo, hi = c["ci"]
        # a verdict whose interval rounds to 1.00 at two decimals would
        # read as if it touched 1: three decimals then
        held = c["verdict"] == INCONCLUSIVE and (hi < 1 or lo > 1) and c.get("t_ci")
        d = 3 if ((c["verdict"] != INCONCLUSIVE or held)
                  and 1.0 in (round(lo, 2), round(hi, 2))) else 2
        text = f"{c['median']:.{d}f}{x} [{lo:.{d}f}{dash}{hi:.{d}f}] {c['verdict']}"
        if held:
            # the bootstrap interval excludes 1, Student's t does not
            tlo, thi = c["t_ci"]
            text += f" (t: {tlo:.{d}f}{dash}{thi:.{d}f})"
        return text
    return f"{c['median']:.2f}{x} {c['verdict']} (n={c['n']})"


def render_html(rep: dict[str, Any]) -> str:
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["fmt"] = _fmt
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
            "charts": [bar_chart(_chart_items(cells, headline(meta)), " s",
                                 f"{meta['headline'].get('label') or 'workload time'}, median "
                                 "(whisker: min–max)"),
                       bar_chart(_chart_items(cells, "wall_seconds"), " s",
                                 "workload time on the host's wall clock"),
                       bar_chart(_chart_items(cells, "disk_mib"), " MiB", "disk I/O, read + written", 0),
                       bar_chart(_chart_items(cells, "cpu_seconds"), " s", "guest CPU busy (both vCPUs)")]})
    accels = meta.get("accels") or []
    return env.get_template("report.html.j2").render(
        rep=rep, meta=meta, sections=sections, accels=accels,
        tcg="tcg" in accels, ratio_metrics=ratio_order(meta), metrics=rep["metrics"],
        headline=headline(meta),
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
    """The columns of the text table: the headline and one "vs X" per
    baseline (median ratio [95% interval] verdict), host wall time beside."""
    h = headline(doc.get("meta") or {})
    return ("workload", "variant", "runs", f"{h} (median)",
            *(f"vs {label}" for label in _baselines(doc)), "wall s",
            *(f"wall vs {label}" for label in _baselines(doc)), "CPU s", "disk MiB", "density")


def _baselines(doc: dict[str, Any]) -> list[str]:
    return list((doc.get("meta") or {}).get("baselines") or {})


def summary_rows(doc: dict[str, Any]) -> list[tuple[str, ...]]:
    """The text table `kzt bench` prints at the end (one row per cell)."""
    rows: list[tuple[str, ...]] = []
    h = headline(doc.get("meta") or {})
    for c in cells_of(doc):
        r = c["ratios"]
        rows.append((c["workload"], c["variant"], _status_text(c),
                     _fmt_num(c["stats"].get(h), 1),
                     *(_vs(r.get(label), h) for label in _baselines(doc)),
                     _fmt_num(c["stats"].get("wall_seconds"), 1),
                     *(_vs(r.get(label), "wall_seconds") for label in _baselines(doc)),
                     _fmt_num(c["stats"].get("cpu_seconds")),
                     _fmt_num(c["stats"].get("disk_mib")),
                     _fmt_num(c["stats"].get("density"), 2)))
    return rows


def _vs(entry: dict[str, Any] | None, metric: str) -> str:
    if entry and entry.get("is_baseline"):
        return "(baseline)"
    return fmt_cmp((entry or {}).get(metric))


def _status_text(c: dict[str, Any]) -> str:
    n = c["counts"]
    if n[UNAVAILABLE] == c["runs"]:
        return "unavailable"
    parts = [f"{n[OK]}/{c['runs']} ok"]
    if n[FAILED]:
        parts.append(f"{n[FAILED]} FAILED")
    if n[ERROR]:
        parts.append(f"{n[ERROR]} censored")
    if c.get("superseded"):
        parts.append(f"{c['superseded']} rerun")
    return ", ".join(parts)


def _fmt_num(s: dict[str, float] | None, digits: int = 0) -> str:
    return "-" if not s else f"{s['median']:.{digits}f}"
