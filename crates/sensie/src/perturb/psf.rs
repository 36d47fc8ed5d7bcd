//! `psf`: convolve with a point-spread function of a given FWHM (Gaussian or
//! Moffat), or with the user's own kernel scaled in size.
//!
//! The Moffat profile, I(r) = (1 + (r/alpha)^2)^-beta with FWHM =
//! 2 alpha sqrt(2^(1/beta) - 1), has the broad wings of atmospheric seeing;
//! its default beta = 4.765 is Trujillo et al. (2001)'s value for turbulence
//! theory. Every kernel is normalised to sum 1, so the PSF moves light without
//! changing the total flux (see `kernel` for the edge handling).

use std::path::Path;

use ndarray::{Array2, Array3, ArrayView3, Ix2};

use super::kernel::{
    convolve_2d, convolve_gaussian_mixture, convolve_gaussian_mixture_into, discrete_gaussian,
    fwhm_per_sigma, normalised,
};
use super::special::{gamma_p, gamma_p_inverse};
use super::{
    Builtin, ChunkFn, Effect, OptionSpec, Options, Parameter, Perturbation, at_least, described,
};
use crate::rng::SeededRng;
use crate::{Error, Result, data};

pub(super) const PIXEL_SCALE: OptionSpec = OptionSpec {
    name: "pixel-scale",
    default: "",
    help: "arcsec per pixel; when given, FWHM values are in arcsec instead of pixels",
};

pub(super) static BUILTIN: Builtin = Builtin {
    name: "psf",
    summary: "convolve with a Gaussian or Moffat PSF of the given FWHM, or a user kernel (flux-conserving)",
    parameter: "fwhm",
    unit: "pixels (arcsec with pixel-scale; with kernel: x the kernel's size)",
    identity: "0",
    unchanged: 0.0,
    options: &[
        OptionSpec {
            name: "profile",
            default: "gaussian",
            help: "gaussian or moffat",
        },
        OptionSpec {
            name: "beta",
            default: "4.765",
            help: "Moffat power index (> 2, where its second moment is finite)",
        },
        PIXEL_SCALE,
        OptionSpec {
            name: "kernel",
            default: "",
            help: "a 2-D kernel from a FITS or .npy file (odd sides, centred); the strength then scales its size: 1 as given, 0 no PSF",
        },
    ],
    build,
};

/// FWHM values in pixels, converted from arcsec when a pixel scale is given.
#[derive(Clone, Copy)]
pub(super) struct FwhmUnit {
    arcsec_per_pixel: Option<f64>,
}

impl FwhmUnit {
    pub(super) fn from_options(options: &Options) -> Result<Self> {
        Ok(FwhmUnit {
            arcsec_per_pixel: options.optional_positive(PIXEL_SCALE.name)?,
        })
    }

    pub(super) fn to_pixels(self, fwhm: f64) -> f64 {
        self.arcsec_per_pixel.map_or(fwhm, |scale| fwhm / scale)
    }

    pub(super) fn name(self) -> &'static str {
        if self.arcsec_per_pixel.is_some() {
            "arcsec"
        } else {
            "pixels"
        }
    }
}

enum Profile {
    Gaussian,
    Moffat {
        beta: f64,
    },
    /// A user kernel, odd-sided and with positive sum.
    Kernel(Array2<f64>),
}

struct Psf {
    profile: Profile,
    unit: FwhmUnit,
}

fn build(options: &Options) -> Result<Box<dyn Perturbation>> {
    // An option the chosen PSF does not read would be ignored, the run
    // made with another PSF than the one asked for.
    let unused = |option: &str, why: &str| {
        Error::invalid(
            format!("option '{option}' of perturbation 'psf'"),
            why.to_string(),
        )
    };
    let profile = if let Some(path) = options.text("kernel") {
        if let Some(other) = ["profile", "beta", "pixel-scale"]
            .into_iter()
            .find(|o| options.text(o).is_some())
        {
            return Err(unused(
                other,
                "it does not apply with a kernel: the kernel file is the PSF, and the strength scales its size",
            ));
        }
        Profile::Kernel(read_kernel(Path::new(path))?)
    } else if options.choice("profile", &["gaussian", "moffat"], "gaussian")? == "moffat" {
        let beta = options.number("beta", 4.765)?;
        if beta <= 2.0 {
            return Err(Error::invalid(
                "option 'beta' of perturbation 'psf'",
                format!(
                    "{beta} must exceed 2: a Moffat profile with beta <= 2 has an infinite second moment, it would spread a source over any image"
                ),
            ));
        }
        Profile::Moffat { beta }
    } else if options.text("beta").is_some() {
        return Err(unused(
            "beta",
            "it shapes a Moffat profile, and the profile is gaussian: add profile=moffat",
        ));
    } else {
        Profile::Gaussian
    };
    Ok(described(
        &BUILTIN,
        Psf {
            profile,
            unit: FwhmUnit::from_options(options)?,
        },
    ))
}

