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

DEFAULT_MEMORY = "384M"


def pytest_addoption(parser: Any) -> None:
    g = parser.getgroup("kzt")
    g.addoption("--kzt-list", default=None, help="write boot groups as JSON and exit")
    g.addoption("--kzt-group", default=None, help="run only this boot group")


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers", "kzt_boot(append='', memory='384M', cpus=2): how the guest "
        "running this test must be booted")


def boot_params(item: Any) -> dict[str, Any]:
    m = item.get_closest_marker("kzt_boot")
    kw = dict(m.kwargs) if m else {}
    return {"append": str(kw.get("append", "")).strip(),
            "memory": str(kw.get("memory", DEFAULT_MEMORY)),
            "cpus": int(kw.get("cpus", 2))}


def group_key(params: dict[str, Any]) -> str:
    return f"{params['memory']}|{params['cpus']}|{params['append']}"


@pytest.hookimpl(trylast=True)   # after -m / -k have deselected
def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    listing = config.getoption("--kzt-list")
    group = config.getoption("--kzt-group")
    if listing:
        groups: dict[str, dict[str, Any]] = {}
        for it in items:
            p = boot_params(it)
            g = groups.setdefault(group_key(p), {**p, "tests": []})
            g["tests"].append(it.nodeid)
        with open(listing, "w") as f:
            json.dump(list(groups.values()), f, indent=1)
        items[:] = []
        return
    if group is not None:
        keep = [it for it in items if group_key(boot_params(it)) == group]
        deselected = [it for it in items if it not in keep]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
        items[:] = keep
