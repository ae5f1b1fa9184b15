"""Fragments, the kconfiglib shim and the mismatch explanations, on a tiny
fake Kconfig tree (no kernel, no make)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from kzt import kconfig
from kzt.errors import InfraError, KztError
from kzt.kconfig import Request
from kzt.layout import Layout

KCONFIG = """\
mainmenu "kzt fake tree"

config MODULES
	bool "Enable loadable module support"
	modules
	help
	  As in Linux 6.1 kernel/module/Kconfig: a bare `modules` line.

config B
	bool "b"

config A
	bool "a"
	depends on B

config D
	bool "d"

config C
	bool "c"
	depends on B && D

config SEL
	bool "sel"
	select HIDDEN

config HIDDEN
	bool

config S
	string "a string"
	default "dflt"

config N
	int "a number"
	range 1 10
	default 5

config T
	tristate "t"

source "sub/Kconfig"
"""

SUB_KCONFIG = """\
config SUBSYM
	bool "declared in a sourced file"
	depends on D
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    t = tmp_path / "tree"
    (t / "sub").mkdir(parents=True)
    (t / "Kconfig").write_text(KCONFIG)
    (t / "sub" / "Kconfig").write_text(SUB_KCONFIG)
    return t


@pytest.fixture
def kconf(tree: Path) -> Any:
    return kconfig.load_kconfig(tree, {"srctree": str(tree)})


def line_of(path: Path, needle: str) -> int:
    return next(n for n, ln in enumerate(path.read_text().splitlines(), 1) if ln == needle)


# --- parse_fragment ---------------------------------------------------------

def test_parse_fragment_values(tmp_path: Path) -> None:
    f = tmp_path / "frag.config"
    f.write_text("# a comment\n"
                 "CONFIG_A=y\n"
                 "CONFIG_B=n\n"
                 "CONFIG_T=m\n"
                 "\n"
                 'CONFIG_S="hello world"\n'
                 "CONFIG_N=7\n"
                 "# CONFIG_D is not set\n"
                 "  CONFIG_SEL=y  \n")
    assert kconfig.parse_fragment(f) == [
        Request("A", "y", "frag.config:2"),
        Request("B", "n", "frag.config:3"),
        Request("T", "m", "frag.config:4"),
        Request("S", '"hello world"', "frag.config:6"),
        Request("N", "7", "frag.config:7"),
        Request("D", "n", "frag.config:8"),
        Request("SEL", "y", "frag.config:9"),
    ]


@pytest.mark.parametrize("garbage", ["CONFIG_A y", "A=y", "config_a=y", "CONFIG_=y",
                                     "CONFIG_A is not set"])
def test_parse_fragment_garbage_names_file_and_line(tmp_path: Path, garbage: str) -> None:
    f = tmp_path / "bad.config"
    f.write_text(f"CONFIG_A=y\n# fine\n{garbage}\n")
    with pytest.raises(KztError) as ei:
        kconfig.parse_fragment(f)
    assert f"bad.config:3" in str(ei.value)
    assert garbage in str(ei.value)
    assert ei.value.hint and "CONFIG_FOO" in ei.value.hint


def test_unquote() -> None:
    assert kconfig._unquote('"a b"') == "a b"
    assert kconfig._unquote('""') == ""
    assert kconfig._unquote("y") == "y"
    assert kconfig._unquote('"') == '"'


# --- fragments and flavours -------------------------------------------------

