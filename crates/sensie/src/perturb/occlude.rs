//! `occlude`: cover a square of side L pixels with a fill value, in every band.
//!
//! The square sits at the image centre by default, at a position drawn
//! uniformly from those that keep it inside the image (`position=random`,
//! seeded per example), or centred on a given pixel (`position=X,Y`, column
//! and row from 0). A square that runs past the edge is clipped. The side is
//! rounded to whole pixels.

use ndarray::{Array3, ArrayView3, s};

use super::{Builtin, Effect, OptionSpec, Options, Perturbation, at_least, described};
use crate::rng::SeededRng;
use crate::{Error, Result};

pub(super) static BUILTIN: Builtin = Builtin {
    name: "occlude",
    summary: "cover a square of side L pixels with the fill value (centre, random or given position)",
    parameter: "side",
    unit: "pixels",
    identity: "0",
    unchanged: 0.0,
    options: &[
        OptionSpec {
            name: "position",
            default: "centre",
            help: "centre, random, or X,Y: the square's centre (column, row)",
        },
        OptionSpec {
            name: "fill",
            default: "0",
            help: "value written over the square",
        },
    ],
    build,
};

enum Position {
    Centre,
    Random,
    At { x: f64, y: f64 },
}

struct Occlude {
    position: Position,
    fill: f32,
}

fn build(options: &Options) -> Result<Box<dyn Perturbation>> {
    let position = match options.text("position").map(str::trim) {
        None | Some("centre" | "center") => Position::Centre,
        Some("random") => Position::Random,
        Some(text) => {
            let coords: Option<Vec<f64>> = text.split(',').map(|v| v.trim().parse().ok()).collect();
            match coords.as_deref() {
                Some(&[x, y]) if x.is_finite() && y.is_finite() => Position::At { x, y },
                _ => {
                    return Err(Error::invalid(
                        "option 'position' of perturbation 'occlude'",
                        format!("'{text}' is not centre, random or X,Y (e.g. 10,14)"),
                    ));
                }
            }
        }
    };
    Ok(described(
        &BUILTIN,
        Occlude {
            position,
            fill: options.pixel("fill", 0.0)?,
        },
    ))
}

/// The first pixel of a run of `side` pixels centred on `centre`, clipped.
fn start(centre: f64, side: usize) -> i64 {
    (centre - side as f64 / 2.0 + 0.5).floor() as i64
}

impl Effect for Occlude {
    fn check(&self, side: f64) -> Result<()> {
        at_least(BUILTIN.name, side, 0.0, true)
    }

