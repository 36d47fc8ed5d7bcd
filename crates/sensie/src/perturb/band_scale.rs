//! `band-scale`: multiply one band by a factor, changing the image's colour.

use ndarray::{Array3, ArrayView3, Axis};

use super::{Builtin, Effect, OptionSpec, band_index, described};
use crate::Result;
use crate::rng::SeededRng;

pub(super) static BUILTIN: Builtin = Builtin {
    name: "band-scale",
    summary: "multiply one band (option band) by a factor, leaving the others",
    parameter: "factor",
    unit: "factor",
    identity: "1",
    unchanged: 1.0,
    options: &[OptionSpec {
        name: "band",
        default: "0",
        help: "index of the band to scale, from 0",
    }],
    build: |options| {
        Ok(described(
            &BUILTIN,
            BandScale {
                band: options.index("band", 0)?,
            },
        ))
    },
};

struct BandScale {
    band: usize,
}

impl Effect for BandScale {
    fn apply(&self, image: ArrayView3<f32>, factor: f64, _: &mut SeededRng) -> Result<Array3<f32>> {
        let band = band_index(BUILTIN.name, image, self.band as f64)?;
        let mut out = image.to_owned();
        out.index_axis_mut(Axis(0), band)
            .mapv_inplace(|v| (f64::from(v) * factor) as f32);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Axis, s};

    use crate::perturb::test_support::*;
    use crate::rng::SeededRng;

    #[test]
    fn scales_only_the_chosen_band() {
        let image = ramp(3, 2, 2);
        let out = apply(
            built("band-scale", &[("band", "1")]).as_ref(),
            image.view(),
            3.0,
        );
        assert_eq!(
            out.index_axis(Axis(0), 1),
            image.index_axis(Axis(0), 1).mapv(|v| v * 3.0)
        );
        assert_eq!(out.slice(s![0, .., ..]), image.slice(s![0, .., ..]));
        assert_eq!(out.slice(s![2, .., ..]), image.slice(s![2, .., ..]));
        let err = built("band-scale", &[("band", "3")]).apply(
            image.view(),
            2.0,
            &mut SeededRng::new(0, &[]),
        );
        assert!(err.unwrap_err().to_string().contains("band 3"));
    }
}
