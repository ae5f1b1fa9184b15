"""Every data file of the toolkit, through one loader with a schema per family.

| family | files | read as |
|---|---|---|
| bases | tooling/kzt/bases/<version>.json | Base |
| flavours | tooling/kzt/fragments/flavours.json | fragment names by flavour |
| configs | tooling/kzt/data/configs.json | Config by name |
| bench | tooling/kzt/data/bench.json | BenchSpec (disk profiles, modes, baselines) |
| workloads | vm-tests/workloads/<name>.json | a checked definition (kzt.guest.seam) |
| host | tooling/kzt/data/host.json | HostSpec (packages, commands, files) |

A key a schema does not know, a missing key or a value of the wrong type
is a DataError naming the file and the key; a name that is not in a
family is an UnknownName: "unknown X 'name'; choose one of: ...".
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, TypeVar

from .errors import KztError
from .guest import schema
from .guest.schema import ListOf, MapOf, OneOf, Record, SchemaError
from .guest.seam import GUEST_CONFIG, REQUIREMENT, SETUP_STEP, check_workload

KZT = Path(__file__).resolve().parent
BASES = KZT / "bases"
FLAVOURS = KZT / "fragments" / "flavours.json"
CONFIGS = KZT / "data" / "configs.json"
BENCH = KZT / "data" / "bench.json"
HOST = KZT / "data" / "host.json"

COMMENT = OneOf(str, ListOf(str))

BASE = Record({"version": str, "tarball": str, "debian_package": str, "arch": str, "image": str})
FLAVOUR_TABLE = Record({"comment?": COMMENT}, rest=ListOf(str))
CONFIG = Record({"description": str, "from?": str, "append?": ListOf(str),
                 "params?": MapOf(str), "requires?": ListOf(REQUIREMENT),
                 "setup?": ListOf(SETUP_STEP), "disk?": str})
CONFIG_TABLE = Record({"comment?": COMMENT, "param_paths?": MapOf(str),
                       "configs": MapOf(CONFIG)})
DISK_PROFILE = Record({"iops": int, "bps": int, "description": str,
                       "workload_timeout_seconds?": float})
BENCH_MODE = Record({"reps": int, "disks": ListOf(str), "variants": ListOf(str),
                     "workloads": ListOf(str)})
BENCH_TABLE = Record({"comment?": COMMENT, "disk_profiles": MapOf(DISK_PROFILE),
                      "baselines": MapOf(str), "console_notes?": MapOf(str),
                      "full": BENCH_MODE, "quick": BENCH_MODE})
HOST_TABLE = Record({
    "comment?": COMMENT, "packages": ListOf(str),
    "commands": ListOf(Record({"name": str, "command": str, "package": str})),
    "files": ListOf(Record({"name": str, "path": str, "package": str})),
    "min_free_gib": int})


class DataError(KztError):
    """A data file does not fit its family's schema."""

    def __init__(self, e: SchemaError) -> None:
        super().__init__(str(e), f"fix {e.key or 'the file'} in {e.source}")
        self.source = e.source
        self.key = e.key


class UnknownName(KztError):
    """A name that is not one of its family's."""

    def __init__(self, what: str, name: str, known: Iterable[str], source: str) -> None:
        super().__init__(f"unknown {what} '{name}'; choose one of: {', '.join(sorted(known))}",
                         f"the {what}s are defined in {source}")
        self.name = name


T = TypeVar("T")


def pick(table: Mapping[str, T], name: str, what: str, source: str) -> T:
    """table[name], or the one message every family gives for a name it lacks."""
    if name not in table:
        raise UnknownName(what, name, table, source)
    return table[name]


def shown(path: Path) -> str:
    """A data file's path as messages show it: from the checkout's root."""
    try:
        return str(path.resolve().relative_to(KZT.parents[1]))
    except ValueError:
        return str(path)


def load(path: Path, spec: Any) -> Any:
    """A JSON data file, checked against `spec`."""
    try:
        return schema.load(path, spec, shown(path))
    except SchemaError as e:
        raise DataError(e) from None


# ---------------------------------------------------------------- families

