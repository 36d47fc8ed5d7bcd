//! Crate internals that the integration tests and fuzz targets need to build
//! fixtures: hand-made or deliberately damaged ONNX models, and whether this
//! machine can draw charts' text. Not part of the public API: hidden from the
//! documentation and free to change with any release. Library users load
//! models with [`crate::model::Model`] and never see protobuf types.

pub use crate::graph::real_inputs;

/// The ONNX protobuf types and the model reader and writer.
pub mod onnx {
    pub use crate::onnx::*;
}

/// Whether charts and labelled grids get their text drawn into PNGs here (a
/// system font was found); without one sensie falls back to SVG charts and
/// unlabelled grids, and tests of the drawn text are skipped.
pub fn fonts_available() -> bool {
    crate::plot::Rasteriser::system().is_ok()
}
