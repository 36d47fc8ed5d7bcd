//! What `sensie explain` writes: one `.npy` per method (and per CAM layer);
//! `explain.json` summarising the run (the examples, their targets, each
//! method's files and shapes, Integrated Gradients' completeness gaps); per
//! example and method a PNG of the input, the map and the overlay; the
//! sanity and faithfulness charts (SVG, and PNG where fonts are found); and
//! `explain.html`, one self-contained page with all of it.

use std::path::{Path, PathBuf};

use ndarray::ArrayView4;
use serde::Serialize;

use super::faithfulness::Faithfulness;
use super::figures::{self, Drawing};
use super::run::ExplainRun;
use super::sanity::Sanity;
use super::{Attribution, Geometry, MapKind};
use crate::data::name::Name;
use crate::html::{Figure, Page};
use crate::model::Layout;
use crate::output::write_atomic;
use crate::output::write_npy;
use crate::plot::{LineChart, Rasteriser};
use crate::render::{self, HeatScale};
use crate::{Error, Result};

/// `explain.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// The model explained.
    pub model: PathBuf,
    /// The data the examples came from.
    pub data: PathBuf,
    /// The examples' indices in the data.
    pub examples: Vec<usize>,
    /// The examples' names: path under the data folder (or index) and stem.
    pub names: Vec<Name>,
    /// The examples' labels, when the data has them.
    pub labels: Option<Vec<usize>>,
    /// The class the model predicts for each example.
    pub predicted: Vec<usize>,
    /// The class explained for each example.
    pub targets: Vec<usize>,
    /// How the targets were chosen: label, predicted or a class.
    pub target: String,
    /// The score explained: logit or probability.
    pub score: String,
    /// A model with one sigmoid output: how its two classes' scores are
    /// read (class 1 the output's, class 0 its complement).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary: Option<String>,
    /// The layout of the model's input, for reading the maps.
    pub layout: Option<Layout>,
    /// Every method's entry.
    pub methods: Vec<MethodSummary>,
}

/// One method's entry in `explain.json`.
#[derive(Clone, Debug, Serialize)]
pub struct MethodSummary {
    /// The method's name.
    pub method: String,
    /// What the map holds: one value per pixel, a class activation map or a grid.
    pub kind: MapKind,
    /// The map's `.npy` file in the output folder.
    pub file: String,
    /// The map's shape.
    pub shape: Vec<usize>,
    /// CAM methods: the layer and the file of the map at its resolution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// The map at the layer's own resolution (class activation maps), as `.npy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer_file: Option<String>,
    /// That map's shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer_shape: Option<Vec<usize>>,
    /// Integrated Gradients: per example, `sum(attributions) - (f(x) - f(baseline))`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completeness_gap: Option<Vec<f32>>,
    /// The same divided by `|f(x) - f(baseline)|`; `None` (null) for an
    /// example whose baseline scores as it does (no change to divide by).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relative_completeness_gap: Option<Vec<Option<f32>>>,
    /// LRP: per example, the input relevance's sum over the target's logit
    /// (1 when relevance is conserved; biases and stabilisers absorb some).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conservation_ratio: Option<Vec<f32>>,
    /// Grid maps (blur-saliency): the side in pixels of each value's cell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<usize>,
    /// Seconds the method took.
    pub seconds: f64,
}

impl MethodSummary {
    /// Integrated Gradients: the largest relative completeness gap over the
    /// examples whose score changed from the baseline (`None` when none
    /// did), NaN when any is (a NaN map must not read as a gap of 0%).
    pub fn worst_completeness_gap(&self) -> Option<f32> {
        let gaps = self.relative_completeness_gap.as_ref()?;
        gaps.iter().flatten().fold(None, |worst: Option<f32>, g| {
            Some(match worst {
                Some(w) if w.is_nan() || g.is_nan() => f32::NAN,
                Some(w) => w.max(g.abs()),
                None if g.is_nan() => f32::NAN,
                None => g.abs(),
            })
        })
    }

    /// Integrated Gradients' completeness in words, as the command line
    /// prints it and explain.html writes it. Never "NaN%": a NaN map is
    /// said to be one, and examples whose baseline scores as they do
    /// (f(x) = f(baseline), as for a baseline equal to the input) are
    /// counted apart, having no change to compare the gap with.
    pub fn completeness_note(&self) -> Option<String> {
        let gaps = self.completeness_gap.as_ref()?;
        if gaps.iter().any(|g| !g.is_finite()) {
            return Some(
                "completeness gap not finite: a map or score is NaN or infinite, so the maps cannot be trusted"
                    .into(),
            );
        }
        let mut parts = Vec::new();
        if let Some(worst) = self.worst_completeness_gap() {
            parts.push(format!(
                "completeness gap at most {:.3}% of f(x) - f(baseline)",
                100.0 * worst
            ));
        }
        let unchanged: Vec<f32> = match &self.relative_completeness_gap {
            Some(relative) => gaps
                .iter()
                .zip(relative)
                .filter(|(_, r)| r.is_none())
                .map(|(g, _)| g.abs())
                .collect(),
            None => Vec::new(),
        };
        if !unchanged.is_empty() {
            parts.push(format!(
                "f(x) - f(baseline) is 0 for {} of {} example(s): the baseline scores as the input does, so there is \
                 nothing to attribute (their maps sum to at most {:.3e} in absolute value)",
                unchanged.len(),
                gaps.len(),
                unchanged.iter().fold(0.0f32, |a, &b| a.max(b))
            ));
        }
        Some(parts.join("; "))
    }

