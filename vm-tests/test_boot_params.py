"""Malformed boot parameters (issue 7): the kernel boots with the defaults
and says what it ignored.

One guest is booted with a command line that mixes good and bad kztmem
parameters. Early parameters are applied in order, so the bare ``kztmem``
after ``kztmem=maybe`` is what enables the driver. Checked here:

- ``kztmem=maybe`` is reported as malformed;
- ``nofrontswap=please`` and ``nocleancache=0`` are reported (the switches
  take no value) and ignored: both halves stay on;
- ``kztmem.max_pool_percent=33`` and ``kztmem.eph_reclaim_cost=5`` are
  valid and take effect (the second is set before the shrinker it weighs
  is registered);
- ``kztmem.compress_limit=12abc`` is refused by the kernel's parameter
  parser with its own message, and the default stays;
- ``kztmem.pers_pool=zbud`` names no persistent store: it is logged and
  the default store, split, is used;
- ``kztmem.compressor=lz4hc`` (a crypto algorithm, but not one kztmem
  offers) is logged by kztmem and by the parser, and lzo is used;
- ``kztmem.cc_prepare=sometimes`` is not a boolean: the parser says so and
  cleancache puts stay two-step (``cc_prepare`` reads Y). The kernel reads
  a boolean by its first letters, so "often" would be taken as "of(f)";
  "sometimes" starts with none of y, n, t, f, o, 1 or 0;
- the tunables have no second, writable copy under /sys/module.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kzt.guest import lib as kg

CMDLINE = ("kztmem=maybe kztmem kztmem.max_pool_percent=33 kztmem.compress_limit=12abc "
           "nofrontswap=please nocleancache=0 kztmem.pers_pool=zbud kztmem.compressor=lz4hc "
           "kztmem.cc_prepare=sometimes kztmem.eph_reclaim_cost=5")

pytestmark = pytest.mark.kzt_boot(append=CMDLINE)

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
COMPRESS_LIMIT_DEFAULT = PAGE_SIZE * 7 // 8


@pytest.fixture(scope="module")
def kernel_log() -> str:
    if not kg.booted_with("kztmem.compress_limit=12abc"):
        pytest.fail(f"this module needs the guest booted with {CMDLINE!r}; "
                    f"/proc/cmdline is {Path('/proc/cmdline').read_text().strip()!r}")
    return kg.run([kg.tool("dmesg")]).stdout


@pytest.mark.parametrize("message", [
    'kztmem: ignoring malformed "kztmem=maybe"',
    'kztmem: ignoring "nofrontswap=please": nofrontswap takes no value',
    'kztmem: ignoring "nocleancache=0": nocleancache takes no value',
    "`12abc' invalid for parameter `kztmem.compress_limit'",
    'kztmem: ignoring unknown "kztmem.pers_pool=zbud" (choose xvmalloc, zsmalloc or split), '
    'using split',
    'kztmem: ignoring unknown compressor "lz4hc" (choose one of lzo, lzo-rle, lz4, zstd); '
    'using lzo',
    "`lz4hc' invalid for parameter `kztmem.compressor'",
    "`sometimes' invalid for parameter `kztmem.cc_prepare'",
])
def test_bad_parameter_is_logged(kernel_log: str, message: str) -> None:
    assert message in kernel_log, \
        f"expected {message!r} in the kernel log; kztmem lines: " + \
        "\n".join(line for line in kernel_log.splitlines() if "kztmem" in line)


def test_driver_enabled_with_both_halves(kernel_log: str) -> None:
    assert kg.kztmem_present(), f"{kg.KZTMEM_SYSFS} missing: the bare 'kztmem' did not enable"
    enabled = [line for line in kernel_log.splitlines() if "kztmem: enabled:" in line]
    assert enabled, "no 'kztmem: enabled:' line in the kernel log"
    assert "frontswap" in enabled[-1] and "cleancache" in enabled[-1], \
        f"a malformed switch turned a half off: {enabled[-1]}"


def test_valid_parameter_applies_and_bad_one_keeps_default(kernel_log: str) -> None:
    values = kg.kztmem_ints()
    assert values["max_pool_percent"] == 33, \
        f"kztmem.max_pool_percent=33 on the command line, sysfs says {values['max_pool_percent']}"
    assert values["eph_reclaim_cost"] == 5, \
        f"kztmem.eph_reclaim_cost=5 on the command line, sysfs says {values['eph_reclaim_cost']}"
    assert values["compress_limit"] == COMPRESS_LIMIT_DEFAULT, \
        f"kztmem.compress_limit=12abc was refused, but compress_limit is " \
        f"{values['compress_limit']} (default {COMPRESS_LIMIT_DEFAULT})"


def test_unknown_pers_pool_keeps_the_default_store(kernel_log: str) -> None:
    path = kg.KZTMEM_SYSFS / "pers_pool"
    assert path.read_text() == "split\n", \
        f"kztmem.pers_pool=zbud was refused, but {path} says {path.read_text()!r}"
    enabled = [line for line in kernel_log.splitlines() if "kztmem: enabled:" in line]
    assert enabled and "frontswap (split)" in enabled[-1], enabled


def test_bad_compressor_falls_back_to_lzo(kernel_log: str) -> None:
    path = kg.KZTMEM_SYSFS / "compressor"
    assert path.read_text().strip() == "lzo", \
        f"kztmem.compressor=lz4hc was refused, but {path} says {path.read_text().strip()!r}"
    enabled = [line for line in kernel_log.splitlines() if "kztmem: enabled:" in line]
    assert enabled and enabled[-1].endswith("(lzo)"), enabled


def test_no_writable_copy_under_sys_module() -> None:
    params = Path("/sys/module/kztmem/parameters")
    writable = [p.name for p in params.iterdir() if p.stat().st_mode & 0o222] \
        if params.is_dir() else []
    assert not writable, f"writable kztmem parameters under {params}: {writable}"


def test_bad_cc_prepare_keeps_two_step_puts(kernel_log: str) -> None:
    path = Path("/sys/module/kztmem/parameters/cc_prepare")
    assert path.read_text().strip() == "Y", \
        f"kztmem.cc_prepare=sometimes was refused, but {path} says {path.read_text().strip()!r}"
