//! `smoothgrad`, `smoothgrad-squared`, `smoothgrad-variance` (Smilkov et al.
//! 2017; Captum's `NoiseTunnel` types smoothgrad, smoothgrad_sq, vargrad):
//! the gradient averaged over copies of the input with Gaussian noise added,
//! which removes the gradient's sharp local fluctuations. The squared
//! variant averages the squared gradient, the variance variant reports the
//! gradients' variance over the samples (Adebayo et al. 2018's VarGrad).
//!
//! Noise sigma is a fraction of each example's value range, as in the paper,
//! so one setting suits images in [0, 1], [0, 255] or flux units. The paper's
//! range is max - min; sensie takes the 99th minus the 1st percentile
//! (`value_range`), because on survey cutouts a few bright pixels (a star's
//! core, a cosmic ray) set max - min: on the lens example max - min is about
//! five times the percentile range (median over its images), and noise of
//! 0.15 x max - min buried the faint arcs the model looks at. Where an
//! image's values fill their range the two agree: on the MNIST digits the
//! percentile range is at least 0.99 x max - min for 95% of them. Each example's noise is drawn from a stream seeded by the seed and
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

/// SmoothGrad (Smilkov et al. 2017): gradients averaged over noisy copies
/// of the input.
pub struct SmoothGrad {
    samples: usize,
    noise: f32,
    variant: Variant,
    seed: u64,
}

impl SmoothGrad {
    /// The method with its number of noisy `samples`, `noise` sigma (a fraction
    /// of each example's value range), what it averages and its seed.
    pub fn new(samples: usize, noise: f32, variant: Variant, seed: u64) -> Result<SmoothGrad> {
        if samples == 0 {
            return Err(Error::invalid(
                "0 SmoothGrad samples",
                "at least 1 is needed",
            ));
        }
        crate::limits::at_most("SmoothGrad samples", samples, crate::limits::MAX_STEPS)?;
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

/// The percentiles whose difference is an example's value range: up to 1%
/// of its values at either end (8 pixels of a 28 x 28 image) cannot widen it.
const RANGE_PERCENTILES: (f64, f64) = (1.0, 99.0);

/// An example's value range for the noise: its 99th minus its 1st percentile
/// (interpolated linearly between the sorted values, as numpy's default), or
/// max - min where that is zero (an image almost all one value).
fn value_range(x: ArrayViewD<f32>) -> f32 {
    let mut values: Vec<f32> = x.iter().copied().collect();
    values.sort_by(f32::total_cmp);
    let at = |percent: f64| {
        let position = percent / 100.0 * (values.len() - 1) as f64;
        let (below, above) = (position.floor() as usize, position.ceil() as usize);
        let fraction = position - below as f64;
        values[below] as f64 + fraction * (values[above] as f64 - values[below] as f64)
    };
    let (low, high) = RANGE_PERCENTILES;
    let range = (at(high) - at(low)) as f32;
    if range > 0.0 {
        range
    } else {
        values[values.len() - 1] - values[0]
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
            .map(|x| self.noise * value_range(x))
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

#[cfg(test)]
mod tests {
    use ndarray::{Array, ArrayD, IxDyn};

    use super::value_range;

    #[test]
    fn a_few_hot_pixels_do_not_set_the_noise() {
        // A 28 x 28 ramp from 0 to 1: numpy.percentile's 1st and 99th are
        // 0.01 and 0.99 exactly (linear interpolation over 784 values).
        let ramp = Array::linspace(0.0f32, 1.0, 784)
            .into_shape_with_order(IxDyn(&[1, 28, 28]))
            .unwrap();
        assert!((value_range(ramp.view()) - 0.98).abs() < 1e-5);
        // Five pixels 1000 x brighter (a star's core) leave the range as it
        // was within 1%, where max - min grows a thousandfold.
        let mut hot = ramp.clone();
        for k in 0..5 {
            hot[[0, 3 * k, 7]] = 1000.0;
        }
        let (with, without) = (value_range(hot.view()), value_range(ramp.view()));
        assert!(
            (with - without).abs() / without < 0.01,
            "{with} vs {without}"
        );
    }

    #[test]
    fn an_almost_constant_image_falls_back_to_max_minus_min() {
        // One stroke pixel in a blank image: both percentiles are 0.
        let mut dot = ArrayD::<f32>::zeros(IxDyn(&[1, 28, 28]));
        dot[[0, 14, 14]] = 0.5;
        assert_eq!(value_range(dot.view()), 0.5);
        assert_eq!(
            value_range(ArrayD::<f32>::ones(IxDyn(&[1, 4, 4])).view()),
            0.0
        );
    }
}