fn read_kernel(path: &Path) -> Result<Array2<f64>> {
    let array = data::read_array(path)?;
    let kernel = array
        .into_dimensionality::<Ix2>()
        .map_err(|_| Error::data(path, "a PSF kernel must be a 2-D array"))?
        .mapv(f64::from);
    let (h, w) = kernel.dim();
    if h % 2 == 0 || w % 2 == 0 {
        return Err(Error::data(
            path,
            format!("the kernel is {h} x {w}; its sides must be odd so that it has a centre pixel"),
        ));
    }
    let sum = kernel.sum();
    if !(sum > 0.0 && sum.is_finite()) {
        return Err(Error::data(
            path,
            format!("the kernel sums to {sum}; a PSF must sum to a positive number"),
        ));
    }
    Ok(kernel / sum)
}

/// The Moffat profile as a sum of Gaussians, (weight, variance per axis in
/// px^2), for a FWHM in pixels.
///
/// (1 + r^2/alpha^2)^-beta is a scale mixture of Gaussians: with s drawn
/// from Gamma(beta - 1), a Gaussian of variance alpha^2 / (2 s) per axis
/// (from Gamma(beta) (1 + u)^-beta = integral of s^(beta-1) e^-s(1+u) ds).
/// The s axis is cut into bins, each becoming one discrete Gaussian with the
/// bin's probability as weight and the bin's mean variance,
/// alpha^2 (P(beta-2, b) - P(beta-2, a)) / (2 (beta-2) weight), so the
/// weights sum to 1 and the variances to exactly alpha^2 / (2 (beta - 2)),
/// the Moffat's second moment per axis, whatever the binning. Bins grow by
/// 2^(1/4) in s (the profile is then within 0.3% of its peak everywhere;
/// each bin costs one term of the transfer function, not a convolution)
/// between where 1e-4 of that second moment lies below (or sigma reaches 4
/// image sizes, beyond which a Gaussian folds flat over the image) and where
/// 1e-4 of the weight lies above; each tail is one more bin.
fn moffat_components(fwhm: f64, beta: f64, image_size: usize) -> Vec<(f64, f64)> {
    let alpha = fwhm / (2.0 * (2f64.powf(1.0 / beta) - 1.0).sqrt());
    let (shape, moment_shape) = (beta - 1.0, beta - 2.0);
    let per_axis = alpha * alpha / (2.0 * moment_shape);
    let flat_below = alpha * alpha / (2.0 * (4.0 * image_size as f64).powi(2));
    let lo = gamma_p_inverse(moment_shape, 1e-4).max(flat_below);
    let hi = gamma_p_inverse(shape, 1.0 - 1e-4).max(lo * 2.0);
    let bins = (4.0 * (hi / lo).log2()).ceil() as usize;
    let mut edges = vec![0.0];
    edges.extend((0..=bins).map(|k| lo * (hi / lo).powf(k as f64 / bins as f64)));
    edges.push(f64::INFINITY);
    edges
        .windows(2)
        .filter_map(|bin| {
            let weight = gamma_p(shape, bin[1]) - gamma_p(shape, bin[0]);
            let moment = per_axis * (gamma_p(moment_shape, bin[1]) - gamma_p(moment_shape, bin[0]));
            (weight > 0.0).then(|| (weight, moment / weight))
        })
        .collect()
}

