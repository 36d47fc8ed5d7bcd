//! `seeing`: degrade images observed at one seeing FWHM to a worse one.
//!
//! Convolving a Gaussian PSF of FWHM f0 with a Gaussian of FWHM f gives a
//! Gaussian of FWHM sqrt(f0^2 + f^2), so reaching a target FWHM f1 takes a
//! kernel of sigma sqrt(f1^2 - f0^2) / 2.3548. Better seeing than the data
//! already has cannot be reached by convolution, so a target below the
//! current FWHM is refused.

use ndarray::{Array3, ArrayView3};

use super::kernel::{convolve_separable, fwhm_per_sigma, gaussian_1d};
use super::psf::{FwhmUnit, PIXEL_SCALE};
use super::{Builtin, Effect, OptionSpec, Options, Parameter, Perturbation, described};
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
        let fwhm = self
            .unit
            .to_pixels((target * target - self.current * self.current).sqrt());
        Ok(convolve_separable(
            image,
            &gaussian_1d(fwhm / fwhm_per_sigma(), image.dim().1.max(image.dim().2)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::perturb::test_support::*;

    #[test]
    fn reconvolving_equals_one_blur_of_the_quadrature_difference() {
        // From FWHM 3 to 5: sigma = sqrt(25 - 9) / 2.3548 = 4 / 2.3548.
        let image = ramp(2, 12, 12);
        let seeing = apply(
            built("seeing", &[("current", "3")]).as_ref(),
            image.view(),
            5.0,
        );
        let blur = apply(
            built("blur", &[]).as_ref(),
            image.view(),
            4.0 / 2.354_820_045,
        );
        assert!(max_abs_diff(&seeing, &blur) < 1e-4);
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
