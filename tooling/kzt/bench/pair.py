"""`kzt bench pair DIR A B`: two variants of one bench, block by block.

The report compares every variant with the bench's configured baselines
only; this compares any two variants recorded in one bench directory
(e.g. kztmem@ssd against zswap-zsmalloc@ssd).  Within each workload, the
runs are grouped by block (one repetition, in which every variant ran
once); a block is *paired* when A and B both ran OK in it.  For each
metric the paired blocks' (A, B) figures go to kzt.bench.stats.compare:
the median ratio A / B, its bootstrap 95% interval and a verdict ("win"
means A is better: lower, or higher for a higher-is-better metric such
as density, as records.METRICS says).

A block where A or B did not end OK (FAILED, error, unavailable) is
*censored*: counted, with the reason, and never silently left out; a
block where only one of them has a run at all (an interrupted bench) is
counted as missing.  A superseded attempt is replaced by its rerun, as
in the report.

`--against DIR_B` takes B from a second bench of the same plan (seed,
variants, workloads, repetitions, clock: plan.signature) made on another
image, e.g. the driver before and after a change: block k of one is
block k of the other (the same runs in the same order), so the two
benches' blocks pair as a bench's variants do.  The variants are then
named with their image's SHA-256 prefix.  Benches of different plans
are refused.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from ..errors import KztError
from .merge import load
from .plan import SIGNATURE, Variant, differences, signature
from .records import METRICS, OK
from .report import headline
from .stats import compare

#: besides the bench's headline, the figures compared when none are asked for
DEFAULT_METRICS = ("density", "disk_ios", "disk_mib", "cpu_seconds")

Record = dict[str, Any]


@dataclass(frozen=True)
class PairRequest:
    bench_dir: Path
    a: str                               # CONFIG@DISK, or CONFIG with one disk
    b: str
    #: metric keys of records.METRICS; () = the headline and DEFAULT_METRICS
    metrics: tuple[str, ...] = ()
    #: B's bench directory, when B ran in another bench of the same plan
    against: Path | None = None


@dataclass(frozen=True)
class Blocks:
    """How the blocks of one workload paired up."""
    workload: str
    blocks: int                          # blocks where A or B has a run
    paired: int                          # ... where both ran OK
    censored: int                        # ... where A or B did not end OK
    missing: int                         # ... where only one of them has a run
    why: tuple[str, ...] = ()            # one line per censored or missing block

    def summary(self) -> str:
        """e.g. "2 of 3 blocks paired; 1 censored"."""
        parts = [f"{self.paired} of {self.blocks} block{'s' if self.blocks != 1 else ''} paired"]
        if self.censored:
            parts.append(f"{self.censored} censored")
        if self.missing:
            parts.append(f"{self.missing} missing a run")
        return "; ".join(parts)


@dataclass(frozen=True)
class PairRow:
    """One workload x metric: A / B over the paired blocks."""
    workload: str
    metric: str
    a: str
    b: str
    lower_is_better: bool
    blocks: int                          # of the workload, as in Blocks
    censored: int
    paired: int                          # blocks with a ratio of this metric
    median: float | None                 # median of A / B
    ci: tuple[float, float] | None       # its bootstrap 95% interval
    verdict: str                         # stats.WIN (A better), LOSS, INCONCLUSIVE
    note: str = ""
    t_ci: tuple[float, float] | None = None  # Student's t interval (stats.t_interval)


@dataclass(frozen=True)
class PairResult:
    bench_dir: Path
    a: str
    b: str
    metrics: tuple[str, ...]
    workloads: list[Blocks]
    rows: list[PairRow]
    against: Path | None = None          # B's bench directory, if not bench_dir

    def to_json(self) -> list[dict[str, Any]]:
        return [asdict(r) | {"ci": list(r.ci) if r.ci else None,
                             "t_ci": list(r.t_ci) if r.t_ci else None} for r in self.rows]


def _variants(doc: dict[str, Any]) -> list[str]:
    """The bench's variants: its plan's, then any only its runs name."""
    meta = doc.get("meta") or {}
    names = list(meta.get("variants") or [])
    names += [r["variant"] for r in doc.get("runs") or [] if "variant" in r]
    return list(dict.fromkeys(names))


def resolve(spec: str, variants: Sequence[str], bench_dir: Path) -> str:
    """A variant of the bench: CONFIG@DISK as given, or CONFIG alone when
    the bench ran that configuration on one disk profile only."""
    spec = spec.strip()
    if spec in variants:
        return spec
    config, at, _ = spec.partition("@")
    if not at:
        same = [v for v in variants if v.partition("@")[0] == config]
        if len(same) == 1:
            return same[0]
        if same:
            raise KztError(f"{config} ran on {len(same)} disk profiles in {bench_dir}",
                           "say which one: " + ", ".join(same))
    raise KztError(f"{spec} is not a variant of the bench in {bench_dir}",
                   "its variants are: " + (", ".join(variants) or "(none)"))


def _metrics(asked: Sequence[str], meta: dict[str, Any]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(m.strip() for m in asked if m.strip()))
    unknown = [m for m in chosen if m not in METRICS]
    if unknown:
        raise KztError(f"unknown metric{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
                       "choose from: " + ", ".join(METRICS))
    if chosen:
        return chosen
    return tuple(dict.fromkeys((headline(meta), *DEFAULT_METRICS)))


def _label(meta: dict[str, Any], a: str, b: str) -> str:
    """B's name in the bootstrap's seed: when B is a baseline of the bench
    on A's disk, the report's label for it, so the interval is the report's."""
    va, vb = Variant(*_split(a)), Variant(*_split(b))
    for label, config in (meta.get("baselines") or {}).items():
        if vb == Variant(str(config), va.disk):
            return str(label)
    return b