@dataclass(frozen=True)
class Base:
    version: str
    tarball: str
    debian_package: str
    arch: str
    image: str

    @classmethod
    def load(cls, version: str) -> "Base":
        return base(version)


def base(version: str, directory: Path = BASES) -> Base:
    known = {p.stem: p for p in directory.glob("*.json")}
    return Base(**load(pick(known, version, "kernel base", shown(directory) + "/*.json"), BASE))


def flavours(path: Path = FLAVOURS) -> dict[str, list[str]]:
    raw = load(path, FLAVOUR_TABLE)
    return {k: list(v) for k, v in raw.items() if k != "comment"}


def flavour(name: str, path: Path = FLAVOURS) -> list[str]:
    return pick(flavours(path), name, "flavour", shown(path))


@dataclass(frozen=True)
class Config:
    """One configuration of data/configs.json."""
    name: str
    append: tuple[str, ...]
    description: str = ""
    requires: tuple[dict[str, Any], ...] = ()
    setup: tuple[dict[str, Any], ...] = ()
    disk: str | None = None

    def guest_spec(self, workload_timeout: float | None = None) -> dict[str, Any]:
        """What the guest side (kzt.guest.work) needs of it."""
        spec: dict[str, Any] = {"name": self.name, "requires": list(self.requires),
                                "setup": list(self.setup)}
        if workload_timeout:
            spec["workload_timeout_seconds"] = workload_timeout
        schema.check(spec, GUEST_CONFIG, f"configuration {self.name}")
        return spec


def _inherited(name: str, raw: Mapping[str, Any], source: str,
               chain: tuple[str, ...] = ()) -> dict[str, Any]:
    """A configuration with what it takes "from" another folded in: the
    other's boot arguments, requirements and set-up first, then its own;
    its params over the other's (same order, a value given again
    replaces the inherited one); its own disk, else the other's."""
    c = raw[name]
    if "from" not in c:
        base: dict[str, Any] = {"append": [], "params": {}, "requires": [], "setup": [],
                                "disk": None}
    elif c["from"] in chain + (name,):
        raise DataError(SchemaError(source, f"configs.{name}.from",
                                    "configurations take from each other in a circle: "
                                    + " -> ".join((*chain, name, c["from"]))))
    elif c["from"] not in raw:
        raise DataError(SchemaError(source, f"configs.{name}.from",
                                    f"no configuration '{c['from']}' to take from"))
    else:
        base = _inherited(c["from"], raw, source, chain + (name,))
    return {"append": base["append"] + list(c.get("append", [])),
            "params": {**base["params"], **c.get("params", {})},
            "requires": base["requires"] + list(c.get("requires", [])),
            "setup": base["setup"] + list(c.get("setup", [])),
            "disk": c.get("disk", base["disk"])}