    fn apply(&self, image: ArrayView3<f32>, side: f64, rng: &mut SeededRng) -> Result<Array3<f32>> {
        // A square of 2^50 pixels covers any image centred on it, and its
        // corners stay far inside i64 (occlude=1e34 overflowed them).
        let side = side.round().min(2f64.powi(50)) as usize;
        let (_, h, w) = image.dim();
        let mut out = image.to_owned();
        if side == 0 {
            return Ok(out);
        }
        let (x0, y0) = match self.position {
            Position::Centre => (
                start((w as f64 - 1.0) / 2.0, side),
                start((h as f64 - 1.0) / 2.0, side),
            ),
            Position::At { x, y } => {
                // A centre off the image would cover little or nothing of it,
                // and the sweep would read as the model not caring.
                let inside = |v: f64, n: usize| (0.0..=n as f64 - 1.0).contains(&v);
                if !(inside(x, w) && inside(y, h)) {
                    return Err(Error::invalid(
                        "option 'position' of perturbation 'occlude'",
                        format!(
                            "{x},{y} is outside the {w} x {h} images: give a centre in columns 0 to {} and rows 0 to {}",
                            w.saturating_sub(1),
                            h.saturating_sub(1)
                        ),
                    ));
                }
                (start(x, side), start(y, side))
            }
            Position::Random => (
                rng.below(w.saturating_sub(side) + 1) as i64,
                rng.below(h.saturating_sub(side) + 1) as i64,
            ),
        };
        // Saturating: a centre given far outside the image must not overflow.
        let clip = |from: i64, n: usize| {
            let end = from.saturating_add(i64::try_from(side).unwrap_or(i64::MAX));
            (
                from.clamp(0, n as i64) as usize,
                end.clamp(0, n as i64) as usize,
            )
        };
        let ((xa, xb), (ya, yb)) = (clip(x0, w), clip(y0, h));
        out.slice_mut(s![.., ya..yb, xa..xb]).fill(self.fill);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array3;

    use crate::perturb::test_support::*;
    use crate::rng::SeededRng;

    fn covered(out: &Array3<f32>, fill: f32) -> usize {
        out.iter().filter(|&&v| v == fill).count()
    }

    #[test]
    fn the_centred_square_has_exactly_the_requested_area() {
        let image = Array3::from_elem((2, 28, 28), 1.0f32);
        let occlude = built("occlude", &[]);
        for side in [1.0, 4.0, 7.0, 28.0] {
            let out = apply(occlude.as_ref(), image.view(), side);
            assert_eq!(
                covered(&out, 0.0),
                2 * (side as usize).pow(2),
                "side {side}"
            );
        }
        // Side 10 in 28 covers pixels 9..=18 on both axes: centred on 13.5.
        let out = apply(occlude.as_ref(), image.view(), 10.0);
        assert!(
            out[[0, 9, 9]] == 0.0
                && out[[0, 18, 18]] == 0.0
                && out[[0, 8, 9]] == 1.0
                && out[[0, 19, 18]] == 1.0
        );
    }

    #[test]
    fn a_square_far_larger_than_the_image_covers_it() {
        // Found by fuzzing: occlude=1e34 overflowed the square's end.
        let image = Array3::from_elem((1, 9, 7), 1.0f32);
        for position in [None, Some("0,0")] {
            let options: Vec<(&str, &str)> =
                position.map(|p| ("position", p)).into_iter().collect();
            let out = apply(built("occlude", &options).as_ref(), image.view(), 1e34);
            assert_eq!(covered(&out, 0.0), 63, "{position:?}");
        }
    }

    #[test]
    fn a_centre_off_the_image_is_refused() {
        let image = Array3::from_elem((1, 28, 28), 1.0f32);
        for position in ["100,100", "-1,3", "3,28"] {
            let occlude = built("occlude", &[("position", position)]);
            let error = occlude
                .apply(image.view(), 4.0, &mut SeededRng::new(0, &[]))
                .err()
                .unwrap()
                .to_string();
            assert!(
                error.contains("outside the 28 x 28 images"),
                "{position}: {error}"
            );
        }
        let corner = built("occlude", &[("position", "27,27")]);
        // Side 4 centred on the last pixel: columns and rows 25 to 27.
        assert_eq!(covered(&apply(corner.as_ref(), image.view(), 4.0), 0.0), 9);
    }

    #[test]
    fn a_given_position_is_clipped_at_the_edge() {
        let image = Array3::from_elem((1, 10, 10), 1.0f32);
        let out = apply(
            built("occlude", &[("position", "0,0"), ("fill", "5")]).as_ref(),
            image.view(),
            4.0,
        );
        // Centred on (0, 0), the 4 x 4 square covers rows and columns -2..=1.
        assert_eq!(covered(&out, 5.0), 4);
    }

    #[test]
    fn random_squares_stay_inside_and_follow_the_seed() {
        let image = Array3::from_elem((1, 12, 12), 1.0f32);
        let occlude = built("occlude", &[("position", "random")]);
        let draw = |seed| {
            occlude
                .apply(image.view(), 5.0, &mut SeededRng::new(seed, &[]))
                .unwrap()
        };
        for seed in 0..20 {
            assert_eq!(covered(&draw(seed), 0.0), 25);
        }
        assert_eq!(draw(3), draw(3));
        assert!((0..20).any(|seed| draw(seed) != draw(0)));
        assert!(
            crate::perturb::build("occlude", &[("position".into(), "1;2".into())].into()).is_err()
        );
    }
}
