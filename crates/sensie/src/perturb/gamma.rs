//! `gamma`: a power-law stretch of each band between its own minimum and
//! maximum.
//!
//! Physical pixel values have no fixed range, so each band is mapped to
//! [0, 1] by its minimum and maximum, raised to the power gamma, and mapped
//! back: out = lo + (hi - lo) ((x - lo) / (hi - lo))^gamma. The band's
//! extremes stay put; gamma < 1 lifts faint structure, gamma > 1 suppresses
//! it. A constant band is left as it is.

use std::cell::RefCell;

use ndarray::{Array3, ArrayView3, Axis};

use super::memo::KeptMemo;
use super::{Builtin, Effect, at_least, described};
use crate::Result;
use crate::rng::SeededRng;

pub(super) static BUILTIN: Builtin = Builtin {
    name: "gamma",
    summary: "power-law stretch of each band between its min and max: lo + (hi - lo) t^gamma",
    parameter: "gamma",
    unit: "exponent",
    identity: "1",
    unchanged: 1.0,
    options: &[],
    build: |_| Ok(described(&BUILTIN, Gamma)),
};

struct Gamma;

thread_local! {
    /// Each thread's stretched values, kept from band to band while the
    /// exponent and the band's extremes stay the same.
    static STRETCHED: RefCell<KeptMemo<f32>> = RefCell::new(KeptMemo::new());
}

impl Effect for Gamma {
    fn check(&self, gamma: f64) -> Result<()> {
        at_least(BUILTIN.name, gamma, 0.0, false)
    }

    fn apply(&self, image: ArrayView3<f32>, gamma: f64, _: &mut SeededRng) -> Result<Array3<f32>> {
        let mut out = image.to_owned();
        for mut band in out.axis_iter_mut(Axis(0)) {
            let lo = f64::from(band.iter().copied().fold(f32::INFINITY, f32::min));
            let hi = f64::from(band.iter().copied().fold(f32::NEG_INFINITY, f32::max));
            if hi > lo {
                // One `powf` per distinct value, not per pixel.
                STRETCHED.with_borrow_mut(|kept| {
                    let stretched = kept.for_key([lo.to_bits(), hi.to_bits(), gamma.to_bits()]);
                    band.mapv_inplace(|v| {
                        *stretched.get(v, |v| {
                            (lo + (hi - lo) * ((f64::from(v) - lo) / (hi - lo)).powf(gamma)) as f32
                        })
                    });
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array3;

    use crate::perturb::test_support::*;

    #[test]
    fn stretches_between_the_band_extremes() {
        let image =
            Array3::from_shape_vec((1, 1, 5), vec![10.0f32, 12.5, 15.0, 17.5, 20.0]).unwrap();
        let out = apply(built("gamma", &[]).as_ref(), image.view(), 2.0);
        // t = 0, 0.25, 0.5, 0.75, 1 -> t^2 = 0, 0.0625, 0.25, 0.5625, 1.
        let expected = [10.0, 10.625, 12.5, 15.625, 20.0];
        assert!(
            out.iter().zip(expected).all(|(a, e)| (a - e).abs() < 1e-5),
            "{out}"
        );
        let constant = Array3::from_elem((1, 2, 2), 3.0f32);
        assert_eq!(
            apply(built("gamma", &[]).as_ref(), constant.view(), 0.5),
            constant
        );
    }
}
