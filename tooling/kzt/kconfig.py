"""`kzt config`: .config from fragments, checked symbol by symbol.

allnoconfig (kbuild) gives the tree's own starting point; kconfiglib merges
the fragments over the tree's Kconfig; kbuild's olddefconfig settles the
result; then every requested symbol is checked, and each one that did not
end with its requested value is reported with the dependency that is not
met and the Kconfig file:line that declares it.

The new .config replaces the old one only if it differs, so an unchanged
configuration does not make the next build recompile anything.
"""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import datafiles, host, proc, ui
from .datafiles import Base
from .errors import InfraError, KztError
from .layout import Layout
from .tree import require_tree


@dataclass(frozen=True)
class Request:
    symbol: str
    value: str
    origin: str  # fragment file:line


@dataclass(frozen=True)
class ConfigRequest:
    base: str = "6.1"
    flavour: str = "default"
    fragments: tuple[str, ...] = ()
    #: `--kconfig-add CONFIG_X=y`: requests merged after every fragment
    kconfig_add: tuple[Request, ...] = ()
    #: `--make-opt` (e.g. LLVM=1): given to make allnoconfig/olddefconfig
    make_opts: tuple[str, ...] = ()
    #: keep the .config as it is when nothing it was made from changed
    #: (the same fragments, additions, options, tree and driver Kconfig)
    reuse: bool = False


@dataclass
class Mismatch:
    symbol: str
    wanted: str
    got: str
    origin: str
    why: str


@dataclass
class ConfigResult:
    config: Path
    changed: bool
    requests: list[Request]
    mismatches: list[Mismatch] = field(default_factory=list)
    elapsed: float = 0.0


_LINE = re.compile(r"^CONFIG_([A-Za-z0-9_]+)=(.*)$")
_UNSET = re.compile(r"^# CONFIG_([A-Za-z0-9_]+) is not set$")


def fragment_names(layout: Layout, flavour: str) -> list[str]:
    return datafiles.flavour(flavour, layout.fragments / "flavours.json")


def resolve_fragment(layout: Layout, name: str) -> Path:
    p = Path(name)
    if p.suffix == ".config" and p.exists():
        return p.resolve()
    known = {x.stem: x for x in layout.fragments.glob("*.config")}
    return datafiles.pick(known, name, "config fragment",
                          datafiles.shown(layout.fragments) + "/*.config")


_FRAGMENT_FORMS = "use CONFIG_FOO=y|n|m|value or '# CONFIG_FOO is not set'"


def parse_line(line: str, origin: str) -> Request | None:
    """One fragment line as a request; None for a blank line or a comment.

    Raises ValueError for anything else (the caller says where it was).
    """
    line = line.strip()
    m = _LINE.match(line)
    if m:
        return Request(m.group(1), m.group(2).strip(), origin)
    m = _UNSET.match(line)
    if m:
        return Request(m.group(1), "n", origin)
    if line and not line.startswith("#"):
        raise ValueError(line)
    return None


def parse_fragment(path: Path) -> list[Request]:
    reqs = []
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        try:
            r = parse_line(raw, f"{path.name}:{n}")
        except ValueError:
            raise KztError(f"{path}:{n}: cannot parse '{raw}'", _FRAGMENT_FORMS) from None
        if r is not None:
            reqs.append(r)
    return reqs


def parse_addition(text: str) -> Request:
    """`--kconfig-add CONFIG_X=y`: one fragment line, checked the same way."""
    try:
        r = parse_line(text, f"--kconfig-add {text}")
    except ValueError:
        r = None
    if r is None:
        raise KztError(f"--kconfig-add '{text}' is not a config line", _FRAGMENT_FORMS)
    return r


def compilers(make_opts: tuple[str, ...]) -> tuple[str, str]:
    """The compiler and linker a build with these make options uses."""
    opts = dict(o.split("=", 1) for o in make_opts if "=" in o)
    llvm = opts.get("LLVM", "")
    cc, ld = ("clang", "ld.lld") if llvm and llvm != "0" else ("gcc", "ld")
    return opts.get("CC", cc).split()[-1], opts.get("LD", ld)


def kconfig_env(tree: Path, base: Base, kernelversion: str,
                make_opts: tuple[str, ...] = ()) -> dict[str, str]:
    cc, ld = compilers(make_opts)
    version = proc.run([cc, "--version"], what=f"{cc} --version").output.splitlines()[0]
    return {"srctree": str(tree), "ARCH": base.arch, "SRCARCH": base.arch,
            "KERNELVERSION": kernelversion, "CC": cc, "LD": ld,
            "HOSTCC": "gcc", "HOSTCXX": "g++", "CC_VERSION_TEXT": version,
            "RUSTC": "rustc", "BINDGEN": "bindgen", "PAHOLE": "pahole",
            "OBJCOPY": "objcopy"}


