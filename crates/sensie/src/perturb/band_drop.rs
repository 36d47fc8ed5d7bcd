//! `band-drop`: replace one band by a constant, as if that filter were lost.
//!
//! The strength is the index of the band dropped; -1 drops none, so a sweep
//! `band-drop=-1,0,1,2` compares the intact image with each band missing.

use ndarray::{Array3, ArrayView3, Axis};

use super::{Builtin, Effect, OptionSpec, band_index, described};
use crate::rng::SeededRng;
use crate::{Error, Result};

pub(super) static BUILTIN: Builtin = Builtin {
    name: "band-drop",
    summary: "replace the band with the given index by the fill value; -1 drops none",
    parameter: "band",
    unit: "band index",
    identity: "-1",
    unchanged: -1.0,
    options: &[OptionSpec {
        name: "fill",
        default: "0",
        help: "value written over the dropped band",
    }],
    build: |options| {
        Ok(described(
            &BUILTIN,
            BandDrop {
                fill: options.pixel("fill", 0.0)?,
            },
        ))
    },
};

struct BandDrop {
    fill: f32,
}

impl Effect for BandDrop {
    fn check(&self, band: f64) -> Result<()> {
        if band.fract() != 0.0 || band < -1.0 {
            return Err(Error::invalid(
                "strength of perturbation 'band-drop'",
                format!("{band} is not a band index (0, 1, ...) or -1 for none"),
            ));
        }
        Ok(())
    }

    fn apply(&self, image: ArrayView3<f32>, band: f64, _: &mut SeededRng) -> Result<Array3<f32>> {
        let mut out = image.to_owned();
        if band >= 0.0 {
            out.index_axis_mut(Axis(0), band_index(BUILTIN.name, image, band)?)
                .fill(self.fill);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Axis, s};

    use crate::perturb::test_support::*;

    #[test]
    fn fills_only_the_dropped_band() {
        let image = ramp(3, 2, 2);
        let drop = built("band-drop", &[("fill", "-2")]);
        let out = apply(drop.as_ref(), image.view(), 2.0);
        assert!(out.index_axis(Axis(0), 2).iter().all(|&v| v == -2.0));
        assert_eq!(out.slice(s![..2, .., ..]), image.slice(s![..2, .., ..]));
        assert_eq!(apply(drop.as_ref(), image.view(), -1.0), image);
        assert!(drop.check(0.5).is_err() && drop.check(-2.0).is_err());
    }
}
