//! `contrast`: stretch or flatten each band about its own mean.
//!
//! Each band is scaled about its mean separately, so a band's sky level stays
//! where it was and only the departures from it grow or shrink.

use ndarray::{Array3, ArrayView3, Axis};

use super::{Builtin, Effect, described};
use crate::Result;
use crate::rng::SeededRng;

pub(super) static BUILTIN: Builtin = Builtin {
    name: "contrast",
    summary: "scale each band about its mean: mean + factor (x - mean); 0 gives a flat band",
    parameter: "factor",
    unit: "factor",
    identity: "1",
    unchanged: 1.0,
    options: &[],
    build: |_| Ok(described(&BUILTIN, Contrast)),
};

struct Contrast;

impl Effect for Contrast {
    fn apply(&self, image: ArrayView3<f32>, factor: f64, _: &mut SeededRng) -> Result<Array3<f32>> {
        let mut out = image.to_owned();
        for mut band in out.axis_iter_mut(Axis(0)) {
            let mean = band.iter().map(|&v| f64::from(v)).sum::<f64>() / band.len() as f64;
            band.mapv_inplace(|v| (mean + factor * (f64::from(v) - mean)) as f32);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Axis;

    use crate::perturb::test_support::*;

    #[test]
    fn keeps_each_band_mean_and_scales_the_deviations() {
        let image = ramp(2, 3, 4);
        let out = apply(built("contrast", &[]).as_ref(), image.view(), 2.0);
        for (before, after) in image.axis_iter(Axis(0)).zip(out.axis_iter(Axis(0))) {
            let mean = before.mean().unwrap();
            assert!((after.mean().unwrap() - mean).abs() < 1e-4);
            for (b, a) in before.iter().zip(after) {
                assert!((a - mean - 2.0 * (b - mean)).abs() < 1e-4);
            }
        }
        let flat = apply(built("contrast", &[]).as_ref(), image.view(), 0.0);
        assert!(
            flat.index_axis(Axis(0), 1)
                .iter()
                .all(|&v| (v - 111.5).abs() < 1e-4)
        );
    }
}
