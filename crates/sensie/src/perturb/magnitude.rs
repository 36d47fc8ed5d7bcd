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
    /// A shift whose flux factor float32 cannot hold (dm below about -96:
    /// 10^38.4) would make every pixel infinite.
    fn check(&self, dm: f64) -> Result<()> {
        if (10f64.powf(-0.4 * dm) as f32).is_infinite() {
            return Err(crate::Error::invalid(
                format!("magnitude {dm}"),
                "its flux factor 10^(-0.4 dm) is beyond float32's range, which images hold; give dm above -96",
            ));
        }
        Ok(())
    }

    fn apply(&self, image: ArrayView3<f32>, dm: f64, _: &mut SeededRng) -> Result<Array3<f32>> {
        Ok(scaled(image, 10f64.powf(-0.4 * dm)))
    }
}

#[cfg(test)]
mod tests {
    use crate::perturb::test_support::*;

    #[test]
    fn a_brightening_past_float32_is_refused() {
        let magnitude = built("magnitude", &[]);
        let err = magnitude.check(-1e6).unwrap_err().to_string();
        assert!(
            err.contains("magnitude -1000000") && err.contains("float32"),
            "{err}"
        );
        magnitude.check(-90.0).unwrap();
        magnitude.check(1e6).unwrap();
    }

    #[test]
    fn two_and_a_half_magnitudes_is_ten_times_fainter() {
        let image = ramp(1, 3, 3);
        let out = apply(built("magnitude", &[]).as_ref(), image.view(), 2.5);
        assert!(max_abs_diff(&out, &image.mapv(|v| v / 10.0)) < 1e-5);
        let brighter = apply(built("magnitude", &[]).as_ref(), image.view(), -5.0);
        assert!(max_abs_diff(&brighter, &image.mapv(|v| v * 100.0)) < 1e-3);
    }
}
