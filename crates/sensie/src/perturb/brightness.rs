//! `brightness`: multiply every pixel by a factor.

use ndarray::{Array3, ArrayView3};

use super::{Builtin, Effect, described, scaled};
use crate::Result;
use crate::rng::SeededRng;

pub(super) static BUILTIN: Builtin = Builtin {
    name: "brightness",
    summary: "multiply every pixel of every band by a factor",
    parameter: "factor",
    unit: "factor",
    identity: "1",
    unchanged: 1.0,
    options: &[],
    build: |_| Ok(described(&BUILTIN, Brightness)),
};

struct Brightness;

impl Effect for Brightness {
    fn apply(&self, image: ArrayView3<f32>, factor: f64, _: &mut SeededRng) -> Result<Array3<f32>> {
        Ok(scaled(image, factor))
    }
}

#[cfg(test)]
mod tests {
    use crate::perturb::test_support::*;

    #[test]
    fn scales_every_pixel() {
        let image = ramp(2, 3, 3);
        assert_eq!(
            apply(built("brightness", &[]).as_ref(), image.view(), 0.5),
            image.mapv(|v| v * 0.5)
        );
    }
}
