//! Two perturbations varied jointly: every pair of their values, the first
//! perturbation applied first (seeing then magnitude, rotation then blur).
//!
//! A grid runs as one more sweep of the same streamed pass, whose levels are
//! the grid's cells in row-major order (first perturbation's value slow, the
//! second's fast): [`Joint`] maps a cell to its pair of values and applies
//! both. Each part draws its random numbers from its own stream, as in a
//! sweep of its own, so a cell whose other value is the identity scores
//! exactly as that value's level of a one-perturbation sweep (but in a grid
//! of one perturbation with itself, whose second axis has streams of its
//! own: `Joint::second_seed`). The paired
//! statistics of a sweep then hold per cell; the result is relabelled as a
//! `grid` test whose levels carry both values, with a map of the cells whose
//! change from the unperturbed images is significant (the simultaneous band
//! over all cells, the one a sweep's verdict reads).

use std::collections::BTreeMap;

use ndarray::{Array3, Array4, ArrayView3, ArrayView4, ArrayViewMut4};
use serde::Serialize;

use super::{Sweep, TestKind, TestResult};
use crate::perturb::{self, Parameter, Perturbation};
use crate::rng::{SeededRng, derive_seed, name_hash};
use crate::stats::Verdict;
use crate::{Error, Result};

use super::config::GridSpec;

/// One axis of a grid: a perturbation and its values.
pub struct GridAxis {
    pub perturbation: Box<dyn Perturbation>,
    pub values: Vec<f64>,
    pub options: BTreeMap<String, String>,
}

/// Both perturbations of a grid, applied to a cell's pair of values.
pub struct Joint {
    name: String,
    axes: [GridAxis; 2],
}

/// A grid ready to run: its sweep over the cells, and its axes described.
pub struct Grid {
    /// The sweep over the cells.
    pub sweep: Sweep,
    /// The axes, as results.json describes them.
    pub axes: GridAxes,
}

/// A grid's axes as results.json describes them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GridAxes {
    /// The two perturbations, in the order applied.
    pub perturbations: [String; 2],
    /// The two perturbations' parameter names.
    pub parameters: [String; 2],
    /// The two parameters' units.
    pub units: [String; 2],
    /// The two perturbations' options.
    pub options: [BTreeMap<String, String>; 2],
    /// Each axis's values; cell (i, j) is level i x (second axis's length) + j.
    pub values: [Vec<f64>; 2],
}

/// What results.json says about a grid, beside its levels (one per cell,
/// each with both values).
#[derive(Clone, Debug, Serialize)]
pub struct GridSummary {
    /// The grid's axes.
    #[serde(flatten)]
    pub axes: GridAxes,
    /// Mean score per cell, rows along the first axis.
    pub mean_score: Vec<Vec<f64>>,
    /// Whether the cell's change from the unperturbed mean has a simultaneous
    /// 95% interval (max-|t| over all cells) that excludes zero.
    pub significant: Vec<Vec<bool>>,
    /// The score whose contour the heat map draws: the run's threshold, or
    /// halfway between the best and worst cell.
    pub threshold: f64,
    /// The cell of the largest drop from the unperturbed images.
    pub largest_drop_at: Option<[f64; 2]>,
}

impl Joint {
    /// The two values of cell `value` (along the first axis, then the
    /// second), refusing anything but a cell index.
    fn cell(&self, value: f64) -> Result<[f64; 2]> {
        let columns = self.axes[1].values.len();
        let cells = self.axes[0].values.len() * columns;
        if value.fract() != 0.0 || value < 0.0 || value >= cells as f64 {
            return Err(Error::invalid(
                format!("cell {value} of grid '{}'", self.name),
                format!("a grid's levels are its cells 0 to {}", cells - 1),
            ));
        }
        let cell = value as usize;
        Ok([
            self.axes[0].values[cell / columns],
            self.axes[1].values[cell % columns],
        ])
    }
}

impl Perturbation for Joint {
    fn name(&self) -> &str {
        &self.name
    }

    /// The cell index; the identity is the cell where both values are their
    /// perturbations' identities (NaN, never matched, when there is none).
    fn parameter(&self) -> Parameter {
        let identity = |axis: &GridAxis| {
            let id = axis.perturbation.parameter().identity;
            axis.values.iter().position(|&v| v == id)
        };
        let cell = match (identity(&self.axes[0]), identity(&self.axes[1])) {
            (Some(i), Some(j)) => (i * self.axes[1].values.len() + j) as f64,
            _ => f64::NAN,
        };
        Parameter {
            name: "cell",
            unit: "index",
            identity: cell,
        }
    }

    fn check(&self, value: f64) -> Result<()> {
        self.cell(value).map(|_| ())
    }

    fn apply(
        &self,
        image: ArrayView3<f32>,
        value: f64,
        rng: &mut SeededRng,
    ) -> Result<Array3<f32>> {
        let [a, b] = self.cell(value)?;
        let first = self.axes[0].perturbation.apply(image, a, rng)?;
        self.axes[1].perturbation.apply(first.view(), b, rng)
    }