def _split(name: str) -> tuple[str, str | None]:
    config, _, disk = name.partition("@")
    return config, disk or None


def _first_line(r: Record) -> str:
    return (str(r.get("reason") or "").splitlines() or [""])[0]


def _by_block(runs: Sequence[Record], variant: str, workload: str) -> dict[int, Record]:
    """The live run of a variant in each block (its repetition) of a workload."""
    live = sorted((r for r in runs if r.get("variant") == variant
                   and r.get("workload") == workload and not r.get("superseded")),
                  key=lambda r: (int(r.get("index", 0)), int(r.get("attempt", 1))))
    return {int(r["rep"]): r for r in live}


def _blocks(workload: str, a: str, b: str, ra: dict[int, Record],
            rb: dict[int, Record]) -> tuple[Blocks, list[int]]:
    """How the blocks paired, and the paired blocks (in order)."""
    paired: list[int] = []
    censored = missing = 0
    why: list[str] = []
    for blk in sorted(set(ra) | set(rb)):
        runs = [(v, rs.get(blk)) for v, rs in ((a, ra), (b, rb))]
        bad = [(v, r) for v, r in runs if r is not None and r.get("status") != OK]
        if bad:
            censored += 1
            why.append(f"block {blk}: " + "; ".join(
                f"{v} {r.get('status') or 'without a status'}"
                + (f" ({_first_line(r)})" if _first_line(r) else "") for v, r in bad))
        elif any(r is None for _, r in runs):
            missing += 1
            why.append(f"block {blk}: no run of " + " or ".join(v for v, r in runs if r is None))
        else:
            paired.append(blk)
    total = len(set(ra) | set(rb))
    return Blocks(workload, total, len(paired), censored, missing, tuple(why)), paired


def _load_bench(d: Path) -> dict[str, Any]:
    if not d.is_dir():
        raise KztError(f"{d} is not a directory",
                       "give a bench directory (build/runs/<id>-bench or one under bench-results/)")
    if not (d / "bench.json").is_file():
        raise KztError(f"{d} has no bench.json",
                       "give the directory a `kzt bench` run wrote (build/runs/<id>-bench, "
                       "build/runs/latest-bench or one under bench-results/)")
    return load(d)


def _image_tag(meta: dict[str, Any], d: Path) -> str:
    sha = str((meta.get("provenance") or {}).get("image_sha256") or "")
    return f"image {sha[:8]}" if sha else str(d)


def _two_benches(doc: dict[str, Any], d: Path, a: str, other: Path,
                 b: str) -> tuple[dict[str, Any], str, str]:
    """One document holding A's runs from @doc and B's from the bench in
    @other, which must be of the same plan; and A's and B's names in it."""
    doc_b = _load_bench(other)
    meta, meta_b = doc.get("meta") or {}, doc_b.get("meta") or {}
    same_plan = [k for k in SIGNATURE if k != "image_sha256"]
    diff = [x for x in differences(signature(meta), signature(meta_b))
            if x.partition(":")[0] in same_plan]
    if diff:
        raise KztError(f"{other} belongs to another plan than {d}: " + "; ".join(diff),
                       "pair benches made with the same --seed, --reps, --configs, --workloads "
                       "and --clock, each on its own image (--kernel IMAGE)")
    b = resolve(b, _variants(doc_b), other)
    tag_a, tag_b = _image_tag(meta, d), _image_tag(meta_b, other)
    if tag_a == tag_b:
        tag_a, tag_b = str(d), str(other)
    name_a, name_b = f"{a} [{tag_a}]", f"{b} [{tag_b}]"
    runs = [r | {"variant": name_a} for r in doc.get("runs") or [] if r.get("variant") == a]
    runs += [r | {"variant": name_b} for r in doc_b.get("runs") or [] if r.get("variant") == b]
    return {"meta": meta, "plan": [], "runs": runs}, name_a, name_b


