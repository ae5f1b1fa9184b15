"""The bench's plan: which variants (CONFIG@DISK) run which workloads, how often.

What is compared is data: the configurations (data/configs.json), the
bench workloads, the quick subset and the disk profiles (data/bench.json,
read through kzt.datafiles).  A *variant* is a configuration on a disk
profile, written CONFIG@DISK (e.g. zswap@hdd): the swap and ext4 disks of
its runs are throttled to that profile, and its ratios are taken against
the baselines on the same profile.  Runs are interleaved (for each
repetition, for each workload, every variant in turn), so that a slow
drift of the host hits every variant alike.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

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


@dataclass(frozen=True)
class Planned:
    index: int        # 1-based position in the bench
    rep: int          # 1-based
    variant: Variant
    workload: str


@dataclass(frozen=True)
class Plan:
    variants: tuple[Variant, ...]
    workloads: tuple[str, ...]
    reps: int
    mode: str

    def runs(self) -> list[Planned]:
        """Interleaved: for each rep, for each workload, every variant."""
        out: list[Planned] = []
        for rep in range(1, self.reps + 1):
            for wl in self.workloads:
                for v in self.variants:
                    out.append(Planned(len(out) + 1, rep, v, wl))
        return out


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
    return Plan(tuple(variants), tuple(workloads), reps, "quick" if req.quick else "full")
