//! Attribution maps from Python: `sensie.explain`.

use numpy::{IntoPyArray, PyArrayDyn, PyReadonlyArrayDyn};
use pyo3::prelude::*;
use sensie::autodiff::Composite;
use sensie::engine::{Engine, EngineOptions, Score};
use sensie::explain::blur_saliency::Compared;
use sensie::explain::lrp::Lrp;
use sensie::explain::{Baseline, Geometry, Options, Quadrature, TargetSpec, Targets};

use crate::model::PyModel;
use crate::{error, runtime};

/// A method's map for a batch already in the model's input layout.
type Explained<'py> = (
    Bound<'py, PyArrayDyn<f32>>,
    Option<(String, Bound<'py, PyArrayDyn<f32>>)>,
    Option<Vec<f32>>,
    Vec<usize>,
);

/// Attributes the target score of every example of `x` with `method`.
/// Returns the map, the CAM layer's own map (name, array) for CAM methods,
/// Integrated Gradients' completeness gap per example, and the classes explained.
#[pyfunction]
#[pyo3(signature = (model, x, method, target, labels, score, layer, steps, rule, baseline, baseline_array, samples, noise, window, stride, fill, seed, batch_size, threads, lrp_composite, epsilon, gamma, lrp_box, blur_sigma, mask_sigma))]
#[allow(clippy::too_many_arguments)]
pub fn explain<'py>(
    py: Python<'py>,
    model: &PyModel,
    x: PyReadonlyArrayDyn<'py, f32>,
    method: &str,
    target: &str,
    labels: Option<Vec<usize>>,
    score: &str,
    layer: Option<String>,
    steps: usize,
    rule: &str,
    baseline: &str,
    baseline_array: Option<PyReadonlyArrayDyn<'py, f32>>,
    samples: usize,
    noise: f32,
    window: usize,
    stride: usize,
    fill: f32,
    seed: u64,
    batch_size: usize,
    threads: usize,
    lrp_composite: &str,
    epsilon: f32,
    gamma: f32,
    lrp_box: Option<(f32, f32)>,
    blur_sigma: f32,
    mask_sigma: f32,
) -> PyResult<Explained<'py>> {
    let spec: TargetSpec = target.parse().map_err(error)?;
    // As on the command line: `all` and `target` choose which logits blur
    // saliency compares; every other method explains the target's logit.
    let (score, blur_score) = match score {
        "logit" | "all" => (Score::Logit, Compared::All),
        "target" => (Score::Logit, Compared::Target),
        "probability" => (Score::Probability, Compared::All),
        other => {
            return Err(error(sensie::Error::Unknown {
                what: "score".into(),
                name: other.into(),
                valid: ["logit", "probability", "all", "target"]
                    .map(String::from)
                    .to_vec(),
            }));
        }
    };
    let lrp = Lrp {
        composite: lrp_composite.parse::<Composite>().map_err(error)?,
        epsilon,
        gamma,
        bounds: lrp_box,
    };
    let quadrature: Quadrature = rule.parse().map_err(error)?;
    let baseline = match (baseline_array, baseline) {
        (Some(array), _) => Baseline::Array(array.as_array().to_owned()),
        (None, "zeros") => Baseline::Zeros,
        (None, "noise") => Baseline::Noise { seed },
        (None, "blur") => Baseline::Blur {
            sigma: Geometry::of(&model.model, "a blurred baseline")
                .map_err(error)?
                .default_blur(),
        },
        (None, text) => match text
            .strip_prefix("blur:")
            .and_then(|s| s.parse::<f32>().ok())
            .filter(|s| *s >= 0.0)
        {
            Some(sigma) => Baseline::Blur { sigma },
            None => {
                let reason = "expected zeros, noise, blur, blur:SIGMA (pixels, >= 0) or an array";
                return Err(error(sensie::Error::InvalidInput {
                    what: format!("baseline '{text}'"),
                    reason: reason.into(),
                }));
            }
        },
    };
    let options = Options {
        layer,
        steps,
        quadrature,
        baseline,
        samples,
        noise,
        window,
        stride,
        fill,
        seed,
        lrp,
        blur_sigma,
        mask_sigma,
        blur_score,
    };
    let (x, method) = (x.as_array().to_owned(), method.to_string());
    let (runtime, model) = (runtime()?, model.model.clone());
    let outcome = py.detach(move || -> sensie::Result<_> {
        let method = sensie::explain::build(&method, &options)?;
        let mut engine = Engine::new(
            runtime,
            model,
            EngineOptions {
                batch_size,
                threads,
            },
        )?;
        let targets = Targets::resolve(&mut engine, x.view(), spec, labels.as_deref(), score)?;
        let attribution = method.attribute(&mut engine, x.view(), &targets)?;
        Ok((attribution, targets.classes))
    });
    let (attribution, classes) = outcome.map_err(error)?;
    let layer = attribution.layer.map(|l| (l.name, l.map.into_pyarray(py)));
    let gap = attribution.completeness.map(|c| c.gap);
    Ok((attribution.map.into_pyarray(py), layer, gap, classes))
}