    /// The entry of a method of `kind` that gave `attribution` in `seconds`.
    pub fn of(
        method: &str,
        kind: MapKind,
        attribution: &Attribution,
        seconds: f64,
    ) -> MethodSummary {
        let mut summary = MethodSummary {
            method: method.to_string(),
            kind,
            file: format!("{method}.npy"),
            shape: attribution.map.shape().to_vec(),
            layer: None,
            layer_file: None,
            layer_shape: None,
            completeness_gap: None,
            relative_completeness_gap: None,
            conservation_ratio: attribution.conservation.clone(),
            cell: match kind {
                MapKind::Grid { cell } => Some(cell),
                _ => None,
            },
            seconds,
        };
        if let Some(layer) = &attribution.layer {
            summary.layer = Some(layer.name.clone());
            summary.layer_file = Some(format!("{method}-layer.npy"));
            summary.layer_shape = Some(layer.map.shape().to_vec());
        }
        if let Some(c) = &attribution.completeness {
            summary.relative_completeness_gap = Some(
                c.gap
                    .iter()
                    .zip(&c.score_change)
                    .map(|(g, d)| (*d != 0.0).then(|| g / d.abs()))
                    .collect(),
            );
            summary.completeness_gap = Some(c.gap.clone());
        }
        summary
    }
}

/// The entries [`write_run`] writes into its folder for `methods`, by
/// name: what a forced run may replace only when an earlier sensie run
/// wrote them (see [`crate::output::OutputDir::claim`]).
pub fn output_names(methods: &[String]) -> Vec<String> {
    let fixed = [
        "explain.json",
        "sanity.json",
        "faithfulness.json",
        "explain.html",
        "sanity.svg",
        "sanity.png",
        "faithfulness-deletion.svg",
        "faithfulness-deletion.png",
        "faithfulness-insertion.svg",
        "faithfulness-insertion.png",
    ];
    let mut names: Vec<String> = fixed.iter().map(|n| n.to_string()).collect();
    for method in methods {
        names.extend([
            format!("{method}.npy"),
            format!("{method}-layer.npy"),
            method.clone(),
        ]);
    }
    names
}

/// Writes a run into `dir` as `sensie explain` does: each method's maps
/// (`<method>.npy`, and `<method>-layer.npy` for CAM methods),
/// explain.json, sanity.json and faithfulness.json when the checks ran,
/// and the pictures, charts and explain.html (see [`write_figures`]).
/// Returns notes for the user (what was skipped and why).
pub fn write_run(dir: &Path, run: &ExplainRun, drawing: &Drawing) -> Result<Vec<String>> {
    for (summary, attribution) in run.summary.methods.iter().zip(&run.attributions) {
        write_npy(&dir.join(&summary.file), &attribution.map)?;
        if let (Some(file), Some(layer)) = (&summary.layer_file, &attribution.layer) {
            write_npy(&dir.join(file), &layer.map)?;
        }
    }
    write_json(&dir.join("explain.json"), &run.summary)?;
    if let Some(sanity) = &run.sanity {
        write_json(&dir.join("sanity.json"), sanity)?;
    }
    if let Some(curves) = &run.faithfulness {
        write_json(&dir.join("faithfulness.json"), curves)?;
    }
    let checks = Checks {
        sanity: run.sanity.as_ref(),
        faithfulness: run.faithfulness.as_ref(),
    };
    write_figures(
        dir,
        &run.geometry,
        run.display.view(),
        &run.summary,
        &run.attributions,
        checks,
        drawing,
    )
}

/// The checks that were run, for the page.
#[derive(Clone, Copy, Default)]
pub struct Checks<'a> {
    /// The sanity check's result, when it ran.
    pub sanity: Option<&'a Sanity>,
    /// The deletion and insertion curves, when they ran.
    pub faithfulness: Option<&'a Faithfulness>,
}

