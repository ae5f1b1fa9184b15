"""Host set-up (`kzt setup`) and its report (`kzt doctor`).

What the host needs is data (data/host.json); this module only checks it
and installs what is missing: Debian packages with --no-install-recommends,
and a venv with the pinned Python dependencies.
"""
from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import proc, ui
from .datafiles import Base, HostSpec, install_hint, package_of
from .errors import InfraError, KztError
from .layout import Layout


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass
class SetupResult:
    installed: list[str] = field(default_factory=list)
    venv_created: bool = False


def missing_packages(spec: HostSpec) -> list[str]:
    """Packages not installed according to dpkg."""
    res = proc.run(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\n",
                    *spec.packages], check=False)
    have = {ln.split()[0] for ln in res.output.splitlines()
            if len(ln.split()) > 1 and ln.split()[1].startswith("ii")}
    return [p for p in spec.packages if p not in have]


def require_programs(*commands: str, needed_for: str) -> None:
    """Refuse a step before it starts when a program it runs is not on PATH.

    The error names every missing program and the Debian packages that
    provide them, so that the step never fails half-way with a bare
    "command not found" from make or tar.
    """
    missing = [c for c in commands if proc.which(c) is None]
    if not missing:
        return
    packages = sorted({package_of(c) or c for c in missing})
    raise KztError(f"{', '.join(missing)} not found on PATH (needed for {needed_for})",
                   install_hint(packages))


def dev_venv(layout: Layout) -> Path:
    """The venv of development-only tools (mypy): not the one guests use."""
    return layout.build / "venv-dev"


def requirements(layout: Layout, dev: bool = False) -> Path:
    return layout.root / "tooling" / ("requirements-dev.txt" if dev else "requirements.txt")


def _venv_current(venv: Path, requirements: Path, program: str) -> bool:
    stamp = venv / ".kzt-requirements"
    return ((venv / "bin" / "python").exists() and (venv / "bin" / program).exists()
            and stamp.exists() and stamp.read_text() == requirements.read_text())


def venv_ok(layout: Layout, requirements: Path) -> bool:
    return _venv_current(layout.venv, requirements, "vng")


def dev_venv_ok(layout: Layout) -> bool:
    return _venv_current(dev_venv(layout), requirements(layout, dev=True), "mypy")


def base_python() -> str:
    """The interpreter to make a venv with: never one inside a venv (kzt
    may be running from the very venv that is being replaced)."""
    base = getattr(sys, "_base_executable", "") or sys.executable
    if Path(base).exists() and sys.prefix == sys.base_prefix:
        return sys.executable
    return base if Path(base).exists() else (proc.which("python3") or sys.executable)


def _make_venv(venv: Path, req: Path) -> None:
    """A fresh venv with exactly the pinned, hash-checked requirements."""
    ui.step(f"creating the Python venv {venv} from {req.name}")
    python = base_python()
    if venv.is_symlink():
        venv.unlink()          # a link to a venv elsewhere: never delete its target
    elif venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    proc.run([python, "-m", "venv", str(venv)], what="python3 -m venv", timeout=300)
    pip = str(venv / "bin" / "pip")
    proc.run([pip, "install", "-q", "--disable-pip-version-check", "--require-hashes",
              "-r", str(req)], what=f"pip install --require-hashes -r tooling/{req.name}",
             timeout=1200)
    (venv / ".kzt-requirements").write_text(req.read_text())


def setup(layout: Layout, *, quiet: bool = False) -> SetupResult:
    """Install what is missing; a no-op when everything is there."""
    spec = HostSpec.load()
    result = SetupResult()
    missing = missing_packages(spec)
    if missing:
        if os.geteuid() != 0:
            raise KztError(f"missing Debian packages: {' '.join(missing)}",
                           "run './kzt setup' as root, or: sudo apt-get install "
                           f"--no-install-recommends {' '.join(missing)}")
        ui.step(f"installing Debian packages: {' '.join(missing)}")
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        proc.run(["apt-get", "update", "-q"], env=env, timeout=900,
                 what="apt-get update")
        proc.run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
                  *missing], env=env, timeout=1800, what="apt-get install")
        result.installed = missing
    req = requirements(layout)
    if not venv_ok(layout, req):
        _make_venv(layout.venv, req)
        result.venv_created = True
    if not dev_venv_ok(layout):
        _make_venv(dev_venv(layout), requirements(layout, dev=True))
        result.venv_created = True
    if not quiet and not missing and not result.venv_created:
        ui.step("host set-up: nothing to do")
    return result


def doctor(layout: Layout) -> list[Check]:
    """Report each prerequisite with its fix; does not change anything."""
    spec = HostSpec.load()
    checks: list[Check] = []
    for c in spec.commands:
        path = proc.which(c["command"])
        checks.append(Check(c["name"], path is not None,
                            path or f"{c['command']} not found on PATH",
                            install_hint([c["package"]])))
    for f in spec.files:
        ok = Path(f["path"]).exists()
        checks.append(Check(f["name"], ok, f["path"] if ok else f"{f['path']} missing",
                            install_hint([f["package"]])))
    base = Base.load("6.1")
    src = Path(base.tarball)
    checks.append(Check("kernel source 6.1", src.exists(), str(src),
                        f"apt-get install --no-install-recommends {base.debian_package}"))
    req = layout.root / "tooling" / "requirements.txt"
    checks.append(Check("Python venv (virtme-ng, kconfiglib, pytest)", venv_ok(layout, req),
                        str(layout.venv), "run './kzt setup'"))
    checks.append(Check("development venv (mypy)", dev_venv_ok(layout),
                        str(dev_venv(layout)), "run './kzt setup'"))
    layout.build.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(layout.build).free / 2**30
    checks.append(Check("free disk", free >= spec.min_free_gib,
                        f"{free:.1f} GiB free under {layout.build}",
                        f"free at least {spec.min_free_gib} GiB"))
    kvm = Path("/dev/kvm")
    checks.append(Check("/dev/kvm", True,
                        "present (a probe boot decides if it is usable)"
                        if kvm.exists() else "absent: guests run under TCG"))
    return checks


def require_venv(layout: Layout) -> None:
    req = layout.root / "tooling" / "requirements.txt"
    if not venv_ok(layout, req):
        raise KztError("the toolkit's Python venv is missing or out of date",
                       "run './kzt setup'")


def venv_bin(layout: Layout, name: str) -> str:
    p = layout.venv / "bin" / name
    if not p.exists():
        raise InfraError(f"{p} is missing", "run './kzt setup'")
    return str(p)
