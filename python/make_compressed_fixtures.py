"""Tile-compressed FITS images for sensie's checks of compressed files, written
by astropy (which compresses with cfitsio's own coders), one per compression
cfitsio decodes, all holding the same image.

Writes crates/sensie/tests/data/compressed/:

- rice.fits, gzip.fits, plio.fits, hcompress.fits: an empty primary HDU, then
  the image compressed with RICE_1, GZIP_1, PLIO_1 or HCOMPRESS_1 (lossless:
  integers, HCOMPRESS at scale 0), in tiles of one 28 x 28 plane each.
- image.npy: the image, 2 x 28 x 28 int32 (Poisson counts, one hot pixel),
  the reference every file must read as.

The Rust tests corrupt copies of these (truncated, bytes flipped in the heap,
bad ZBITPIX or ZTILEn, a tile header declaring the wrong size) and check each
is refused with a message, never a crash. Deterministic (seeded). Run from the
repository root:
    python/.venv/bin/python python/make_compressed_fixtures.py
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "crates/sensie/tests/data/compressed"
KINDS = {"rice": "RICE_1", "gzip": "GZIP_1", "plio": "PLIO_1", "hcompress": "HCOMPRESS_1"}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    image = rng.poisson(100, (2, 28, 28)).astype(np.int32)
    image[0, 10, 10] = 30000
    np.save(OUT / "image.npy", image)
    for name, kind in KINDS.items():
        hdu = fits.CompImageHDU(image, compression_type=kind, tile_shape=(1, 28, 28))
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(OUT / f"{name}.fits", overwrite=True)
        with fits.open(OUT / f"{name}.fits") as f:
            assert np.array_equal(f[1].data, image), name


if __name__ == "__main__":
    main()