/// Writes the pictures, the charts and `explain.html` for a run: `results`
/// in the order of `summary.methods`, `images` what the pictures show (see
/// [`figures::example_pictures`]). Charts are SVG, and also PNG when a font
/// is found. Returns notes for the user (what was skipped and why).
pub fn write_figures(
    dir: &Path,
    geometry: &Geometry,
    images: ArrayView4<f32>,
    summary: &Summary,
    results: &[Attribution],
    checks: Checks,
    drawing: &Drawing,
) -> Result<Vec<String>> {
    let Checks {
        sanity,
        faithfulness: curves,
    } = checks;
    let mut notes = Vec::new();
    let mut page = Page::new(format!("sensie explain: {}", summary.model.display()));
    let examples = page.section("Examples");
    let binary = summary
        .binary
        .as_ref()
        .map(|b| format!(" {b}."))
        .unwrap_or_default();
    examples.paragraph(format!(
        "Model {}, data {}; the score explained is the target's {}; targets: {}.{binary}{}",
        summary.model.display(),
        summary.data.display(),
        summary.score,
        summary.target,
        render::band_colours(images.dim().1)
    ));
    let rows = (0..summary.examples.len())
        .map(|i| {
            let label = summary
                .labels
                .as_ref()
                .map_or("-".to_string(), |l| l[i].to_string());
            vec![
                summary.examples[i].to_string(),
                summary.names[i].id.clone(),
                label,
                summary.predicted[i].to_string(),
                summary.targets[i].to_string(),
            ]
        })
        .collect();
    examples.table(
        &["example", "name", "label", "predicted", "target"],
        rows,
        "The examples explained.",
    );

    let rasteriser = match Rasteriser::system() {
        Ok(r) => Some(r),
        Err(e) => {
            notes.push(format!("charts written as SVG only: {e}"));
            None
        }
    };
    for (m, attribution) in summary.methods.iter().zip(results) {
        let section = page.section(&m.method);
        section.paragraph(method_note(m));
        let pictures = figures::example_pictures(
            &m.method,
            geometry,
            images.view(),
            attribution,
            m.kind,
            drawing,
        )?;
        let folder = dir.join(&m.method);
        std::fs::create_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
        let mut row = Vec::new();
        for (((picture, scale), &example), name) in
            pictures.iter().zip(&summary.examples).zip(&summary.names)
        {
            render::write_png(picture, &folder.join(format!("{example}.png")))?;
            row.push(Figure::picture(
                picture,
                &format!("{} of example {example}", m.method),
                caption(example, &name.id, scale),
            )?);
        }
        section.figures(row);
    }
    if let Some(sanity) = sanity {
        let figure = chart(dir, "sanity", &figures::sanity_chart(sanity), rasteriser)?;
        let section = page.section("Sanity: model randomisation");
        section.paragraph(format!(
            "Adebayo et al. (2018): the layers are randomised from the top down, cascading ({}), and each map is compared \
             with the trained model's by Spearman rank correlation. A method that explains the model decorrelates; one whose \
             maps stay alike shows the input rather than the model. Numbers per example: sanity.json.",
            sanity.layers.join(", ")
        ));
        section.figure(figure);
    }
    if let Some(curves) = curves {
        let [deletion, insertion] = figures::faithfulness_charts(curves);
        let section = page.section("Faithfulness: deletion and insertion");
        section.paragraph(format!(
            "Petsiuk et al. (2018): the most attributed pixels are deleted (set to {}) or inserted into the input blurred by \
             a Gaussian of {:.1} pixels, and the target's {} is recorded. A faithful map makes deletion fall fast \
             and insertion rise fast; `random` ranks pixels at random. Numbers per example: faithfulness.json.",
            curves.fill, curves.blur_sigma, curves.score
        ));
        let rows = curves
            .methods
            .iter()
            .map(|m| {
                vec![
                    m.method.clone(),
                    format!("{:.3}", m.deletion.mean_auc),
                    format!("{:.3}", m.insertion.mean_auc),
                ]
            })
            .collect();
        section.table(
            &["method", "deletion AUC", "insertion AUC"],
            rows,
            "Mean areas under the curves.",
        );
        section.figures(vec![
            chart(dir, "faithfulness-deletion", &deletion, rasteriser)?,
            chart(dir, "faithfulness-insertion", &insertion, rasteriser)?,
        ]);
    }
    page.write(&dir.join("explain.html"))?;
    Ok(notes)
}

