//! `smoothgrad`, `smoothgrad-squared`, `smoothgrad-variance` (Smilkov et al.
//! 2017; Captum's `NoiseTunnel` types smoothgrad, smoothgrad_sq, vargrad):
//! the gradient averaged over copies of the input with Gaussian noise added,
//! which removes the gradient's sharp local fluctuations. The squared
//! variant averages the squared gradient, the variance variant reports the
//! gradients' variance over the samples (Adebayo et al. 2018's VarGrad).
//!
//! Noise sigma is a fraction of each example's value range (max - min), as
//! in the paper, so one setting suits images in [0, 1], [0, 255] or flux
//! units. Each example's noise is drawn from a stream seeded by the seed and
//! the example's values, so its map does not depend on the batch it was
//! explained in.

use ndarray::{ArrayD, ArrayViewD, Axis, Zip};

use super::content_hash;
use super::{Attribution, Method, Targets, variant_gradients};
use crate::engine::Engine;
use crate::rng::{SeededRng, name_hash};
use crate::{Error, Result};

/// What is averaged over the noisy samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// The mean gradient.
    Mean,
    /// The mean squared gradient.
    Squared,
    /// The gradient's variance (mean square minus squared mean).
    Variance,
}

pub struct SmoothGrad {
    samples: usize,
    noise: f32,
    variant: Variant,
    seed: u64,
}

impl SmoothGrad {
    pub fn new(samples: usize, noise: f32, variant: Variant, seed: u64) -> Result<SmoothGrad> {
        if samples == 0 {
            return Err(Error::invalid(
                "0 SmoothGrad samples",
                "at least 1 is needed",
            ));
        }
        if !(noise >= 0.0 && noise.is_finite()) {
            return Err(Error::invalid(
                format!("SmoothGrad noise {noise}"),
                "the noise level must be a fraction >= 0 of the value range",
            ));
        }
        Ok(SmoothGrad {
            samples,
            noise,
            variant,
            seed,
        })
    }
}

impl Method for SmoothGrad {
    fn name(&self) -> &str {
        match self.variant {
            Variant::Mean => "smoothgrad",
            Variant::Squared => "smoothgrad-squared",
            Variant::Variance => "smoothgrad-variance",
        }
    }

    fn attribute(
        &self,
        engine: &mut Engine,
        inputs: ArrayViewD<f32>,
        targets: &Targets,
    ) -> Result<Attribution> {
        let sigmas: Vec<f32> = inputs
            .axis_iter(Axis(0))
            .map(|x| {
                let (lo, hi) = x
                    .iter()
                    .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                        (a.min(v), b.max(v))
                    });
                self.noise * (hi - lo)
            })
            .collect();
        let mut sum = ArrayD::<f64>::zeros(inputs.raw_dim());
        let mut sum_sq = ArrayD::<f64>::zeros(inputs.raw_dim());
        let examples: Vec<u64> = inputs.outer_iter().map(content_hash).collect();
        let fill = |e: usize, sample: usize, mut row: ndarray::ArrayViewMutD<f32>| {
            let mut stream = SeededRng::new(
                self.seed,
                &[name_hash("smoothgrad"), examples[e], sample as u64],
            );
            Zip::from(&mut row)
                .and(inputs.index_axis(Axis(0), e))
                .for_each(|r, &x| *r = x + sigmas[e] * stream.normal() as f32);
        };
        variant_gradients(
            engine,
            inputs.view(),
            targets,
            self.samples,
            fill,
            |e, _, g| {
                Zip::from(sum.index_axis_mut(Axis(0), e))
                    .and(sum_sq.index_axis_mut(Axis(0), e))
                    .and(g)
                    .for_each(|s, q, &g| {
                        *s += g as f64;
                        *q += (g as f64).powi(2);
                    });
            },
        )?;
        let k = self.samples as f64;
        let map = Zip::from(&sum).and(&sum_sq).map_collect(|&s, &q| {
            let (mean, mean_sq) = (s / k, q / k);
            (match self.variant {
                Variant::Mean => mean,
                Variant::Squared => mean_sq,
                Variant::Variance => (mean_sq - mean * mean).max(0.0),
            }) as f32
        });
        Ok(Attribution::pixels(map))
    }
}
