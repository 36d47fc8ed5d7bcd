//! What a gradient rule sees and returns. Rules are sensie's own: they write
//! ONNX nodes through the crate's graph builder, so these types stay inside
//! the crate (a [`super::RuleSet`] names them, which is why they are `pub` in
//! a private module).

use crate::graph::{Builder, Constants, NodeExt, Shape, TensorShapes};
use crate::onnx::NodeProto;
use crate::{Error, Result};

/// A gradient rule: from the gradients of a node's outputs (`None` where an
/// output gets none) to those of its inputs (`None` where not wanted).
pub type Rule = fn(&mut Ctx, &[Option<String>]) -> Result<Vec<Option<String>>>;

/// What a rule sees of the node it differentiates and the graph being built.
pub struct Ctx<'a, 'g> {
    pub node: &'a NodeProto,
    pub b: &'a mut Builder<'g>,
    pub shapes: &'a TensorShapes,
    pub consts: &'a Constants,
    /// Per input: whether its gradient is wanted.
    pub wants: Vec<bool>,
    /// The forward graph's nodes, in order: for rules that look at a node's
    /// neighbours (LRP folds a BatchNormalization into the Conv before it).
    pub forward: &'a [NodeProto],
}

impl Ctx<'_, '_> {
    /// The name of input `i` (empty when omitted).
    pub fn input(&self, i: usize) -> String {
        self.node.input.get(i).cloned().unwrap_or_default()
    }

    pub fn output(&self, i: usize) -> String {
        self.node.output[i].clone()
    }

    pub fn wants(&self, i: usize) -> bool {
        self.wants.get(i).copied().unwrap_or(false)
    }

    /// The learned shape of a tensor.
    pub fn shape(&self, name: &str) -> Result<Shape> {
        self.shapes
            .get(name)
            .cloned()
            .ok_or_else(|| self.fail(format!("the shape of tensor '{name}' is unknown")))
    }

    /// An error for this node.
    pub fn fail(&self, reason: impl Into<String>) -> Error {
        Error::NoGradientRule {
            node: self.node.label(),
            op: self.node.op().to_string(),
            reason: reason.into(),
        }
    }

    /// A constant integer input, needed where the rule must know it statically.
    pub fn const_ints(&self, i: usize) -> Result<Vec<i64>> {
        let name = self.input(i);
        self.consts
            .i64(&name)
            .map(|a| a.iter().copied().collect())
            .or_else(|| self.shapes.int_value(&name).map(<[i64]>::to_vec))
            .ok_or_else(|| {
                self.fail(format!(
                    "input {i} ('{name}') must be a constant or computed from shapes alone"
                ))
            })
    }

    /// The first output's gradient (every single-output rule starts here).
    pub fn g0(&self, g: &[Option<String>]) -> String {
        g[0].clone()
            .expect("rules are called only for nodes whose outputs have gradients")
    }
}
