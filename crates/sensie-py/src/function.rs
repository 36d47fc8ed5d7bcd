//! A model that is a plain Python function `f(x) -> scores`: probed like an
//! ONNX model (its forward passes are all a probe needs), refused by
//! attributions and feature visualisation, which need gradients.

use std::path::{Path, PathBuf};

use ndarray::{Array2, ArrayViewD};
use numpy::{IntoPyArray, PyReadonlyArray2};
use pyo3::prelude::*;
use sensie::model::{Layout, ModelInfo, OutputKind, TensorInfo};
use sensie::predictor::{Described, Predictor};

use crate::error;
use crate::probe::{Failure, remember};

/// The function with what a report says about it: its name, the layout it
/// takes batches in and the kind of score it returns.
#[pyclass(name = "_FunctionModel", frozen, module = "sensie._sensie")]
pub struct FunctionModel {
    function: Py<PyAny>,
    path: PathBuf,
    info: ModelInfo,
}

#[pymethods]
impl FunctionModel {
    /// `function` takes a float32 batch in `layout` (N x C x H x W or N x H
    /// x W x C) and returns N x K float32 scores of `output_kind`; `name`
    /// stands for the model's path in reports.
    #[new]
    fn new(function: Py<PyAny>, name: &str, layout: &str, output_kind: &str) -> PyResult<Self> {
        let info = ModelInfo {
            input: TensorInfo {
                name: "x".into(),
                shape: vec![None; 4],
            },
            layout: Some(Layout::parse(layout).map_err(error)?),
            // The number of scores is learnt from the first batch.
            outputs: vec![TensorInfo {
                name: "scores".into(),
                shape: vec![None, None],
            }],
            output_kind: output_kind.parse::<OutputKind>().map_err(error)?,
            output_kind_detected: false,
            opset: 0,
            producer: "python function".into(),
        };
        Ok(FunctionModel {
            function,
            path: PathBuf::from(name),
            info,
        })
    }

    /// What a report says about the model, as JSON.
    fn info(&self) -> PyResult<String> {
        serde_json::to_string(&self.info)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
    }

    fn path(&self) -> PathBuf {
        self.path.clone()
    }
}

impl FunctionModel {
    /// The function as a probe's predictor for one run; its exceptions go
    /// to `failure`, to be raised when the run returns.
    /// `output_kind` overrides the model's for this run.
    pub fn predictor(
        &self,
        py: Python<'_>,
        failure: Failure,
        output_kind: Option<OutputKind>,
    ) -> FunctionPredictor {
        let mut info = self.info.clone();
        if let Some(kind) = output_kind {
            info.output_kind = kind;
        }
        FunctionPredictor {
            function: self.function.clone_ref(py),
            path: self.path.clone(),
            info,
            failure,
        }
    }
}

/// A [`FunctionModel`] during a run: called with the GIL taken for each batch.
pub struct FunctionPredictor {
    function: Py<PyAny>,
    path: PathBuf,
    info: ModelInfo,
    failure: Failure,
}

impl FunctionPredictor {
    /// The model's name in messages.
    fn what(&self) -> String {
        format!("model {}", self.path.display())
    }
}

impl Described for FunctionPredictor {
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    fn path(&self) -> &Path {
        &self.path
    }
    fn class_names(&self) -> Option<Vec<String>> {
        None
    }
}

impl Predictor for FunctionPredictor {
    fn predict(&mut self, batch: ArrayViewD<f32>) -> sensie::Result<Array2<f32>> {
        let rows = batch.shape()[0];
        let scores = Python::attach(|py| {
            let called = self
                .function
                .bind(py)
                .call1((batch.to_owned().into_pyarray(py),));
            called
                .and_then(|out| {
                    Ok(out
                        .extract::<PyReadonlyArray2<f32>>()?
                        .as_array()
                        .to_owned())
                })
                .map_err(|e| {
                    let reason = e.to_string();
                    remember(&self.failure, e);
                    sensie::Error::invalid(self.what(), reason)
                })
        })?;
        if scores.nrows() != rows {
            return Err(sensie::Error::invalid(
                self.what(),
                format!(
                    "it returned {} rows of scores for a batch of {rows} examples; return one row per example",
                    scores.nrows()
                ),
            ));
        }
        // The same scores (classes) for every batch: a function whose width
        // changed from batch to batch shifted the results without a word.
        if let Some(k) = self.info.outputs[0].shape[1].filter(|&k| k != scores.ncols()) {
            return Err(sensie::Error::invalid(
                self.what(),
                format!(
                    "it returned {} scores per example for this batch and {k} before; return the same scores (classes) for every batch",
                    scores.ncols()
                ),
            ));
        }
        self.info.outputs[0].shape[1] = Some(scores.ncols());
        Ok(scores)
    }

    /// The function's own threads are its business; the probe's producer
    /// takes its usual share of the cores.
    fn threads(&self) -> usize {
        0
    }
}
