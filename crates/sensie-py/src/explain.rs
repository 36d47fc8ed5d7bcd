//! Attribution maps from Python: `sensie.explain` runs the library's
//! [`sensie::explain::run::run_on`], the function behind `sensie explain`,
//! on a batch in memory, and can write the run as the command line does.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use numpy::{IntoPyArray, PyArrayDyn, PyReadonlyArrayDyn};
use pyo3::prelude::*;
use sensie::autodiff::Composite;
use sensie::data::{self, Labels, Task};
use sensie::explain::figures::Drawing;
use sensie::explain::lrp::Lrp;
use sensie::explain::report;
use sensie::explain::run::{self, BaselineSpec, Examples, ExplainRun, Settings};
use sensie::render::Stretch;

use crate::interrupt::interruptible;
use crate::model::PyModel;
use crate::{error, runtime};

/// One method's results: its name, its map, the CAM layer's own map
/// (name, array) for CAM methods, and Integrated Gradients' completeness
/// gap per example.
type Maps<'py> = (
    String,
    Bound<'py, PyArrayDyn<f32>>,
    Option<(String, Bound<'py, PyArrayDyn<f32>>)>,
    Option<Vec<f32>>,
);

/// A finished `sensie explain` run.
#[pyclass(name = "_Explanation", frozen, module = "sensie._sensie")]
pub struct Explanation {
    run: ExplainRun,
}

#[pymethods]
impl Explanation {
    /// Every method's maps, in the order asked for.
    fn maps<'py>(&self, py: Python<'py>) -> Vec<Maps<'py>> {
        self.run
            .summary
            .methods
            .iter()
            .zip(&self.run.attributions)
            .map(|(summary, a)| {
                let layer = a
                    .layer
                    .as_ref()
                    .map(|l| (l.name.clone(), l.map.clone().into_pyarray(py)));
                let gap = a.completeness.as_ref().map(|c| c.gap.clone());
                (
                    summary.method.clone(),
                    a.map.clone().into_pyarray(py),
                    layer,
                    gap,
                )
            })
            .collect()
    }

    /// explain.json, sanity.json and faithfulness.json (the checks' `None`
    /// when they did not run), as the command line writes them.
    fn json(&self) -> PyResult<(String, Option<String>, Option<String>)> {
        Ok((
            pretty(&self.run.summary)?,
            self.run.sanity.as_ref().map(pretty).transpose()?,
            self.run.faithfulness.as_ref().map(pretty).transpose()?,
        ))
    }

    /// Writes the run into `out` as `sensie explain --out` does; returns
    /// notes about what could not be made.
    fn save(
        &self,
        py: Python<'_>,
        out: PathBuf,
        force: bool,
        stretch: &str,
        shared_scale: bool,
    ) -> PyResult<Vec<String>> {
        let drawing = Drawing {
            stretch: stretch.parse::<Stretch>().map_err(error)?,
            shared_scale,
        };
        py.detach(|| {
            let dir = sensie::output::prepare(&out, force, &[])?;
            let notes = report::write_run(&out, &self.run, &drawing)?;
            dir.finish()?;
            Ok(notes)
        })
        .map_err(error)
    }
}

/// A part of the run as the command line's JSON file holds it.
fn pretty(value: &impl serde::Serialize) -> PyResult<String> {
    serde_json::to_string_pretty(value)
        .map(|text| text + "\n")
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
}

/// Explains the examples of `x` (a batch in the model's input layout and
/// scaling) at `indices`, or all, with each of `methods`, and runs the sanity and faithfulness
/// checks when asked; `progress` hears each step's name. Ctrl-C, or an
/// exception from `progress`, stops the run after the batch in hand and is
/// raised here ([`interruptible`]).
#[pyfunction]
#[pyo3(signature = (model, x, indices, methods, target, labels, score, layer, steps, rule, baseline, baseline_array, samples, noise, window, stride, fill, seed, batch_size, threads, lrp_composite, epsilon, gamma, lrp_box, blur_sigma, mask_sigma, sanity, faithfulness, curve_steps, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn explain(
    py: Python<'_>,
    model: &PyModel,
    x: PyReadonlyArrayDyn<'_, f32>,
    indices: Option<Vec<usize>>,
    methods: Vec<String>,
    target: &str,
    labels: Option<PyReadonlyArrayDyn<'_, f64>>,
    score: &str,
    layer: Option<String>,
    steps: usize,
    rule: &str,
    baseline: &str,
    baseline_array: Option<PyReadonlyArrayDyn<'_, f32>>,
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
    sanity: bool,
    faithfulness: bool,
    curve_steps: usize,
    progress: Option<Py<PyAny>>,
) -> PyResult<Explanation> {
    let stop = Arc::new(AtomicBool::new(false));
    let settings = Settings {
        methods,
        target: Some(target.parse().map_err(error)?),
        score: score.into(),
        layer,
        steps,
        rule: rule.parse().map_err(error)?,
        baseline: match baseline_array {
            Some(array) => BaselineSpec::Array(array.as_array().to_owned()),
            None => BaselineSpec::Named(baseline.into()),
        },
        samples,
        noise,
        window,
        stride,
        fill,
        lrp: Lrp {
            composite: lrp_composite.parse::<Composite>().map_err(error)?,
            epsilon,
            gamma,
            bounds: lrp_box,
        },
        blur_sigma,
        mask_sigma,
        seed,
        sanity,
        faithfulness,
        curve_steps,
        batch_size,
        threads,
        stop: Some(stop.clone()),
    };
    let layout = model.model.info().layout.ok_or_else(|| {
        error(sensie::Error::UnsupportedModel {
            path: model.model.path().to_path_buf(),
            reason: "its input is not a 4-D image (N x C x H x W or N x H x W x C)".into(),
        })
    })?;
    // Labels as a file's are read (N, N x 1 or one-hot N x K), class
    // indices only: 2.5 is refused, not taken as class 2.
    let labels = labels
        .map(|labels| {
            let read = Path::new("labels");
            match data::labels_from_rows(labels.as_array().to_owned(), Task::Classify, read)? {
                Labels::Classes(classes) => Ok(classes),
                Labels::Targets(_) => Err(sensie::Error::data(read, "class indices expected")),
            }
        })
        .transpose()
        .map_err(error)?;
    let examples =
        Examples::from_inputs(x.as_array(), layout, labels, indices.as_deref(), "<array>")
            .map_err(error)?;
    let (runtime, model) = (runtime()?, model.model.clone());
    let mut failure = None;
    // A progress callback's exception ends the run as Ctrl-C does, after
    // the step in hand, and is raised in place of the interrupt.
    let mut hear = |step: &str| {
        if let Some(p) = &progress {
            Python::attach(|py| {
                if let Err(e) = p.bind(py).call1((step,)) {
                    failure.get_or_insert(e);
                    stop.store(true, Ordering::Relaxed);
                }
            });
        }
    };
    let outcome = interruptible(py, &stop, || {
        run::run_on(runtime, model, examples, &settings, &mut hear)
    });
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(Explanation {
        run: outcome?.map_err(error)?,
    })
}
