//! `blur`: convolve with a Gaussian of the given sigma in pixels.

use ndarray::{Array3, ArrayView3};

use super::kernel::{convolve_separable, gaussian_1d};
use super::{Builtin, Effect, at_least, described};
use crate::Result;
use crate::rng::SeededRng;

pub(super) static BUILTIN: Builtin = Builtin {
    name: "blur",
    summary: "convolve with a Gaussian (flux-conserving, reflected edges)",
    parameter: "sigma",
    unit: "pixels",
    identity: "0",
    unchanged: 0.0,
    options: &[],
    build: |_| Ok(described(&BUILTIN, Blur)),
};

struct Blur;

impl Effect for Blur {
    fn check(&self, sigma: f64) -> Result<()> {
        at_least(BUILTIN.name, sigma, 0.0, true)
    }

    fn apply(&self, image: ArrayView3<f32>, sigma: f64, _: &mut SeededRng) -> Result<Array3<f32>> {
        Ok(convolve_separable(
            image,
            &gaussian_1d(sigma, image.dim().1.max(image.dim().2)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array3, Axis};

    use crate::perturb::test_support::*;

    #[test]
    fn a_point_spreads_into_the_kernel_and_keeps_its_flux() {
        // A unit point in the middle of 1 x 11 x 11: the row through it is
        // the 1-D kernel times its centre weight 0.39894346 (sigma 1).
        let mut image = Array3::zeros((1, 11, 11));
        image[[0, 5, 5]] = 1.0f32;
        let out = apply(built("blur", &[]).as_ref(), image.view(), 1.0);
        let row: Vec<f32> = (4..=6).map(|x| out[[0, 5, x]]).collect();
        let (w0, w1) = (0.398_943_47_f32, 0.241_971_45_f32);
        for (got, expected) in row.iter().zip([w1 * w0, w0 * w0, w1 * w0]) {
            assert!((got - expected).abs() < 1e-6, "{got} vs {expected}");
        }
        assert!((out.sum() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn flux_is_conserved_band_by_band_even_at_the_edges() {
        let image = ramp(3, 8, 6);
        let out = apply(built("blur", &[]).as_ref(), image.view(), 2.5);
        for (a, b) in image.axis_iter(Axis(0)).zip(out.axis_iter(Axis(0))) {
            assert!((a.sum() - b.sum()).abs() < 1e-5 * a.sum());
        }
        assert!(built("blur", &[]).check(-1.0).is_err());
    }

    #[test]
    fn a_blur_wider_than_the_image_gives_each_bands_mean_without_a_huge_kernel() {
        // The reflected image repeats every two sides; a Gaussian far wider
        // is flat over that period, so every pixel becomes the band's mean.
        let image = ramp(2, 9, 6);
        for sigma in [1e3, 1e30] {
            let out = apply(built("blur", &[]).as_ref(), image.view(), sigma);
            for (a, b) in image.axis_iter(Axis(0)).zip(out.axis_iter(Axis(0))) {
                let mean = a.mean().unwrap();
                assert!(
                    b.iter()
                        .all(|v| (v - mean).abs() < 1e-4 * mean.abs().max(1.0)),
                    "{sigma}: {b:?} vs {mean}"
                );
            }
        }
    }
}
