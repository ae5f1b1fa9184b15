"""The bench's runs in KCIDB's I/O schema (version 4.5), for a KernelCI
dashboard or any tool that reads it.

One checkout (the toolkit's commit: the series and the driver), one build
(the kernel image, named by its SHA-256) and, per run, one test with the
run's status, plus one test per figure with its number:

- `kztmem_bench.<workload>.<variant>`: PASS (verified), FAIL (data did
  not verify), ERROR (error or timeout), SKIP (configuration unavailable),
  MISS (spoiled by the infrastructure and run again: the first attempt);
- `kztmem_bench.<workload>.<variant>.<metric>`: DONE with "number"
  {"value", "unit"} (v4.5's numeric output), for every figure of a
  verified run.

Everything else (repetition, block, seed, clock, host load) goes into
"misc".  Ids are "kzt:<what>"; paths use only [.a-zA-Z0-9_-].
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from .records import ERROR, FAILED, METRICS, OK, UNAVAILABLE

ORIGIN = "kzt"
VERSION = {"major": 4, "minor": 5}
STATUS = {OK: "PASS", FAILED: "FAIL", ERROR: "ERROR", UNAVAILABLE: "SKIP"}
#: KCIDB's statuses (v4.4 on)
STATUSES = ("FAIL", "ERROR", "MISS", "PASS", "DONE", "SKIP")
PATH_RE = re.compile(r"^[.a-zA-Z0-9_-]*$")
ID_RE = re.compile(r"^[a-z0-9_]+:.*$")


def _part(text: str) -> str:
    """A piece of a test path: zswap@ssd -> zswap_ssd."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", text)


def _time(text: str | None) -> str | None:
    """bench.json's local "2026-11-26T07:12:00" as RFC 3339 with the host's offset."""
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").astimezone().isoformat()
    except ValueError:
        return None


def bench_id(meta: dict[str, Any]) -> str:
    """What the ids of one bench share: its image and its seed (the shards
    of one plan share them too, so a merge keeps every id).  A bench
    recorded before either was kept is named by its start and image path."""
    image = (meta.get("provenance") or {}).get("image_sha256")
    if image and meta.get("seed") is not None:
        return f"{str(image)[:16]}-s{meta['seed']}"
    old = f"{meta.get('started')}|{meta.get('image')}".encode()
    return "legacy-" + hashlib.sha256(old).hexdigest()[:16]


def export(doc: dict[str, Any]) -> dict[str, Any]:
    """The KCIDB document of a bench (bench.json's meta, plan and runs)."""
    meta = doc.get("meta") or {}
    prov = meta.get("provenance") or {}
    bid = bench_id(meta)
    toolkit = str(prov.get("toolkit") or meta.get("toolkit") or "unknown")
    checkout_id = f"{ORIGIN}:{_part(toolkit)}"
    build_id = f"{ORIGIN}:{_part(str(prov.get('image_sha256') or bid))}"
    checkout: dict[str, Any] = {"id": checkout_id, "origin": ORIGIN, "tree_name": "kztmem",
                                "git_commit_name": toolkit, "valid": True,
                                "misc": {"base": meta.get("base")}}
    build: dict[str, Any] = {"id": build_id, "checkout_id": checkout_id, "origin": ORIGIN,
                             "architecture": "x86_64", "config_name": str(meta.get("flavour") or "default"),
                             "valid": True,
                             "misc": {"image": prov.get("image") or meta.get("image"),
                                      "image_sha256": prov.get("image_sha256"),
                                      "kernel": meta.get("kernel")}}
    tests: list[dict[str, Any]] = []
    clock = meta.get("clock") or {}
    for r in sorted(doc.get("runs") or [], key=lambda r: (r["index"], r.get("attempt", 1))):
        base_path = f"kztmem_bench.{_part(r['workload'])}.{_part(r['variant'])}"
        run_id = f"{ORIGIN}:{bid}:r{r['index']}a{r.get('attempt', 1)}"
        misc = {"index": r["index"], "rep": r["rep"], "block": r.get("block"),
                "variant": r["variant"], "workload": r["workload"], "seed": meta.get("seed"),
                "clock": clock.get("name") if isinstance(clock, dict) else clock,
                "accel": r.get("accel"), "host_load": r.get("host_load"),
                "reason": r.get("reason") or None, "attempt": r.get("attempt", 1)}
        test: dict[str, Any] = {
            "id": run_id, "build_id": build_id, "origin": ORIGIN, "path": base_path,
            "status": "MISS" if r.get("superseded") else STATUS.get(r["status"], "ERROR"),
            "misc": {k: v for k, v in misc.items() if v is not None}}
        started = _time(r.get("started"))
        if started:
            test["start_time"] = started
        if r.get("boot_seconds"):
            test["duration"] = float(r["boot_seconds"])
        if r.get("reason"):
            test["comment"] = str(r["reason"]).splitlines()[0][:400]
        tests.append(test)
        if r["status"] != OK or r.get("superseded"):
            continue
        for key, value in (r.get("metrics") or {}).items():
            label, unit, lower = METRICS.get(key, (key, "", True))
            number: dict[str, Any] = {"value": float(value)}
            if unit:
                number["unit"] = unit
            tests.append({"id": f"{run_id}:{key}", "build_id": build_id, "origin": ORIGIN,
                          "path": f"{base_path}.{_part(key)}", "status": "DONE",
                          "number": number, **({"start_time": started} if started else {}),
                          "misc": {"label": label, "lower_is_better": lower,
                                   "index": r["index"], "block": r.get("block")}})
    out: dict[str, Any] = _no_nulls({"version": dict(VERSION), "checkouts": [checkout],
                                     "builds": [build], "tests": tests})
    return out


def _no_nulls(x: Any) -> Any:
    """KCIDB allows no null property: a missing figure is left out."""
    if isinstance(x, dict):
        return {k: _no_nulls(v) for k, v in x.items() if v is not None}
    if isinstance(x, list):
        return [_no_nulls(v) for v in x if v is not None]
    return x


def write(run_dir: Path, doc: dict[str, Any], out: Path | None = None) -> Path:
    """kcidb.json beside report.json (or at `out`)."""
    path = out or run_dir / "kcidb.json"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(export(doc), indent=1) + "\n")
    tmp.replace(path)
    return path
