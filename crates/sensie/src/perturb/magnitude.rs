//! `magnitude`: make the source fainter (or brighter) by dm magnitudes.
//!
//! Magnitudes are logarithmic, m = -2.5 log10(flux) + const, so a shift of dm
//! multiplies the flux by 10^(-0.4 dm): +2.5 mag is 10 times fainter. The
//! whole image is scaled, sky included; subtract the sky first if it should
//! stay put.

use ndarray::{Array3, ArrayView3};

use super::{Builtin, Effect, described, scaled};
use crate::Result;
use crate::rng::SeededRng;

pub(super) static BUILTIN: Builtin = Builtin {
    name: "magnitude",
    summary: "shift by dm magnitudes: flux x 10^(-0.4 dm), so positive dm is fainter",
    parameter: "dm",
    unit: "magnitudes",
    identity: "0",
    unchanged: 0.0,
    options: &[],
    build: |_| Ok(described(&BUILTIN, Magnitude)),
};

struct Magnitude;

impl Effect for Magnitude {
    fn apply(&self, image: ArrayView3<f32>, dm: f64, _: &mut SeededRng) -> Result<Array3<f32>> {
        Ok(scaled(image, 10f64.powf(-0.4 * dm)))
    }
}

#[cfg(test)]
mod tests {
    use crate::perturb::test_support::*;

    #[test]
    fn two_and_a_half_magnitudes_is_ten_times_fainter() {
        let image = ramp(1, 3, 3);
        let out = apply(built("magnitude", &[]).as_ref(), image.view(), 2.5);
        assert!(max_abs_diff(&out, &image.mapv(|v| v / 10.0)) < 1e-5);
        let brighter = apply(built("magnitude", &[]).as_ref(), image.view(), -5.0);
        assert!(max_abs_diff(&brighter, &image.mapv(|v| v * 100.0)) < 1e-3);
    }
}
