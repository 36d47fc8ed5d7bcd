//! sensie: probe trained neural networks.
//!
//! Every computation on a model is an ONNX graph run by ONNX Runtime. Gradients
//! come from rewriting the model's own graph into a forward+backward graph
//! ([`autodiff`]), so one engine, the fastest available on CPU, serves
//! prediction, sensitivity analysis, attribution and feature visualisation.
//!
//! The layers, bottom up:
//! - [`onnx`]: the ONNX protobuf types, reading and writing models.
//! - [`graph`]: editing a graph (new nodes, constants, exposed tensors) and
//!   learning the shape of every tensor in it.
//! - [`autodiff`]: reverse-mode differentiation as an ONNX-to-ONNX rewrite.
//! - [`runtime`]: ONNX Runtime, found and loaded without global state.
//! - [`model`]: a user's model with what sensie reads from it (input layout,
//!   classes, whether it outputs logits).
//! - [`engine`]: batched forward passes, feature maps and gradients.
//!
//! Sensitivity analysis, on top of the engine:
//! - [`data`]: test data (npy/npz, FITS, image folders, CSV metadata) as raw
//!   images in physical units, N x C x H x W.
//! - [`perturb`]: one change to an image, varied by one strength parameter.
//! - [`preprocess`]: the declared step from raw images to the model's input.
//! - [`stats`]: per-level statistics, effect sizes, slopes, thresholds and
//!   verdicts that respect the paired design of a sweep.
//! - [`limits`]: the most work sensie accepts from flags, configs and file headers.
//! - [`rng`]: seeded random numbers independent of batching and threads.
//! - [`probe`]: the runner: several tests in one streamed pass over the
//!   data, the results.json / results.csv it writes, and its plots, example
//!   grids and report.html.
//!
//! Seeing inside the network:
//! - [`visualize`]: kernels, feature maps, activation maximisation and Deep Dream.
//!
//! Explaining decisions:
//! - [`explain`]: attribution maps (saliency, Integrated Gradients, Grad-CAM,
//!   occlusion, ...) and checks of whether they are any good.

pub mod autodiff;
pub mod data;
pub mod engine;
pub mod error;
pub mod explain;
pub mod graph;
pub mod html;
pub mod inspect;
pub mod limits;
pub mod model;
pub mod npy;
pub mod onnx;
pub mod output;
pub mod perturb;
pub mod plot;
pub mod predictor;
pub mod preprocess;
pub mod probe;
pub mod render;
pub mod rng;
pub mod runtime;
pub mod stats;
pub mod visualize;

pub use error::{Error, Result};
/// The ONNX Runtime bindings sensie runs on, for callers that need them directly.
pub use ort;