def test_fragment_names_and_resolve(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.fragments.mkdir(parents=True)
    (layout.fragments / "flavours.json").write_text(json.dumps(
        {"comment": "x", "default": ["base", "kztmem"], "plain": ["base"]}))
    (layout.fragments / "base.config").write_text("CONFIG_B=y\n")
    (layout.fragments / "kztmem.config").write_text("CONFIG_A=y\n")
    assert kconfig.fragment_names(layout, "default") == ["base", "kztmem"]
    for bad in ("nope", "comment"):
        with pytest.raises(KztError) as ei:
            kconfig.fragment_names(layout, bad)
        assert f"'{bad}'" in str(ei.value)
        assert "default, plain" in str(ei.value)
    assert kconfig.resolve_fragment(layout, "base") == layout.fragments / "base.config"
    own = tmp_path / "mine.config"
    own.write_text("CONFIG_D=y\n")
    assert kconfig.resolve_fragment(layout, str(own)) == own.resolve()
    with pytest.raises(KztError) as ei:
        kconfig.resolve_fragment(layout, "debug")
    assert "'debug'" in str(ei.value) and "base, kztmem" in str(ei.value)


# --- load_kconfig -----------------------------------------------------------

def test_load_kconfig_accepts_bare_modules_line(kconf: Any) -> None:
    # Linux 6.1 kernel/module/Kconfig says `modules`, not `option modules`
    assert kconf.modules.name == "MODULES"
    kconf.syms["MODULES"].set_value("y")
    kconf.syms["T"].set_value("m")
    assert kconf.syms["T"].str_value == "m"
    kconf.syms["MODULES"].set_value("n")
    assert kconf.syms["T"].str_value == "y"  # m is promoted to y without modules


def test_load_kconfig_shim_keeps_line_numbers(tmp_path: Path) -> None:
    # A blank line after the bare `modules` line must not be swallowed by
    # the rewrite, or every later symbol of that file gets a wrong line.
    t = tmp_path / "t"
    t.mkdir()
    (t / "Kconfig").write_text('config MODULES\n\tbool "m"\n\tmodules\n\n'
                               'config LATER\n\tbool "later"\n')
    kc = kconfig.load_kconfig(t, {"srctree": str(t)})
    assert kc.modules.name == "MODULES"
    assert kc.syms["LATER"].nodes[0].linenr == 5


def test_load_kconfig_restores_environment_and_cwd(tree: Path) -> None:
    cwd = os.getcwd()
    assert "KZT_TEST_ONLY" not in os.environ
    kconfig.load_kconfig(tree, {"srctree": str(tree), "KZT_TEST_ONLY": "1"})
    assert os.getcwd() == cwd
    assert "KZT_TEST_ONLY" not in os.environ


def test_load_kconfig_parse_error_is_infra_error_naming_the_tree(tree: Path) -> None:
    (tree / "sub" / "Kconfig").write_text("config BROKEN\n\tbool \"x\"\n\tdepends on (\n")
    with pytest.raises(InfraError) as ei:
        kconfig.load_kconfig(tree, {"srctree": str(tree)})
    assert str(tree) in str(ei.value)


# --- _check: the explanation of a mismatch ----------------------------------

def test_check_satisfied_request_is_none(kconf: Any) -> None:
    kconf.syms["B"].set_value("y")
    kconf.syms["A"].set_value("y")
    assert kconfig._check(kconf, Request("A", "y", "f:1")) is None
    assert kconfig._check(kconf, Request("D", "n", "f:2")) is None
    assert kconfig._check(kconf, Request("S", '"dflt"', "f:3")) is None
    assert kconfig._check(kconf, Request("N", "5", "f:4")) is None


def test_check_unmet_dependency_names_it_and_file_line(kconf: Any, tree: Path) -> None:
    kconf.syms["B"].set_value("n")
    kconf.syms["A"].set_value("y")  # not visible: ignored
    m = kconfig._check(kconf, Request("A", "y", "kztmem.config:3"))
    assert m is not None
    assert (m.symbol, m.wanted, m.got, m.origin) == ("A", "y", "n", "kztmem.config:3")
    assert "depends on B" in m.why
    assert "unmet: B" in m.why
    assert f"[Kconfig:{line_of(tree / 'Kconfig', 'config A')}]" in m.why


def test_check_names_only_the_unmet_conjunct(kconf: Any, tree: Path) -> None:
    kconf.syms["B"].set_value("y")
    kconf.syms["D"].set_value("n")
    kconf.syms["C"].set_value("y")
    m = kconfig._check(kconf, Request("C", "y", "f:1"))
    assert m is not None
    assert "depends on B && D" in m.why
    assert "unmet: D" in m.why
    assert "unmet: B" not in m.why and "B, D" not in m.why
    assert f"[Kconfig:{line_of(tree / 'Kconfig', 'config C')}]" in m.why


def test_check_reports_file_of_a_sourced_kconfig(kconf: Any) -> None:
    kconf.syms["D"].set_value("n")
    m = kconfig._check(kconf, Request("SUBSYM", "y", "f:1"))
    assert m is not None
    assert "unmet: D" in m.why
    assert "[sub/Kconfig:1]" in m.why


def test_check_selected_symbol_cannot_be_n(kconf: Any) -> None:
    kconf.syms["SEL"].set_value("y")
    m = kconfig._check(kconf, Request("HIDDEN", "n", "f:1"))
    assert m is not None
    assert m.got == "y"
    assert "selected by SEL" in m.why


def test_check_promptless_symbol(kconf: Any) -> None:
    m = kconfig._check(kconf, Request("HIDDEN", "y", "f:1"))
    assert m is not None
    assert m.got == "n"
    assert "has no prompt" in m.why


def test_check_out_of_range_value(kconf: Any) -> None:
    kconf.syms["N"].set_value("20")
    m = kconfig._check(kconf, Request("N", "20", "f:1"))
    assert m is not None
    assert m.got != "20"
    assert "value not accepted" in m.why


def test_check_string_values(kconf: Any) -> None:
    kconf.syms["S"].set_value("hello world")
    assert kconfig._check(kconf, Request("S", '"hello world"', "f:1")) is None
    m = kconfig._check(kconf, Request("S", '"other"', "f:2"))
    assert m is not None and m.got == "hello world" and m.wanted == "other"


def test_check_empty_string_request_is_met(kconf: Any) -> None:
    # CONFIG_LOCALVERSION="" style requests: the symbol is "" as asked
    kconf.syms["S"].set_value("")
    assert kconf.syms["S"].str_value == ""
    assert kconfig._check(kconf, Request("S", '""', "f:1")) is None
