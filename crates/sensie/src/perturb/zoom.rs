//! `zoom`: magnify (factor > 1) or shrink (factor < 1) about the centre.

use super::resample::{self, Affine, Geometric, Resampling};
use super::{Builtin, at_least, described};
use crate::Result;

pub(super) static BUILTIN: Builtin = Builtin {
    name: "zoom",
    summary: "magnify (> 1) or shrink (< 1) the image about its centre, keeping its size",
    parameter: "factor",
    unit: "factor",
    identity: "1",
    unchanged: 1.0,
    options: &[resample::INTERPOLATION, resample::FILL],
    build: |options| {
        Ok(described(
            &BUILTIN,
            Zoom {
                resampling: Resampling::from_options(options)?,
            },
        ))
    },
};

struct Zoom {
    resampling: Resampling,
}

impl Geometric for Zoom {
    fn resampling(&self) -> &Resampling {
        &self.resampling
    }

    fn check(&self, factor: f64) -> Result<()> {
        at_least(BUILTIN.name, factor, 0.0, false)
    }

    fn map(&self, factor: f64, height: usize, width: usize) -> Affine {
        let (cx, cy) = resample::centre(height, width);
        let scale = 1.0 / factor;
        Affine {
            a: scale,
            b: 0.0,
            c: cx - cx * scale,
            d: 0.0,
            e: scale,
            f: cy - cy * scale,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::perturb::test_support::*;

    #[test]
    fn doubling_spreads_the_centre_outwards() {
        // 1 x 5: centre 2. Output x samples 2 + (x - 2) / 2 = 1, 1.5, 2, 2.5, 3.
        let image = ramp(1, 1, 5);
        let out = apply(built("zoom", &[]).as_ref(), image.view(), 2.0);
        assert_eq!(
            out.iter().copied().collect::<Vec<_>>(),
            vec![1.0, 1.5, 2.0, 2.5, 3.0]
        );
        assert!(built("zoom", &[]).check(0.0).is_err());
    }

    #[test]
    fn halving_fills_the_border() {
        let image = ramp(1, 1, 5);
        let out = apply(built("zoom", &[("fill", "-1")]).as_ref(), image.view(), 0.5);
        // Output x samples 2 + 2 (x - 2) = -2, 0, 2, 4, 6.
        assert_eq!(
            out.iter().copied().collect::<Vec<_>>(),
            vec![-1.0, 0.0, 2.0, 4.0, -1.0]
        );
    }
}
