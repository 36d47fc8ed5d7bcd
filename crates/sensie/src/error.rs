//! The library's one error type. Every variant names the file, node, tensor or
//! value at fault and, where there is one, what to do about it.
//!
//! Callers build errors with the constructors ([`Error::io`],
//! [`Error::invalid`], [`Error::data`], [`Error::unknown`],
//! [`Error::runtime`]) and say where an error happened with
//! [`Error::context`] or [`ResultExt::context`], which keep the error typed
//! (matching goes through [`Error::root`]) and read "WHERE: the error". No
//! caller rewrites an error's fields by hand, so every message is made here.

use std::path::PathBuf;

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in sensie, one variant per kind of cause, so
/// callers (the command line, the Python package) can tell a missing file
/// from a bad value or a refusal of ONNX Runtime.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the operating system reported.
        source: std::io::Error,
    },

    /// A file given as a model is not a usable ONNX model.
    #[error("{path}: not a valid ONNX model ({reason})")]
    NotOnnx {
        /// The model file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// ONNX Runtime's shared library was not found or would not load.
    #[error("ONNX Runtime's shared library could not be loaded: {0}")]
    RuntimeLibrary(String),

    /// ONNX Runtime refused to build or run a session.
    #[error("ONNX Runtime refused {what}: {message}")]
    Runtime {
        /// What sensie asked of it (a session, a run of a graph).
        what: String,
        /// ONNX Runtime's own message.
        message: String,
    },

    /// A valid ONNX model that sensie cannot work with (its input is not an
    /// image, its output not scores, an op it cannot handle).
    #[error("model {path}: {reason}")]
    UnsupportedModel {
        /// The model file.
        path: PathBuf,
        /// Why, and what to do.
        reason: String,
    },

    /// A node on the path from the score to a requested tensor has no
    /// gradient rule (or no rule of the chosen rule set): the result would
    /// be wrong, so none is given.
    #[error("cannot differentiate through node '{node}' (op {op}): {reason}")]
    NoGradientRule {
        /// The node's name (or its index when it has none).
        node: String,
        /// Its op type.
        op: String,
        /// Why no rule applies.
        reason: String,
    },

    /// A tensor or layer name that is not in the model.
    #[error("no tensor named '{name}' in the model{}", suggestions(.closest))]
    UnknownTensor {
        /// The name asked for.
        name: String,
        /// The model's names closest to it, for the message.
        closest: Vec<String>,
    },

    /// A value given by the caller (a flag, a config entry, an array's
    /// shape) that sensie refuses.
    #[error("{what}: {reason}")]
    InvalidInput {
        /// The value, naming where it came from.
        what: String,
        /// Why it is refused, and what would be accepted.
        reason: String,
    },

    /// A data file whose contents are unusable (a bad header, a missing
    /// label, a NaN pixel).
    #[error("{path}: {reason}")]
    Data {
        /// The data file.
        path: PathBuf,
        /// What is wrong, naming the example or header.
        reason: String,
    },

    /// The caller asked a run to stop (Ctrl-C in a notebook).
    #[error("cancelled")]
    Cancelled,

    /// A name (perturbation, method, option) that is not one of the valid
    /// ones; the message suggests the closest.
    #[error("unknown {what} '{name}'{}; valid: {}", did_you_mean(.name, .valid), .valid.join(", "))]
    Unknown {
        /// What kind of name it is.
        what: String,
        /// The name given.
        name: String,
        /// Every valid name.
        valid: Vec<String>,
    },

    /// An error with where it happened in front (a data file, a flag): the
    /// message reads "WHAT: the error". Made by [`Error::context`].
    #[error("{what}: {source}")]
    Context {
        /// Where the error happened.
        what: String,
        /// The error itself.
        source: Box<Error>,
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
    /// A file or folder at `path` could not be read or written.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A value the caller gave is refused: `what` names it, `reason` says why
    /// and what would be accepted.
    pub fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// The data file at `path` is unusable for `reason`.
    pub fn data(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Data {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// `name` is not a valid `what`; `valid` lists the names that are.
    pub fn unknown(
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

    /// ONNX Runtime refused `what` with `err`.
    pub fn runtime(what: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Error::Runtime {
            what: what.into(),
            message: err.to_string(),
        }
    }

    /// This error with where it happened in front: the message reads
    /// "WHAT: the error", and the error stays typed ([`Error::root`]).
    pub fn context(self, what: impl Into<String>) -> Self {
        Error::Context {
            what: what.into(),
            source: Box::new(self),
        }
    }

    /// The error under any context: what to match on to tell kinds of
    /// errors apart.
    pub fn root(&self) -> &Error {
        match self {
            Error::Context { source, .. } => source.root(),
            other => other,
        }
    }
}

/// [`Error::context`] on a result's error.
pub trait ResultExt<T> {
    /// The result, its error with `what` in front.
    fn context(self, what: impl Into<String>) -> Result<T>;
    /// The result, its error with `what()` in front (computed only on error).
    fn with_context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T> {
    fn context(self, what: impl Into<String>) -> Result<T> {
        self.map_err(|e| e.context(what))
    }

    fn with_context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| e.context(what()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_reads_where_then_the_error_and_keeps_its_kind() {
        let e = Error::invalid("input of shape [2, 3]", "the model takes [N, 1, 28, 28]")
            .context("digits.npy");
        assert_eq!(
            e.to_string(),
            "digits.npy: input of shape [2, 3]: the model takes [N, 1, 28, 28]"
        );
        assert!(matches!(e.root(), Error::InvalidInput { what, .. } if what.contains("[2, 3]")));
        let nested: Result<()> = Err(e);
        let nested = nested.context("--data").unwrap_err();
        assert!(
            nested
                .to_string()
                .starts_with("--data: digits.npy: input of shape")
        );
        assert!(matches!(nested.root(), Error::InvalidInput { .. }));
        let ok: Result<u8> = Ok(1);
        assert_eq!(ok.with_context(|| -> String { unreachable!() }).unwrap(), 1);
    }
}
