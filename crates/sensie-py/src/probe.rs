//! Probe runs from Python: on arrays in memory or on a whole probe config,
//! with built-in perturbations or the user's Python functions.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use ndarray::{Array3, Array4, ArrayView3, ArrayView4, ArrayViewMut4, Axis};
use numpy::{IntoPyArray, PyReadonlyArray4, PyReadonlyArrayDyn};
use pyo3::prelude::*;
use sensie::data::{self, ClassMapping, Dataset, Labels, Metadata, Task};
use sensie::engine::{Engine, EngineOptions};
use sensie::model::OutputKind;
use sensie::perturb::{Parameter, Perturbation, builtins, changed_shape};
use sensie::predictor::Predictor;
use sensie::probe::{self, Plan, ProbeConfig, Report, RunOptions, Sweep};
use sensie::rng::SeededRng;

use crate::function::FunctionModel;
use crate::model::PyModel;
use crate::{error, runtime};

/// The first Python exception raised during a run (by the user's perturber,
/// the progress callback, or Ctrl-C), re-raised when the run returns.
pub type Failure = Arc<Mutex<Option<PyErr>>>;

pub fn remember(failure: &Failure, e: PyErr) {
    if let Ok(mut slot) = failure.lock() {
        slot.get_or_insert(e);
    }
}

/// A perturbation that is the user's Python function `f(x_batch, p) ->
/// x_batch`, called on whole batches from the probe's producer thread (which
/// takes the GIL only for the call, so the model's passes overlap it).
struct PythonPerturbation {
    name: String,
    function: Py<PyAny>,
    failure: Failure,
}

impl Perturbation for PythonPerturbation {
    fn name(&self) -> &str {
        &self.name
    }

    /// The function holds the interpreter's lock for a whole batch: the
    /// probe runs it beside the model instead of giving it every core.
    fn parallel(&self) -> bool {
        false
    }

    /// The function's parameter has no name or unit sensie knows, and no
    /// value known to leave images unchanged, so every level is run.
    fn parameter(&self) -> Parameter {
        Parameter {
            name: "p",
            unit: "",
            identity: f64::NAN,
        }
    }

    fn apply(
        &self,
        image: ArrayView3<f32>,
        value: f64,
        _rng: &mut SeededRng,
    ) -> sensie::Result<Array3<f32>> {
        let batch = image.insert_axis(Axis(0));
        let mut out = Array4::zeros(batch.raw_dim());
        self.apply_batch_into(batch, value, 0, 0, out.view_mut())?;
        Ok(out.index_axis_move(Axis(0), 0))
    }

    fn apply_batch_into(
        &self,
        images: ArrayView4<f32>,
        value: f64,
        _seed: u64,
        _first_example: usize,
        mut out: ArrayViewMut4<f32>,
    ) -> sensie::Result<()> {
        let result = Python::attach(|py| {
            let called = self
                .function
                .bind(py)
                .call1((images.to_owned().into_pyarray(py), value));
            let result = called.and_then(|out| {
                Ok(out
                    .extract::<PyReadonlyArray4<f32>>()?
                    .as_array()
                    .to_owned())
            });
            result.map_err(|e| {
                let reason = e.to_string();
                remember(&self.failure, e);
                sensie::Error::invalid(format!("perturbation '{}'", self.name), reason)
            })
        })?;
        if result.dim() != images.dim() {
            return Err(changed_shape(&self.name, result.shape(), images.shape()));
        }
        out.assign(&result);
        Ok(())
    }
}

/// One probe run's results, kept whole so they can be written as the
/// command line writes them.
#[pyclass(frozen, module = "sensie._sensie")]
pub struct Run {
    pub(crate) report: Report,
}

#[pymethods]
impl Run {
    /// results.json, byte for byte as `sensie probe` writes it.
    fn json(&self) -> PyResult<String> {
        serde_json::to_string_pretty(&self.report)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
    }

    /// Writes results.json, results.csv, plots/, examples/ and report.html
    /// into `out`; returns notes about what could not be made.
    fn save(&self, out: PathBuf, force: bool, command: &str) -> PyResult<Vec<String>> {
        probe::check_out(&out, force).map_err(error)?;
        probe::write_results(&out, &self.report).map_err(error)?;
        probe::write_report(&out, &self.report, command).map_err(error)
    }
}

