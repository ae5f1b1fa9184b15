"""pytest plugin for vm-tests, loaded with `-p kzt.guest.plugin`.

On the host (`--kzt-list FILE`), collection writes each test's boot
requirements (the `kzt_boot` marker: append, memory, cpus) to FILE, so
`kzt test` can boot one guest per distinct requirement.  In the guest,
`--kzt-group KEY` keeps only the tests of that group.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

from .seam import DEFAULT_MEMORY, BootGroup


def pytest_addoption(parser: Any) -> None:
    g = parser.getgroup("kzt")
    g.addoption("--kzt-list", default=None, help="write boot groups as JSON and exit")
    g.addoption("--kzt-group", default=None, help="run only this boot group")


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers", "kzt_boot(append='', memory='384M', cpus=2): how the guest "
        "running this test must be booted")


def boot_group(item: Any) -> BootGroup:
    m = item.get_closest_marker("kzt_boot")
    kw = dict(m.kwargs) if m else {}
    return BootGroup(str(kw.get("append", "")).strip(), str(kw.get("memory", DEFAULT_MEMORY)),
                     int(kw.get("cpus", 2)))


@pytest.hookimpl(trylast=True)   # after -m / -k have deselected
def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    listing = config.getoption("--kzt-list")
    group = config.getoption("--kzt-group")
    if listing:
        groups: dict[str, dict[str, Any]] = {}
        for it in items:
            bg = boot_group(it)
            g = groups.setdefault(bg.key, {**bg.to_json(), "tests": []})
            g["tests"].append(it.nodeid)
        with open(listing, "w") as f:
            json.dump(list(groups.values()), f, indent=1)
        items[:] = []
        return
    if group is not None:
        keep = [it for it in items if boot_group(it).key == group]
        deselected = [it for it in items if it not in keep]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
        items[:] = keep