    /// The first perturbation into a batch of its own, the second from it
    /// into `out`, each with the random streams of a sweep of its own.
    fn apply_batch_into(
        &self,
        images: ArrayView4<f32>,
        value: f64,
        seed: u64,
        first_example: usize,
        out: ArrayViewMut4<f32>,
    ) -> Result<()> {
        let [a, b] = self.cell(value)?;
        let mut between = Array4::zeros(images.dim());
        perturb::perturb_batch_into(
            self.axes[0].perturbation.as_ref(),
            images,
            a,
            seed,
            first_example,
            between.view_mut(),
        )?;
        perturb::perturb_batch_into(
            self.axes[1].perturbation.as_ref(),
            between.view(),
            b,
            self.second_seed(seed),
            first_example,
            out,
        )
    }
}

impl Joint {
    /// The seed of the second axis's random streams. A stream is named by
    /// the perturbation, the example and the value, so a grid of one
    /// perturbation with itself would draw the same numbers twice in every
    /// cell whose two values are equal: gaussian-noise x gaussian-noise
    /// would add one noise twice (twice its standard deviation, not sqrt 2
    /// times), two random occluders would cover one spot. Such a grid's
    /// second axis draws from streams of its own; any other grid's keeps the
    /// run's seed, so that a cell whose first value is the identity scores
    /// as that value's level of a sweep.
    fn second_seed(&self, seed: u64) -> u64 {
        if self.axes[0].perturbation.name() == self.axes[1].perturbation.name() {
            derive_seed(seed, &[name_hash("second axis of a grid")])
        } else {
            seed
        }
    }
}

impl Grid {
    /// Builds the grid of `spec`, refusing unknown perturbations, options
    /// and values before any model work; `name` is its unique test name.
    pub fn build(spec: &GridSpec, name: String) -> Result<Grid> {
        spec.check()?;
        let axis = |i: usize| -> Result<GridAxis> {
            let part = &spec.perturb[i];
            let options = part.option_text();
            let perturbation = perturb::build(&part.name, &options)?;
            let values = part.levels()?;
            for &v in &values {
                perturbation.check(v)?;
            }
            Ok(GridAxis {
                perturbation,
                values,
                options,
            })
        };
        let axes = [axis(0)?, axis(1)?];
        let cells = axes[0].values.len() * axes[1].values.len();
        if cells > crate::limits::MAX_LEVELS * 4 {
            return Err(Error::invalid(
                format!("grid '{name}'"),
                format!(
                    "{cells} cells; a grid has at most {} (fewer values per axis)",
                    crate::limits::MAX_LEVELS * 4
                ),
            ));
        }
        let described = |f: &dyn Fn(&GridAxis) -> String| [f(&axes[0]), f(&axes[1])];
        let summary = GridAxes {
            perturbations: described(&|a| a.perturbation.name().to_string()),
            parameters: described(&|a| a.perturbation.parameter().name.to_string()),
            units: described(&|a| a.perturbation.parameter().unit.to_string()),
            options: [axes[0].options.clone(), axes[1].options.clone()],
            values: [axes[0].values.clone(), axes[1].values.clone()],
        };
        Ok(Grid {
            sweep: Sweep {
                name: name.clone(),
                perturbation: Box::new(Joint { name, axes }),
                values: (0..cells).map(|c| c as f64).collect(),
                options: BTreeMap::new(),
            },
            axes: summary,
        })
    }
}

/// Turns the sweep result of a grid's cells into the grid's result: kind
/// `grid`, each level with its two values, and the grid summary built from
/// `band`, each cell's simultaneous interval of the change from the
/// unperturbed mean. A slope and threshold crossing along the cell index
/// mean nothing, so they are dropped (the heat map's contour replaces the
/// crossing).
pub fn grid_result(
    axes: &GridAxes,
    mut result: TestResult,
    band: &[[f64; 2]],
    threshold: Option<f64>,
) -> TestResult {
    let columns = axes.values[1].len();
    let pair = |cell: usize| {
        [
            axes.values[0][cell / columns],
            axes.values[1][cell % columns],
        ]
    };
    for (cell, level) in result.stats.levels.iter_mut().enumerate() {
        level.values = Some(pair(cell));
    }
    let means: Vec<f64> = result.stats.levels.iter().map(|l| l.mean_score).collect();
    let significant: Vec<bool> = band.iter().map(|&[lo, hi]| lo > 0.0 || hi < 0.0).collect();
    let threshold = threshold.unwrap_or_else(|| {
        let (lo, hi) = means
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &m| {
                (lo.min(m), hi.max(m))
            });
        (lo + hi) / 2.0
    });
    let effect = &mut result.stats.effect;
    let largest_drop_at = effect
        .largest_drop_at
        .take()
        .map(|cell| pair(cell as usize));
    effect.range_change = None;
    result.stats.slope = None;
    result.stats.threshold = None;
    result.kind = TestKind::Grid;
    result.parameter = format!("{} x {}", axes.parameters[0], axes.parameters[1]);
    result.unit = format!("{} x {}", axes.units[0], axes.units[1]);
    result.identity = None;
    result.grid = Some(GridSummary {
        axes: axes.clone(),
        mean_score: rows(&means, columns),
        significant: rows(&significant, columns),
        threshold,
        largest_drop_at,
    });
    result
}

