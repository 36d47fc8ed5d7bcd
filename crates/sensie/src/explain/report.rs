//! What `sensie explain` writes: one `.npy` per method (and per CAM layer),
//! and `explain.json` summarising the run: the examples, their targets, each
//! method's files and shapes, Integrated Gradients' completeness gaps.

use std::path::Path;
use std::time::Instant;

use ndarray::ArrayViewD;
use serde::Serialize;

use super::{Attribution, MapKind, Method, Targets};
use crate::engine::Engine;
use crate::{Error, Result, npy};

/// One method's entry in `explain.json`.
#[derive(Clone, Debug, Serialize)]
pub struct MethodSummary {
    pub method: String,
    pub kind: MapKind,
    pub file: String,
    pub shape: Vec<usize>,
    /// CAM methods: the layer and the file of the map at its resolution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer_shape: Option<Vec<usize>>,
    /// Integrated Gradients: per example, `sum(attributions) - (f(x) - f(baseline))`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completeness_gap: Option<Vec<f32>>,
    /// The same divided by `|f(x) - f(baseline)|`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relative_completeness_gap: Option<Vec<f32>>,
    /// Seconds the method took.
    pub seconds: f64,
}

/// Writes `DIR/<method>.npy` (and `DIR/<method>-layer.npy`) and returns the
/// method's summary.
fn write_maps(dir: &Path, method: &str, kind: MapKind, attribution: &Attribution, seconds: f64) -> Result<MethodSummary> {
    let file = format!("{method}.npy");
    npy::write(&dir.join(&file), &attribution.map)?;
    let mut summary = MethodSummary {
        method: method.to_string(),
        kind,
        file,
        shape: attribution.map.shape().to_vec(),
        layer: None,
        layer_file: None,
        layer_shape: None,
        completeness_gap: None,
        relative_completeness_gap: None,
        seconds,
    };
    if let Some(layer) = &attribution.layer {
        let file = format!("{method}-layer.npy");
        npy::write(&dir.join(&file), &layer.map)?;
        summary.layer = Some(layer.name.clone());
        summary.layer_file = Some(file);
        summary.layer_shape = Some(layer.map.shape().to_vec());
    }
    if let Some(c) = &attribution.completeness {
        summary.relative_completeness_gap = Some(c.gap.iter().zip(&c.score_change).map(|(g, d)| g / d.abs()).collect());
        summary.completeness_gap = Some(c.gap.clone());
    }
    Ok(summary)
}

/// Runs each method on `inputs` and writes its maps into `dir`; returns each
/// attribution with its summary, in the order of `methods`.
pub fn run_methods(engine: &mut Engine, inputs: ArrayViewD<f32>, targets: &Targets, methods: &[Box<dyn Method>], dir: &Path) -> Result<Vec<(Attribution, MethodSummary)>> {
    methods
        .iter()
        .map(|method| {
            let start = Instant::now();
            let attribution = method.attribute(engine, inputs.view(), targets)?;
            let summary = write_maps(dir, method.name(), method.kind(), &attribution, start.elapsed().as_secs_f64())?;
            Ok((attribution, summary))
        })
        .collect()
}

/// Writes a value as pretty JSON through a temporary file and a rename.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::invalid(format!("{}", path.display()), e.to_string()))?;
    let tmp = path.with_extension("json.partial");
    std::fs::write(&tmp, text + "\n").map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
