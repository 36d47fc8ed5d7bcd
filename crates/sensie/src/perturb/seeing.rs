//! `seeing`: degrade images observed at one seeing FWHM to a worse one.
//!
//! Convolving a Gaussian PSF of FWHM f0 with a Gaussian of FWHM f gives a
//! Gaussian of FWHM sqrt(f0^2 + f^2), so reaching a target FWHM f1 takes a
//! kernel of sigma sqrt(f1^2 - f0^2) / 2.3548. The kernel is the discrete
//! Gaussian of that variance (see `kernel`), so an image's second moment
//! grows by exactly (f1^2 - f0^2) / 2.3548^2 per axis however small the
//! difference; a Gaussian sampled at pixel centres falls short below about
//! 1.5 px (11% short from 1.0" to 1.05" at 0.263"/px). Better seeing than the data
//! already has cannot be reached by convolution, so a target below the
//! current FWHM is refused.

use ndarray::{Array3, ArrayView3};

use super::kernel::{convolve_gaussian_mixture, convolve_gaussian_mixture_into, fwhm_per_sigma};
use super::psf::{FwhmUnit, PIXEL_SCALE};
use super::{Builtin, ChunkFn, Effect, OptionSpec, Options, Parameter, Perturbation, described};
use crate::rng::SeededRng;
use crate::{Error, Result};

pub(super) static BUILTIN: Builtin = Builtin {
    name: "seeing",
    summary: "re-convolve from the data's seeing FWHM (option current) to a worse target FWHM",
    parameter: "fwhm",
    unit: "pixels (arcsec with pixel-scale)",
    identity: "the current FWHM",
    unchanged: 0.0,
    options: &[
        OptionSpec {
            name: "current",
            default: "",
            help: "FWHM of the data's PSF, in the same unit as the target (required)",
        },
        PIXEL_SCALE,
    ],
    build,
};

fn build(options: &Options) -> Result<Box<dyn Perturbation>> {
    let current = options.required_number("current")?;
    if current < 0.0 {
        return Err(Error::invalid(
            "option 'current' of perturbation 'seeing'",
            format!("{current} must be at least 0"),
        ));
    }
    Ok(described(
        &BUILTIN,
        Seeing {
            current,
            unit: FwhmUnit::from_options(options)?,
        },
    ))
}

struct Seeing {
    current: f64,
    unit: FwhmUnit,
}

impl Effect for Seeing {
    fn parameter(&self) -> Option<Parameter> {
        Some(Parameter {
            name: BUILTIN.parameter,
            unit: self.unit.name(),
            identity: self.current,
        })
    }

    fn check(&self, target: f64) -> Result<()> {
        if target < self.current {
            return Err(Error::invalid(
                "strength of perturbation 'seeing'",
                format!(
                    "target FWHM {target} is below the current {}; convolution can only make seeing worse",
                    self.current
                ),
            ));
        }
        Ok(())
    }

    fn apply(&self, image: ArrayView3<f32>, target: f64, _: &mut SeededRng) -> Result<Array3<f32>> {
        Ok(convolve_gaussian_mixture(
            image,
            &[(1.0, self.variance(target))],
        ))
    }

    fn chunked(&self, target: f64) -> Option<ChunkFn<'_>> {
        let components = [(1.0, self.variance(target))];
        Some(Box::new(move |images, out| {
            convolve_gaussian_mixture_into(images, &components, out)
        }))
    }
}

impl Seeing {
    /// The variance (px^2 per axis) of the Gaussian that takes the seeing
    /// from its current FWHM to `target`.
    fn variance(&self, target: f64) -> f64 {
        (self
            .unit
            .to_pixels((target * target - self.current * self.current).sqrt())
            / fwhm_per_sigma())
        .powi(2)
    }
}

#[cfg(test)]
mod tests {
    use crate::perturb::test_support::*;

    #[test]
    fn seeing_adds_the_quadrature_difference_to_the_second_moment() {
        // From 1.0" to 1.05" at 0.263"/px: sigma^2 = (1.05^2 - 1^2) / 0.263^2 /
        // 2.3548^2 = 0.2672 px^2 per axis must be added to a compact source's
        // second moment (within 0.5%; a sampled kernel adds 11% too little).
        // From 3 to 5 px: 16 / 2.3548^2 = 2.8853 px^2.
        for (current, target, scale) in [(1.0, 1.05, "0.263"), (3.0, 5.0, "1")] {
            let expected = (target * target - current * current)
                / (scale.parse::<f64>().unwrap().powi(2))
                / 2.354_820_045f64.powi(2);
            let source = gaussian_blob(81, 40.3, 39.6, 0.8);
            let out = apply(
                built(
                    "seeing",
                    &[("current", &current.to_string()), ("pixel-scale", scale)],
                )
                .as_ref(),
                source.view(),
                target,
            );
            let (before, after) = (second_moments(&source), second_moments(&out));
            for axis in 0..2 {
                let grown = after[axis] - before[axis];
                assert!(
                    (grown / expected - 1.0).abs() < 5e-3,
                    "{current} -> {target}: axis {axis} grew {grown}, expected {expected}"
                );
            }
            let flux =
                |image: &ndarray::Array3<f32>| image.iter().map(|&v| f64::from(v)).sum::<f64>();
            assert!((flux(&out) / flux(&source) - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn better_seeing_is_refused_and_current_is_required() {
        let seeing = built("seeing", &[("current", "1.2"), ("pixel-scale", "0.2")]);
        let err = seeing.check(1.0).unwrap_err().to_string();
        assert!(err.contains("below the current 1.2"), "{err}");
        assert_eq!(seeing.parameter().unit, "arcsec");
        let err = crate::perturb::build("seeing", &Default::default())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("'current'") && err.contains("required"),
            "{err}"
        );
    }
}
