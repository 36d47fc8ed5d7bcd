//! Seeing inside the network from Python: `sensie.visualize`.

use numpy::{IntoPyArray, PyArray4, PyArrayDyn, PyReadonlyArrayDyn};
use pyo3::prelude::*;
use sensie::engine::{Engine, EngineOptions};
use sensie::visualize::{self, DreamOptions, Layer, MaximizeOptions, Target, ValueRange};

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
#[pyo3(signature = (model, x, layer, batch_size=32))]
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

/// Activation maximisation: inputs (model layout) that maximise a class
/// score, a layer, or one channel of it; one per restart, with each one's objective.
#[pyfunction]
#[pyo3(signature = (model, class_index, layer, channel, steps, restarts, learning_rate, low, high, seed))]
#[allow(clippy::too_many_arguments)]
pub fn maximize<'py>(
    py: Python<'py>,
    model: &PyModel,
    class_index: Option<usize>,
    layer: Option<String>,
    channel: Option<usize>,
    steps: usize,
    restarts: usize,
    learning_rate: f32,
    low: f32,
    high: f32,
    seed: u64,
) -> PyResult<(Bound<'py, PyArrayDyn<f32>>, Vec<f32>)> {
    let target = match (class_index, layer, channel) {
        (Some(k), None, None) => Target::Class(k),
        (None, Some(layer), None) => Target::Layer { layer },
        (None, Some(layer), Some(channel)) => Target::Channel { layer, channel },
        _ => {
            let reason = "give a class, or a layer (and optionally a channel of it), not both";
            return Err(error(sensie::Error::InvalidInput {
                what: "maximize".into(),
                reason: reason.into(),
            }));
        }
    };
    let range = ValueRange::new(low, high).map_err(error)?;
    let (runtime, model) = (runtime()?, model.model.clone());
    let result = py.detach(move || -> sensie::Result<_> {
        let mut engine = Engine::new(
            runtime,
            model,
            EngineOptions {
                batch_size: restarts.max(1),
                threads: 0,
            },
        )?;
        let (_, h, w) = Layer::input(&mut engine)?.chw();
        let mut options = MaximizeOptions::for_size(h, w);
        (
            options.steps,
            options.restarts,
            options.learning_rate,
            options.range,
            options.seed,
        ) = (steps, restarts, learning_rate, range, seed);
        visualize::maximize(&mut engine, &target, &options)
    });
    let result = result.map_err(error)?;
    Ok((result.inputs.into_pyarray(py), result.objective))
}

/// Deep Dream on `x` (the model's input layout) at `layer`: the dreamed
/// inputs, in the same layout and value range.
#[pyfunction]
#[pyo3(signature = (model, x, layer, octaves, octave_scale, steps, step_size, jitter, low, high, seed))]
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
    low: f32,
    high: f32,
    seed: u64,
) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
    let range = ValueRange::new(low, high).map_err(error)?;
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
    let dreamed = py.detach(move || -> sensie::Result<_> {
        let mut engine = Engine::new(
            runtime,
            model,
            EngineOptions {
                batch_size: x.shape()[0].max(1),
                threads: 0,
            },
        )?;
        visualize::dream(&mut engine, x.view(), &layer, &options)
    });
    Ok(dreamed.map_err(error)?.inputs.into_pyarray(py))
}
