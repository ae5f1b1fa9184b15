"""The bench's plan: which variants (CONFIG@DISK) run which workloads, how often.

What is compared is data: the configurations (data/configs.json), the
bench workloads, the quick subset and the disk profiles (data/bench.json,
read through kzt.datafiles).  A *variant* is a configuration on a disk
profile, written CONFIG@DISK (e.g. zswap@hdd): the swap and ext4 disks of
its runs are throttled to that profile, and its ratios are taken against
the baselines on the same profile.

The plan is made of *blocks*: one repetition of one workload, in which
every variant runs once, in an order shuffled with the bench's seed.  A
ratio is only ever taken within a block (variant / baseline of the same
block), so a slow drift of the host hits both sides of it alike.  A shard
(`--shard K/N`) runs whole blocks: block b belongs to shard ((b - 1) mod N)
+ 1, so every ratio is measured on one machine.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from .. import vm
from ..datafiles import BenchSpec, pick
from ..errors import KztError


@dataclass(frozen=True)
class Variant:
    config: str
    disk: str | None = None

    @property
    def name(self) -> str:
        return f"{self.config}@{self.disk}" if self.disk else self.config

    @classmethod
    def parse(cls, spec: str, default_disks: Sequence[str]) -> list["Variant"]:
        """CONFIG@DISK, or CONFIG alone for CONFIG on each default disk."""
        config, sep, disk = spec.strip().partition("@")
        if sep:
            return [cls(config, disk or None)]
        return [cls(config, d) for d in default_disks] or [cls(config)]


@dataclass(frozen=True)
class BenchRequest:
    quick: bool = False
    reps: int | None = None
    configs: tuple[str, ...] = ()      # CONFIG or CONFIG@DISK; () = bench.json's
    workloads: tuple[str, ...] = ()    # () = bench.json's
    base: str = "6.1"
    flavour: str = "default"
    accel: vm.Accel = vm.Accel.AUTO
    timeout: float = 1800
    clock: str = "icount"              # vm.CLOCKS
    #: the seed of the blocks' orders; None: a random one (recorded)
    seed: int | None = None
    #: run only the blocks of this shard
    shard: Shard | None = None
    #: boot this image instead of the build's
    kernel: Path | None = None
    #: continue the bench in this directory
    resume: Path | None = None


@dataclass(frozen=True)
class Shard:
    """Shard K of N: the blocks b with (b - 1) mod N == K - 1."""
    k: int
    n: int

    def __str__(self) -> str:
        return f"{self.k}/{self.n}"

    @classmethod
    def parse(cls, text: str) -> "Shard":
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not m:
            raise KztError(f"--shard {text!r}: expected K/N, two whole numbers such as 1/4",
                           "e.g. --shard 2/4 runs the second of four shards")
        k, n = int(m.group(1)), int(m.group(2))
        if n < 1 or not 1 <= k <= n:
            raise KztError(f"--shard {text}: K must be between 1 and N (N at least 1)",
                           f"the shards of {max(n, 1)} are --shard 1/{max(n, 1)} to "
                           f"{max(n, 1)}/{max(n, 1)}")
        return cls(k, n)

    def owns(self, block: int) -> bool:
        return (block - 1) % self.n == self.k - 1


@dataclass(frozen=True)
class Planned:
    index: int        # 1-based position in the whole bench (the same in every shard)
    rep: int          # 1-based
    variant: Variant
    workload: str
    block: int = 0    # 1-based; one repetition of one workload


@dataclass(frozen=True)
class Block:
    id: int
    rep: int
    workload: str
    order: tuple[Variant, ...]


@dataclass(frozen=True)
class Plan:
    variants: tuple[Variant, ...]
    workloads: tuple[str, ...]
    reps: int
    mode: str
    seed: int = 0

    def blocks(self) -> list[Block]:
        """For each rep, for each workload, one block: every variant once,
        in an order drawn from the seed and the block's number alone (so a
        shard draws the same orders as the whole bench)."""
        out: list[Block] = []
        for rep in range(1, self.reps + 1):
            for wl in self.workloads:
                b = len(out) + 1
                order = list(self.variants)
                random.Random(f"kzt-bench:{self.seed}:{b}").shuffle(order)
                out.append(Block(b, rep, wl, tuple(order)))
        return out

    def runs(self, shard: Shard | None = None) -> list[Planned]:
        """Every run in order, block after block; with a shard, only its blocks'
        runs (their indices stay those of the whole bench)."""
        out: list[Planned] = []
        n = 0
        for b in self.blocks():
            for v in b.order:
                n += 1
                if shard is None or shard.owns(b.id):
                    out.append(Planned(n, b.rep, v, b.workload, b.id))
        return out

    def to_json(self, shard: Shard | None = None) -> dict[str, Any]:
        """What `kzt bench --plan --json` prints: the blocks and their order,
        the runs this invocation would make, and which shard has which block."""
        n = shard.n if shard else 1
        blocks = self.blocks()
        return {
            "mode": self.mode, "seed": self.seed, "reps": self.reps,
            "variants": [v.name for v in self.variants], "workloads": list(self.workloads),
            "planned_runs": len(self.variants) * len(blocks),
            "blocks": [{"block": b.id, "rep": b.rep, "workload": b.workload,
                        "shard": (b.id - 1) % n + 1, "order": [v.name for v in b.order]}
                       for b in blocks],
            "shards": {"n": n, "this": shard.k if shard else None,
                       "blocks": {str(k): [b.id for b in blocks if (b.id - 1) % n == k - 1]
                                  for k in range(1, n + 1)}},
            "runs": [{"index": p.index, "block": p.block, "rep": p.rep,
                      "variant": p.variant.name, "workload": p.workload}
                     for p in self.runs(shard)],
        }


def new_seed() -> int:
    """A random seed for a bench that was given none (it is recorded)."""
    return random.SystemRandom().randrange(1, 2**31)


def make_plan(req: BenchRequest, data: BenchSpec, known_configs: Iterable[str],
              known_workloads: Iterable[str]) -> Plan:
    """The variants, workloads and repetitions a request asks for, checked."""
    mode = data.mode(req.quick)
    disks = list(mode.disks)
    if req.configs:
        variants: list[Variant] = []
        for spec in req.configs:
            variants += Variant.parse(spec, disks)
    else:
        variants = [v for s in mode.variants for v in Variant.parse(s, disks)]
    configs = dict.fromkeys(known_configs)
    for v in variants:
        pick(configs, v.config, "configuration", "tooling/kzt/data/configs.json")
        if v.disk is not None:
            data.disk_profile(v.disk)
    variants = list(dict.fromkeys(variants))
    workloads = list(dict.fromkeys(req.workloads or mode.workloads))
    known_w = dict.fromkeys(known_workloads)
    for w in workloads:
        pick(known_w, w, "workload", "vm-tests/workloads/*.json")
    reps = req.reps if req.reps is not None else mode.reps
    if reps < 1:
        raise KztError("--reps must be at least 1")
    if not variants or not workloads:
        raise KztError("nothing to run: no configuration or no workload selected")
    seed = req.seed if req.seed is not None else new_seed()
    return Plan(tuple(variants), tuple(workloads), reps, "quick" if req.quick else "full", seed)


#: what makes two bench directories parts of one plan (bench.json's meta)
SIGNATURE = ("mode", "seed", "reps", "variants", "workloads", "clock", "guest_cpu",
             "disks_throttled", "image_sha256")


def signature(meta: dict[str, Any]) -> dict[str, Any]:
    """The plan a bench directory belongs to, from its meta: a shard and
    the whole bench, or two shards, can only be merged if these agree."""
    clock = meta.get("clock")
    return {"mode": meta.get("mode"), "seed": meta.get("seed"), "reps": meta.get("reps"),
            "variants": list(meta.get("variants") or []),
            "workloads": list(meta.get("workloads") or {}),
            "clock": clock.get("name") if isinstance(clock, dict) else clock,
            # benches before 29c2f97 ran on vng's "-cpu max", ERMS on, and
            # recorded no CPU
            "guest_cpu": (clock.get("qemu_cpu") if isinstance(clock, dict) else None) or "max",
            # benches before 2026-12-05 throttled their disks on every clock
            "disks_throttled": meta.get("disks_throttled", True),
            "image_sha256": (meta.get("provenance") or {}).get("image_sha256")}


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The keys of two signatures that differ, each with both values."""
    return [f"{k}: {a.get(k)!r} against {b.get(k)!r}" for k in SIGNATURE if a.get(k) != b.get(k)]
