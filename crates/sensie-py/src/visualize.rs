//! Seeing inside the network from Python: `sensie.visualize`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use numpy::{IntoPyArray, PyArray4, PyArrayDyn, PyReadonlyArrayDyn};
use pyo3::prelude::*;
use sensie::engine::{Engine, EngineOptions, Score};
use sensie::visualize::{self, DreamOptions, MaximizeConfig, Parameterisation, Target, ValueRange};

use crate::interrupt::interruptible;
use crate::model::PyModel;
use crate::{error, runtime};

/// A convolution's kernels: (layer, weights out x in x kh x kw).
#[pyfunction]
#[pyo3(signature = (model, layer=None))]
pub fn kernels<'py>(
    py: Python<'py>,
    model: &PyModel,
    layer: Option<&str>,
) -> PyResult<(String, Bound<'py, PyArray4<f32>>)> {
    let kernels = visualize::kernels(&model.model, layer).map_err(error)?;
    Ok((kernels.layer, kernels.weights.into_pyarray(py)))
}

/// A layer's feature maps for `x` (the model's input layout): (layer, N x C x h x w).
#[pyfunction]
#[pyo3(signature = (model, x, layer, batch_size=sensie::engine::DEFAULT_BATCH_SIZE))]
pub fn features<'py>(
    py: Python<'py>,
    model: &PyModel,
    x: PyReadonlyArrayDyn<'py, f32>,
    layer: &str,
    batch_size: usize,
) -> PyResult<(String, Bound<'py, PyArray4<f32>>)> {
    let (x, layer) = (x.as_array().to_owned(), layer.to_string());
    let (runtime, model) = (runtime()?, model.model.clone());
    let maps = py.detach(move || -> sensie::Result<_> {
        let mut engine = Engine::new(
            runtime,
            model,
            EngineOptions {
                batch_size,
                threads: 0,
            },
        )?;
        visualize::feature_maps(&mut engine, x.view(), &layer)
    });
    let maps = maps.map_err(error)?;
    Ok((maps.layer, maps.maps.into_pyarray(py)))
}

/// The maximization's options as `sensie visualize maximize` takes them.
#[derive(FromPyObject)]
pub struct Settings {
    steps: usize,
    restarts: usize,
    learning_rate: f32,
    score: String,
    param: String,
    decay: f32,
    jitter: Option<usize>,
    scale: f32,
    rotate: f32,
    l2: f32,
    tv: f32,
    blur_every: usize,
    blur_sigma: f32,
    diversity: f32,
    diversity_layer: Option<String>,
    seed: u64,
}