/// Cells in row-major order as rows of `columns`.
fn rows<T: Clone>(cells: &[T], columns: usize) -> Vec<Vec<T>> {
    cells.chunks(columns).map(<[T]>::to_vec).collect()
}

/// The verdict words of a grid, for the report's caption.
pub fn caption(summary: &GridSummary, verdict: Verdict) -> String {
    format!(
        "Mean score over {} ({} values) x {} ({} values), {} applied first; dots: cells whose change from the unperturbed \
         images is significant (simultaneous 95% band over all cells, paired over examples); line: where the mean score \
         crosses {:.3}. Verdict {}.",
        summary.axes.perturbations[0],
        summary.axes.values[0].len(),
        summary.axes.perturbations[1],
        summary.axes.values[1].len(),
        summary.axes.perturbations[0],
        summary.threshold,
        crate::probe::word(verdict),
    )
}

#[cfg(test)]
mod tests {
    use ndarray::Array3;

    use super::*;

    #[test]
    fn a_grid_of_one_noise_with_itself_draws_independent_noise_on_the_diagonal() {
        // Cell (0.5, 0.5) of gaussian-noise x gaussian-noise on blank images:
        // independent draws add to a standard deviation of 0.5 sqrt 2 = 0.707;
        // the same draws twice would give 1.0. 8 x 32 x 32 pixels: the
        // sample standard deviation's error is about 0.707 / sqrt(2 x 8192)
        // = 0.0055, the tolerance 0.03.
        let spec = GridSpec::parse("gaussian-noise=0.5,gaussian-noise=0.5").unwrap();
        let grid = Grid::build(&spec, "g".into()).unwrap();
        let images = Array4::<f32>::zeros((8, 1, 32, 32));
        let mut out = Array4::<f32>::zeros(images.dim());
        grid.sweep
            .perturbation
            .apply_batch_into(images.view(), 0.0, 7, 0, out.view_mut())
            .unwrap();
        let n = out.len() as f64;
        let std = (out.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / n).sqrt();
        assert!((std - 0.5 * 2f64.sqrt()).abs() < 0.03, "{std}");
    }

    #[test]
    fn a_cell_applies_the_first_perturbation_then_the_second() {
        // Occluding then blurring smears the square's edge; blurring then
        // occluding leaves a sharp square: the order is visible.
        let spec = GridSpec::parse("occlude=0,8,blur=0,1.5").unwrap();
        let grid = Grid::build(&spec, "g".into()).unwrap();
        assert_eq!(grid.sweep.values, vec![0.0, 1.0, 2.0, 3.0]);
        assert_eq!(grid.sweep.perturbation.parameter().identity, 0.0);
        let image = Array3::from_shape_fn((1, 16, 16), |(_, y, x)| (x * 16 + y) as f32);
        let mut rng = SeededRng::new(0, &[]);
        let cell = grid
            .sweep
            .perturbation
            .apply(image.view(), 3.0, &mut rng)
            .unwrap();
        let occlude = perturb::build("occlude", &BTreeMap::new()).unwrap();
        let blur = perturb::build("blur", &BTreeMap::new()).unwrap();
        let occluded = occlude.apply(image.view(), 8.0, &mut rng).unwrap();
        let in_order = blur.apply(occluded.view(), 1.5, &mut rng).unwrap();
        let blurred = blur.apply(image.view(), 1.5, &mut rng).unwrap();
        let reversed = occlude.apply(blurred.view(), 8.0, &mut rng).unwrap();
        assert_eq!(cell, in_order);
        assert_ne!(cell, reversed);
        // Cell 1 is (occlude 0, blur 1.5): the blur alone.
        let cell = grid
            .sweep
            .perturbation
            .apply(image.view(), 1.0, &mut rng)
            .unwrap();
        assert_eq!(cell, blurred);
        assert!(grid.sweep.perturbation.check(4.0).is_err());
        assert!(grid.sweep.perturbation.check(0.5).is_err());
    }

    #[test]
    fn grid_specs_split_at_the_second_name() {
        let spec = GridSpec::parse("rotate=0,45,90,blur=0:2:5").unwrap();
        assert_eq!(spec.perturb[0].levels().unwrap(), vec![0.0, 45.0, 90.0]);
        assert_eq!(spec.perturb[1].levels().unwrap().len(), 5);
        let spec = GridSpec::parse("psf(profile=moffat,beta=3)=0,1,magnitude=0:1:3").unwrap();
        assert_eq!(spec.perturb[0].option_text()["beta"], "3");
        assert_eq!(spec.perturb[1].name, "magnitude");
        for bad in [
            "rotate=0:90:7",
            "rotate=0,1,blur=0,1,zoom=1,2",
            "rotate=0:90:7,blur",
        ] {
            assert!(GridSpec::parse(bad).is_err(), "{bad}");
        }
    }
}
