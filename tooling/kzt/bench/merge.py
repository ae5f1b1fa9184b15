"""`kzt bench merge`: the shards of one plan into one bench directory.

Shards (`kzt bench --seed N --shard K/N`, possibly on different machines)
each write a bench directory with the runs of their blocks.  A merge
checks that they belong to one plan (the same seed, variants, workloads,
repetitions, clock and image: plan.signature), that no shard and no run
comes twice, and writes one bench.json, report and kcidb.json.  The
cells are those the whole bench would have given: every ratio is taken
within a block, and a block never spans two shards.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from .. import ui
from ..errors import KztError
from . import kcidb, report
from .plan import differences, signature

HINT = ("merge only the directories of one plan: the shards of `kzt bench --seed N "
        "--shard K/N` run with the same options on the same image")


def load(d: Path) -> dict[str, Any]:
    src = d / "bench.json"
    if not src.is_file():
        raise KztError(f"{d}: no bench.json", "give the directories `kzt bench --shard` wrote "
                       "(build/runs/<id>-bench), e.g. the downloaded artifacts")
    try:
        doc: dict[str, Any] = json.loads(src.read_text())
    except json.JSONDecodeError as e:
        raise KztError(f"{src} is not JSON: {e}", "that shard's bench did not write it "
                       "completely; run the shard again with --resume") from None
    return doc


def _shard(meta: dict[str, Any]) -> tuple[int, int] | None:
    s = meta.get("shard")
    if not s:
        return None
    k, _, n = str(s).partition("/")
    return int(k), int(n)


def merge(dirs: Sequence[Path], out: Path) -> dict[str, Any]:
    """One bench document from the shards in dirs, written to out
    (bench.json, report.json, report.html, kcidb.json)."""
    if not dirs:
        raise KztError("nothing to merge", "give one or more bench directories")
    docs = [load(d) for d in dirs]
    first = docs[0].get("meta") or {}
    sig = signature(first)
    if sig.get("seed") is None:
        raise KztError(f"{dirs[0]}: its bench.json has no seed (recorded before blocks)", HINT)
    shards: dict[tuple[int, int] | None, Path] = {}
    for d, doc in zip(dirs, docs):
        meta = doc.get("meta") or {}
        diff = differences(sig, signature(meta))
        if diff:
            raise KztError(f"{d} belongs to another plan than {dirs[0]}: " + "; ".join(diff), HINT)
        sh = _shard(meta)
        if sh in shards:
            what = f"shard {sh[0]}/{sh[1]}" if sh else "the whole bench"
            raise KztError(f"{what} is given twice: {shards[sh]} and {d}", HINT)
        shards[sh] = d
    ns = {sh[1] if sh else 1 for sh in shards}
    if len(ns) > 1 or (None in shards and len(shards) > 1):
        raise KztError("these directories split the plan in different ways: "
                       + ", ".join(f"{d} ({'shard ' + '/'.join(map(str, sh)) if sh else 'whole'})"
                                   for sh, d in shards.items()), HINT)
    n = ns.pop()
    missing = sorted(set(range(1, n + 1)) - {sh[0] for sh in shards if sh})
    if None in shards:
        missing = []
    seen: dict[int, Path] = {}
    runs: list[dict[str, Any]] = []
    plan: list[dict[str, Any]] = []
    for d, doc in zip(dirs, docs):
        for r in doc.get("runs") or []:
            if not r.get("superseded"):
                if r["index"] in seen:
                    raise KztError(f"run {r['index']} is in both {seen[r['index']]} and {d}", HINT)
                seen[r["index"]] = d
            runs.append(r)
        plan += doc.get("plan") or []
    runs.sort(key=lambda r: (r["index"], r.get("attempt", 1)))
    plan.sort(key=lambda p: p["index"])
    meta = dict(first)
    metas = [doc.get("meta") or {} for doc in docs]
    meta.update(
        shard=None,
        merged_from=[{"dir": str(d), "shard": m.get("shard"), "runs": len(doc.get("runs") or []),
                      "host": (m.get("machine") or {}).get("hostname")}
                     for d, doc, m in zip(dirs, docs, metas)],
        shards_missing=[f"{k}/{n}" for k in missing],
        planned_runs=sum(int(m.get("planned_runs") or 0) for m in metas),
        started=min(str(m.get("started") or "") for m in metas),
        finished=None if any(not m.get("finished") for m in metas)
        else max(str(m.get("finished")) for m in metas),
        interrupted="; ".join(f"{d}: {m['interrupted']}" for d, m in zip(dirs, metas)
                              if m.get("interrupted")) or None,
        accels=sorted({a for m in metas for a in m.get("accels") or []}),
        machines=[m.get("machine") for m in metas])
    if missing:
        meta["interrupted"] = "; ".join(filter(None, [meta["interrupted"],
                                                      f"shard(s) {', '.join(meta['shards_missing'])} "
                                                      "not merged"]))
    doc = {"meta": meta, "plan": plan, "runs": runs}
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "bench.json.tmp"
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(out / "bench.json")
    report.write(out, doc)
    kcidb.write(out, doc)
    if missing:
        ui.warn(f"merged without shard(s) {', '.join(meta['shards_missing'])} of {n}: "
                "their cells have fewer blocks")
    return doc
