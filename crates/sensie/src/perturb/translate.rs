//! `translate`: shift the image by a distance in pixels.

use super::resample::{self, Affine, Geometric, Resampling};
use super::{Builtin, OptionSpec, described};

pub(super) static BUILTIN: Builtin = Builtin {
    name: "translate",
    summary: "shift the image; whole-pixel shifts along an axis are exact, others interpolate",
    parameter: "distance",
    unit: "pixels",
    identity: "0",
    unchanged: 0.0,
    options: &[
        OptionSpec {
            name: "direction",
            default: "0",
            help: "direction of the shift in degrees counter-clockwise from +x: 0 right, 90 up, 180 left, 270 down",
        },
        resample::INTERPOLATION,
        resample::FILL,
    ],
    build: |options| {
        let direction = options.number("direction", 0.0)?.to_radians();
        Ok(described(
            &BUILTIN,
            Translate {
                resampling: Resampling::from_options(options)?,
                direction,
            },
        ))
    },
};

struct Translate {
    resampling: Resampling,
    /// Radians counter-clockwise from +x, as displayed (rows grow downwards).
    direction: f64,
}

impl Geometric for Translate {
    fn resampling(&self) -> &Resampling {
        &self.resampling
    }

    fn map(&self, distance: f64, _: usize, _: usize) -> Affine {
        // Round away the 6e-17 of cos(90 degrees) so axis-aligned shifts stay exact.
        let snap = |v: f64| if v.abs() < 1e-12 { 0.0 } else { v };
        let dx = snap(distance * self.direction.cos());
        let dy = snap(-distance * self.direction.sin());
        Affine {
            a: 1.0,
            b: 0.0,
            c: -dx,
            d: 0.0,
            e: 1.0,
            f: -dy,
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::s;

    use crate::perturb::test_support::*;

    #[test]
    fn whole_pixel_shifts_move_pixels_and_fill_the_gap() {
        let image = ramp(1, 4, 5);
        let right = apply(built("translate", &[]).as_ref(), image.view(), 2.0);
        assert_eq!(right.slice(s![.., .., 2..]), image.slice(s![.., .., ..3]));
        assert!(right.slice(s![.., .., ..2]).iter().all(|&v| v == 0.0));
        let up = apply(
            built("translate", &[("direction", "90"), ("fill", "7")]).as_ref(),
            image.view(),
            1.0,
        );
        assert_eq!(up.slice(s![.., ..3, ..]), image.slice(s![.., 1.., ..]));
        assert!(up.slice(s![.., 3, ..]).iter().all(|&v| v == 7.0));
    }

    #[test]
    fn half_pixel_shift_averages_neighbours() {
        let image = ramp(1, 1, 4); // 0 1 2 3
        let out = apply(
            built("translate", &[("direction", "180")]).as_ref(),
            image.view(),
            0.5,
        );
        assert_eq!(out.slice(s![0, 0, ..3]).to_vec(), vec![0.5, 1.5, 2.5]);
    }
}
