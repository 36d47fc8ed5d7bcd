//! Editing ONNX graphs.