/// Probes `model` on images and labels in memory (N x C x H x W, raw
/// units). `config` is a probe config as JSON (batch size, seed,
/// preprocessing, built-in sweeps, property tests, class test);
/// `python_sweeps` adds sweeps whose perturbation is a Python function,
/// as (name, function, values).
#[pyfunction]
#[pyo3(signature = (model, images, labels, task, metadata, config, python_sweeps, data_name, skip_bad=false, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn probe_arrays(
    py: Python<'_>,
    model: &Bound<'_, PyAny>,
    images: PyReadonlyArray4<'_, f32>,
    labels: LabelsIn<'_>,
    task: &str,
    metadata: Option<Vec<(String, Vec<String>)>>,
    config: &str,
    python_sweeps: Vec<(String, Py<PyAny>, Vec<f64>)>,
    data_name: &str,
    skip_bad: bool,
    progress: Option<Py<PyAny>>,
) -> PyResult<Run> {
    let config = parse_config(config)?;
    let task = Task::parse(task).map_err(error)?;
    let path = Path::new(data_name);
    let names = onnx_class_names(model);
    let (labels, names) = match labels {
        LabelsIn::Text(text) => {
            let (classes, names) = text_classes(&text, names, path).map_err(error)?;
            (Labels::Classes(classes), Some(names))
        }
        LabelsIn::Numbers(rows) => (
            data::labels_from_rows(rows.as_array().to_owned(), task, path).map_err(error)?,
            names,
        ),
    };
    let metadata = metadata
        .map(|columns| Metadata::from_columns(data_name, columns))
        .transpose()
        .map_err(error)?;
    let mut data = data::from_memory(
        data_name,
        images.as_array().to_owned(),
        labels,
        metadata,
        skip_bad,
    )
    .map_err(error)?;
    data.task = task;
    // The model's class names name the classes, as `sensie probe` reads them
    // for data from files: results.json's class mapping and the class
    // test's levels were missing from an array run of a model that has them.
    data.class_names = names;
    if let Some(names) = &data.class_names {
        data.check_classes(names.len()).map_err(error)?;
    }
    let failure = Failure::default();
    let mut plan = probe::plan(&config).map_err(error)?;
    for (name, function, values) in python_sweeps {
        let reason = match values.iter().find(|v| !v.is_finite()) {
            _ if values.is_empty() => Some("none given; give at least one".to_string()),
            Some(v) => Some(format!("{v} is not a finite number; every value must be")),
            None => None,
        };
        if let Some(reason) = reason {
            return Err(error(sensie::Error::invalid(
                format!("values of perturbation '{name}'"),
                reason,
            )));
        }
        let values = probe::in_order(values);
        let perturbation = Box::new(PythonPerturbation {
            name: name.clone(),
            function,
            failure: failure.clone(),
        });
        plan.sweeps.push(Sweep {
            name,
            perturbation,
            values,
            options: Default::default(),
        });
    }
    run_plan(py, model, &data, &config, plan, progress, failure)
}

/// Runs a whole probe config (the data it names, every test it asks for) on `model`.
#[pyfunction]
#[pyo3(signature = (model, config, progress=None))]
pub fn probe_config(
    py: Python<'_>,
    model: &Bound<'_, PyAny>,
    config: &str,
    progress: Option<Py<PyAny>>,
) -> PyResult<Run> {
    let config = parse_config(config)?;
    let plan = probe::plan(&config).map_err(error)?;
    let spec = ClassMapping::names_for(&config.data, onnx_class_names(model));
    let data = py.detach(|| data::load(&spec)).map_err(error)?;
    run_plan(
        py,
        model,
        &data,
        &config,
        plan,
        progress,
        Failure::default(),
    )
}

/// Labels as the Python package hands them over: numbers (N, N x 1 or
/// one-hot N x K, read as a labels file is) or text, one class name each.
#[derive(FromPyObject)]
pub enum LabelsIn<'py> {
    /// Class names, as a text label column holds them.
    Text(Vec<String>),
    /// Numbers, as a labels `.npy` file holds them.
    Numbers(PyReadonlyArrayDyn<'py, f64>),
}

