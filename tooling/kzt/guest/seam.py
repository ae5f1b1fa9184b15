"""The documents host and guest exchange, versioned and checked on both sides.

The host writes one job document into the run directory and starts the
guest side with its path (`python -m kzt.guest.runner JOB.json` for
`kzt test`, `python -m kzt.guest.work JOB.json` for `kzt run` and
`kzt bench`); the guest checks it before doing anything, and its result
document carries the same version, which the host checks in turn.  A
document of another version is refused with both versions named.

The workload definitions (vm-tests/workloads/*.json) and the guest half
of a configuration are defined here too: the host loads them from their
files, the guest receives them inside the job, and both check them
against the same schema.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .schema import ListOf, MapOf, OneOf, Record, SchemaError, Tagged, check

VERSION = 1

#: the disks a workload can ask for (the serials the toolkit gives them)
SWAP_DISK, EXT4_DISK = "kzt-swap", "kzt-ext4"
DEFAULT_MEMORY = "384M"
#: files the guest writes next to its result just before and just after
#: the workload: their host-side mtimes give the host's wall time
WALL_MARKS = ("workload-started.mark", "workload-ended.mark")

PROGRAM = Record({"program": str, "args?": ListOf(str)})
WORKLOAD = Record({
    "name": str, "description": str, "memory": str, "timeout_seconds": float,
    "program?": str, "args?": ListOf(str), "programs?": ListOf(PROGRAM),
    "in_turn?": bool, "disks?": ListOf(str), "sample_seconds?": float,
    "cgroup_memory_max?": str,
})
REQUIREMENT = Record({"path": str, "why?": str, "equals?": OneOf(str, int),
                      "absent?": bool, "missing_ok?": bool})
SETUP_STEP = Tagged("kind", {
    "zram-swap": Record({"kind": str, "comp_algorithm?": str, "mem_limit_percent?": int,
                         "disksize_percent?": int, "priority?": int}),
    "sysfs": Record({"kind": str, "path": str, "value": OneOf(str, int)}),
})
GUEST_CONFIG = Record({"name": str, "requires": ListOf(REQUIREMENT),
                       "setup": ListOf(SETUP_STEP), "workload_timeout_seconds?": float})
WORK_JOB = Record({"version": int, "kind": str, "workload": WORKLOAD,
                   "config": GUEST_CONFIG, "out": str, "profile_hz?": int})
BOOT_GROUP = Record({"append": str, "memory": str, "cpus": int})
#: what the plugin's host-side collection (--kzt-list) writes: one entry per boot group
GROUP_LISTING = ListOf(Record({**BOOT_GROUP.fields, "tests": ListOf(str)}))
TEST_JOB = Record({"version": int, "kind": str, "run_dir": str, "index": int,
                   "group": BOOT_GROUP, "pytest_args": ListOf(str)})
SNAPSHOT = MapOf(object)
#: kzt.guest.work's result: "unavailable" or "error" alone, or the whole run
WORK_RESULT = Record({
    "version": int, "workload": str, "config": str, "uname": str,
    "unavailable?": str, "error?": str,
    "exit_code?": int, "seconds?": float, "stdout?": str, "summary?": MapOf(object),
    "cpu?": Record({"busy_seconds": float, "jiffies": MapOf(int), "hz": int}),
    "rusage?": Record({"user_seconds": float, "system_seconds": float, "max_rss_kib": int}),
    "samples?": ListOf(MapOf(object)), "sample_seconds?": float, "phases?": MapOf(float),
    "guest_uptime?": float, "before?": SNAPSHOT, "during?": SNAPSHOT, "after?": SNAPSHOT,
    "cgroup?": MapOf(object), "pinned?": MapOf(str),
    "profile?": Record({"hz": int, "exit_code": int, "files": ListOf(str)}),
})


def check_workload(spec: dict[str, Any], source: str) -> None:
    """A workload definition: the schema, and one program or a list of them."""
    check(spec, WORKLOAD, source)
    if ("program" in spec) == ("programs" in spec):
        raise SchemaError(source, "program", "give either 'program' (with 'args') or "
                                             "'programs', not both and not neither")
    for i, d in enumerate(spec.get("disks", [])):
        if d not in (SWAP_DISK, EXT4_DISK):
            raise SchemaError(source, f"disks[{i}]", f"unknown disk {d!r}; choose one of: "
                                                      f"{SWAP_DISK}, {EXT4_DISK}")


def _version(doc: dict[str, Any], source: str, kind: str | None = None) -> None:
    got = doc.get("version") if isinstance(doc, dict) else None
    if got != VERSION:
        raise SchemaError(source, "version", f"document version {got!r}, this side speaks "
                                             f"{VERSION}: host and guest run different kzt")
    if kind is not None and doc.get("kind") != kind:
        raise SchemaError(source, "kind", f"a {doc.get('kind')!r} job where a {kind!r} job "
                                          "was expected")


@dataclass(frozen=True)
class BootGroup:
    """How the guest of a group of vm-tests boots (their kzt_boot marker)."""
    append: str = ""
    memory: str = DEFAULT_MEMORY
    cpus: int = 2

    @property
    def key(self) -> str:
        """The group's name on pytest's command line (--kzt-group)."""
        return f"{self.memory}|{self.cpus}|{self.append}"

    def to_json(self) -> dict[str, Any]:
        return {"append": self.append, "memory": self.memory, "cpus": self.cpus}


@dataclass(frozen=True)
class TestJob:
    """`kzt test`'s job for one boot group."""
    __test__ = False    # not a pytest test class
    run_dir: str
    index: int
    group: BootGroup
    pytest_args: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"version": VERSION, "kind": "test", "run_dir": self.run_dir,
                "index": self.index, "group": self.group.to_json(),
                "pytest_args": list(self.pytest_args)}

    @classmethod
    def from_json(cls, doc: Any, source: str) -> "TestJob":
        _version(doc, source, "test")
        check(doc, TEST_JOB, source)
        return cls(doc["run_dir"], doc["index"], BootGroup(**doc["group"]),
                   tuple(doc["pytest_args"]))


