//! Deconvnet (Zeiler and Fergus 2014): a ReLU passes the positive part of the
//! gradient, whatever the forward input was: `Relu(g)`.

use crate::Result;
use crate::autodiff::rulesets::RuleSet;
use crate::autodiff::{Ctx, Rule};

/// Deconvnet (Zeiler and Fergus 2014): ReLU passes the gradient where the
/// gradient itself is positive, whatever the forward input was.
pub struct Deconvnet;

impl RuleSet for Deconvnet {
    fn name(&self) -> &str {
        "deconvnet"
    }
    fn rule(&self, op: &str) -> Option<Rule> {
        (op == "Relu").then_some(relu as Rule)
    }
}

fn relu(ctx: &mut Ctx, g: &[Option<String>]) -> Result<Vec<Option<String>>> {
    let g = ctx.g0(g);
    Ok(vec![Some(ctx.b.node("Relu", &[&g], vec![]))])
}
