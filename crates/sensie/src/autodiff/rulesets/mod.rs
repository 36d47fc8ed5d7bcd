//! Rule sets: which gradient rule each op gets. A rule set overrides the
//! standard rules for some ops; a new one is one new file implementing
//! [`RuleSet`] (LRP's, whose rules carry parameters and differ per layer, is
//! a folder: one file per rule).

mod deconvnet;
mod guided;
pub(crate) mod lrp;

use crate::Result;
use crate::autodiff::{Ctx, Rule};

pub use deconvnet::Deconvnet;
pub use guided::GuidedBackprop;

/// Chooses rules by op type; ops it leaves alone get the standard rule.
///
/// Implemented by sensie's own rule sets ([`Standard`], [`GuidedBackprop`],
/// [`Deconvnet`], [`crate::autodiff::Lrp`]): a rule writes ONNX nodes with
/// the crate's internal graph builder, so the methods that hand out rules
/// are hidden and the trait cannot be implemented outside the crate.
pub trait RuleSet: Send + Sync {
    /// A short name, used in cache keys and error messages: it names every
    /// parameter that changes the graph.
    fn name(&self) -> &str;
    /// The rule for `op`, or `None` for the standard one.
    #[doc(hidden)]
    fn rule(&self, op: &str) -> Option<Rule>;
    /// The backward pass of one node, for rule sets whose rule depends on
    /// more than the op type (the layer's place, parameters); asked before
    /// `rule`. `None` leaves the node to `rule`.
    #[doc(hidden)]
    fn node_rule(
        &self,
        _ctx: &mut Ctx,
        _g: &[Option<String>],
    ) -> Option<Result<Vec<Option<String>>>> {
        None
    }
}

/// The true gradient.
pub struct Standard;

impl RuleSet for Standard {
    fn name(&self) -> &str {
        "standard"
    }
    fn rule(&self, _op: &str) -> Option<Rule> {
        None
    }
}
