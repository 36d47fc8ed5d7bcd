//! The library's one error type. Every variant names the file, node, tensor or
//! value at fault and, where there is one, what to do about it.

use std::path::PathBuf;

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    #[error("{path}: not a valid ONNX model ({reason})")]
    NotOnnx { path: PathBuf, reason: String },

    #[error("ONNX Runtime's shared library could not be loaded: {0}")]
    RuntimeLibrary(String),

    #[error("ONNX Runtime refused {what}: {message}")]
    Runtime { what: String, message: String },

    #[error("model {path}: {reason}")]
    UnsupportedModel { path: PathBuf, reason: String },

    #[error("cannot differentiate through node '{node}' (op {op}): {reason}")]
    NoGradientRule { node: String, op: String, reason: String },

    #[error("no tensor named '{name}' in the model{}", suggestions(.closest))]
    UnknownTensor { name: String, closest: Vec<String> },

    #[error("{what}: {reason}")]
    InvalidInput { what: String, reason: String },

    #[error("{path}: {reason}")]
    Data { path: PathBuf, reason: String },
}

fn suggestions(closest: &[String]) -> String {
    if closest.is_empty() {
        String::new()
    } else {
        format!("; closest: {}", closest.join(", "))
    }
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput { what: what.into(), reason: reason.into() }
    }

    pub(crate) fn runtime(what: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Error::Runtime { what: what.into(), message: err.to_string() }
    }
}
