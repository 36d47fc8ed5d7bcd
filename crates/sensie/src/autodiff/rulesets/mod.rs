//! Rule sets: which gradient rule each op gets. A rule set overrides the
//! standard rules for some ops; a new one (for example LRP's) is one new file
//! implementing [`RuleSet`].

mod deconvnet;
mod guided;

use crate::autodiff::Rule;

pub use deconvnet::Deconvnet;
pub use guided::GuidedBackprop;

/// Chooses rules by op type; ops it leaves alone get the standard rule.
pub trait RuleSet: Send + Sync {
    /// A short name, used in cache keys and error messages.
    fn name(&self) -> &'static str;
    /// The rule for `op`, or `None` for the standard one.
    fn rule(&self, op: &str) -> Option<Rule>;
}

/// The true gradient.
pub struct Standard;

impl RuleSet for Standard {
    fn name(&self) -> &'static str {
        "standard"
    }
    fn rule(&self, _op: &str) -> Option<Rule> {
        None
    }
}

/// The rule set with the given name.
pub fn by_name(name: &str) -> Option<&'static dyn RuleSet> {
    match name {
        "standard" => Some(&Standard),
        "guided-backprop" | "guided" => Some(&GuidedBackprop),
        "deconvnet" => Some(&Deconvnet),
        _ => None,
    }
}