/// Keys' cubic convolution kernel (a = -1/2): it reproduces quadratics, so
/// the continuous image it interpolates has the samples' own first and
/// second moments (bilinear interpolation adds 1/6 px^2 per axis).
fn cubic(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.5 * x.powi(3) - 2.5 * x * x + 1.0
    } else if x < 2.0 {
        -0.5 * x.powi(3) + 2.5 * x * x - 4.0 * x + 2.0
    } else {
        0.0
    }
}

/// The matrix that resamples a centred axis of `n` (odd) samples to
/// 2m + 1 samples, output j reading the cubic interpolant at (j - m) / scale
/// from the centre.
fn resampling(n: usize, scale: f64) -> Array2<f64> {
    let r = (n / 2) as f64;
    let m = ((r + 2.0) * scale).ceil() as usize;
    Array2::from_shape_fn((2 * m + 1, n), |(j, i)| {
        cubic((j as f64 - m as f64) / scale - (i as f64 - r))
    })
}

/// The second moments of a 2-D kernel about its centroid: the variance
/// down the rows, the variance along the columns, and their covariance
/// (px^2), the three numbers that a PSF's size, ellipticity and
/// orientation add to a source's.
fn kernel_moments(kernel: &Array2<f64>) -> [f64; 3] {
    let sum = kernel.sum();
    let (mut my, mut mx) = (0.0, 0.0);
    for ((y, x), w) in kernel.indexed_iter() {
        my += y as f64 * w / sum;
        mx += x as f64 * w / sum;
    }
    let mut moments = [0.0; 3];
    for ((y, x), w) in kernel.indexed_iter() {
        let (dy, dx) = (y as f64 - my, x as f64 - mx);
        moments[0] += dy * dy * w / sum;
        moments[1] += dx * dx * w / sum;
        moments[2] += dy * dx * w / sum;
    }
    moments
}

/// A centred 1-D kernel whose variance is `variance` (of either sign): a
/// discrete Gaussian to widen, the three taps (v/2, 1 - v, v/2) to narrow;
/// at least three taps long.
fn variance_kernel(variance: f64) -> Vec<f64> {
    if variance > 0.0 {
        discrete_gaussian(variance)
    } else {
        vec![variance / 2.0, 1.0 - variance, variance / 2.0]
    }
}

/// A centred 2-D kernel of sum 1 whose second moments are `moments` (rows,
/// columns, covariance; each of either sign): the outer product of two
/// `variance_kernel`s, plus covariance / 4 on the diagonal neighbours of the
/// centre (down-right and up-left) and minus it on the other two, taps that
/// move no flux, no centroid and neither variance.
fn moments_kernel([yy, xx, xy]: [f64; 3]) -> Array2<f64> {
    let (ky, kx) = (variance_kernel(yy), variance_kernel(xx));
    let mut kernel = Array2::from_shape_fn((ky.len(), kx.len()), |(y, x)| ky[y] * kx[x]);
    let (cy, cx) = (ky.len() / 2, kx.len() / 2);
    for (dy, dx, sign) in [(1, 1, 1.0), (0, 0, 1.0), (1, 0, -1.0), (0, 1, -1.0)] {
        kernel[[cy + 2 * dy - 1, cx + 2 * dx - 1]] += sign * xy / 4.0;
    }
    kernel
}

/// The user kernel with its size scaled by `scale`, its second moments
/// scaled by exactly scale^2: resampled through the cubic interpolant, whose
/// moments are the samples' own, then convolved with a small kernel that
/// adds or removes the difference sampling leaves in each variance and in
/// the covariance (second moments add under convolution; separable
/// resampling keeps an elliptical kernel's covariance only roughly, 1.8%
/// short at half size), and normalised again.
fn scaled_kernel(kernel: &Array2<f64>, scale: f64, max_radius: usize) -> Result<Array2<f64>> {
    let (h, w) = kernel.dim();
    let radius = ((h.max(w) / 2) as f64 + 2.0) * scale;
    if radius > max_radius as f64 {
        return Err(Error::invalid(
            format!("psf strength {scale}"),
            format!(
                "it widens the kernel to a radius of {radius:.0} px, more than twice the image ({max_radius} px), \
                 where every image is already a flat smear; use a smaller strength"
            ),
        ));
    }
    let want = kernel_moments(kernel);
    let sampled = resampling(h, scale)
        .dot(kernel)
        .dot(&resampling(w, scale).t());
    let got = kernel_moments(&sampled);
    let correction = moments_kernel([0, 1, 2].map(|i| scale * scale * want[i] - got[i]));
    let (sh, sw) = sampled.dim();
    let (kh, kw) = correction.dim();
    let mut out = Array2::zeros((sh + kh - 1, sw + kw - 1));
    for ((y, x), v) in sampled.indexed_iter() {
        for ((dy, dx), c) in correction.indexed_iter() {
            out[[y + dy, x + dx]] += v * c;
        }
    }
    let shape = out.raw_dim();
    Ok(
        Array2::from_shape_vec(shape, normalised(out.into_raw_vec_and_offset().0)?)
            .expect("same shape"),
    )
}

