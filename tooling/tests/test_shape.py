"""The toolkit's shape: no import cycle, no sys.path edits, a guest package
that needs only the standard library and pytest."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

TOOLING = Path(__file__).resolve().parents[1]
REPO = TOOLING.parent
KZT = TOOLING / "kzt"


def module_name(path: Path, top: Path) -> str:
    parts = list(path.relative_to(top.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, name: str) -> list[tuple[str, tuple[str, ...], int]]:
    """(absolute module, imported names, line) of every import in a file,
    at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.append((module, tuple(a.name for a in node.names), node.lineno))
        elif isinstance(node, ast.Import):
            out.extend((a.name, (), node.lineno) for a in node.names)
    return out


def import_graph(top: Path) -> dict[str, set[str]]:
    """Which modules of the package at `top` each of its modules imports."""
    files = {module_name(p, top): p for p in top.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        deps = set()
        for module, names, _ in imports(path, name):
            for cand in (module, *(f"{module}.{n}" for n in names)):
                if cand in files and cand != name and cand != top.name:
                    deps.add(cand)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from .. import a\n")
    (pkg / "c.py").write_text("from . import a\n")
    assert cycles(import_graph(pkg)) == [["pkg.a", "pkg.sub.b"]]


def test_kzt_has_no_import_cycle() -> None:
    graph = import_graph(KZT)
    assert {"kzt.bench.loop", "kzt.bench.report", "kzt.guest.lib", "kzt.host",
            "kzt.proc"} <= set(graph)
    assert cycles(graph) == []


def sys_path_edits(path: Path) -> list[int]:
    """Lines that touch sys.path (read or write) in a Python file."""
    return [node.lineno for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Attribute) and node.attr == "path"
            and isinstance(node.value, ast.Name) and node.value.id == "sys"]


def test_sys_path_finder_sees_an_edit(tmp_path: Path) -> None:
    f = tmp_path / "x.py"
    f.write_text("import sys\n\nsys.path.insert(0, 'vm-tests')\ntext = 'sys.path'\n")
    assert sys_path_edits(f) == [3]


@pytest.mark.parametrize("tree", ["tooling/kzt", "tooling/tests", "vm-tests"])
def test_no_sys_path_edits(tree: str) -> None:
    found = {str(p.relative_to(REPO)): lines for p in sorted((REPO / tree).rglob("*.py"))
             if (lines := sys_path_edits(p))}
    assert found == {}


def test_the_guest_package_needs_only_the_standard_library_and_pytest() -> None:
    allowed = set(sys.stdlib_module_names) | {"pytest", "__future__"}
    for path in sorted((KZT / "guest").glob("*.py")):
        name = module_name(path, KZT)
        for module, _, line in imports(path, name):
            top = module.split(".")[0]
            if top == "kzt":
                assert module.startswith("kzt.guest"), f"{path.name}:{line} imports {module}"
            else:
                assert top in allowed, f"{path.name}:{line} imports {module}"


def test_vm_tests_import_the_guest_library_as_a_package() -> None:
    for path in sorted((REPO / "vm-tests").glob("*.py")):
        modules = {m for m, _, _ in imports(path, path.stem)}
        assert "kztguest" not in modules, path.name
    assert not (REPO / "vm-tests" / "kztguest.py").exists()
