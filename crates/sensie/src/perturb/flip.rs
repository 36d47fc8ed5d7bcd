//! `flip`: mirror the image (strength 1) or leave it (strength 0).

use ndarray::{Array3, ArrayView3, Axis};

use super::{Builtin, Effect, OptionSpec, Options, Perturbation, described};
use crate::rng::SeededRng;
use crate::{Error, Result};

pub(super) static BUILTIN: Builtin = Builtin {
    name: "flip",
    summary: "mirror the image: 0 leaves it, 1 flips it",
    parameter: "flipped",
    unit: "0 or 1",
    identity: "0",
    unchanged: 0.0,
    options: &[OptionSpec {
        name: "axis",
        default: "horizontal",
        help: "horizontal (mirror left-right) or vertical (mirror top-bottom)",
    }],
    build,
};

fn build(options: &Options) -> Result<Box<dyn Perturbation>> {
    let axis = match options.choice("axis", &["horizontal", "vertical"], "horizontal")? {
        "vertical" => Axis(1),
        _ => Axis(2),
    };
    Ok(described(&BUILTIN, Flip { axis }))
}

struct Flip {
    /// The image axis reversed: 2 (columns) mirrors left-right, 1 (rows) top-bottom.
    axis: Axis,
}

impl Effect for Flip {
    fn check(&self, value: f64) -> Result<()> {
        if value == 0.0 || value == 1.0 {
            Ok(())
        } else {
            Err(Error::invalid(
                "strength of perturbation 'flip'",
                format!("{value} must be 0 (unchanged) or 1 (flipped)"),
            ))
        }
    }

    fn apply(&self, image: ArrayView3<f32>, value: f64, _: &mut SeededRng) -> Result<Array3<f32>> {
        let mut out = image.to_owned();
        if value == 1.0 {
            out.invert_axis(self.axis);
        }
        Ok(out.as_standard_layout().into_owned())
    }
}

#[cfg(test)]
mod tests {
    use ndarray::s;

    use crate::perturb::test_support::*;

    #[test]
    fn flips_along_the_chosen_axis_and_refuses_other_strengths() {
        let image = ramp(2, 3, 4);
        let horizontal = built("flip", &[]);
        assert_eq!(
            apply(horizontal.as_ref(), image.view(), 1.0),
            image.slice(s![.., .., ..;-1])
        );
        let vertical = built("flip", &[("axis", "vertical")]);
        assert_eq!(
            apply(vertical.as_ref(), image.view(), 1.0),
            image.slice(s![.., ..;-1, ..])
        );
        assert!(horizontal.check(0.5).is_err());
    }
}
