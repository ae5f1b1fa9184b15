"""One call for "a built kernel of this flavour": prepare, config, build.

`kzt up`, `kzt check` and `kzt test --debug` all need the tree prepared,
the flavour's .config generated and checked, and the build up to date;
each step is a no-op when nothing changed.
"""
from __future__ import annotations

from pathlib import Path

from . import ui
from .errors import KztError
from .layout import Layout


def ensure_kernel(layout: Layout, base: str, flavour: str = "default") -> Path:
    """Prepare, configure and build `flavour`; return the kernel image."""
    from .build import BuildRequest, BuildStatus, build
    from .kconfig import ConfigRequest, configure
    from .tree import PrepareRequest, prepare
    res = prepare(layout, PrepareRequest(base))
    ui.step(f"tree: {res.status.value}, Linux {res.state.kernelversion} + "
            f"{len(res.state.applied)} patch(es)")
    cfg = configure(layout, ConfigRequest(base, flavour))
    if cfg.mismatches:
        raise KztError(f"config ({flavour}): " + "; ".join(
            f"CONFIG_{m.symbol} wanted {m.wanted} got {m.got}: {m.why}" for m in cfg.mismatches),
            f"run './kzt config --flavour {flavour}' for details")
    b = build(layout, BuildRequest(base, flavour))
    if b.status is not BuildStatus.SUCCESS:
        raise KztError(f"build ({flavour}) failed:\n{b.first_error}", f"full log: {b.log}")
    ui.step(f"kernel ({flavour}) built: {b.image} ({b.elapsed:.0f} s)")
    return b.image
