//! The probe's pictures and page, written beside results.json:
//! - `plots/<test>.svg` and `.png`: the score against the parameter (mean
//!   with its 95% interval, accuracy, the unperturbed level and the
//!   threshold), the classes as sorted bars, a property along its bins;
//! - `examples/<test>.png`: for each sweep, the first few examples (rows)
//!   at every level (columns), perturbed exactly as the run perturbed them;
//!   for a property or class test, the first few examples (columns) of each
//!   bin or class (rows);
//! - `report.html`: one self-contained page with the run, a summary table
//!   and every test's plot and examples.
//!
//! Everything here is drawn from the [`Report`] and the images it keeps
//! (each sweep's levels as the run perturbed them, each group's first
//! examples), after the run; nothing is measured or perturbed again: a failure to draw cannot lose the results, which are
//! already written. PNG charts need a font; without one the SVGs (which the
//! page inlines) are still written, and the returned notes say so.

use std::path::Path;

use ndarray::{Array4, Axis as ArrayAxis};

use super::{EXAMPLES, TestKind, TestResult, word};
use crate::engine::describe_shape;
use crate::html::{Figure, Page};
use crate::output::write_atomic;
use crate::plot::{Axis, Bar, BarChart, LineChart, Rasteriser, RefLine, Series, Size};
use crate::render::{self, Colouring, Composite, Grid, LabelledGrid, Labels, RgbImage, Stretch};
use crate::stats::{Direction, VERDICT_RULE, Verdict};
use crate::{Error, Result};

use super::Report;

/// Tiles of the example grids are enlarged to at least this many pixels a side.
const TILE_PIXELS: usize = 96;

/// Charts are rasterised at twice their size, for sharp text on any screen.
const PNG_SCALE: f32 = 2.0;

/// The stretch of the example grids, fitted once per example over all its
/// levels, so that a perturbation that dims or brightens shows as such.
pub const EXAMPLE_STRETCH: Stretch = Stretch::Percentile {
    low: 1.0,
    high: 99.5,
};

