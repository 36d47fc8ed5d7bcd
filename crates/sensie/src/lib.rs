#![warn(missing_docs)]
//! sensie: probe trained neural networks.
//!
//! Every computation on a model is an ONNX graph run by ONNX Runtime.
//! Gradients come from rewriting the model's own graph into a
//! forward+backward graph, so one engine, the fastest available on CPU,
//! serves prediction, sensitivity analysis, attribution and feature
//! visualisation.
//!
//! # Using the library
//!
//! Each analysis is one call that takes a config and returns a run value,
//! which the output layer writes:
//! - [`probe::run`]: sensitivity sweeps, group tests and grids
//!   ([`probe::ProbeConfig`], read from a probe.toml, to [`probe::ProbeRun`];
//!   [`probe::report`] turns that into results.json, results.csv and plots).
//! - [`explain::run()`]: attribution maps and their checks
//!   ([`explain::ExplainConfig`] to [`explain::ExplainRun`]).
//! - [`visualize`]: kernels, feature maps, activation maximisation and Deep
//!   Dream on an [`engine::Engine`].
//!
//! The pieces they are made of, for callers that need more control:
//! - [`runtime`]: ONNX Runtime, found and loaded without global state.
//! - [`model`]: a user's model with what sensie reads from it (input layout,
//!   classes, whether it outputs logits); [`inspect`] lists its nodes.
//! - [`engine`]: batched forward passes, feature maps and gradients, under a
//!   rule set from [`autodiff`] (true gradient, guided backprop, deconvnet,
//!   LRP).
//! - [`predictor`]: what a probe needs of a model, so a plain function can
//!   stand in for an ONNX model.
//! - [`data`]: test data (npy/npz, FITS, image folders, CSV metadata) as raw
//!   images in physical units, N x C x H x W.
//! - [`perturb`]: one change to an image, varied by one strength parameter:
//!   the built-ins and the [`perturb::Perturbation`] trait users implement.
//! - [`preprocess`]: the declared step from raw images to the model's input.
//! - [`stats`]: per-level statistics, effect sizes, slopes, thresholds and
//!   verdicts that respect the paired design of a sweep.
//! - [`rng`]: seeded random numbers independent of batching and threads.
//! - [`limits`]: the most work sensie accepts from flags, configs and file
//!   headers.
//! - [`output`]: output folders and atomic writes of every file sensie makes;
//!   [`render`] draws arrays as pictures.
//! - [`Error`] and [`Result`]: one error type, whose messages name the file,
//!   node or value at fault.
//!
//! The ONNX protobuf types, graph editing, gradient rules, charts and HTML
//! pages are internal: what they produce reaches users through the types
//! above.

pub mod autodiff;
pub mod data;
pub mod engine;
pub mod error;
pub mod explain;
pub(crate) mod graph;
pub(crate) mod html;
pub mod inspect;
pub mod limits;
pub mod model;
pub(crate) mod onnx;
pub mod output;
pub mod perturb;
pub(crate) mod plot;
pub mod predictor;
pub mod preprocess;
pub mod probe;
pub mod render;
pub mod rng;
pub mod runtime;
pub mod stats;
#[doc(hidden)]
pub mod testing;
pub mod visualize;

pub use error::{Error, Result, ResultExt};