impl Effect for Psf {
    fn parameter(&self) -> Option<Parameter> {
        let unit = match self.profile {
            Profile::Kernel(_) => "x kernel size",
            _ => self.unit.name(),
        };
        let name = if matches!(self.profile, Profile::Kernel(_)) {
            "scale"
        } else {
            BUILTIN.parameter
        };
        Some(Parameter {
            name,
            unit,
            identity: 0.0,
        })
    }

    fn check(&self, value: f64) -> Result<()> {
        at_least(BUILTIN.name, value, 0.0, true)
    }

    fn apply(&self, image: ArrayView3<f32>, value: f64, _: &mut SeededRng) -> Result<Array3<f32>> {
        if value == 0.0 {
            return Ok(image.to_owned());
        }
        let (_, h, w) = image.dim();
        Ok(match &self.profile {
            Profile::Kernel(kernel) => {
                convolve_2d(image, scaled_kernel(kernel, value, 2 * h.max(w))?.view())
            }
            _ => convolve_gaussian_mixture(image, &self.components(value, h, w)),
        })
    }

    /// Gaussian and Moffat PSFs, a mixture of Gaussians, on a whole chunk.
    fn chunked(&self, value: f64) -> Option<ChunkFn<'_>> {
        if value == 0.0 || matches!(self.profile, Profile::Kernel(_)) {
            return None;
        }
        Some(Box::new(move |images, out| {
            let (_, _, h, w) = images.dim();
            convolve_gaussian_mixture_into(images, &self.components(value, h, w), out)
        }))
    }
}

