"""Survey-style FITS cutouts for sensie's data tests, written by astropy, with
astropy's own reading of every pixel as the reference.

Writes crates/sensie/tests/data/survey/:

- cutouts/{lens,nonlens}/: g, r, i cubes (3 x 8 x 8) as surveys ship them:
  gzip'd float32 (`.fits.gz`), 16-bit integers with BSCALE/BZERO, Rice
  tile-compressed floats (`.fits.fz`); the header names the band order
  (FILTER1..3 or BAND1..3), and one file stores it as i, g, r.
- mef/{lens,nonlens}/: multi-extension files, gzip'd: an empty primary, then
  either a SCI cube with FILTER1..3 or three SCI extensions (EXTVER 1..3) with
  one FILTER each (in the order r, g, i), then MASK (uint8, nonzero = bad) and
  WEIGHT (float32, 0 = bad). m002 has 2 masked pixels, m003 one of zero weight.
- catalogue.csv: one row per object, keyed by the object name (the file's
  stem), shuffled, with a row for an object that has no file.
- reference.npz: per example id (`lens/hl000.fits.gz`), the g, r, i planes as
  astropy reads them (float64, BSCALE/BZERO applied, bands in g, r, i order).

Deterministic (seeded). Run from the repository root:
    python/.venv/bin/python python/make_survey_fixtures.py
"""
from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import numpy as np
from astropy.io import fits

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "crates/sensie/tests/data/survey"
BANDS = ["g", "r", "i"]
SHAPE = (8, 8)


def write(hdus: fits.HDUList | fits.PrimaryHDU, path: Path) -> None:
    """Writes a FITS file, gzip'd when `path` ends in .gz, with no timestamp
    in the gzip header, so that a rerun writes the same bytes."""
    buffer = io.BytesIO()
    hdus.writeto(buffer)
    data = buffer.getvalue()
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)


def scene(rng: np.random.Generator, lens: bool) -> np.ndarray:
    """A g, r, i cutout in nanomaggy-like units: a galaxy, a ring for lenses, noise."""
    y, x = np.mgrid[: SHAPE[0], : SHAPE[1]] - 3.5
    r = np.hypot(x, y)
    planes = []
    for k in range(3):
        galaxy = (2.0 + k) * np.exp(-r / 1.5)
        ring = 1.5 * np.exp(-((r - 2.5) ** 2) / 0.5) if lens else 0.0
        planes.append(galaxy + ring + rng.normal(0, 0.05, SHAPE))
    return np.stack(planes).astype(np.float32)


def band_cards(header: fits.Header, key: str, order: list[str]) -> None:
    for n, band in enumerate(order, 1):
        header[f"{key}{n}"] = band


def reorder(cube: np.ndarray, order: list[str]) -> np.ndarray:
    """The g, r, i cube stored in `order`."""
    return np.stack([cube[BANDS.index(b)] for b in order])


def gri(stored: np.ndarray, order: list[str]) -> np.ndarray:
    """Planes of `stored` (in `order`) brought back to g, r, i."""
    return np.stack([stored[order.index(b)] for b in BANDS])


def main() -> None:
    rng = np.random.default_rng(18)
    reference: dict[str, np.ndarray] = {}
    names: list[str] = []
    cutouts = OUT / "cutouts"
    for folder in ["lens", "nonlens"]:
        (cutouts / folder).mkdir(parents=True, exist_ok=True)

    # Gzip'd float32 cubes, one with its bands stored as i, g, r.
    for name, order in [("hl000", BANDS), ("hl001", ["i", "g", "r"])]:
        data = reorder(scene(rng, True), order)
        hdu = fits.PrimaryHDU(data)
        hdu.header["OBJECT"] = name
        band_cards(hdu.header, "FILTER", order)
        path = cutouts / "lens" / f"{name}.fits.gz"
        write(hdu, path)
        with fits.open(path) as f:
            reference[f"lens/{path.name}"] = gri(f[0].data.astype(np.float64), order)
        names.append(name)

    # 16-bit integers with BSCALE/BZERO, bands named BAND1..3.
    data = scene(rng, False).astype(np.float64)
    hdu = fits.PrimaryHDU(data)
    hdu.scale("int16", bscale=1.0 / 4096, bzero=3.0)
    band_cards(hdu.header, "BAND", BANDS)
    path = cutouts / "nonlens" / "nl000.fits"
    write(hdu, path)
    with fits.open(path) as f:
        assert f[0].header["BITPIX"] == 16 and f[0].header["BSCALE"] == 1.0 / 4096
        reference[f"nonlens/{path.name}"] = f[0].data.astype(np.float64)
    names.append("nl000")

    # Rice tile-compressed floats (quantised, with dither, as fpack does).
    data = scene(rng, False)
    comp = fits.CompImageHDU(data, compression_type="RICE_1", quantize_level=16.0, tile_shape=(1, 8, 8), dither_seed=18)
    band_cards(comp.header, "FILTER", BANDS)
    path = cutouts / "nonlens" / "nl001.fits.fz"
    write(fits.HDUList([fits.PrimaryHDU(), comp]), path)
    with fits.open(path) as f:
        reference[f"nonlens/{path.name}"] = f[1].data.astype(np.float64)
    names.append("nl001")

    # Multi-extension files with SCI, MASK and WEIGHT.
    mef = OUT / "mef"
    for folder in ["lens", "nonlens"]:
        (mef / folder).mkdir(parents=True, exist_ok=True)
    for name, folder, per_extension, masked, zero_weight in [
        ("m000", "lens", False, [], []),
        ("m001", "lens", True, [], []),
        ("m002", "nonlens", False, [(1, 2), (5, 6)], []),
        ("m003", "nonlens", True, [], [(4, 4)]),
    ]:
        cube = scene(rng, folder == "lens")
        hdus = [fits.PrimaryHDU()]
        hdus[0].header["OBJECT"] = name
        order = ["r", "g", "i"]
        if per_extension:
            for ver, band in enumerate(order, 1):
                sci = fits.ImageHDU(cube[BANDS.index(band)], name="SCI", ver=ver)
                sci.header["FILTER"] = band
                hdus.append(sci)
        else:
            sci = fits.ImageHDU(cube, name="SCI")
            band_cards(sci.header, "FILTER", BANDS)
            hdus.append(sci)
        mask = np.zeros(SHAPE, np.uint8)
        for p in masked:
            mask[p] = 4
        weight = np.ones(SHAPE, np.float32)
        for p in zero_weight:
            weight[p] = 0
        hdus += [fits.ImageHDU(mask, name="MASK"), fits.ImageHDU(weight, name="WEIGHT")]
        path = mef / folder / f"{name}.fits.gz"
        write(fits.HDUList(hdus), path)
        with fits.open(path) as f:
            if per_extension:
                planes = {h.header["FILTER"]: h.data for h in f if h.name == "SCI"}
                reference[f"{folder}/{path.name}"] = np.stack([planes[b] for b in BANDS]).astype(np.float64)
            else:
                reference[f"{folder}/{path.name}"] = f["SCI"].data.astype(np.float64)
        names.append(name)

    np.savez(OUT / "reference.npz", **reference)
    rows = [(n, round(1.0 + 0.1 * k, 3)) for k, n in enumerate(names)] + [("hl999", 9.9)]
    order = np.random.default_rng(1).permutation(len(rows))
    with open(OUT / "catalogue.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["object", "einstein_radius"])
        for k in order:
            w.writerow(rows[k])
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