@dataclass(frozen=True)
class WorkJob:
    """`kzt run`'s job: a workload definition and the guest half of a configuration."""
    workload: dict[str, Any]
    config: dict[str, Any]
    out: str
    #: `kzt profile`: sample every CPU this often with perf while the
    #: programs run (0: no profile; the run's figures then carry perf's cost)
    profile_hz: int = 0

    def to_json(self) -> dict[str, Any]:
        doc = {"version": VERSION, "kind": "work", "workload": self.workload,
               "config": self.config, "out": self.out}
        if self.profile_hz:
            doc["profile_hz"] = self.profile_hz
        return doc

    @classmethod
    def from_json(cls, doc: Any, source: str) -> "WorkJob":
        _version(doc, source, "work")
        check(doc, WORK_JOB, source)
        check_workload(doc["workload"], f"{source} (workload)")
        if doc.get("profile_hz", 0) < 0:
            raise SchemaError(source, "profile_hz", "a sampling rate cannot be negative")
        return cls(doc["workload"], doc["config"], doc["out"], doc.get("profile_hz", 0))


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return path


def read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise SchemaError(str(path), "", f"not valid JSON ({e})") from None


def check_work_result(doc: Any, source: str) -> None:
    """The guest's result of a WorkJob, as the host reads it."""
    _version(doc, source)
    check(doc, WORK_RESULT, source)


@dataclass(frozen=True)
class WorkResult:
    """kzt.guest.work's result, checked: typed where the host decides on it;
    the whole document stays in `doc` for the figures the bench takes from it."""
    workload: str
    config: str
    uname: str
    doc: dict[str, Any]
    unavailable: str | None = None
    error: str | None = None
    exit_code: int | None = None
    seconds: float | None = None

    @classmethod
    def from_json(cls, doc: Any, source: str) -> "WorkResult":
        check_work_result(doc, source)
        return cls(doc["workload"], doc["config"], doc["uname"], doc, doc.get("unavailable"),
                   doc.get("error"), doc.get("exit_code"), doc.get("seconds"))

    def snapshot(self, when: str) -> dict[str, Any]:
        """The counters "before", "during" (at the workload's end) or "after" it."""
        snap: dict[str, Any] = self.doc.get(when) or {}
        return snap

    @property
    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = self.doc.get("summary") or {}
        return summary

