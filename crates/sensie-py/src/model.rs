//! A model handed over from Python: a file, or ONNX bytes (a PyTorch module
//! exported in memory).

use std::path::{Path, PathBuf};

use numpy::{IntoPyArray, PyArray2, PyReadonlyArrayDyn};
use pyo3::prelude::*;
use sensie::engine::{Engine, EngineOptions};
use sensie::model::{Layout, Model, OutputKind};

use crate::{error, runtime};

/// A loaded ONNX model with what sensie read from it.
#[pyclass(name = "_Model", frozen, module = "sensie._sensie")]
pub struct PyModel {
    pub model: Model,
}

#[pymethods]
impl PyModel {
    /// Reads the ONNX file at `path`.
    #[staticmethod]
    #[pyo3(signature = (path, input=None, layout=None, output_kind=None))]
    fn load(
        path: PathBuf,
        input: Option<&str>,
        layout: Option<&str>,
        output_kind: Option<&str>,
    ) -> PyResult<PyModel> {
        configured(
            Model::load(&path).map_err(error)?,
            input,
            layout,
            output_kind,
        )
    }

    /// A model from serialised ONNX bytes; `name` stands for its path.
    #[staticmethod]
    #[pyo3(signature = (data, name, input=None, layout=None, output_kind=None))]
    fn from_bytes(
        data: &[u8],
        name: &str,
        input: Option<&str>,
        layout: Option<&str>,
        output_kind: Option<&str>,
    ) -> PyResult<PyModel> {
        let path = Path::new(name);
        configured(
            Model::from_bytes(data, path).map_err(error)?,
            input,
            layout,
            output_kind,
        )
    }

    /// What sensie read from the model, as JSON (input, layout, outputs, output kind).
    fn info(&self) -> PyResult<String> {
        serde_json::to_string(self.model.info())
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
    }

    fn path(&self) -> PathBuf {
        self.model.path().to_path_buf()
    }

    /// The serialised model (for pickling).
    fn onnx_bytes(&self) -> Vec<u8> {
        self.model.to_bytes()
    }

    /// The model's first output for a batch in its own input layout, N x (rest).
    #[pyo3(signature = (x, batch_size=256, threads=0))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArrayDyn<'py, f32>,
        batch_size: usize,
        threads: usize,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let x = x.as_array().to_owned();
        let model = self.model.clone();
        let runtime = runtime()?;
        let scores = py.detach(move || {
            Engine::new(
                runtime,
                model,
                EngineOptions {
                    batch_size,
                    threads,
                },
            )?
            .predict(x.view())
        });
        Ok(scores.map_err(error)?.into_pyarray(py))
    }
}

/// Applies the user's choice of input, layout and output kind.
fn configured(
    mut model: Model,
    input: Option<&str>,
    layout: Option<&str>,
    output_kind: Option<&str>,
) -> PyResult<PyModel> {
    if let Some(name) = input {
        let actual = &model.info().input.name;
        if name != actual {
            return Err(error(sensie::Error::unknown(
                format!("input of model {}", model.path().display()),
                name,
                [actual.clone()],
            )));
        }
    }
    if let Some(layout) = layout {
        model
            .set_layout(Layout::parse(layout).map_err(error)?)
            .map_err(error)?;
    }
    if let Some(kind) = output_kind {
        model.set_output_kind(kind.parse::<OutputKind>().map_err(error)?);
    }
    Ok(PyModel { model })
}