/// Text labels as classes, as `sensie probe` reads a text label column:
/// numbered by the model's class names when it has them, else by the
/// names' sorted order (which the report then warns about). Returns the
/// classes and the names in class order.
fn text_classes(
    labels: &[String],
    model_names: Option<Vec<String>>,
    path: &Path,
) -> sensie::Result<(Vec<usize>, Vec<String>)> {
    let names = model_names.unwrap_or_else(|| {
        let sorted: std::collections::BTreeSet<&String> = labels.iter().collect();
        sorted.into_iter().cloned().collect()
    });
    let classes = labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            names.iter().position(|n| n.trim() == label.trim()).ok_or_else(|| {
                sensie::Error::data(
                    path,
                    format!(
                        "label '{label}' of example {i} is not among the model's class names ({}); fix the label or give class indices",
                        names.join(", ")
                    ),
                )
            })
        })
        .collect::<sensie::Result<_>>()?;
    Ok((classes, names))
}

/// The class names an ONNX model's metadata gives (none for a Python function).
fn onnx_class_names(model: &Bound<'_, PyAny>) -> Option<Vec<String>> {
    model
        .extract::<PyRef<PyModel>>()
        .ok()
        .and_then(|m| m.model.class_names())
}

/// Every built-in perturbation: (name, summary, parameter, unit, identity, options).
#[pyfunction]
pub fn perturbations() -> Vec<(String, String, String, String, String, Vec<String>)> {
    builtins()
        .iter()
        .map(|b| {
            let options = b.options.iter().map(|o| o.name.to_string()).collect();
            (
                b.name.into(),
                b.summary.into(),
                b.parameter.into(),
                b.unit.into(),
                b.identity.into(),
                options,
            )
        })
        .collect()
}

fn parse_config(json: &str) -> PyResult<ProbeConfig> {
    serde_json::from_str(json).map_err(|e| {
        pyo3::exceptions::PyValueError::new_err(format!("not a valid probe config: {e}"))
    })
}

/// Runs `plan` on `model` (an ONNX model or a Python function) with the GIL released. Between batches the progress
/// callback is called and Ctrl-C is checked; either's exception ends the
/// run after the batch in hand and is raised here.
fn run_plan(
    py: Python<'_>,
    model: &Bound<'_, PyAny>,
    data: &Dataset,
    config: &ProbeConfig,
    plan: Plan,
    progress: Option<Py<PyAny>>,
    failure: Failure,
) -> PyResult<Run> {
    let output_kind = config
        .output_kind
        .as_deref()
        .map(str::parse::<OutputKind>)
        .transpose()
        .map_err(error)?;
    let stop = Arc::new(AtomicBool::new(false));
    let options = RunOptions {
        batch_size: config.batch_size,
        seed: config.seed,
        replicates: config.replicates,
        threshold: config.threshold,
        stop: Some(stop.clone()),
    };
    // The sweep's thread budget, as `sensie probe` chooses it: an ONNX
    // model runs on a worker per core, each perturbing its own batches; a
    // Python model runs here while a producer perturbs the next batch.
    let budget = plan.thread_budget(config.threads, config.batch_size);
    let engine_options = EngineOptions {
        batch_size: config.batch_size,
        threads: budget.model,
    };
    let mut hook = |done: usize, total: usize| {
        Python::attach(|py| {
            let called = progress
                .as_ref()
                .map_or(Ok(()), |p| p.bind(py).call1((done, total)).map(drop));
            if let Err(e) = called.and_then(|()| py.check_signals()) {
                remember(&failure, e);
                stop.store(true, Ordering::Relaxed);
            }
        })
    };
    let mut run = |predictor: &mut dyn Predictor| -> sensie::Result<Report> {
        let (tests, accuracy) = probe::run_plan(
            predictor,
            data,
            &config.preprocess,
            &plan,
            &options,
            &mut hook,
        )?;
        probe::assemble(predictor, data, config, &options, tests, accuracy)
    };
    let outcome = if let Ok(function) = model.cast::<FunctionModel>() {
        let mut predictor = function.get().predictor(py, failure.clone(), output_kind);
        py.detach(|| run(&mut predictor))
    } else {
        let mut model = model.extract::<PyRef<PyModel>>()?.model.clone();
        if let Some(kind) = output_kind {
            model.set_output_kind(kind);
        }
        let runtime = runtime()?;
        py.detach(|| {
            let mut engine = Engine::with_workers(
                runtime,
                model,
                engine_options,
                budget.spinning,
                budget.workers,
            )?;
            run(&mut engine)
        })
    };
    if let Some(e) = failure.lock().ok().and_then(|mut slot| slot.take()) {
        return Err(e);
    }
    Ok(Run {
        report: outcome.map_err(error)?,
    })
}
