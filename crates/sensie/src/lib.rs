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
//! On top of the engine:
//! - [`visualize`]: kernels, feature maps, activation maximisation and Deep Dream.

pub mod autodiff;
pub mod engine;
pub mod error;
pub mod graph;
pub mod html;
pub mod inspect;
pub mod model;
pub mod npy;
pub mod onnx;
pub mod plot;
pub mod render;
pub mod runtime;
pub mod visualize;

pub use error::{Error, Result};
/// The ONNX Runtime bindings sensie runs on, for callers that need them directly.
pub use ort;