def _param_checks(name: str, params: Mapping[str, str], paths: Mapping[str, str],
                  source: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Each param MODULE.NAME: VALUE as the boot argument MODULE.NAME=VALUE
    and the requirement that the guest reads VALUE back from
    param_paths[MODULE]/NAME before the workload."""
    append: list[str] = []
    requires: list[dict[str, Any]] = []
    for key, value in params.items():
        module, dot, param = key.partition(".")
        if not dot or not module or not param:
            raise DataError(SchemaError(source, f"configs.{name}.params.{key}",
                                        "a param is named MODULE.NAME, e.g. "
                                        "kztmem.max_pool_percent"))
        if module not in paths:
            raise DataError(SchemaError(source, f"configs.{name}.params.{key}",
                                        f"param_paths has no directory for '{module}' "
                                        "(where the guest reads the value back)"))
        append.append(f"{key}={value}")
        requires.append({"path": f"{paths[module]}/{param}", "equals": value,
                         "why": f"{module} did not take {param}={value} (a kernel without "
                                "that parameter, or one that refused the value)"})
    return append, requires


def configs(path: Path = CONFIGS) -> dict[str, Config]:
    doc = load(path, CONFIG_TABLE)
    raw, paths, source = doc["configs"], doc.get("param_paths", {}), shown(path)
    out: dict[str, Config] = {}
    for n, c in raw.items():
        full = _inherited(n, raw, source)
        append, requires = _param_checks(n, full["params"], paths, source)
        out[n] = Config(n, tuple(full["append"] + append), c["description"],
                        tuple(full["requires"] + requires), tuple(full["setup"]), full["disk"])
    return out


def config(name: str, path: Path = CONFIGS) -> Config:
    return pick(configs(path), name, "configuration", shown(path))


@dataclass(frozen=True)
class DiskProfile:
    name: str
    iops: int
    bps: int
    description: str = ""
    workload_timeout: float | None = None   # replaces the workload's own on slow disks


@dataclass(frozen=True)
class BenchMode:
    reps: int
    disks: tuple[str, ...]
    variants: tuple[str, ...]
    workloads: tuple[str, ...]


@dataclass(frozen=True)
class BenchSpec:
    """data/bench.json."""
    disk_profiles: dict[str, DiskProfile]
    baselines: dict[str, str]
    modes: dict[str, BenchMode]
    console_notes: dict[str, str]
    path: Path = BENCH

    def mode(self, quick: bool) -> BenchMode:
        return self.modes["quick" if quick else "full"]

    def disk_profile(self, name: str) -> DiskProfile:
        return pick(self.disk_profiles, name, "disk profile", shown(self.path))


def bench(path: Path = BENCH) -> BenchSpec:
    raw = load(path, BENCH_TABLE)
    profiles = {n: DiskProfile(n, p["iops"], p["bps"], p["description"],
                               p.get("workload_timeout_seconds"))
                for n, p in raw["disk_profiles"].items()}
    modes = {m: BenchMode(raw[m]["reps"], tuple(raw[m]["disks"]), tuple(raw[m]["variants"]),
                          tuple(raw[m]["workloads"])) for m in ("full", "quick")}
    return BenchSpec(profiles, dict(raw["baselines"]), modes,
                     dict(raw.get("console_notes", {})), path)


@dataclass(frozen=True)
class HostSpec:
    packages: list[str]
    commands: list[dict[str, str]]
    files: list[dict[str, str]]
    min_free_gib: int

    @classmethod
    def load(cls, path: Path = HOST) -> "HostSpec":
        d = load(path, HOST_TABLE)
        return cls(d["packages"], d["commands"], d["files"], d["min_free_gib"])


def package_of(command: str) -> str | None:
    """The Debian package that provides `command`, as data/host.json says."""
    for c in HostSpec.load().commands:
        if c["command"] == command:
            return c["package"]
    return None


def install_hint(packages: list[str]) -> str:
    return ("run './kzt setup' as root, or: apt-get install --no-install-recommends "
            + " ".join(packages))


def workload_names(directory: Path) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.json"))


def workload(directory: Path, name: str) -> tuple[Path, dict[str, Any]]:
    """A workload definition by name (or a path to one), checked."""
    p = Path(name)
    if not (p.suffix == ".json" and p.exists()):
        p = pick({n: directory / f"{n}.json" for n in workload_names(directory)}, name,
                 "workload", shown(directory) + "/*.json")
    spec = load(p, Record({}, rest=object))
    try:
        check_workload(spec, shown(p))
    except SchemaError as e:
        raise DataError(e) from None
    if spec["name"] != p.stem:
        raise DataError(SchemaError(shown(p), "name", f"'{spec['name']}' is not the file's "
                                                      f"name '{p.stem}'"))
    return p.resolve(), spec


#: every family: (glob below the checkout's root, how one file of it is checked)
FAMILIES: dict[str, tuple[str, Any]] = {
    "bases": ("tooling/kzt/bases/*.json", lambda p: load(p, BASE)),
    "flavours": ("tooling/kzt/fragments/flavours.json", flavours),
    "configs": ("tooling/kzt/data/configs.json", configs),
    "bench": ("tooling/kzt/data/bench.json", bench),
    "host": ("tooling/kzt/data/host.json", HostSpec.load),
    "workloads": ("vm-tests/workloads/*.json", lambda p: workload(p.parent, str(p))),
}