def load_kconfig(tree: Path, env: dict[str, str]) -> Any:
    """kconfiglib over the tree, with the shim 6.1 needs.

    kconfiglib 14.1 knows `option modules` but not the bare `modules`
    attribute that kernel/module/Kconfig uses since 5.19: it is read as
    `option modules`, which means the same.
    """
    try:
        import kconfiglib
    except ImportError as e:
        raise KztError("kconfiglib is not installed", "run './kzt setup'") from e

    class Kconfig61(kconfiglib.Kconfig):  # type: ignore[misc]
        def _open(self, filename: str, mode: str) -> Any:
            f = super()._open(filename, mode)
            if "r" not in mode or not str(filename).endswith("Kconfig"):
                return f
            import io
            text = f.read()
            f.close()
            text = re.sub(r"(?m)^([ \t]+)modules[ \t]*$", r"\1option modules", text)
            return io.StringIO(text)

    saved = dict(os.environ)
    os.environ.update(env)
    cwd = os.getcwd()
    try:
        os.chdir(tree)
        return Kconfig61("Kconfig", warn=False, warn_to_stderr=False)
    except kconfiglib.KconfigError as e:
        raise InfraError(f"kconfiglib could not parse {tree}/Kconfig: {e}") from e
    finally:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(saved)


STAMP = "kzt-config-inputs.json"


def inputs_digest(layout: Layout, frags: list[Path], req: ConfigRequest, head: str) -> str:
    """What a .config is made of: reused only while none of it changed."""
    import hashlib
    h = hashlib.sha256()
    for f in frags:
        h.update(f"{f}\0".encode() + f.read_bytes() + b"\0")
    for r in req.kconfig_add:
        h.update(f"add {r.symbol}={r.value}\0".encode())
    for o in req.make_opts:
        h.update(f"make {o}\0".encode())
    h.update(f"tree {head}\0".encode())
    for k in sorted(layout.driver.glob("Kconfig*")):
        h.update(k.read_bytes())
    return h.hexdigest()


def configure(layout: Layout, req: ConfigRequest) -> ConfigResult:
    tree, state = require_tree(layout, req.base)
    names = list(req.fragments) or fragment_names(layout, req.flavour)
    frags = [resolve_fragment(layout, n) for n in names]
    out = layout.out(req.base, req.flavour)
    digest = inputs_digest(layout, frags, req, state.head or state.base_commit)
    stamp = out / STAMP
    if req.reuse and (out / ".config").exists() and stamp.exists():
        try:
            old = json.loads(stamp.read_text())
        except ValueError:
            old = {}
        if old.get("digest") == digest:
            ui.step(f"config: {out / '.config'} made from the same inputs: kept")
            return ConfigResult(out / ".config", False, [], [], 0.0)
    res = generate(tree, state.kernelversion, Base.load(req.base), out, frags,
                   additions=req.kconfig_add, make_opts=req.make_opts)
    if not res.mismatches:
        stamp.write_text(json.dumps({"digest": digest}) + "\n")
    return res


NEW_CONFIG = ".config.kzt-new"


def make_prefix(out: Path, base: Base, make_opts: tuple[str, ...] = ()) -> list[str]:
    """make, as config runs it (allnoconfig, olddefconfig) on a new file."""
    return ["make", "-s", f"O={out}", f"ARCH={base.arch}", f"KCONFIG_CONFIG={NEW_CONFIG}",
            *make_opts]


def plan(layout: Layout, req: ConfigRequest) -> list[str]:
    """`kzt config --dry-run`: the steps configure would take, as text."""
    names = list(req.fragments) or fragment_names(layout, req.flavour)
    frags = [resolve_fragment(layout, n) for n in names]
    out = layout.out(req.base, req.flavour)
    mk = make_prefix(out, Base.load(req.base), req.make_opts)
    import shlex
    tree = layout.src(req.base)
    merged = [str(f) for f in frags] + [f"{r.symbol}={r.value}" for r in req.kconfig_add]
    return [f"cd {shlex.quote(str(tree))} && {shlex.join([*mk, 'allnoconfig'])}",
            f"# kconfiglib: merge {', '.join(merged)} into {out / NEW_CONFIG}",
            f"cd {shlex.quote(str(tree))} && {shlex.join([*mk, 'olddefconfig'])}",
            f"# check every requested symbol, then replace {out / '.config'} if it differs"]