/// A method's section text: its files and, for Integrated Gradients, the
/// completeness gaps.
fn method_note(m: &MethodSummary) -> String {
    let mut text = format!("Maps: {} {:?}", m.file, m.shape);
    if let (Some(layer), Some(file)) = (&m.layer, &m.layer_file) {
        text += &format!("; at layer {layer}: {file}");
    }
    if let Some(note) = m.completeness_note() {
        text += &format!("; {note}");
    }
    if let Some(ratios) = &m.conservation_ratio {
        let (low, high) = ratios
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), r| {
                (l.min(*r), h.max(*r))
            });
        text += &format!(
            "; relevance at the input sums to {low:.3} to {high:.3} times the target's logit (conservation ratio; biases \
             and stabilisers absorb the rest)"
        );
    }
    if let Some(cell) = m.cell {
        text += &format!("; one value per {cell} x {cell} cell, drawn over its cell");
    }
    text + ". Each picture: the input, the map, the map over the input, and the map's colour bar; a map of a multi-band \
            input is drawn summed over its bands (signs kept), the input as a colour composite."
}

fn caption(example: usize, name: &str, scale: &HeatScale) -> String {
    let (low, high) = scale.range();
    let named = if name == example.to_string() {
        String::new()
    } else {
        format!(" ({name})")
    };
    let colours = match scale {
        HeatScale::Signed { .. } => "blue negative, white 0, red positive",
        HeatScale::Unsigned { .. } => "dark purple 0 to yellow high",
    };
    format!(
        "example {example}{named}. Columns: input | map | map over input. Colour bar, left to right: {low:.3} to {high:.3} ({colours})"
    )
}

/// Writes a chart as `DIR/<name>.svg` (and `.png` with a rasteriser) and
/// returns it as a page figure.
fn chart(
    dir: &Path,
    name: &str,
    chart: &LineChart,
    rasteriser: Option<&Rasteriser>,
) -> Result<Figure> {
    let svg = chart.svg();
    let path = dir.join(format!("{name}.svg"));
    write_atomic(&path, svg.as_bytes())?;
    if let Some(r) = rasteriser {
        write_atomic(&dir.join(format!("{name}.png")), &r.png(&svg, 2.0)?)?;
    }
    Figure::svg(&svg, chart.title.clone())
}

/// Writes a value as pretty JSON, atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::invalid(format!("{}", path.display()), e.to_string()))?;
    write_atomic(path, (text + "\n").as_bytes())
}

#[cfg(test)]
mod tests {
    use ndarray::{ArrayD, IxDyn};

    use super::*;
    use crate::explain::Completeness;

    #[test]
    fn a_nan_completeness_gap_is_not_read_as_zero() {
        let map = Attribution::pixels(ArrayD::zeros(IxDyn(&[2, 1, 2, 2])));
        let mut summary = MethodSummary::of("integrated-gradients", MapKind::Pixel, &map, 0.0);
        summary.relative_completeness_gap = Some(vec![Some(0.002), Some(-0.004)]);
        assert_eq!(summary.worst_completeness_gap(), Some(0.004));
        summary.relative_completeness_gap = Some(vec![Some(0.002), Some(f32::NAN), Some(0.001)]);
        assert!(summary.worst_completeness_gap().unwrap().is_nan());
    }

    /// A baseline that scores as the input does (blur:0 was one) made every
    /// relative gap 0/0 and the note "NaN%"; those examples are now counted
    /// apart, and a NaN map is said to be one in words.
    #[test]
    fn no_score_change_is_said_in_words_not_nan() {
        let mut map = Attribution::pixels(ArrayD::zeros(IxDyn(&[3, 1, 2, 2])));
        map.completeness = Some(Completeness {
            gap: vec![0.0, 0.001, 0.0],
            score_change: vec![0.0, 2.0, 0.0],
        });
        let summary = MethodSummary::of("integrated-gradients", MapKind::Pixel, &map, 0.0);
        assert_eq!(
            summary.relative_completeness_gap,
            Some(vec![None, Some(0.0005), None])
        );
        let note = summary.completeness_note().unwrap();
        assert!(!note.contains("NaN"), "{note}");
        assert!(
            note.contains("at most 0.050% of f(x) - f(baseline)")
                && note.contains("f(x) - f(baseline) is 0 for 2 of 3 example(s)"),
            "{note}"
        );
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(
            json["relative_completeness_gap"],
            serde_json::json!([null, 0.0005f32, null])
        );
        map.completeness = Some(Completeness {
            gap: vec![0.0],
            score_change: vec![0.0],
        });
        let all_unchanged = MethodSummary::of("integrated-gradients", MapKind::Pixel, &map, 0.0);
        assert_eq!(all_unchanged.worst_completeness_gap(), None);
        let note = all_unchanged.completeness_note().unwrap();
        assert!(
            note.starts_with("f(x) - f(baseline) is 0 for 1 of 1"),
            "{note}"
        );
        map.completeness = Some(Completeness {
            gap: vec![f32::NAN],
            score_change: vec![1.0],
        });
        let nan = MethodSummary::of("integrated-gradients", MapKind::Pixel, &map, 0.0);
        let note = nan.completeness_note().unwrap();
        assert!(
            note.contains("not finite") && !note.contains("NaN%"),
            "{note}"
        );
    }
}
