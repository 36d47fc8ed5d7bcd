//! `rotate`: turn the image about its centre.

use super::resample::{self, Affine, Geometric, Resampling};
use super::{Builtin, described};

pub(super) static BUILTIN: Builtin = Builtin {
    name: "rotate",
    summary: "turn the image counter-clockwise (as displayed, row 0 at the top) about its centre",
    parameter: "angle",
    unit: "degrees",
    identity: "0",
    unchanged: 0.0,
    options: &[resample::INTERPOLATION, resample::FILL],
    build: |options| {
        Ok(described(
            &BUILTIN,
            Rotate {
                resampling: Resampling::from_options(options)?,
            },
        ))
    },
};

struct Rotate {
    resampling: Resampling,
}

/// sin and cos of an angle in degrees, exact at multiples of 90 so that
/// quarter turns move pixels without interpolation. A whole turn or more is
/// reduced in degrees first, where it is exact: in radians 1e20 degrees kept
/// none of its angle (it rotated as 136, not 280).
fn sin_cos_degrees(degrees: f64) -> (f64, f64) {
    let turn = degrees.rem_euclid(360.0);
    match turn {
        0.0 => (0.0, 1.0),
        90.0 => (1.0, 0.0),
        180.0 => (0.0, -1.0),
        270.0 => (-1.0, 0.0),
        _ if degrees.abs() >= 360.0 => turn.to_radians().sin_cos(),
        _ => degrees.to_radians().sin_cos(),
    }
}

impl Geometric for Rotate {
    fn resampling(&self) -> &Resampling {
        &self.resampling
    }

    fn map(&self, degrees: f64, height: usize, width: usize) -> Affine {
        let (sin, cos) = sin_cos_degrees(degrees);
        let (cx, cy) = resample::centre(height, width);
        // In a frame with v = cy - y pointing up the screen, output point
        // (u, v) comes from the source point (u cos + v sin, -u sin + v cos).
        Affine {
            a: cos,
            b: -sin,
            c: cx - cx * cos + cy * sin,
            d: sin,
            e: cos,
            f: cy - cx * sin - cy * cos,
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array3, Axis, s};

    use super::sin_cos_degrees;
    use crate::perturb::test_support::*;

    #[test]
    fn whole_turns_are_reduced_in_degrees() {
        assert_eq!(sin_cos_degrees(1e20), sin_cos_degrees(1e20 % 360.0));
        assert_eq!(1e20 % 360.0, 280.0);
        assert_eq!(sin_cos_degrees(720.0 + 30.0), sin_cos_degrees(30.0));
        assert_eq!(sin_cos_degrees(-360.0 - 45.0), sin_cos_degrees(315.0));
        // Within a turn, the angle is used as given (results unchanged).
        assert_eq!(sin_cos_degrees(-30.0), (-30.0f64).to_radians().sin_cos());
    }

    #[test]
    fn a_quarter_turn_is_a_transpose_then_a_vertical_flip() {
        // numpy.rot90 (counter-clockwise as displayed): out[y, x] = in[x, w - 1 - y].
        let image = ramp(2, 5, 5);
        let out = apply(built("rotate", &[]).as_ref(), image.view(), 90.0);
        let mut expected = image.clone();
        expected.swap_axes(1, 2);
        expected.invert_axis(Axis(1));
        assert_eq!(out, expected);
    }

    #[test]
    fn a_half_turn_flips_both_axes_and_zero_is_identity() {
        let image = ramp(1, 4, 6);
        let rotate = built("rotate", &[]);
        assert_eq!(
            apply(rotate.as_ref(), image.view(), 180.0),
            image.slice(s![.., ..;-1, ..;-1])
        );
        assert_eq!(apply(rotate.as_ref(), image.view(), 0.0), image);
        assert_eq!(apply(rotate.as_ref(), image.view(), -360.0), image);
    }

    #[test]
    fn a_radially_symmetric_image_is_unchanged_by_any_angle() {
        // A wide Gaussian blob (sigma 4, peak 1) centred on the image: bilinear
        // interpolation errs by at most h^2 max|f''| / 8 per axis, with
        // max|f''| = 1 / sigma^2 = 1/16, so by at most 2/128 = 0.016 in all.
        let n = 31;
        let c = (n - 1) as f32 / 2.0;
        let image = Array3::from_shape_fn((1, n, n), |(_, y, x)| {
            (-((x as f32 - c).powi(2) + (y as f32 - c).powi(2)) / (2.0 * 4.0f32.powi(2))).exp()
        });
        let rotate = built("rotate", &[]);
        for angle in [17.0, 45.0, 123.0] {
            let out = apply(rotate.as_ref(), image.view(), angle);
            assert!(
                max_abs_diff(&out, &image) < 0.016,
                "{angle}: {}",
                max_abs_diff(&out, &image)
            );
        }
    }

    #[test]
    fn corners_turned_out_of_the_frame_take_the_fill() {
        let image = Array3::from_elem((1, 9, 9), 1.0f32);
        let out = apply(
            built("rotate", &[("fill", "-5"), ("interpolation", "nearest")]).as_ref(),
            image.view(),
            45.0,
        );
        assert_eq!(out[[0, 0, 0]], -5.0);
        assert_eq!(out[[0, 4, 4]], 1.0);
    }
}