def generate(tree: Path, kernelversion: str, base: Base, out: Path,
             frags: list[Path], allow_unknown: bool = False,
             additions: tuple[Request, ...] = (),
             make_opts: tuple[str, ...] = ()) -> ConfigResult:
    """Write out/.config for `tree` from `frags` and then `additions`;
    check every request."""
    start = time.monotonic()
    requests: dict[str, Request] = {}
    for f in frags:
        for r in parse_fragment(f):
            requests[r.symbol] = r  # later fragments win
    for r in additions:
        requests[r.symbol] = r
    host.require_programs("make", "gcc", "flex", "bison",
                          needed_for="make allnoconfig, which builds scripts/kconfig")
    out.mkdir(parents=True, exist_ok=True)
    new = out / NEW_CONFIG
    mk = make_prefix(out, base, make_opts)
    ui.step(f"config: allnoconfig + {', '.join(f.name for f in frags)}"
            + "".join(f" + {r.symbol}={r.value}" for r in additions))
    proc.run([*mk, "allnoconfig"], cwd=tree, what="make allnoconfig", timeout=300)

    kconf = load_kconfig(tree, kconfig_env(tree, base, kernelversion, make_opts))
    kconf.load_config(str(new))
    unknown = [r for r in requests.values() if r.symbol not in kconf.syms
               or not kconf.syms[r.symbol].nodes]
    if unknown and allow_unknown:
        for r in unknown:
            ui.info(f"CONFIG_{r.symbol} does not exist in this tree: skipped")
            del requests[r.symbol]
    elif unknown:
        new.unlink()
        raise KztError("unknown Kconfig symbol(s): " + ", ".join(
            f"CONFIG_{r.symbol} ({r.origin})" for r in unknown),
            "check the spelling, or whether this kernel version has it")
    # Two passes: a symbol's prompt may depend on a later line.
    for _ in range(2):
        for r in requests.values():
            kconf.syms[r.symbol].set_value(_unquote(r.value))
    kconf.write_config(str(new), header="# generated by kzt config\n")
    proc.run([*mk, "olddefconfig"], cwd=tree, what="make olddefconfig", timeout=300)

    kconf.load_config(str(new))
    mismatches = [m for r in requests.values()
                  if (m := _check(kconf, r)) is not None]
    cfg = out / ".config"
    old = out / (new.name + ".old")
    if old.exists():
        old.unlink()
    if mismatches:
        new.unlink()
        return ConfigResult(cfg, False, list(requests.values()), mismatches,
                            time.monotonic() - start)
    changed = not cfg.exists() or cfg.read_bytes() != new.read_bytes()
    if changed:
        new.replace(cfg)
    else:
        new.unlink()
    (out / "kzt-fragments.txt").write_text("".join(f"{f}\n" for f in frags))
    return ConfigResult(cfg, changed, list(requests.values()), [],
                        time.monotonic() - start)


def _unquote(v: str) -> str:
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        return v[1:-1]
    return v


def _conjuncts(expr: Any) -> list[Any]:
    """The terms of a top-level A && B && C expression."""
    import kconfiglib
    if isinstance(expr, tuple) and expr[0] == kconfiglib.AND:
        return _conjuncts(expr[1]) + _conjuncts(expr[2])
    return [expr]


def _check(kconf: Any, r: Request) -> Mismatch | None:
    import kconfiglib
    sym = kconf.syms[r.symbol]
    got = sym.str_value
    wanted = _unquote(r.value)
    if sym.orig_type in (kconfiglib.BOOL, kconfiglib.TRISTATE):
        got = got or "n"
        wanted = wanted or "n"
    if got == wanted:
        return None
    why = []
    node = sym.nodes[0]
    where = f"{node.filename}:{node.linenr}"
    dep = sym.direct_dep
    if kconfiglib.expr_value(dep) == 0 or (wanted == "y" and kconfiglib.expr_value(dep) < 2):
        unmet = [kconfiglib.expr_str(c) for c in _conjuncts(dep)
                 if kconfiglib.expr_value(c) == 0]
        why.append(f"depends on {kconfiglib.expr_str(dep)}"
                   + (f" -- unmet: {', '.join(unmet)}" if unmet else ""))
    if wanted == "n" and kconfiglib.expr_value(sym.rev_dep):
        why.append(f"selected by {kconfiglib.expr_str(sym.rev_dep)}")
    if not any(n.prompt for n in sym.nodes) and not why:
        why.append("has no prompt: it can only be selected or defaulted; "
                   f"default/select chain: {kconfiglib.expr_str(sym.rev_dep)}")
    if not why:
        why.append("value not accepted (range or type)")
    return Mismatch(r.symbol, wanted, got, r.origin, f"{'; '.join(why)} [{where}]")
