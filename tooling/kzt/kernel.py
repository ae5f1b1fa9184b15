"""One call for "a built kernel of this flavour": prepare, config, build.

`kzt up`, `kzt check` and `kzt test --debug` all need the tree prepared,
the flavour's .config generated and checked, and the build up to date;
each step is a no-op when nothing changed.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from . import ui
from .errors import KztError
from .layout import Layout

if TYPE_CHECKING:
    from .kconfig import Request


def ensure_kernel(layout: Layout, base: str, flavour: str = "default",
                  kconfig_add: "tuple[Request, ...]" = (),
                  make_opts: tuple[str, ...] = ()) -> Path:
    """Prepare, configure and build `flavour`; return the kernel image.

    The .config is generated again only when its inputs changed (the
    flavour's fragments, `kconfig_add`, `make_opts`, the tree's commits,
    the driver's Kconfig), so that an edit-build-test loop costs the
    incremental build alone."""
    from .build import BuildRequest, BuildStatus, build
    from .kconfig import ConfigRequest, configure
    from .tree import PrepareRequest, prepare
    res = prepare(layout, PrepareRequest(base))
    ui.step(f"tree: {res.status.value}, Linux {res.state.kernelversion} + "
            f"{len(res.state.applied)} patch(es)")
    cfg = configure(layout, ConfigRequest(base, flavour, kconfig_add=kconfig_add,
                                          make_opts=make_opts, reuse=True))
    if cfg.mismatches:
        raise KztError(f"config ({flavour}): " + "; ".join(
            f"CONFIG_{m.symbol} wanted {m.wanted} got {m.got}: {m.why}" for m in cfg.mismatches),
            f"run './kzt config --flavour {flavour}' for details")
    b = build(layout, BuildRequest(base, flavour, extra=make_opts))
    if b.status is not BuildStatus.SUCCESS:
        raise KztError(f"build ({flavour}) failed:\n{b.first_error}", f"full log: {b.log}")
    ui.step(f"kernel ({flavour}) built: {b.image} ({b.elapsed:.0f} s)")
    return b.image
