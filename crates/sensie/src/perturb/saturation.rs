//! `saturation`: blend each pixel's bands towards their mean.
//!
//! out = grey + s (x - grey), where grey is the pixel's mean over bands with
//! equal weights (astronomical bands have no agreed luminance weights). At 0
//! every band equals the grey image; at 1 the image is unchanged; above 1
//! colours are exaggerated. A one-band image has no colour, so this is the
//! identity for it.

use ndarray::{Array3, ArrayView3, Axis};

use super::{Builtin, Effect, described};
use crate::Result;
use crate::rng::SeededRng;

pub(super) static BUILTIN: Builtin = Builtin {
    name: "saturation",
    summary: "blend bands towards their per-pixel mean: 0 grey, 1 unchanged (identity for 1-band images)",
    parameter: "saturation",
    unit: "factor",
    identity: "1",
    unchanged: 1.0,
    options: &[],
    build: |_| Ok(described(&BUILTIN, Saturation)),
};

struct Saturation;

impl Effect for Saturation {
    fn apply(&self, image: ArrayView3<f32>, s: f64, _: &mut SeededRng) -> Result<Array3<f32>> {
        let grey = image
            .mapv(f64::from)
            .mean_axis(Axis(0))
            .expect("an image has at least one band");
        let mut out = image.to_owned();
        for mut band in out.axis_iter_mut(Axis(0)) {
            band.zip_mut_with(&grey, |v, &g| *v = (g + s * (f64::from(*v) - g)) as f32);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array3;

    use crate::perturb::test_support::*;

    #[test]
    fn zero_is_grey_and_one_band_is_untouched() {
        let image = Array3::from_shape_vec((3, 1, 1), vec![1.0f32, 2.0, 6.0]).unwrap();
        let saturation = built("saturation", &[]);
        assert_eq!(
            apply(saturation.as_ref(), image.view(), 0.0)
                .into_raw_vec_and_offset()
                .0,
            vec![3.0; 3]
        );
        assert_eq!(
            apply(saturation.as_ref(), image.view(), 2.0)
                .into_raw_vec_and_offset()
                .0,
            vec![-1.0, 1.0, 9.0]
        );
        let grey = ramp(1, 3, 3);
        assert_eq!(apply(saturation.as_ref(), grey.view(), 0.0), grey);
    }
}
