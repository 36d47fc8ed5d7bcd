//! `sensie._sensie`: the Rust half of the Python package.
//!
//! A thin layer over the `sensie` library: models, probe runs, attributions
//! and feature visualisation, with NumPy arrays in and out. Everything a
//! Python user sees (argument checking, results objects, plots, progress
//! bars) is in the package's Python modules; this module only moves arrays
//! across and runs the library with the GIL released.

mod distributed;
mod explain;
mod function;
mod interrupt;
mod model;
mod probe;
mod visualize;

use std::path::PathBuf;
use std::sync::OnceLock;

use pyo3::exceptions::{
    PyFileNotFoundError, PyKeyboardInterrupt, PyOSError, PyRuntimeError, PyValueError,
};
use pyo3::prelude::*;
use sensie::runtime::Runtime;

/// The ONNX Runtime this process loaded, from the `onnxruntime` wheel.
static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// Loads ONNX Runtime from `library` (the absolute path of the
/// `libonnxruntime.so` inside the installed `onnxruntime` package); the
/// package calls this once, on import.
#[pyfunction]
fn load_runtime(library: PathBuf) -> PyResult<()> {
    if RUNTIME.get().is_none() {
        let runtime = Runtime::from_library(&library).map_err(error)?;
        let _ = RUNTIME.set(runtime);
    }
    Ok(())
}

fn runtime() -> PyResult<Runtime> {
    RUNTIME.get().cloned().ok_or_else(|| {
        PyRuntimeError::new_err("ONNX Runtime is not loaded; import sensie, which loads it")
    })
}

/// The library's error as the Python exception a user expects, with the
/// message the command line prints.
fn error(e: sensie::Error) -> PyErr {
    use sensie::Error;
    let message = e.to_string();
    match e.root() {
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            PyFileNotFoundError::new_err(message)
        }
        Error::Io { .. } => PyOSError::new_err(message),
        Error::Cancelled => PyKeyboardInterrupt::new_err("the run was interrupted"),
        Error::RuntimeLibrary(_) | Error::Runtime { .. } => PyRuntimeError::new_err(message),
        _ => PyValueError::new_err(message),
    }
}

#[pymodule]
fn _sensie(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // NumPy's C API, reached now: rust-numpy reaches it on the first array
    // and panics on any error, and reaching it runs Python code, which
    // raises a pending Ctrl-C. After a run, that turned the interrupt into
    // a PanicException; here it is an error that fails the import.
    numpy::get_array_module(m.py())?;
    let _ = numpy::PyArray1::<f32>::zeros(m.py(), 0, false);
    m.add_function(wrap_pyfunction!(load_runtime, m)?)?;
    // The library's defaults, so the Python API's match the command line's.
    m.add("DEFAULT_BATCH_SIZE", sensie::engine::DEFAULT_BATCH_SIZE)?;
    m.add("DEFAULT_REPLICATES", sensie::stats::DEFAULT_REPLICATES)?;
    m.add_class::<model::PyModel>()?;
    m.add_class::<function::FunctionModel>()?;
    m.add_class::<probe::Run>()?;
    m.add_function(wrap_pyfunction!(probe::probe_arrays, m)?)?;
    m.add_function(wrap_pyfunction!(probe::probe_config, m)?)?;
    m.add_function(wrap_pyfunction!(probe::perturbations, m)?)?;
    m.add_function(wrap_pyfunction!(distributed::probe_shard, m)?)?;
    m.add_function(wrap_pyfunction!(distributed::probe_merge, m)?)?;
    m.add_function(wrap_pyfunction!(explain::explain, m)?)?;
    m.add_class::<explain::Explanation>()?;
    m.add_function(wrap_pyfunction!(visualize::kernels, m)?)?;
    m.add_function(wrap_pyfunction!(visualize::features, m)?)?;
    m.add_function(wrap_pyfunction!(visualize::maximize, m)?)?;
    m.add_function(wrap_pyfunction!(visualize::dream, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
