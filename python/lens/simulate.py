#!/usr/bin/env python3
"""Simulate the strong-lens / non-lens data set of sensie's lens example.

Every image is a 3-band (g, r, i) 64 x 64 cutout at 0.263 arcsec/pixel (DECam/DES),
in **nanomaggies per pixel** (flux f with m = 22.5 - 2.5 log10 f, the same zero point
in every band), sky-subtracted, float32, bands ordered g, r, i, array layout
band x row x column (NCHW for a batch). Physics and noise:

* deflector: SIE (singular isothermal ellipsoid) + external shear (lenstronomy "SIE",
  "SHEAR"), with an elliptical Sersic light profile ("SERSIC_ELLIPSE") aligned with
  the mass up to a small scatter;
* label 1 (lens): an elliptical Sersic source behind it, ray-traced through the lens;
* label 0 (non-lens): the same deflector population (same distributions, same light)
  with no lensed source; half of them ("companion") carry an *unlensed* galaxy drawn
  from the source population at 1.5-6 arcsec from the deflector, half ("isolated")
  nothing, so that "blue light near a red galaxy" alone does not mean "lens";
* PSF per band: circular Gaussian or Moffat (chosen per image, the same family in all
  three bands), r-band FWHM uniform in 0.7-1.5 arcsec, g and i scaled by
  (lambda / lambda_r)^-0.2 with 3% scatter;
* noise: DES-wide-like depth (10 x 90 s per band, DES zero points, sky brightness and
  read noise as lenstronomy's DES ObservationConfig): Poisson noise on
  source + sky electrons, sky subtracted, Gaussian read noise; converted back to
  nanomaggies and quantised to a power-of-two step near a quarter of the sky noise
  sigma (like fpack's default lossy quantisation) so that the committed test set
  compresses.

Surface brightness comes from lenstronomy's light profiles evaluated on a 3x
supersampled grid (lensed light at the ray-traced positions of lenstronomy's
LensModel), averaged to pixels and convolved with each band's pixel PSF by
lenstronomy's PixelKernelConvolution: lenstronomy's own recipe with
supersampling_convolution=False, done once per image for all bands, because the
profiles' shapes are the same in every band and only the amplitudes (colours) differ.

Deterministic: image k draws everything from numpy's default_rng([SEED, k]); the
class labels and the train/val/test split from default_rng(SEED).

Writes
  python/.cache/lens/sim.npz            x float32 6000 x 3 x 64 x 64, y int64, split
  python/.cache/lens/metadata.csv       every image's parameters (columns: README.md)
  examples/lens/data/test.npz           the first TEST_COMMITTED test images: x, y
  examples/lens/data/metadata.csv       their metadata, same row order
  examples/lens/data/fits/{lens,nonlens}/<id>.fits   3-D cubes (g, r, i) of a subset
  examples/lens/data/fits/metadata.csv  those images' metadata (filename relative to fits/)
  examples/lens/data/fits-bands/<id>_{g,r,i}.fits    one file per band, a handful
  examples/lens/data/fits-bands/metadata.csv

With --real-like N, only a second, "real-like" test set of N images (half lenses)
from the same scenes but other observing conditions, to compare with the
simulations (sensie probe with two [[data]] sets): worse and wider seeing (r-band
FWHM uniform in 1.0-1.8 arcsec), every PSF a Moffat with heavier wings (beta
uniform in 2.2-3.0) and a depth that varies from image to image (3 to 10 of the
90 s exposures, so up to 1.8x the sky noise). Its images are k = 6000 + i, never
in the training set. Writes
  examples/lens/data/real-like.npz            x, y
  examples/lens/data/real-like-metadata.csv   their metadata (exposures column added)

Usage: python/.venv/bin/python python/lens/simulate.py [--workers N] [--n N] [--real-like N]
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CACHE = HERE.parent / ".cache" / "lens"
OUT = ROOT / "examples" / "lens" / "data"

SEED = 20260826
N_TOTAL = 6000
N_VAL = 600
N_TEST = 1000           # held out, used for the model card's accuracy and AUC
TEST_COMMITTED = 500    # the first this many test images go to examples/lens/data
N_FITS_CUBES = 100      # the first this many committed test images also as FITS cubes
N_FITS_BANDS = 6        # the first this many also as one FITS file per band

NPIX = 64
PIXEL_SCALE = 0.263     # arcsec / pixel (DECam)
SUPERSAMPLE = 3
PSF_SIZE = 31           # PSF kernel side in pixels (8.2 arcsec)
# Quantisation step per band (nanomaggy): the power of two nearest a quarter of the sky
# noise sigma (0.28, 0.21, 0.24 sigma in g, r, i), like fpack's default q = 4. It adds
# under 0.7% to the noise sigma and lets the committed test set compress 3x.
QUANT_STEP = {"g": 2.0 ** -11, "r": 2.0 ** -11, "i": 2.0 ** -10}

BANDS = ("g", "r", "i")
# DES wide survey, from lenstronomy.SimulationAPI.ObservationConfig.DES
# (coadd_years=3: 10 exposures of 90 s), read noise 7 e- per exposure.
ZERO_POINT = {"g": 26.58, "r": 26.78, "i": 26.75}      # mag of 1 e-/s
SKY_MAG = {"g": 22.01, "r": 21.15, "i": 19.89}         # mag / arcsec^2
EXPOSURE_TIME = 90.0
NUM_EXPOSURES = 10
READ_NOISE = 7.0
WAVELENGTH = {"g": 475.0, "r": 622.0, "i": 763.0}      # nm, for seeing(lambda)
NANOMAGGY_ZP = 22.5

# Distributions (see README.md). U(a, b) uniform.
THETA_E = (0.8, 3.0)            # arcsec, U
SEEING_R = (0.7, 1.5)           # arcsec FWHM in r, U
SOURCE_MAG_R = (22.0, 25.0)     # unlensed source r magnitude, U
COMPANION_RADIUS = (1.5, 6.0)   # arcsec from the deflector, U
MOFFAT_BETA = (2.5, 4.5)        # U
# The real-like set's observing conditions (--real-like).
REAL_SEEING_R = (1.0, 1.8)      # arcsec FWHM in r, U
REAL_MOFFAT_BETA = (2.2, 3.0)   # U, every PSF a Moffat
REAL_EXPOSURES = (3, 10)        # 90 s exposures, uniform integer, inclusive

ROW_FIELDS = [
    "id", "filename", "split", "label", "class", "scene",
    "einstein_radius", "lens_x", "lens_y", "lens_mass_q", "lens_mass_phi",
    "shear_gamma", "shear_phi",
    "lens_mag_g", "lens_mag_r", "lens_mag_i", "lens_color", "lens_reff", "lens_n_sersic",
    "lens_q", "lens_phi",
    "source_mag_g", "source_mag_r", "source_mag_i", "source_color", "source_color_ri",
    "source_reff", "source_n_sersic", "source_q", "source_phi",
    "source_x", "source_y", "source_offset", "source_offset_rel",
    "magnification", "lensed_mag_r", "source_snr_r", "source_snr",
    "seeing_fwhm", "seeing_fwhm_g", "seeing_fwhm_r", "seeing_fwhm_i",
    "psf_model", "moffat_beta", "sky_sigma_g", "sky_sigma_r", "sky_sigma_i",
]


def image_id(k: int) -> str:
    return f"sim{k:05d}"


def nmgy(mag: float) -> float:
    return 10.0 ** (-0.4 * (mag - NANOMAGGY_ZP))


def electrons_per_nmgy(band: str, exposures: int = NUM_EXPOSURES) -> float:
    """Electrons collected over the whole coadd per nanomaggy of flux."""
    return 10.0 ** (0.4 * (ZERO_POINT[band] - NANOMAGGY_ZP)) * EXPOSURE_TIME * exposures


def sky_electrons(band: str, exposures: int = NUM_EXPOSURES) -> float:
    """Mean sky electrons per pixel over the whole coadd."""
    return 10.0 ** (-0.4 * (SKY_MAG[band] - ZERO_POINT[band])) * PIXEL_SCALE ** 2 \
        * EXPOSURE_TIME * exposures


def sky_sigma_nmgy(band: str, exposures: int = NUM_EXPOSURES) -> float:
    """Per-pixel noise sigma of the empty sky, in nanomaggies."""
    var = sky_electrons(band, exposures) + exposures * READ_NOISE ** 2
    return math.sqrt(var) / electrons_per_nmgy(band, exposures)


def psf_kernel(kind: str, fwhm: float, beta: float) -> np.ndarray:
    """Normalised PSF_SIZE x PSF_SIZE pixel kernel, integrated over pixels (5x5 subsamples)."""
    sub = 5
    n = PSF_SIZE * sub
    c = (np.arange(n) - (n - 1) / 2.0) / sub * PIXEL_SCALE
    xx, yy = np.meshgrid(c, c)
    r2 = xx ** 2 + yy ** 2
    if kind == "gaussian":
        sigma = fwhm / (2.0 * math.sqrt(2.0 * math.log(2.0)))
        prof = np.exp(-0.5 * r2 / sigma ** 2)
    else:
        alpha = fwhm / (2.0 * math.sqrt(2.0 ** (1.0 / beta) - 1.0))
        prof = (1.0 + r2 / alpha ** 2) ** (-beta)
    k = prof.reshape(PSF_SIZE, sub, PSF_SIZE, sub).sum(axis=(1, 3))
    return k / k.sum()


def e1e2(q: float, phi: float) -> tuple[float, float]:
    e = (1.0 - q) / (1.0 + q)
    return e * math.cos(2 * phi), e * math.sin(2 * phi)


class Renderer:
    """lenstronomy models and the supersampled pixel grid, built once per process."""

    def __init__(self) -> None:
        from lenstronomy.LensModel.lens_model import LensModel
        from lenstronomy.LightModel.light_model import LightModel

        self.lens_model = LensModel(["SIE", "SHEAR"])
        self.sersic = LightModel(["SERSIC_ELLIPSE"])
        n = NPIX * SUPERSAMPLE
        step = PIXEL_SCALE / SUPERSAMPLE
        # Pixel centres at (j - (NPIX-1)/2) * PIXEL_SCALE; image column = +x, row = +y.
        c = (np.arange(n) - (n - 1) / 2.0) * step
        xx, yy = np.meshgrid(c, c)
        self.x = xx.ravel()
        self.y = yy.ravel()
        self.pixel_area = PIXEL_SCALE ** 2

    def to_pixels(self, sb: np.ndarray) -> np.ndarray:
        """Supersampled surface brightness (flux/arcsec^2) -> flux per pixel, NPIX x NPIX."""
        s = SUPERSAMPLE
        return sb.reshape(NPIX, s, NPIX, s).mean(axis=(1, 3)) * self.pixel_area

    def unit_sersic(self, kw: dict, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Sersic surface brightness normalised to total flux 1, at (x, y)."""
        kw = dict(kw, amp=1.0)
        total = self.sersic.total_flux([kw])[0]
        return self.sersic.surface_brightness(x, y, [kw]) / total

    def render(self, p: dict, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        from lenstronomy.ImSim.Numerics.convolution import PixelKernelConvolution

        lens_shape = self.to_pixels(self.unit_sersic(p["kw_lens_light"], self.x, self.y))
        src_shape = None
        derived = {}
        if p["scene"] == "lens":
            bx, by = self.lens_model.ray_shooting(self.x, self.y, p["kw_lens_mass"])
            src_shape = self.to_pixels(self.unit_sersic(p["kw_source"], bx, by))
            # Fraction of the source's flux in the stamp after lensing = magnification
            # (the lensed images of these sources lie well inside the 16.8" stamp).
            derived["magnification"] = float(src_shape.sum())
        elif p["scene"] == "companion":
            src_shape = self.to_pixels(self.unit_sersic(p["kw_source"], self.x, self.y))
            derived["magnification"] = 1.0

        img = np.empty((3, NPIX, NPIX), dtype=np.float32)
        snr2 = {}
        for b, band in enumerate(BANDS):
            kernel = psf_kernel(p["psf_model"], p["seeing"][band], p["moffat_beta"])
            conv = PixelKernelConvolution(kernel, convolution_type="fft_static")
            model = lens_shape * nmgy(p["lens_mag"][band])
            src = None
            if src_shape is not None:
                src = conv.convolution2d(src_shape * nmgy(p["source_mag"][band]))
            model = conv.convolution2d(model)
            if src is not None:
                model = model + src
            model = np.clip(model, 0.0, None)
            exposures = p.get("exposures", NUM_EXPOSURES)
            epn = electrons_per_nmgy(band, exposures)
            sky = sky_electrons(band, exposures)
            electrons = rng.poisson(model * epn + sky).astype(np.float64) - sky
            electrons += rng.normal(0.0, READ_NOISE * math.sqrt(exposures), model.shape)
            img[b] = np.round(electrons / epn / QUANT_STEP[band]) * QUANT_STEP[band]
            if src is not None:
                var = (model * epn + sky + exposures * READ_NOISE ** 2)
                snr2[band] = float(((src * epn) ** 2 / var).sum())
        if snr2:
            derived["source_snr_r"] = math.sqrt(snr2["r"])
            derived["source_snr"] = math.sqrt(sum(snr2.values()))
        return img, derived


def sample(k: int, label: int, real_like: bool = False) -> dict:
    """All random parameters of image k (label decided by the caller); with
    `real_like`, the real-like set's seeing, PSF and depth instead (drawn
    after everything else, so the scene is the one image k would have)."""
    rng = np.random.default_rng([SEED, k])
    u = rng.uniform
    p: dict = {"id": image_id(k), "label": label}

    # Deflector mass.
    theta_e = u(*THETA_E)
    cx, cy = rng.normal(0.0, 0.05, 2)
    q_m = u(0.55, 1.0)
    phi_m = u(0.0, math.pi)
    gamma = u(0.0, 0.08)
    phi_g = u(0.0, math.pi)
    e1, e2 = e1e2(q_m, phi_m)
    p["kw_lens_mass"] = [
        {"theta_E": theta_e, "e1": e1, "e2": e2, "center_x": cx, "center_y": cy},
        {"gamma1": gamma * math.cos(2 * phi_g), "gamma2": gamma * math.sin(2 * phi_g),
         "ra_0": cx, "dec_0": cy},
    ]

    # Deflector light: a red early-type galaxy, brighter for larger theta_E.
    q_l = float(np.clip(q_m + rng.normal(0.0, 0.05), 0.5, 1.0))
    phi_l = phi_m + rng.normal(0.0, math.radians(10.0))
    reff_l = float(np.clip(math.exp(rng.normal(math.log(1.2), 0.3)), 0.5, 3.0))
    n_l = u(3.0, 5.0)
    mag_r_l = float(np.clip(19.3 - 3.0 * math.log10(theta_e / 1.5) + rng.normal(0.0, 0.4),
                            17.5, 21.0))
    gr_l = rng.normal(1.55, 0.10)
    ri_l = rng.normal(0.55, 0.07)
    le1, le2 = e1e2(q_l, phi_l)
    p["kw_lens_light"] = {"R_sersic": reff_l, "n_sersic": n_l, "e1": le1, "e2": le2,
                          "center_x": cx, "center_y": cy}
    p["lens_mag"] = {"g": mag_r_l + gr_l, "r": mag_r_l, "i": mag_r_l - ri_l}
    p.update(einstein_radius=theta_e, lens_x=cx, lens_y=cy, lens_mass_q=q_m,
             lens_mass_phi=phi_m, shear_gamma=gamma, shear_phi=phi_g, lens_reff=reff_l,
             lens_n_sersic=n_l, lens_q=q_l, lens_phi=phi_l % math.pi)

    # Source population (drawn for every image so that the other draws do not depend
    # on the scene; used by lenses and companions only).
    mag_r_s = u(*SOURCE_MAG_R)
    gr_s = float(np.clip(rng.normal(0.35, 0.25), -0.3, 1.2))
    ri_s = float(np.clip(rng.normal(0.15, 0.20), -0.4, 0.8))
    reff_s = u(0.15, 0.6)
    n_s = u(0.7, 2.5)
    q_s = u(0.4, 1.0)
    phi_s = u(0.0, math.pi)
    # Lenses: source-plane offset uniform over a disc of radius 0.7 theta_E.
    beta_rel = 0.7 * math.sqrt(u())
    beta_ang = u(0.0, 2 * math.pi)
    # Companions: unlensed, 1.5-6 arcsec from the deflector.
    comp_r = u(*COMPANION_RADIUS)
    comp_ang = u(0.0, 2 * math.pi)
    with_companion = u() < 0.5

    # PSF and seeing.
    psf_model = "moffat" if u() < 0.5 else "gaussian"
    beta = u(*MOFFAT_BETA)
    seeing_r = u(*SEEING_R)
    jitter = rng.normal(0.0, 0.03, 3)
    p["seeing"] = {b: seeing_r * (WAVELENGTH[b] / WAVELENGTH["r"]) ** -0.2 * (1 + j if b != "r" else 1.0)
                   for b, j in zip(BANDS, jitter)}
    p["psf_model"] = psf_model
    p["moffat_beta"] = beta if psf_model == "moffat" else float("nan")

    if label == 1:
        scene = "lens"
        sx = cx + beta_rel * theta_e * math.cos(beta_ang)
        sy = cy + beta_rel * theta_e * math.sin(beta_ang)
        offset, offset_rel = beta_rel * theta_e, beta_rel
    elif with_companion:
        scene = "companion"
        sx = cx + comp_r * math.cos(comp_ang)
        sy = cy + comp_r * math.sin(comp_ang)
        offset, offset_rel = comp_r, float("nan")
    else:
        scene = "isolated"
    p["scene"] = scene
    if scene != "isolated":
        se1, se2 = e1e2(q_s, phi_s)
        p["kw_source"] = {"R_sersic": reff_s, "n_sersic": n_s, "e1": se1, "e2": se2,
                          "center_x": sx, "center_y": sy}
        p["source_mag"] = {"g": mag_r_s + gr_s, "r": mag_r_s, "i": mag_r_s - ri_s}
        p.update(source_reff=reff_s, source_n_sersic=n_s, source_q=q_s, source_phi=phi_s,
                 source_x=sx, source_y=sy, source_offset=offset, source_offset_rel=offset_rel)
    if real_like:
        seeing_r = u(*REAL_SEEING_R)
        p["seeing"] = {b: seeing_r * (WAVELENGTH[b] / WAVELENGTH["r"]) ** -0.2 * (1 + j if b != "r" else 1.0)
                       for b, j in zip(BANDS, jitter)}
        p["psf_model"] = "moffat"
        p["moffat_beta"] = u(*REAL_MOFFAT_BETA)
        p["exposures"] = int(rng.integers(REAL_EXPOSURES[0], REAL_EXPOSURES[1] + 1))
    return p


def metadata_row(p: dict, derived: dict, split: str) -> dict:
    nan = float("nan")
    cls = "lens" if p["label"] == 1 else "nonlens"
    row = {k: p.get(k, nan) for k in ROW_FIELDS}
    row.update(
        id=p["id"], filename=f"{cls}/{p['id']}.fits", split=split, label=p["label"],
        **{"class": cls}, scene=p["scene"],
        lens_mag_g=p["lens_mag"]["g"], lens_mag_r=p["lens_mag"]["r"],
        lens_mag_i=p["lens_mag"]["i"], lens_color=p["lens_mag"]["g"] - p["lens_mag"]["r"],
        seeing_fwhm=p["seeing"]["r"], seeing_fwhm_g=p["seeing"]["g"],
        seeing_fwhm_r=p["seeing"]["r"], seeing_fwhm_i=p["seeing"]["i"],
        psf_model=p["psf_model"], moffat_beta=p["moffat_beta"],
        sky_sigma_g=sky_sigma_nmgy("g"), sky_sigma_r=sky_sigma_nmgy("r"),
        sky_sigma_i=sky_sigma_nmgy("i"),
        magnification=derived.get("magnification", nan),
        source_snr_r=derived.get("source_snr_r", nan),
        source_snr=derived.get("source_snr", nan),
    )
    if "source_mag" in p:
        m = p["source_mag"]
        row.update(source_mag_g=m["g"], source_mag_r=m["r"], source_mag_i=m["i"],
                   source_color=m["g"] - m["r"], source_color_ri=m["r"] - m["i"],
                   lensed_mag_r=m["r"] - 2.5 * math.log10(derived["magnification"]))
    return row


def labels_and_splits() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    y = np.zeros(N_TOTAL, dtype=np.int64)
    y[: N_TOTAL // 2] = 1
    rng.shuffle(y)
    split = np.array(["train"] * N_TOTAL, dtype=object)
    split[N_TOTAL - N_TEST - N_VAL: N_TOTAL - N_TEST] = "val"
    split[N_TOTAL - N_TEST:] = "test"
    return y, split


_RENDERER: Renderer | None = None


def simulate_one(args: tuple[int, int, str]) -> tuple[int, np.ndarray, dict]:
    global _RENDERER
    k, label, split = args
    if _RENDERER is None:
        _RENDERER = Renderer()
    real_like = split == "real-like"
    p = sample(k, label, real_like)
    noise_rng = np.random.default_rng([SEED, k, 1])
    img, derived = _RENDERER.render(p, noise_rng)
    row = metadata_row(p, derived, split)
    if real_like:
        row["exposures"] = p["exposures"]
        for b in BANDS:
            row[f"sky_sigma_{b}"] = sky_sigma_nmgy(b, p["exposures"])
    return k, img, row


def fmt(v) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.6g}"
    return str(v)


def write_csv(path: Path, rows: list[dict], filename_prefix: str = "",
              fields: list[str] = ROW_FIELDS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(fields)
        for r in rows:
            r = dict(r, filename=filename_prefix + r["filename"]) if filename_prefix else r
            w.writerow([fmt(r[k]) for k in fields])


def fits_header(row: dict):
    from astropy.io import fits

    h = fits.Header()
    h["OBJECT"] = (row["id"], "simulated image id")
    h["BUNIT"] = ("nanomaggy", "flux per pixel; m = 22.5 - 2.5 log10(f)")
    h["PIXSCALE"] = (PIXEL_SCALE, "arcsec / pixel")
    h["LABEL"] = (int(row["label"]), "1 lens, 0 non-lens")
    h["CLASS"] = row["class"]
    h["SCENE"] = (row["scene"], "lens, companion (unlensed galaxy) or isolated")
    h["THETA_E"] = (round(float(row["einstein_radius"]), 5), "arcsec (would-be for non-lenses)")
    h["PSFMODEL"] = row["psf_model"]
    for b in BANDS:
        h[f"SEEING_{b.upper()}"] = (round(float(row[f"seeing_fwhm_{b}"]), 5), f"PSF FWHM {b} arcsec")
    h["SIMSEED"] = SEED
    h["ORIGIN"] = "sensie python/lens/simulate.py (lenstronomy)"
    return h


def write_fits(rows: list[dict], x: np.ndarray) -> None:
    from astropy.io import fits

    cube_dir = OUT / "fits"
    band_dir = OUT / "fits-bands"
    for d in (cube_dir, band_dir):
        if d.exists():
            for f in sorted(d.rglob("*.fits")):
                f.unlink()
    for i in range(min(N_FITS_CUBES, len(rows))):
        row = rows[i]
        h = fits_header(row)
        for j, b in enumerate(BANDS):
            h[f"BAND{j + 1}"] = (b, f"plane {j + 1} (NAXIS3) band")
        path = cube_dir / row["filename"]
        path.parent.mkdir(parents=True, exist_ok=True)
        # numpy (band, row, col) -> FITS NAXIS1 = col, NAXIS2 = row, NAXIS3 = band.
        fits.PrimaryHDU(data=x[i], header=h).writeto(path, overwrite=True)
    write_csv(cube_dir / "metadata.csv", rows[:N_FITS_CUBES])
    band_rows = []
    for i in range(min(N_FITS_BANDS, len(rows))):
        row = rows[i]
        for j, b in enumerate(BANDS):
            h = fits_header(row)
            h["BAND"] = b
            band_dir.mkdir(parents=True, exist_ok=True)
            fits.PrimaryHDU(data=x[i, j], header=h).writeto(
                band_dir / f"{row['id']}_{b}.fits", overwrite=True)
        band_rows.append(dict(row, filename=f"{row['id']}_g.fits"))
    write_csv(band_dir / "metadata.csv", band_rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--n", type=int, default=N_TOTAL, help="simulate only the first N (testing)")
    ap.add_argument("--no-write", action="store_true", help="simulate but write nothing")
    ap.add_argument("--real-like", type=int, metavar="N",
                    help="simulate only the real-like test set of N images (see above)")
    args = ap.parse_args()
    if args.real_like:
        return write_real_like(args.real_like)

    y, split = labels_and_splits()
    n = min(args.n, N_TOTAL)
    jobs = [(k, int(y[k]), str(split[k])) for k in range(n)]
    x = np.empty((n, 3, NPIX, NPIX), dtype=np.float32)
    rows: list[dict] = [None] * n  # type: ignore[list-item]
    t0 = time.time()
    if args.workers > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(args.workers) as pool:
            results = pool.imap_unordered(simulate_one, jobs, chunksize=50)
            for done, (k, img, row) in enumerate(results, 1):
                x[k], rows[k] = img, row
                if done % 500 == 0:
                    print(f"{done}/{n} ({time.time() - t0:.1f} s)", flush=True)
    else:
        for done, job in enumerate(jobs, 1):
            k, img, row = simulate_one(job)
            x[k], rows[k] = img, row
            if done % 500 == 0:
                print(f"{done}/{n} ({time.time() - t0:.1f} s)", flush=True)
    dt = time.time() - t0
    print(f"simulated {n} images in {dt:.1f} s ({1000 * dt / max(n, 1):.1f} ms each)")
    if args.no_write:
        return

    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(CACHE / "sim.npz", x=x, y=y[:n], split=split[:n].astype(str))
    write_csv(CACHE / "metadata.csv", rows)

    test_idx = [k for k in range(n) if split[k] == "test"][:TEST_COMMITTED]
    if test_idx:
        OUT.mkdir(parents=True, exist_ok=True)
        xt = np.ascontiguousarray(x[test_idx])
        np.savez_compressed(OUT / "test.npz", x=xt, y=y[test_idx].astype(np.int64))
        test_rows = [rows[k] for k in test_idx]
        write_csv(OUT / "metadata.csv", test_rows)
        write_fits(test_rows, xt)
    print(f"wrote {CACHE} and {OUT}")


def write_real_like(n: int) -> None:
    """The real-like set: images 6000 + i, labels alternating lens / non-lens."""
    rows, x = [], np.empty((n, 3, NPIX, NPIX), dtype=np.float32)
    for i in range(n):
        _, x[i], row = simulate_one((N_TOTAL + i, (i + 1) % 2, "real-like"))
        rows.append(row)
    y = np.array([r["label"] for r in rows], dtype=np.int64)
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT / "real-like.npz", x=x, y=y)
    write_csv(OUT / "real-like-metadata.csv", rows, fields=ROW_FIELDS + ["exposures"])
    print(f"wrote {n} real-like images to {OUT}")


if __name__ == "__main__":
    sys.exit(main())
