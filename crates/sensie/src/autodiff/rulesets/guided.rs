//! Guided backpropagation (Springenberg et al. 2015): at each ReLU only
//! positive gradients pass, and only where the forward input was positive:
//! `Relu(g) * (y > 0)`.

use crate::Result;
use crate::autodiff::rulesets::RuleSet;
use crate::autodiff::{Ctx, Rule, rules};

/// Guided backpropagation (Springenberg et al. 2015): ReLU passes the
/// gradient only where both the forward input and the gradient are positive.
pub struct GuidedBackprop;

impl RuleSet for GuidedBackprop {
    fn name(&self) -> &str {
        "guided-backprop"
    }
    fn rule(&self, op: &str) -> Option<Rule> {
        (op == "Relu").then_some(relu as Rule)
    }
}

fn relu(ctx: &mut Ctx, g: &[Option<String>]) -> Result<Vec<Option<String>>> {
    let g = ctx.g0(g);
    let positive = ctx.b.node("Relu", &[&g], vec![]);
    Ok(vec![Some(rules::activation::mask_positive(ctx, &positive))])
}
