//! The standard gradient rules, one file per family of ops. [`standard`] is
//! the one table from op type to rule: one match shows them all.
//!
//! Conventions every rule follows (they decide whether results match
//! PyTorch's autograd, which tests/engine_gradients.rs checks): ReLU's gradient at exactly 0
//! is 0; MaxPool sends the gradient to the first maximum of each window in
//! row-major order (ONNX Runtime's `Indices` output does); masks are
//! `g * Cast(mask)`, which ONNX Runtime runs about ten times faster than
//! `Where`; integer tensors (shape arithmetic) are never differentiated.

pub mod activation;
mod arithmetic;
pub(crate) mod conv;
pub(crate) mod linear;
mod norm;
mod pool;
mod reduce;
mod resize;
mod shape;

use crate::autodiff::Rule;

/// The standard rule for an op type, if sensie has one.
pub fn standard(op: &str) -> Option<Rule> {
    Some(match op {
        "Relu" => activation::relu,
        "LeakyRelu" => activation::leaky_relu,
        "PRelu" => activation::prelu,
        "Clip" => activation::clip,
        "Sigmoid" => activation::sigmoid,
        "Tanh" => activation::tanh,
        "HardSigmoid" => activation::hard_sigmoid,
        "HardSwish" => activation::hard_swish,
        "Gelu" => activation::gelu,
        "Erf" => activation::erf,
        "Elu" => activation::elu,
        "Softplus" => activation::softplus,
        "Exp" => activation::exp,
        "Log" => activation::log,
        "Sqrt" => activation::sqrt,
        "Reciprocal" => activation::reciprocal,
        "Neg" => activation::neg,
        "Abs" => activation::abs,
        "Add" | "Sub" | "Sum" => arithmetic::add_sub,
        "Mul" => arithmetic::mul,
        "Div" => arithmetic::div,
        "Pow" => arithmetic::pow,
        "Where" => arithmetic::where_,
        "Conv" => conv::conv,
        "ConvTranspose" => conv::conv_transpose,
        "MaxPool" => pool::max_pool,
        "AveragePool" => pool::average_pool,
        "GlobalAveragePool" => pool::global_average_pool,
        "GlobalMaxPool" => pool::global_max_pool,
        "BatchNormalization" => norm::batch_norm,
        "InstanceNormalization" => norm::instance_norm,
        "LayerNormalization" => norm::layer_norm,
        "Gemm" => linear::gemm,
        "MatMul" => linear::matmul,
        "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" => shape::reshape,
        "Identity" | "Dropout" => shape::identity,
        "Cast" => shape::cast,
        "Expand" => shape::expand,
        "Transpose" => shape::transpose,
        "Gather" => shape::gather,
        "Concat" => shape::concat,
        "Split" => shape::split,
        "Slice" => shape::slice,
        "Pad" => shape::pad,
        "Resize" => resize::resize,
        "ReduceSum" | "ReduceMean" => reduce::reduce_sum_mean,
        "ReduceMax" | "ReduceMin" => reduce::reduce_max_min,
        "Softmax" => reduce::softmax,
        "LogSoftmax" => reduce::log_softmax,
        _ => return None,
    })
}