impl Psf {
    /// A Gaussian or Moffat PSF at `value` for h x w images as Gaussians
    /// (weight, variance px^2 per axis); none for a user's kernel, which is
    /// convolved directly.
    fn components(&self, value: f64, h: usize, w: usize) -> Vec<(f64, f64)> {
        match &self.profile {
            Profile::Gaussian => {
                vec![(1.0, (self.unit.to_pixels(value) / fwhm_per_sigma()).powi(2))]
            }
            Profile::Moffat { beta } => {
                moffat_components(self.unit.to_pixels(value), *beta, h.max(w))
            }
            Profile::Kernel(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, Array3};
    use ndarray_npy::WriteNpyExt;

    use super::*;
    use crate::perturb::test_support::*;

    /// The FWHM of a centred profile along its middle row, by linear
    /// interpolation of where it crosses half the peak.
    fn measured_fwhm(image: &Array3<f32>) -> f64 {
        let (_, h, w) = image.dim();
        let row: Vec<f64> = (0..w).map(|x| f64::from(image[[0, h / 2, x]])).collect();
        let half = row[w / 2] / 2.0;
        let x = (w / 2..w - 1).find(|&x| row[x + 1] < half).unwrap();
        let crossing = x as f64 + (row[x] - half) / (row[x] - row[x + 1]);
        2.0 * (crossing - (w / 2) as f64)
    }

    fn point(n: usize) -> Array3<f32> {
        let mut image = Array3::zeros((1, n, n));
        image[[0, n / 2, n / 2]] = 1.0;
        image
    }

    #[test]
    fn a_gaussian_psf_has_the_requested_fwhm_in_pixels_or_arcsec() {
        // sigma = FWHM / 2.3548: a point spreads into a profile whose measured
        // FWHM is the requested one (sampling error well below 0.1 pixel at 6 px).
        let image = point(41);
        let out = apply(built("psf", &[]).as_ref(), image.view(), 6.0);
        assert!(
            (measured_fwhm(&out) - 6.0).abs() < 0.1,
            "{}",
            measured_fwhm(&out)
        );
        let arcsec = apply(
            built("psf", &[("pixel-scale", "0.25")]).as_ref(),
            image.view(),
            1.5,
        );
        assert!(max_abs_diff(&out, &arcsec) < 1e-7);
        assert!((out.sum() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn a_moffat_psf_has_the_requested_fwhm_and_unit_flux() {
        let image = point(61);
        let out = apply(
            built("psf", &[("profile", "moffat"), ("beta", "2.5")]).as_ref(),
            image.view(),
            8.0,
        );
        assert!(
            (measured_fwhm(&out) - 8.0).abs() < 0.15,
            "{}",
            measured_fwhm(&out)
        );
        assert!((out.sum() - 1.0).abs() < 1e-5);
    }

    /// How much a PSF grew a compact source's second moment per axis, and
    /// the flux ratio after / before.
    fn growth(psf: &dyn Perturbation, n: usize, value: f64) -> ([f64; 2], f64) {
        let source = gaussian_blob(n, n as f64 / 2.0 - 0.3, n as f64 / 2.0 + 0.2, 0.7);
        let out = apply(psf, source.view(), value);
        let (before, after) = (second_moments(&source), second_moments(&out));
        let flux = |image: &Array3<f32>| image.iter().map(|&v| f64::from(v)).sum::<f64>();
        (
            [after[0] - before[0], after[1] - before[1]],
            flux(&out) / flux(&source),
        )
    }

    #[test]
    fn a_gaussian_psf_adds_sigma_squared_to_the_second_moment_at_every_fwhm() {
        // sigma^2 = (FWHM / 2.3548)^2 per axis, within 0.5% from 0.5 px up
        // (sampling at pixel centres added 38% too little at 1 px and almost
        // nothing at 0.5 px); flux kept to 1e-6.
        let psf = built("psf", &[]);
        for fwhm in [0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 9.0] {
            let expected = (fwhm / 2.354_820_045f64).powi(2);
            let (grown, flux) = growth(psf.as_ref(), 101, fwhm);
            for g in grown {
                assert!(
                    (g / expected - 1.0).abs() < 5e-3,
                    "FWHM {fwhm}: grew {g}, expected {expected}"
                );
            }
            assert!((flux - 1.0).abs() < 1e-6, "FWHM {fwhm}: flux ratio {flux}");
        }
    }

    #[test]
    fn options_the_chosen_psf_would_ignore_are_refused() {
        let refusal = |options: &[(&str, &str)]| {
            let options = options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            crate::perturb::build("psf", &options)
                .err()
                .unwrap()
                .to_string()
        };
        let error = refusal(&[("beta", "3")]);
        assert!(
            error.contains("option 'beta'") && error.contains("profile=moffat"),
            "{error}"
        );
        for option in ["profile", "beta", "pixel-scale"] {
            let error = refusal(&[("kernel", "k.npy"), (option, "moffat")]);
            assert!(error.contains(&format!("option '{option}'")), "{error}");
            assert!(error.contains("with a kernel"), "{error}");
        }
        // What each PSF reads is still taken.
        built("psf", &[("profile", "moffat"), ("beta", "3")]);
        built("psf", &[("profile", "gaussian"), ("pixel-scale", "0.26")]);
    }

    #[test]
    fn a_moffat_psf_adds_alpha_squared_over_two_beta_minus_four() {
        // The normalised Moffat (beta - 1) / (pi alpha^2) (1 + r^2/alpha^2)^-beta
        // has <r^2> = (beta - 1) alpha^2 B(2, beta - 2) = alpha^2 / (beta - 2),
        // half of it per axis. Images are large enough that the light beyond
        // their edges holds < 0.05% of it.
        for (beta, n, fwhms) in [
            (4.765, 201, &[0.5, 1.0, 2.0, 4.0][..]),
            (3.0, 301, &[0.5, 1.0, 2.0][..]),
        ] {
            let psf = built("psf", &[("profile", "moffat"), ("beta", &beta.to_string())]);
            for &fwhm in fwhms {
                let alpha = fwhm / (2.0 * (2f64.powf(1.0 / beta) - 1.0).sqrt());
                let expected = alpha * alpha / (2.0 * (beta - 2.0));
                let (grown, flux) = growth(psf.as_ref(), n, fwhm);
                for g in grown {
                    assert!(
                        (g / expected - 1.0).abs() < 5e-3,
                        "beta {beta}, FWHM {fwhm}: grew {g}, expected {expected}"
                    );
                }
                assert!((flux - 1.0).abs() < 1e-6, "flux ratio {flux}");
            }
        }
    }

    #[test]
    fn the_moffat_split_into_gaussians_keeps_the_whole_second_moment_and_the_profile() {
        // Weights sum to 1 and variances to alpha^2 / (2 (beta - 2)) exactly,
        // for any beta > 2 (what the kernel cuts is below 0.1% of it: each
        // Gaussian is cut at 5 sigma, 1.5e-5 of its moment).
        for beta in [2.05, 2.2, 2.5, 3.0, 4.765, 10.0] {
            let fwhm = 3.0;
            let alpha = fwhm / (2.0 * (2f64.powf(1.0 / beta) - 1.0).sqrt());
            let components = moffat_components(fwhm, beta, 1_000_000);
            let weight: f64 = components.iter().map(|c| c.0).sum();
            let moment: f64 = components.iter().map(|c| c.0 * c.1).sum();
            assert!(
                (weight - 1.0).abs() < 1e-12,
                "beta {beta}: weights {weight}"
            );
            assert!(
                (moment / (alpha * alpha / (2.0 * (beta - 2.0))) - 1.0).abs() < 1e-9,
                "beta {beta}: {moment}"
            );
        }
        // A point spread by a Moffat of FWHM 10 px matches the analytic
        // profile (beta - 1) / (pi alpha^2) (1 + r^2/alpha^2)^-beta.
        let (beta, fwhm) = (3.0, 10.0);
        let alpha = fwhm / (2.0 * (2f64.powf(1.0 / beta) - 1.0).sqrt());
        let out = apply(
            built("psf", &[("profile", "moffat"), ("beta", "3")]).as_ref(),
            point(121).view(),
            fwhm,
        );
        let peak = (beta - 1.0) / (std::f64::consts::PI * alpha * alpha);
        for r in [0usize, 3, 5, 8, 12, 20, 35] {
            let expected = peak * (1.0 + (r as f64 / alpha).powi(2)).powf(-beta);
            let got = f64::from(out[[0, 60, 60 + r]]);
            assert!(
                (got - expected).abs() < 0.003 * peak,
                "r = {r}: {got} vs {expected}"
            );
        }
    }

    #[test]
    fn a_user_kernel_is_normalised_and_scaled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kernel.npy");
        let kernel =
            Array2::from_shape_vec((3, 3), vec![0.0f32, 1.0, 0.0, 1.0, 4.0, 1.0, 0.0, 1.0, 0.0])
                .unwrap();
        kernel
            .write_npy(std::fs::File::create(&path).unwrap())
            .unwrap();
        let psf = built("psf", &[("kernel", path.to_str().unwrap())]);
        assert_eq!(psf.parameter().name, "scale");
        let out = apply(psf.as_ref(), point(7).view(), 1.0);
        assert!((out[[0, 3, 3]] - 0.5).abs() < 1e-7 && (out[[0, 3, 4]] - 0.125).abs() < 1e-7);
        let wider = apply(psf.as_ref(), point(41).view(), 2.0);
        assert!((wider.sum() - 1.0).abs() < 1e-6 && wider[[0, 20, 22]] > wider[[0, 20, 24]]);
        let odd = dir.path().join("even.npy");
        Array2::<f32>::ones((2, 2))
            .write_npy(std::fs::File::create(&odd).unwrap())
            .unwrap();
        let options = [("kernel".to_string(), odd.to_str().unwrap().to_string())].into();
        let err = crate::perturb::build("psf", &options)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("even.npy") && err.contains("odd"), "{err}");
    }
}

#[cfg(test)]
mod scaling_tests {
    use ndarray::Array2;
    use ndarray_npy::WriteNpyExt;

    use crate::perturb::test_support::*;

    #[test]
    fn a_user_kernel_at_strength_s_scales_its_second_moment_by_s_squared() {
        // A Gaussian kernel sampled with sigma 2 px down the columns and 1 px
        // along the rows (variances 4 and 1 to 1e-20, by Poisson summation;
        // cut at 10 px, 1e-5 lost): at strength s a compact source must grow
        // by 4 s^2 and s^2 (bilinear resampling added about s^2 / 3 more).
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("psf.npy");
        let kernel = Array2::from_shape_fn((21, 21), |(y, x)| {
            let (dy, dx) = (y as f32 - 10.0, x as f32 - 10.0);
            (-0.5 * (dy * dy / 4.0 + dx * dx)).exp()
        });
        kernel
            .write_npy(std::fs::File::create(&path).unwrap())
            .unwrap();
        let psf = built("psf", &[("kernel", path.to_str().unwrap())]);
        for s in [0.3, 0.5, 1.0, 1.5, 2.0, 3.0] {
            let source = gaussian_blob(121, 60.2, 59.7, 0.7);
            let out = apply(psf.as_ref(), source.view(), s);
            let (before, after) = (second_moments(&source), second_moments(&out));
            for (axis, variance) in [(0, 4.0), (1, 1.0)] {
                let (grown, expected) = (after[axis] - before[axis], variance * s * s);
                assert!(
                    (grown / expected - 1.0).abs() < 5e-3,
                    "s = {s}, axis {axis}: grew {grown}, expected {expected}"
                );
            }
            assert!(
                (out.iter().map(|&v| f64::from(v)).sum::<f64>()
                    / source.iter().map(|&v| f64::from(v)).sum::<f64>()
                    - 1.0)
                    .abs()
                    < 1e-6
            );
        }
    }

    #[test]
    fn an_elliptical_tilted_kernel_keeps_its_covariance_at_every_strength() {
        // A Gaussian kernel of covariance [[4, 1.2], [1.2, 1.5]] px^2 (rows,
        // columns; tilted, as a real PSF's ellipticity often is), sampled:
        // its sampled moments are these to 1e-7 (Poisson summation; the cut
        // beyond 7 sigma holds less). At strength s a compact source's
        // variances and covariance must each grow by s^2 times these;
        // separable resampling alone left the covariance 1.8% short at
        // s = 0.5 and 89% short at 0.25.
        let covariance = [[4.0, 1.2], [1.2, 1.5]];
        let det = covariance[0][0] * covariance[1][1] - covariance[0][1] * covariance[1][0];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tilted.npy");
        Array2::from_shape_fn((31, 25), |(y, x)| {
            let (dy, dx) = (y as f64 - 15.0, x as f64 - 12.0);
            let q = (covariance[1][1] * dy * dy - 2.0 * covariance[0][1] * dy * dx
                + covariance[0][0] * dx * dx)
                / det;
            (-0.5 * q).exp() as f32
        })
        .write_npy(std::fs::File::create(&path).unwrap())
        .unwrap();
        let moments = |image: &ndarray::Array3<f32>| {
            let band = image.index_axis(ndarray::Axis(0), 0);
            let total: f64 = band.iter().map(|&v| f64::from(v)).sum();
            let mean = |f: &dyn Fn(f64, f64) -> f64| {
                band.indexed_iter()
                    .map(|((y, x), &v)| f(y as f64, x as f64) * f64::from(v))
                    .sum::<f64>()
                    / total
            };
            let (my, mx) = (mean(&|y, _| y), mean(&|_, x| x));
            [
                mean(&|y, _| (y - my).powi(2)),
                mean(&|_, x| (x - mx).powi(2)),
                mean(&|y, x| (y - my) * (x - mx)),
            ]
        };
        let psf = built("psf", &[("kernel", path.to_str().unwrap())]);
        for s in [0.25, 0.5, 0.8, 1.3, 2.0] {
            let source = gaussian_blob(141, 70.3, 69.6, 0.7);
            let (before, after) = (
                moments(&source),
                moments(&apply(psf.as_ref(), source.view(), s)),
            );
            let expected =
                [covariance[0][0], covariance[1][1], covariance[0][1]].map(|c| c * s * s);
            for i in 0..3 {
                let grown = after[i] - before[i];
                assert!(
                    (grown / expected[i] - 1.0).abs() < 5e-3,
                    "s = {s}, moment {i}: grew {grown}, expected {}",
                    expected[i]
                );
            }
        }
    }
}
