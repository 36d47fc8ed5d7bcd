//! `poisson-noise`: photon noise for an image in flux units.
//!
//! A pixel of value x becomes Poisson(x * gain) / gain: the gain converts
//! image units to counts, so a larger gain means more photons and relatively
//! less noise (none in the limit of infinite gain, the unperturbed value).
//! Negative pixels, common after sky subtraction, are mirrored: they become
//! -Poisson(-x * gain) / gain, so every pixel keeps its mean and gets variance
//! |x| / gain, instead of being clipped to zero (which would raise the mean).

use ndarray::{Array3, ArrayView3};

use super::memo::ValueMemo;
use super::{Builtin, Effect, at_least, described};
use crate::Result;
use crate::rng::{PoissonMean, SeededRng};

pub(super) static BUILTIN: Builtin = Builtin {
    name: "poisson-noise",
    summary: "photon noise: Poisson(x * gain) / gain per pixel; negative pixels mirrored",
    parameter: "gain",
    unit: "counts per image unit",
    identity: "infinity (no noise)",
    unchanged: f64::INFINITY,
    options: &[],
    build: |_| Ok(described(&BUILTIN, PoissonNoise)),
};

struct PoissonNoise;

impl Effect for PoissonNoise {
    fn check(&self, gain: f64) -> Result<()> {
        at_least(BUILTIN.name, gain, 0.0, false)
    }

    /// An infinite gain (the identity, accepted so that a sweep can start at
    /// the noise-free image: `poisson-noise=inf,1000,100`) returns the image.
    fn apply(&self, image: ArrayView3<f32>, gain: f64, rng: &mut SeededRng) -> Result<Array3<f32>> {
        if gain == f64::INFINITY {
            return Ok(image.to_owned());
        }
        // The distribution is set up once per distinct pixel value; the
        // draws, in pixel order, are the same as without the memo.
        let mut means = ValueMemo::for_pixels(image.len());
        Ok(image.mapv(|v| {
            let (sign, mean) = means.get(v, |v| {
                let counts = f64::from(v) * gain;
                (counts.signum(), PoissonMean::new(counts.abs()))
            });
            (sign * rng.poisson_from(mean) / gain) as f32
        }))
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array3;

    use crate::perturb::test_support::*;

    #[test]
    fn counts_have_poisson_mean_and_variance_for_either_sign() {
        // x = +-2.5 at gain 4: counts of mean 10, so the output has mean +-2.5
        // and variance 10 / 16 = 0.625. 40,000 pixels per sign: standard errors
        // 0.004 (mean) and about 0.0046 (variance); tolerances are 5 of them.
        let mut image = Array3::from_elem((2, 200, 100), 2.5f32);
        image.index_axis_mut(ndarray::Axis(0), 1).fill(-2.5);
        let out = apply(built("poisson-noise", &[]).as_ref(), image.view(), 4.0);
        for (band, sign) in [(0, 1.0), (1, -1.0)] {
            let values: Vec<f64> = out
                .index_axis(ndarray::Axis(0), band)
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
            assert!((mean - sign * 2.5).abs() < 0.02, "band {band}: mean {mean}");
            assert!((var - 0.625).abs() < 0.025, "band {band}: var {var}");
            // Every value is a whole number of counts divided by the gain.
            assert!(
                values
                    .iter()
                    .all(|v| ((v * 4.0) - (v * 4.0).round()).abs() < 1e-4)
            );
        }
        let noise = built("poisson-noise", &[]);
        assert!(noise.check(0.0).is_err() && noise.check(f64::NAN).is_err());
        noise.check(f64::INFINITY).unwrap();
        assert_eq!(apply(noise.as_ref(), image.view(), f64::INFINITY), image);
    }
}
