//! `gradient`, `guided-backprop`, `deconvnet`: the gradient of the target
//! score with respect to the input, under one of the engine's ReLU rule sets.
//!
//! - `gradient`: the true gradient (Simonyan et al. 2014; Captum's
//!   `Saliency(abs=False)`).
//! - `guided-backprop`: ReLU passes back only positive gradients where its
//!   input was positive (Springenberg et al. 2015; Captum's `GuidedBackprop`).
//! - `deconvnet`: ReLU passes back only positive gradients, wherever its
//!   input was (Zeiler & Fergus 2014; Captum's `Deconvolution`).
//!
//! The three differ only in ReLU's backward rule, so they are one method
//! with three rule sets, as in Captum's `guided_backprop_deconvnet.py`.

use ndarray::ArrayViewD;

use super::{Attribution, Method, Targets, input_gradient};
use crate::Result;
use crate::autodiff::{Deconvnet, GuidedBackprop, RuleSet, Standard};
use crate::engine::Engine;

/// An input gradient under a rule set.
pub struct Gradient {
    name: &'static str,
    rules: &'static dyn RuleSet,
}

impl Gradient {
    /// The plain gradient of the score.
    pub fn plain() -> Gradient {
        Gradient {
            name: "gradient",
            rules: &Standard,
        }
    }

    /// Guided backpropagation's gradient.
    pub fn guided_backprop() -> Gradient {
        Gradient {
            name: "guided-backprop",
            rules: &GuidedBackprop,
        }
    }

    /// Deconvnet's gradient.
    pub fn deconvnet() -> Gradient {
        Gradient {
            name: "deconvnet",
            rules: &Deconvnet,
        }
    }
}

impl Method for Gradient {
    fn name(&self) -> &str {
        self.name
    }

    fn attribute(
        &self,
        engine: &mut Engine,
        inputs: ArrayViewD<f32>,
        targets: &Targets,
    ) -> Result<Attribution> {
        Ok(Attribution::pixels(input_gradient(
            engine, inputs, targets, self.rules,
        )?))
    }
}
