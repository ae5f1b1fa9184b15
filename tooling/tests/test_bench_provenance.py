"""A bench records what it measured: the image, its .config, the series
and the driver (kzt.bench.provenance)."""
from __future__ import annotations

from pathlib import Path

from kzt.bench.provenance import build_config, provenance
from kzt.layout import Layout


def _checkout(root: Path) -> Layout:
    (root / "kernel-patches" / "v6.1").mkdir(parents=True)
    (root / "kernel-patches" / "v6.1" / "series").write_text("0001-a.patch\n0002-b.patch\n")
    for n in ("0001-a.patch", "0002-b.patch"):
        (root / "kernel-patches" / "v6.1" / n).write_text(f"patch {n}\n")
    (root / "drivers-staging-kztmem").mkdir()
    (root / "drivers-staging-kztmem" / "kztmem.c").write_text("int x;\n")
    out = root / "build" / "out" / "6.1-default"
    (out / "arch" / "x86" / "boot").mkdir(parents=True)
    (out / "Makefile").write_text("# generated\n")
    (out / ".config").write_text("CONFIG_KZTMEM=y\n")
    (out / "arch" / "x86" / "boot" / "bzImage").write_bytes(b"kernel")
    return Layout(root)


def test_provenance_names_image_config_series_and_driver(tmp_path: Path) -> None:
    layout = _checkout(tmp_path)
    image = tmp_path / "build/out/6.1-default/arch/x86/boot/bzImage"
    assert build_config(image) == tmp_path / "build/out/6.1-default/.config"
    p = provenance(layout, image)
    assert p["image_sha256"] and p["config_sha256"] and p["series_digest"] and p["driver_digest"]
    assert p["series_patches"] == 2
    # a changed patch, driver file or .config changes its digest, and only its own
    (tmp_path / "kernel-patches/v6.1/0002-b.patch").write_text("patch b, v2\n")
    q = provenance(layout, image)
    assert q["series_digest"] != p["series_digest"]
    assert (q["driver_digest"], q["config_sha256"], q["image_sha256"]) == \
        (p["driver_digest"], p["config_sha256"], p["image_sha256"])
    (tmp_path / "drivers-staging-kztmem/kztmem.c").write_text("int y;\n")
    (tmp_path / "build/out/6.1-default/.config").write_text("CONFIG_KZTMEM=n\n")
    r = provenance(layout, image)
    assert r["driver_digest"] != q["driver_digest"] and r["config_sha256"] != q["config_sha256"]


def test_an_image_outside_a_build_directory_has_no_config(tmp_path: Path) -> None:
    layout = _checkout(tmp_path / "repo")
    image = tmp_path / "saved-bzImage"
    image.write_bytes(b"kernel")
    p = provenance(layout, image)
    assert p["config_sha256"] is None and p["image_sha256"]
