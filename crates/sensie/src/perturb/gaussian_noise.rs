//! `gaussian-noise`: add independent Gaussian noise to every pixel.

use ndarray::{Array3, ArrayView3};

use super::{Builtin, Effect, at_least, described};
use crate::Result;
use crate::rng::SeededRng;

pub(super) static BUILTIN: Builtin = Builtin {
    name: "gaussian-noise",
    summary: "add Gaussian noise of the given standard deviation to every pixel of every band",
    parameter: "sigma",
    unit: "image units",
    identity: "0",
    unchanged: 0.0,
    options: &[],
    build: |_| Ok(described(&BUILTIN, GaussianNoise)),
};

struct GaussianNoise;

impl Effect for GaussianNoise {
    fn check(&self, sigma: f64) -> Result<()> {
        at_least(BUILTIN.name, sigma, 0.0, true)
    }

    fn apply(
        &self,
        image: ArrayView3<f32>,
        sigma: f64,
        rng: &mut SeededRng,
    ) -> Result<Array3<f32>> {
        let mut noise = vec![0.0; image.len()];
        rng.normals(&mut noise);
        let image = image.as_standard_layout();
        let pixels = image.as_slice().expect("standard layout");
        let noisy = pixels
            .iter()
            .zip(&noise)
            .map(|(&v, &z)| (f64::from(v) + sigma * z) as f32)
            .collect();
        Ok(Array3::from_shape_vec(image.raw_dim(), noisy).expect("the image's shape"))
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array3;

    use crate::perturb::test_support::*;
    use crate::rng::SeededRng;

    #[test]
    fn noise_has_zero_mean_and_the_requested_variance() {
        // 3 x 100 x 100 = 30,000 draws of sigma 2: the sample mean's standard
        // error is 2 / sqrt(30000) = 0.0115, the sample variance's about
        // 4 sqrt(2 / 30000) = 0.033; tolerances are 5 standard errors.
        let image = Array3::from_elem((3, 100, 100), 10.0f32);
        let noise = built("gaussian-noise", &[]);
        let out = apply(noise.as_ref(), image.view(), 2.0);
        let n = out.len() as f64;
        let mean = out.iter().map(|&v| f64::from(v) - 10.0).sum::<f64>() / n;
        let var = out
            .iter()
            .map(|&v| (f64::from(v) - 10.0 - mean).powi(2))
            .sum::<f64>()
            / (n - 1.0);
        assert!(mean.abs() < 0.06, "{mean}");
        assert!((var - 4.0).abs() < 0.17, "{var}");
    }

    #[test]
    fn the_same_seed_gives_the_same_noise() {
        let image = Array3::zeros((1, 4, 4));
        let noise = built("gaussian-noise", &[]);
        let draw = |seed| {
            noise
                .apply(image.view(), 1.0, &mut SeededRng::new(seed, &[3]))
                .unwrap()
        };
        assert_eq!(draw(5), draw(5));
        assert_ne!(draw(5), draw(6));
    }
}
