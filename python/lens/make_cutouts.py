"""A folder of survey-style cutouts from the lens example's test set, with a
catalogue keyed by object name, for the lens README's survey example.

Writes examples/lens/data/cutouts/{lens,nonlens}/<object>.<ext> for the first
N test images and examples/lens/data/cutouts-catalogue.csv:

- most are Rice tile-compressed floats (`.fits.fz`, quantised to 1/4 of the
  sky noise with subtractive dither, as fpack writes survey images);
- some are gzip'd float32 (`.fits.gz`), some gzip'd 16-bit integers with
  BSCALE/BZERO (`.fits.gz`);
- every cube names its bands in its header (FILTER1..3), and every third one
  stores them as i, r, g, so only `--bands g,r,i` reads them all alike;
- the catalogue has one row per object (`object`, the file's stem, and the
  simulation's label (1 = lens), class, Einstein radius and source
  magnitude), shuffled, plus
  rows for objects with no cutout, as a survey catalogue would.

Deterministic. Run from the repository root:
    python/.venv/bin/python python/lens/make_cutouts.py
"""
from __future__ import annotations

import csv
import gzip
import io
import shutil
from pathlib import Path

import numpy as np
from astropy.io import fits

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples/lens/data"
OUT = DATA / "cutouts"
CATALOGUE = DATA / "cutouts-catalogue.csv"
N = 16
BANDS = ["g", "r", "i"]
COLUMNS = ["label", "class", "einstein_radius", "source_mag_r"]


def write(hdus: fits.HDUList | fits.PrimaryHDU, path: Path) -> None:
    """Writes a FITS file, gzip'd when `path` ends in .gz, with no timestamp
    in the gzip header, so that a rerun writes the same bytes."""
    buffer = io.BytesIO()
    hdus.writeto(buffer)
    data = buffer.getvalue()
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)


def main() -> None:
    x = np.load(DATA / "test.npz")["x"][:N]
    with open(DATA / "metadata.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    shutil.rmtree(OUT, ignore_errors=True)
    for k in range(N):
        meta = rows[k]
        name, folder = meta["id"], meta["class"]
        (OUT / folder).mkdir(parents=True, exist_ok=True)
        order = ["i", "r", "g"] if k % 3 == 2 else BANDS
        cube = np.stack([x[k][BANDS.index(b)] for b in order])
        header = fits.Header()
        header["OBJECT"] = name
        for n, band in enumerate(order, 1):
            header[f"FILTER{n}"] = band
        if k % 8 == 3:
            hdu = fits.PrimaryHDU(cube, header)
            path = OUT / folder / f"{name}.fits.gz"
            write(hdu, path)
        elif k % 8 == 7:
            hdu = fits.PrimaryHDU(cube.astype(np.float64), header)
            lo, hi = float(cube.min()), float(cube.max())
            hdu.scale("int16", bscale=(hi - lo) / 65000, bzero=(hi + lo) / 2)
            path = OUT / folder / f"{name}.fits.gz"
            write(hdu, path)
        else:
            comp = fits.CompImageHDU(cube, header, compression_type="RICE_1", quantize_level=4.0, tile_shape=(1, 64, 64), dither_seed=18)
            path = OUT / folder / f"{name}.fits.fz"
            write(fits.HDUList([fits.PrimaryHDU(), comp]), path)
    # The catalogue: these objects and 16 without cutouts, shuffled.
    chosen = list(range(N + 16))
    order = np.random.default_rng(18).permutation(len(chosen))
    with open(CATALOGUE, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["object", *COLUMNS])
        for k in order:
            w.writerow([rows[chosen[k]]["id"], *(rows[chosen[k]][c] for c in COLUMNS)])
    size = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {N} cutouts ({size / 1024:.0f} KiB) to {OUT} and {CATALOGUE}")


if __name__ == "__main__":
    main()