/// Writes plots/, examples/ and report.html into `out` for `report`, the
/// results of a run (from `sensie probe`, `sensie merge` or the Python
/// package); `command` is how the run was asked for. Returns notes for the
/// user about what could not be made (PNG charts without a font).
pub fn write_report(out: &Path, report: &Report, command: &str) -> Result<Vec<String>> {
    let plots = out.join("plots");
    let examples = out.join("examples");
    for dir in [&plots, &examples] {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut notes = Vec::new();
    let rasteriser = Rasteriser::system()
        .inspect_err(|e| notes.push(format!("PNG charts were not written, only SVG: {e}")))
        .ok();

    let mut page = Page::new(format!("sensie probe: {}", file_name(&report.model.path)));
    run_section(&mut page, report, command);
    summary_section(&mut page, report);
    let stems = file_stems(report.tests.iter().map(|t| t.name.as_str()));
    for (test, stem) in report.tests.iter().zip(stems) {
        let svg = chart(test);
        // Rasterising the chart and drawing the example grid are most of the
        // report's time (about 15 ms each on the MNIST CNN): side by side.
        let (png, grid) = rayon::join(
            || {
                rasteriser
                    .as_ref()
                    .map(|r| r.png(&svg, PNG_SCALE))
                    .transpose()
            },
            || examples_png(test, report),
        );
        write_atomic(&plots.join(format!("{stem}.svg")), svg.as_bytes())?;
        if let Some(png) = png? {
            write_atomic(&plots.join(format!("{stem}.png")), &png)?;
        }
        let mut figures = vec![Figure::svg(&svg, chart_caption(test))?];
        if let Some((png, caption)) = grid? {
            write_atomic(&examples.join(format!("{stem}.png")), &png)?;
            figures.push(Figure::png(
                &png,
                &format!("examples of {}", test.name),
                caption,
            ));
        }
        let section = page.section(format!("{} ({})", test.name, word(test.kind)));
        let grids = figures.split_off(1);
        section
            .paragraph(finding(test))
            .figures(figures)
            .figures(grids);
    }
    write_atomic(&out.join("report.html"), page.html().as_bytes())?;
    Ok(notes)
}

/// A test's example grid as a PNG, with its caption, when it has examples
/// to show: its levels' examples, or its groups'.
fn examples_png(test: &TestResult, report: &Report) -> Result<Option<(Vec<u8>, String)>> {
    if !test.level_examples.is_empty() {
        let grid = example_grid(test, &example_rows(report))?;
        Ok(Some((
            render::encode_png(&grid.image)?,
            grid_caption(test, report),
        )))
    } else if !test.group_examples.is_empty() {
        let grid = group_grid(&test.group_examples, &group_names(test))?;
        Ok(Some((
            render::encode_png(&grid.image)?,
            group_caption(test),
        )))
    } else {
        Ok(None)
    }
}

fn run_section(page: &mut Page, report: &Report, command: &str) {
    let shapes = |t: &[crate::model::TensorInfo]| {
        t.iter()
            .map(|t| format!("{} {}", t.name, describe_shape(&t.shape)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let rows = [
        ("model", report.model.path.display().to_string()),
        ("model input", shapes(&report.model.inputs)),
        (
            "model output",
            format!(
                "{} ({})",
                shapes(&report.model.outputs),
                word(report.model.output_kind)
            ),
        ),
        ("data", report.data.path.display().to_string()),
        (
            "examples",
            format!(
                "{} ({} left out for NaN or infinite pixels)",
                report.data.n,
                report.data.skipped.len()
            ),
        ),
        ("seed", report.seed.to_string()),
        ("bootstrap replicates", report.replicates.to_string()),
    ];
    page.section("Run").code(command).table(
        &["setting", "value"],
        rows.into_iter()
            .map(|(k, v)| vec![k.to_string(), v])
            .collect(),
        "",
    );
}

fn summary_section(page: &mut Page, report: &Report) {
    let rows = report
        .tests
        .iter()
        .map(|t| {
            let (change, interval) = match t.stats.effect.largest_drop.or(t.stats.effect.spread) {
                Some(e) => (
                    format!("{:.3}", e.value),
                    format!("[{:.3}, {:.3}]", e.ci95[0], e.ci95[1]),
                ),
                None => (String::new(), String::new()),
            };
            vec![
                t.name.clone(),
                word(t.kind),
                t.parameter.clone(),
                t.unit.clone(),
                change,
                interval,
                format!("{:.3}", t.stats.effect.size),
                word(t.stats.verdict),
            ]
        })
        .collect();
    page.section("Summary")
        .table(
            &["test", "kind", "parameter", "unit", "change", "95% interval", "effect", "verdict"],
            rows,
            "change: the largest drop from the unperturbed images (sweeps) or best minus worst group (property and class tests), \
             with its simultaneous 95% interval; effect: what the verdict reads.",
        )
        .paragraph(format!("Verdict rule: {VERDICT_RULE}"));
}

/// A test's chart as SVG: sweeps and binned properties as lines, classes
/// and discrete properties as bars sorted by mean score.
pub fn chart(test: &TestResult) -> String {
    if let Some(grid) = &test.grid {
        return grid_chart(test, grid);
    }
    let levels = &test.stats.levels;
    let higher_better = matches!(test.stats.direction, Direction::HigherIsBetter);
    // Classifier scores are probabilities: show all of [0, 1], so charts compare.
    let y = if higher_better {
        Axis::new(test.metric).with_range(0.0, 1.0)
    } else {
        Axis::new(test.metric)
    };
    let discrete = levels.iter().any(|l| l.label.is_some());
    if test.kind == TestKind::Class || discrete {
        let bars = levels
            .iter()
            .map(|l| Bar {
                label: l.label.clone().unwrap_or_else(|| format!("{}", l.value)),
                value: l.mean_score,
                interval: Some((l.score_ci95[0], l.score_ci95[1])),
            })
            .collect();
        // In the groups' own order, the order of the example rows beside it.
        return BarChart {
            title: title(test),
            x_label: test.parameter.clone(),
            y,
            bars,
            size: CHART_SIZE,
            in_given_order: true,
        }
        .svg();
    }
    let mean = Series {
        markers: true,
        ..Series::new(
            "mean score (95% interval)",
            levels.iter().map(|l| (l.value, l.mean_score)).collect(),
        )
    }
    .with_band(
        levels
            .iter()
            .map(|l| (l.value, l.score_ci95[0], l.score_ci95[1]))
            .collect(),
    );
    let mut series = vec![mean];
    if levels.iter().all(|l| l.accuracy.is_some()) {
        let points = levels
            .iter()
            .map(|l| (l.value, l.accuracy.unwrap_or(f64::NAN)))
            .collect();
        series.push(Series {
            dashed: true,
            markers: true,
            ..Series::new("accuracy", points)
        });
    }
    let mut lines = Vec::new();
    if let Some(y) = test.stats.effect.reference_mean {
        lines.push(RefLine::AtY {
            y,
            label: "unperturbed".into(),
        });
    }
    // A crossing is drawn only where the test found an effect: with a low
    // verdict the curve's wiggles cross the halfway score by chance.
    if let Some(t) = &test.stats.threshold
        && let Some(x) = t.value
        && test.stats.verdict != Verdict::Low
    {
        lines.push(RefLine::AtX {
            x,
            label: format!("score {:.2} crossed", t.score),
        });
    }
    let x_label = if test.kind == TestKind::Property {
        test.parameter.clone()
    } else {
        format!("{} ({})", test.parameter, test.unit)
    };
    LineChart {
        title: title(test),
        x: Axis::new(x_label),
        y,
        series,
        lines,
        size: CHART_SIZE,
    }
    .svg()
}

/// A grid test's heat map: the first perturbation along x, the second along
/// y, classifier scores coloured over all of [0, 1] as the line charts show them.
fn grid_chart(test: &TestResult, grid: &super::GridSummary) -> String {
    let axes = &grid.axes;
    let values = transposed(&grid.mean_score);
    let (low, high) = if test.stats.direction == Direction::HigherIsBetter {
        (0.0, 1.0)
    } else {
        values
            .iter()
            .flatten()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            })
    };
    let axis = |i: usize| {
        format!(
            "{} {} ({})",
            axes.perturbations[i], axes.parameters[i], axes.units[i]
        )
    };
    crate::plot::GridChart {
        title: title(test),
        x_label: axis(0),
        x_values: axes.values[0].clone(),
        y_label: axis(1),
        y_values: axes.values[1].clone(),
        values,
        marked: transposed(&grid.significant),
        marked_label: "change from unperturbed significant (simultaneous 95%)".into(),
        low,
        high,
        contour: Some(grid.threshold),
        colour_label: format!("mean {}", test.metric),
        size: CHART_SIZE,
    }
    .svg()
}

/// Rows along the first axis to rows along the second.
fn transposed<T: Copy>(cells: &[Vec<T>]) -> Vec<Vec<T>> {
    let columns = cells.first().map_or(0, Vec::len);
    (0..columns)
        .map(|j| cells.iter().map(|row| row[j]).collect())
        .collect()
}

/// The probe's charts: drawn at the page's width, on their own row, with
/// the example grids below, so that ticks are legible on the page and in a paper.
const CHART_SIZE: Size = Size {
    width: 820.0,
    height: 460.0,
};

/// The test and the score; the parameter is the x axis's label, and a
/// longer title would not fit a property's name beside it.
fn title(test: &TestResult) -> String {
    format!("{}: {}", test.name, test.metric)
}

fn chart_caption(test: &TestResult) -> String {
    match test.kind {
        TestKind::Perturbation => "Mean score per level with its 95% bootstrap interval (paired over examples), accuracy, \
                                   the mean score on the unperturbed images and, where the curve crosses it, the threshold."
            .into(),
        TestKind::Property => "Mean score per bin of the property (at the bin centre, or one bar per value) with 95% intervals.".into(),
        TestKind::Class => "Mean score per class with 95% intervals, in the order of the example rows.".into(),
        TestKind::Grid => match &test.grid {
            Some(grid) => super::grid::caption(grid, test.stats.verdict),
            None => String::new(),
        },
    }
}

/// The numbers behind a test's verdict, in a sentence or two.
fn finding(test: &TestResult) -> String {
    let effect = &test.stats.effect;
    let mut text = format!(
        "Verdict: {} (effect {:.3}).",
        word(test.stats.verdict),
        effect.size
    );
    if let (Some(drop), Some(at)) = (effect.largest_drop, effect.largest_drop_at) {
        text += &format!(
            " Largest drop from the unperturbed images: {:.3} [{:.3}, {:.3}] at {} = {at} {}.",
            drop.value, drop.ci95[0], drop.ci95[1], test.parameter, test.unit
        );
    }
    if let (Some(drop), Some(grid)) = (effect.largest_drop, &test.grid)
        && let Some([a, b]) = grid.largest_drop_at
    {
        text += &format!(
            " Largest drop from the unperturbed images: {:.3} [{:.3}, {:.3}] at {} = {a}, {} = {b}.",
            drop.value,
            drop.ci95[0],
            drop.ci95[1],
            grid.axes.perturbations[0],
            grid.axes.perturbations[1]
        );
    }
    if let Some(spread) = effect.spread {
        text += &format!(
            " Best minus worst group: {:.3} [{:.3}, {:.3}].",
            spread.value, spread.ci95[0], spread.ci95[1]
        );
    }
    // Groups without an order (classes, a discrete property's values) have
    // no parameter value where a score is crossed.
    let ordered =
        test.kind != TestKind::Class && test.stats.levels.iter().all(|l| l.label.is_none());
    if let Some(t) = test.stats.threshold.as_ref().filter(|_| ordered) {
        text += &match (t.value, t.ci95) {
            // A curve already on the bad side at its first level or group
            // "crosses" there by definition, with a degenerate interval
            // ("crosses 0.821 at 0.000 [0.000, 0.000]"), which reads as a
            // measured crossing; a property's worst group is often first.
            (Some(v), _) if starts_past(test, t.score) => format!(
                " The mean score is already {} {:.3} at the first {}, {} = {v}.",
                match test.stats.direction {
                    Direction::HigherIsBetter => "below",
                    Direction::LowerIsBetter => "above",
                },
                t.score,
                if test.kind == TestKind::Property {
                    "group"
                } else {
                    "level"
                },
                test.parameter
            ),
            (Some(v), Some([lo, hi])) => format!(
                " The mean score crosses {:.3} at {v:.3} [{lo:.3}, {hi:.3}].",
                t.score
            ),
            (Some(v), None) => format!(" The mean score crosses {:.3} at {v:.3}.", t.score),
            (None, _) => format!(" The mean score never crosses {:.3}.", t.score),
        };
    }
    text
}

/// Whether the first level's mean score is already on the bad side of
/// `score`; a property's first group large enough to take part in its
/// threshold, as the statistics choose them.
fn starts_past(test: &TestResult, score: f64) -> bool {
    let counts = |level: &&crate::stats::Level| {
        test.kind != TestKind::Property || level.n >= crate::stats::MIN_GROUP
    };
    let first = test.stats.levels.iter().find(counts);
    first.is_some_and(|first| match test.stats.direction {
        Direction::HigherIsBetter => first.mean_score < score,
        Direction::LowerIsBetter => first.mean_score > score,
    })
}

fn grid_caption(test: &TestResult, report: &Report) -> String {
    let values = level_values(test);
    let colours = render::band_colours(report.examples.len_of(ArrayAxis(1)));
    let rows: Vec<String> = report
        .example_labels
        .iter()
        .zip(&report.data.shown)
        .map(|(label, name)| format!("example {}, label {label}", name.id))
        .collect();
    format!(
        "The first {} examples (rows, top to bottom: {}) at {} = {} (columns, left to right), perturbed with the run's seed ({}), \
         as the model saw them before preprocessing. Each row has one stretch (percentiles 1 to 99.5 over all its levels), so \
         dimming shows.{colours}",
        report.examples.len_of(ArrayAxis(0)),
        rows.join("; "),
        test.parameter,
        values.join(", "),
        report.seed,
    )
}

/// A sweep's levels as the example grid's columns head them.
fn level_values(test: &TestResult) -> Vec<String> {
    test.stats
        .levels
        .iter()
        .map(|l| super::value_text(l.value))
        .collect()
}

/// Examples x levels as one picture: row `i` is example `i` of the sweep
/// `test` at every level (its `level_examples`, as the run perturbed them).
/// `rows` label the examples (their ids and labels); each level's value
/// heads its column.
pub fn example_grid(test: &TestResult, rows: &[String]) -> Result<LabelledGrid> {
    let levels = &test.level_examples;
    let Some((n, c, h, w)) = levels.first().map(Array4::dim).filter(|d| d.0 > 0) else {
        return Err(Error::invalid(
            "example grid",
            "there are no examples to show",
        ));
    };
    let bands = render::display_bands(c);
    let mut tiles = Vec::with_capacity(n * levels.len());
    for example in 0..n {
        let row: Vec<_> = levels
            .iter()
            .map(|l| l.index_axis(ArrayAxis(0), example))
            .collect();
        let scale = EXAMPLE_STRETCH.fit(row.iter().flat_map(|image| image.iter().copied()))?;
        let how = Composite {
            bands,
            colouring: Colouring::Scale(scale),
        };
        for image in &row {
            tiles.push(render::composite(*image, &how)?);
        }
    }
    let labels = Labels {
        columns: level_values(test),
        rows: rows.to_vec(),
    };
    tile_grid(&tiles, levels.len().max(1), (h, w), &labels)
}

/// The example grids' row labels: each example's id and label.
pub fn example_rows(report: &Report) -> Vec<String> {
    report
        .example_labels
        .iter()
        .zip(&report.data.shown)
        .map(|(label, name)| format!("example {}, label {label}", name.id))
        .collect()
}

/// The example grids' layout: tiles of `size` (height, width) enlarged to
/// at least [`TILE_PIXELS`], on white, with `labels` drawn in.
fn tile_grid(
    tiles: &[RgbImage],
    columns: usize,
    (h, w): (usize, usize),
    labels: &Labels,
) -> Result<LabelledGrid> {
    let size = (w as u32, h as u32);
    let layout = Grid::sized(columns, tiles.len(), size, TILE_PIXELS as u32, 4, [255; 3]);
    render::labelled(tiles, &layout, labels)
}

/// Groups x examples as one picture: row `j` holds the first examples of
/// group `j` (a property's bin, a class) as the data set has them, each with
/// its own stretch; a group with fewer examples leaves its cells blank.
/// `rows` name the groups.
pub fn group_grid(groups: &[Array4<f32>], rows: &[String]) -> Result<LabelledGrid> {
    let Some(first) = groups.iter().find(|g| !g.is_empty()) else {
        return Err(Error::invalid(
            "example grid",
            "there are no examples to show",
        ));
    };
    let (_, c, h, w) = first.dim();
    let bands = render::display_bands(c);
    let blank = RgbImage::from_pixel(w as u32, h as u32, image::Rgb([255, 255, 255]));
    let mut tiles = Vec::with_capacity(groups.len() * EXAMPLES);
    for group in groups {
        for i in 0..EXAMPLES {
            if i >= group.len_of(ArrayAxis(0)) {
                tiles.push(blank.clone());
                continue;
            }
            let example = group.index_axis(ArrayAxis(0), i);
            let scale = EXAMPLE_STRETCH.fit(example.iter().copied())?;
            tiles.push(render::composite(
                example,
                &Composite {
                    bands,
                    colouring: Colouring::Scale(scale),
                },
            )?);
        }
    }
    let labels = Labels {
        columns: Vec::new(),
        rows: rows.to_vec(),
    };
    tile_grid(&tiles, EXAMPLES, (h, w), &labels)
}

/// The groups of a property or class test shown in its grid: a class's
/// name, a bin's range or a discrete value.
pub fn group_names(test: &TestResult) -> Vec<String> {
    test.stats
        .levels
        .iter()
        .take(test.group_examples.len())
        .map(|l| match (&l.label, l.lo, l.hi) {
            (Some(label), ..) => label.clone(),
            (None, Some(lo), Some(hi)) => format!("{lo:.3} to {hi:.3}"),
            _ => format!("{}", l.value),
        })
        .collect()
}

fn group_caption(test: &TestResult) -> String {
    let groups: Vec<String> = group_names(test)
        .into_iter()
        .zip(&test.shown)
        .map(|(group, names)| {
            format!(
                "{group}: {}",
                names
                    .iter()
                    .map(|n| n.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    let (shown, all) = (test.group_examples.len(), test.stats.levels.len());
    let left_out = if shown < all {
        format!(" Only the first {shown} of {all} groups are shown.")
    } else {
        String::new()
    };
    format!(
        "The first {EXAMPLES} examples (columns) of each group of {} (rows: {}), as the data set holds them, each with its own \
         stretch (percentiles 1 to 99.5).{left_out}",
        test.parameter,
        groups.join("; "),
    )
}

/// The file stems of a run's tests, in order ([`file_stem`] of each name),
/// one apart from another: names that map to the same stem (`property:a b`,
/// `property:a_b`, `property:a/b`) get `-2`, `-3`, ..., so no test's plot or
/// example grid is written over another's.
pub fn file_stems<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut taken = std::collections::HashSet::new();
    names
        .into_iter()
        .map(|name| {
            let stem = file_stem(name);
            let free = (1..)
                .map(|k| {
                    if k == 1 {
                        stem.clone()
                    } else {
                        format!("{stem}-{k}")
                    }
                })
                .find(|s| !taken.contains(s))
                .expect("some suffix is free");
            taken.insert(free.clone());
            free
        })
        .collect()
}

/// A test name as a file name: letters, digits, `-` and `_` kept, anything
/// else (the `:` of `property:x`, the `#` of a repeated sweep) made `_`.
pub fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_of_names_that_map_alike_stay_apart() {
        // Three properties whose names all became property_a_b: one chart
        // was written over the other two.
        let names = [
            "property:a b",
            "property:a_b",
            "property:a/b",
            "rotate",
            "property:a_b-2",
        ];
        assert_eq!(
            file_stems(names),
            [
                "property_a_b",
                "property_a_b-2",
                "property_a_b-3",
                "rotate",
                "property_a_b-2-2"
            ]
        );
    }
}
