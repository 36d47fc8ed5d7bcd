//! The library's one error type. Every variant names the file, node, tensor or
//! value at fault and, where there is one, what to do about it.

use std::path::PathBuf;

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{path}: not a valid ONNX model ({reason})")]
    NotOnnx { path: PathBuf, reason: String },

    #[error("ONNX Runtime's shared library could not be loaded: {0}")]
    RuntimeLibrary(String),

    #[error("ONNX Runtime refused {what}: {message}")]
    Runtime { what: String, message: String },

    #[error("model {path}: {reason}")]
    UnsupportedModel { path: PathBuf, reason: String },

    #[error("cannot differentiate through node '{node}' (op {op}): {reason}")]
    NoGradientRule {
        node: String,
        op: String,
        reason: String,
    },

    #[error("no tensor named '{name}' in the model{}", suggestions(.closest))]
    UnknownTensor { name: String, closest: Vec<String> },

    #[error("{what}: {reason}")]
    InvalidInput { what: String, reason: String },

    #[error("{path}: {reason}")]
    Data { path: PathBuf, reason: String },

    #[error("unknown {what} '{name}'{}; valid: {}", did_you_mean(.name, .valid), .valid.join(", "))]
    Unknown {
        what: String,
        name: String,
        valid: Vec<String>,
    },
}

/// The valid name closest to a misspelt one, when one is close enough to be
/// what the user meant.
fn did_you_mean(name: &str, valid: &[String]) -> String {
    valid
        .iter()
        .map(|v| (strsim::jaro_winkler(name, v), v))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, v)| format!(" (did you mean '{v}'?)"))
        .unwrap_or_default()
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
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            what: what.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn data(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Data {
            path: path.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn unknown(
        what: impl Into<String>,
        name: impl Into<String>,
        valid: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Error::Unknown {
            what: what.into(),
            name: name.into(),
            valid: valid.into_iter().map(Into::into).collect(),
        }
    }

    pub(crate) fn runtime(what: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Error::Runtime {
            what: what.into(),
            message: err.to_string(),
        }
    }
}
