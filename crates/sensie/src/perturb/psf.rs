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
    convolve_2d, convolve_separable, fwhm_per_sigma, gaussian_1d, normalised, radial_kernel,
};
use super::{Builtin, Effect, OptionSpec, Options, Parameter, Perturbation, at_least, described};
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
            help: "Moffat power index (> 1)",
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
    let profile = if let Some(path) = options.text("kernel") {
        Profile::Kernel(read_kernel(Path::new(path))?)
    } else if options.choice("profile", &["gaussian", "moffat"], "gaussian")? == "moffat" {
        let beta = options.number("beta", 4.765)?;
        if beta <= 1.0 {
            return Err(Error::invalid(
                "option 'beta' of perturbation 'psf'",
                format!(
                    "{beta} must exceed 1: a Moffat profile with beta <= 1 holds infinite flux"
                ),
            ));
        }
        Profile::Moffat { beta }
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

/// A Moffat kernel: radius where the enclosed flux 1 - (1 + (R/alpha)^2)^(1 - beta)
/// reaches 0.999, capped at `max_radius` (beyond the image it adds nothing new).
pub(super) fn moffat_kernel(fwhm: f64, beta: f64, max_radius: usize) -> Array2<f64> {
    let alpha = fwhm / (2.0 * (2f64.powf(1.0 / beta) - 1.0).sqrt());
    let radius = alpha * (0.001f64.powf(1.0 / (1.0 - beta)) - 1.0).sqrt();
    radial_kernel((radius.ceil() as usize).clamp(1, max_radius.max(1)), |r| {
        (1.0 + (r / alpha).powi(2)).powf(-beta)
    })
}

/// The user kernel with its size scaled by `scale`: sampled bilinearly at
/// offset / scale from its centre, then normalised again; its radius is
/// capped at `max_radius` (beyond twice the image it adds nothing new).
fn scaled_kernel(kernel: &Array2<f64>, scale: f64, max_radius: usize) -> Result<Array2<f64>> {
    let (h, w) = kernel.dim();
    let (ry, rx) = ((h / 2) as f64, (w / 2) as f64);
    let (ny, nx) = (
        ((ry * scale).ceil() as usize).min(max_radius),
        ((rx * scale).ceil() as usize).min(max_radius),
    );
    let at = |y: f64, x: f64| -> f64 {
        let (y0, x0) = (y.floor(), x.floor());
        let (fy, fx) = (y - y0, x - x0);
        let pixel = |yi: f64, xi: f64| {
            if yi >= 0.0 && xi >= 0.0 && (yi as usize) < h && (xi as usize) < w {
                kernel[[yi as usize, xi as usize]]
            } else {
                0.0
            }
        };
        (1.0 - fy) * ((1.0 - fx) * pixel(y0, x0) + fx * pixel(y0, x0 + 1.0))
            + fy * ((1.0 - fx) * pixel(y0 + 1.0, x0) + fx * pixel(y0 + 1.0, x0 + 1.0))
    };
    let sampled = Array2::from_shape_fn((2 * ny + 1, 2 * nx + 1), |(y, x)| {
        at(
            ry + (y as f64 - ny as f64) / scale,
            rx + (x as f64 - nx as f64) / scale,
        )
    });
    let shape = sampled.raw_dim();
    Ok(
        Array2::from_shape_vec(shape, normalised(sampled.into_raw_vec_and_offset().0)?)
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
            Profile::Gaussian => convolve_separable(
                image,
                &gaussian_1d(self.unit.to_pixels(value) / fwhm_per_sigma(), h.max(w)),
            ),
            Profile::Moffat { beta } => convolve_2d(
                image,
                moffat_kernel(self.unit.to_pixels(value), *beta, h.max(w)).view(),
            ),
            Profile::Kernel(kernel) => {
                convolve_2d(image, scaled_kernel(kernel, value, 2 * h.max(w))?.view())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::f64::consts::PI;

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

    #[test]
    fn the_moffat_profile_integrates_to_pi_alpha_squared_over_beta_minus_one() {
        // Before normalisation, the profile summed over a fine grid approaches
        // its integral pi alpha^2 / (beta - 1) (Moffat 1969); the grid
        // truncation at 0.999 enclosed flux costs 0.1 %.
        let (fwhm, beta) = (20.0, 3.0);
        let alpha = fwhm / (2.0 * (2f64.powf(1.0 / beta) - 1.0).sqrt());
        let radius = 400;
        let raw = Array2::from_shape_fn((2 * radius + 1, 2 * radius + 1), |(y, x)| {
            let r = (y as f64 - radius as f64).hypot(x as f64 - radius as f64);
            (1.0 + (r / alpha).powi(2)).powf(-beta)
        });
        let expected = PI * alpha * alpha / (beta - 1.0);
        assert!(
            (raw.sum() / expected - 1.0).abs() < 2e-3,
            "{} vs {expected}",
            raw.sum()
        );
        let kernel = moffat_kernel(fwhm, beta, 1000);
        assert!((kernel.sum() - 1.0).abs() < 1e-12);
        let half_width = kernel.nrows() / 2;
        let enclosed = 1.0 - (1.0 + (half_width as f64 / alpha).powi(2)).powf(1.0 - beta);
        assert!(enclosed >= 0.999);
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
        let wider = apply(psf.as_ref(), point(9).view(), 2.0);
        assert!(
            (wider.sum() - 1.0).abs() < 1e-6 && wider[[0, 4, 6]] > 0.0 && wider[[0, 4, 7]] == 0.0
        );
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
