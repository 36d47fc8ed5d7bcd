//! `gradient-x-input`: the input times the gradient of the target score
//! (Shrikumar et al. 2016; Captum's `InputXGradient`). For a piecewise
//! linear network without biases it sums to the score.

use ndarray::ArrayViewD;

use super::{Attribution, Method, Targets, input_gradient};
use crate::Result;
use crate::autodiff::Standard;
use crate::engine::Engine;

/// Gradient x input: the gradient times the input, element by element.
pub struct InputXGradient;

impl Method for InputXGradient {
    fn name(&self) -> &str {
        "gradient-x-input"
    }

    fn attribute(
        &self,
        engine: &mut Engine,
        inputs: ArrayViewD<f32>,
        targets: &Targets,
    ) -> Result<Attribution> {
        let grad = input_gradient(engine, inputs.view(), targets, &Standard)?;
        Ok(Attribution::pixels(grad * inputs))
    }
}