/// Inputs that maximise a class's score, a layer's or a channel's mean
/// activation, or one neuron; `settings` are the command line's flags (an
/// object with those attributes), `range` the model's input range (default:
/// from `data`, else 0 to 1) and `data` real inputs in the model's layout
/// (the start and the Fourier colour decorrelation). Returns the inputs
/// (restarts x the model's input) and each restart's objective.
/// Ctrl-C, or an exception from `progress`, stops it after the step in
/// hand and is raised here ([`interruptible`]).
#[pyfunction]
#[pyo3(signature = (model, class_index, layer, channel, neuron, settings, range, data=None, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn maximize<'py>(
    py: Python<'py>,
    model: &PyModel,
    class_index: Option<usize>,
    layer: Option<String>,
    channel: Option<usize>,
    neuron: Option<(usize, usize)>,
    settings: Settings,
    range: Option<(f32, f32)>,
    data: Option<PyReadonlyArrayDyn<'py, f32>>,
    progress: Option<Py<PyAny>>,
) -> PyResult<(Bound<'py, PyArrayDyn<f32>>, Vec<f32>)> {
    let target = match (class_index, layer, channel, neuron) {
        (Some(k), None, None, None) => Target::Class(k),
        (None, Some(layer), None, None) => Target::Layer { layer },
        (None, Some(layer), Some(channel), None) => Target::Channel { layer, channel },
        (None, Some(layer), Some(channel), Some((y, x))) => Target::Neuron {
            layer,
            channel,
            y,
            x,
        },
        _ => {
            let reason = "give a class, or a layer (and optionally a channel of it, and a neuron of that), not both";
            return Err(error(sensie::Error::InvalidInput {
                what: "maximize".into(),
                reason: reason.into(),
            }));
        }
    };
    let class_score = match settings.score.as_str() {
        "logit" => Score::Logit,
        "probability" => Score::Probability,
        other => return Err(unknown("score", other, &["logit", "probability"])),
    };
    let parameterisation = match settings.param.as_str() {
        "fourier" => Parameterisation::Fourier {
            decay: settings.decay,
        },
        "pixel" => Parameterisation::Pixel,
        other => return Err(unknown("param", other, &["fourier", "pixel"])),
    };
    let config = MaximizeConfig {
        steps: settings.steps,
        restarts: settings.restarts,
        learning_rate: settings.learning_rate,
        parameterisation,
        class_score,
        jitter: settings.jitter,
        scale: settings.scale,
        rotate: settings.rotate,
        l2: settings.l2,
        tv: settings.tv,
        blur_every: settings.blur_every,
        blur_sigma: settings.blur_sigma,
        diversity: settings.diversity,
        diversity_layer: settings.diversity_layer,
        range,
        data: None,
        seed: settings.seed,
        ..MaximizeConfig::new(target)
    };
    let data = data.map(|d| d.as_array().to_owned());
    let (runtime, model) = (runtime()?, model.model.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let mut failure = None;
    // A progress callback's exception ends the run as Ctrl-C does, after
    // the step in hand, and is raised in place of the interrupt.
    let mut hear = |done: usize, total: usize| {
        if let Some(p) = &progress {
            Python::attach(|py| {
                if let Err(e) = p.bind(py).call1((done, total)) {
                    failure.get_or_insert(e);
                    stop.store(true, Ordering::Relaxed);
                }
            });
        }
    };
    let result = interruptible(py, &stop, || -> sensie::Result<_> {
        let mut engine = Engine::new(
            runtime,
            model,
            EngineOptions {
                batch_size: config.restarts.max(1),
                threads: 0,
            },
        )?;
        engine.stop_when(stop.clone());
        let options = config.options(&mut engine, data.as_ref().map(|d| d.view()))?;
        visualize::maximize_with_progress(&mut engine, &config.target, &options, &mut hear)
    });
    if let Some(e) = failure {
        return Err(e);
    }
    let result = result?.map_err(error)?;
    Ok((result.inputs.into_pyarray(py), result.objective))
}

fn unknown(what: &str, name: &str, valid: &[&str]) -> PyErr {
    error(sensie::Error::Unknown {
        what: what.into(),
        name: name.into(),
        valid: valid.iter().map(|v| v.to_string()).collect(),
    })
}

/// Deep Dream on `x` (the model's input layout) at `layer`: the dreamed
/// inputs, in the same layout and value range.
/// Ctrl-C stops it after the forward or gradient pass in hand and is
/// raised here ([`interruptible`]).
#[pyfunction]
#[pyo3(signature = (model, x, layer, octaves, octave_scale, steps, step_size, jitter, range, seed))]
#[allow(clippy::too_many_arguments)]
pub fn dream<'py>(
    py: Python<'py>,
    model: &PyModel,
    x: PyReadonlyArrayDyn<'py, f32>,
    layer: String,
    octaves: usize,
    octave_scale: f32,
    steps: usize,
    step_size: f32,
    jitter: usize,
    range: Option<(f32, f32)>,
    seed: u64,
) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
    // Without a range, the images' own, as the command line takes --data's.
    let range = match range {
        Some((low, high)) => ValueRange::new(low, high),
        None => ValueRange::of_data(x.as_array()),
    }
    .map_err(error)?;
    let options = DreamOptions {
        octaves,
        octave_scale,
        steps,
        step_size,
        jitter,
        range,
        seed,
    };
    let x = x.as_array().to_owned();
    let (runtime, model) = (runtime()?, model.model.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let dreamed = interruptible(py, &stop, || -> sensie::Result<_> {
        let mut engine = Engine::new(
            runtime,
            model,
            EngineOptions {
                batch_size: x.shape()[0].max(1),
                threads: 0,
            },
        )?;
        engine.stop_when(stop.clone());
        visualize::dream(&mut engine, x.view(), &layer, &options)
    });
    Ok(dreamed?.map_err(error)?.inputs.into_pyarray(py))
}
