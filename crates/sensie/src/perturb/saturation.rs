//! `saturation`: blend each pixel's bands towards their mean.
//!
//! out = grey + s (x - grey), where grey is the pixel's mean over bands with
//! equal weights (astronomical bands have no agreed luminance weights). At 0
//! every band equals the grey image; at 1 the image is unchanged; above 1
//! colours are exaggerated. A one-band image has no colour, so this is the
//! identity for it.

use ndarray::{Array3, ArrayView3};

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
    /// The grey plane is each pixel's bands summed in band order from 0 and
    /// divided by their count, as ndarray's `mean_axis` over the bands takes
    /// it, in one pass a band without the copies and the per-pixel lanes
    /// that made a digit's saturation cost a quarter of its forward pass.
    fn apply(&self, image: ArrayView3<f32>, s: f64, _: &mut SeededRng) -> Result<Array3<f32>> {
        let image = image.as_standard_layout();
        let (c, h, w) = image.dim();
        let pixels = image.as_slice().expect("standard layout");
        let mut grey = vec![0.0f64; h * w];
        for band in pixels.chunks_exact(h * w) {
            grey.iter_mut()
                .zip(band)
                .for_each(|(g, &v)| *g += f64::from(v));
        }
        grey.iter_mut().for_each(|g| *g /= c as f64);
        let mut out = Vec::with_capacity(pixels.len());
        for band in pixels.chunks_exact(h * w) {
            out.extend(
                band.iter()
                    .zip(&grey)
                    .map(|(&v, &g)| (g + s * (f64::from(v) - g)) as f32),
            );
        }
        Ok(Array3::from_shape_vec((c, h, w), out).expect("c x h x w values"))
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array3, Axis, s};

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

    #[test]
    fn each_pixel_is_the_formula_with_ndarrays_band_mean_to_the_bit() {
        // Values of very different sizes, so that a mean summed in another
        // order, or a formula rearranged, shows after rounding to f32; one,
        // three and five bands, and a view that is not in standard layout.
        let sizes = [3e7f32, -1.0, 0.1, -3e7, 2.5, -0.0, 7e-3];
        let saturation = built("saturation", &[]);
        for bands in [1, 3, 5] {
            let image = Array3::from_shape_fn((bands, 4, 6), |(b, y, x)| {
                sizes[(b * 3 + y * 5 + x) % sizes.len()]
            });
            let flipped = image.slice(s![.., .., ..;-1]);
            for view in [image.view(), flipped] {
                let grey = view.mapv(f64::from).mean_axis(Axis(0)).unwrap();
                for s in [0.0, 0.3, 1.0, 2.5] {
                    let got = apply(saturation.as_ref(), view, s);
                    let expected = Array3::from_shape_fn(view.dim(), |(b, y, x)| {
                        let g = grey[[y, x]];
                        (g + s * (f64::from(view[[b, y, x]]) - g)) as f32
                    });
                    assert!(
                        got.iter()
                            .zip(&expected)
                            .all(|(a, e)| a.to_bits() == e.to_bits()),
                        "{bands} bands, saturation {s}"
                    );
                }
            }
        }
    }
}