def pair(req: PairRequest) -> PairResult:
    """A / B for every workload of the bench (or of the two benches) and
    every metric asked for."""
    d = req.bench_dir
    doc = _load_bench(d)
    meta = doc.get("meta") or {}
    metrics = _metrics(req.metrics, meta)
    variants = _variants(doc)
    a = resolve(req.a, variants, d)
    if req.against is not None:
        doc, a, b = _two_benches(doc, d, a, req.against, req.b)
    else:
        b = resolve(req.b, variants, d)
        if a == b:
            raise KztError(f"A and B are both {a}", "give two different variants: "
                           + ", ".join(variants))
    result = replace(pair_doc(doc, d, a, b, metrics), against=req.against)
    if not any(w.paired for w in result.workloads):
        detail = "; ".join(f"{w.workload}: {w.summary()}" for w in result.workloads)
        where = f"{d} and {req.against}" if req.against else f"{d}"
        raise KztError(f"no block of {where} where both {a} and {b} ran OK"
                       + (f" ({detail})" if detail else ": neither has a run"),
                       "pair variants that both finished runs in one block (the report's "
                       "counts say which did), or resume the bench with `kzt bench --resume`")
    return result


def pair_doc(doc: dict[str, Any], d: Path, a: str, b: str,
             metrics: Sequence[str], workload: str | None = None) -> PairResult:
    """A / B in a loaded bench document, for two of its variants (as
    named in it) and the given metrics, in every workload or only in
    @workload; a workload where no block paired has rows with no ratio
    and an inconclusive verdict."""
    meta = doc.get("meta") or {}
    metrics = tuple(metrics)
    runs: list[Record] = doc.get("runs") or []
    workloads = list(dict.fromkeys([*(meta.get("workloads") or {}),
                                    *(r["workload"] for r in runs if "workload" in r)]))
    seed = f"{meta.get('seed') or 0}"
    label = _label(meta, a, b)
    result = PairResult(d, a, b, metrics, [], [])
    for wl in workloads if workload is None else [w for w in workloads if w == workload]:
        ra, rb = _by_block(runs, a, wl), _by_block(runs, b, wl)
        if not ra and not rb:
            continue
        blocks, paired = _blocks(wl, a, b, ra, rb)
        result.workloads.append(blocks)
        for m in metrics:
            have = [blk for blk in paired
                    if m in (ra[blk].get("metrics") or {}) and m in (rb[blk].get("metrics") or {})]
            pairs = [(float(ra[blk]["metrics"][m]), float(rb[blk]["metrics"][m])) for blk in have]
            c = compare(pairs, METRICS[m][2], f"{seed}:{wl}:{a}:{label}:{m}")
            notes = [c.note] if c.note and pairs else []
            if len(have) < len(paired):
                notes.insert(0, f"{len(paired) - len(have)} paired block(s) without {m}")
            if not paired:
                notes = ["no block where both ran OK"]
            result.rows.append(PairRow(wl, m, a, b, METRICS[m][2], blocks.blocks, blocks.censored,
                                       c.n, c.median, c.ci, c.verdict, "; ".join(notes),
                                       c.t_ci))
    return result


# ------------------------------------------------------------- output

def _fmt_ci(ci: tuple[float, float] | None) -> str:
    return f"[{ci[0]:.2f}-{ci[1]:.2f}]" if ci else "-"


def render(res: PairResult) -> str:
    """The text table: per workload its blocks, then one row per metric."""
    higher = [m for m in res.metrics if not METRICS[m][2]]
    where = f"{res.bench_dir}" + (f" and {res.against}" if res.against else "")
    lines = [f"A = {res.a}, B = {res.b} ({where}): median of the paired ratios A/B "
             "and its bootstrap 95% interval",
             "win: A is better (lower" + (f"; higher for {', '.join(higher)}" if higher else "")
             + "); loss: B is better"]
    head = f"{'workload':<22} {'metric':<16} {'paired':>6} {'A/B':>7} {'interval':<13} verdict"
    lines.append(head)
    for w in res.workloads:
        for r in (r for r in res.rows if r.workload == w.workload):
            med = f"{r.median:.2f}x" if r.median is not None else "-"
            lines.append(f"{r.workload:<22} {r.metric:<16} {r.paired:>6} {med:>7} "
                         f"{_fmt_ci(r.ci):<13} {r.verdict}" + (f"  ({r.note})" if r.note else ""))
        lines.append(f"  {w.workload}: {w.summary()}")
        lines.extend(f"    {y}" for y in w.why)
    return "\n".join(lines)


def write_json(res: PairResult, path: Path) -> None:
    path.write_text(json.dumps(res.to_json(), indent=1) + "\n")
