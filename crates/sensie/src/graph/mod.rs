//! Editing ONNX graphs: reading nodes' attributes and constant inputs,
//! appending new nodes and constants with fresh names, exposing intermediate
//! tensors as outputs, and learning every tensor's shape ([`shapes`]).

pub mod shapes;

use std::collections::{HashMap, HashSet};

use ndarray::ArrayD;

use crate::onnx::{self, AttributeProto, GraphProto, NodeProto, TensorProto, ValueInfoProto};
use crate::{Error, Result};

pub use shapes::{Shape, TensorShapes};

/// `AttributeProto.AttributeType` codes.
mod attr_type {
    pub const FLOAT: i32 = 1;
    pub const INT: i32 = 2;
    pub const STRING: i32 = 3;
    pub const TENSOR: i32 = 4;
    pub const FLOATS: i32 = 6;
    pub const INTS: i32 = 7;
}

/// Reading a node's attributes and inputs.
pub trait NodeExt {
    /// The node's name, or `op#index`-style text when the exporter left it empty.
    fn label(&self) -> String;
    fn op(&self) -> &str;
    fn attr(&self, name: &str) -> Option<&AttributeProto>;
    /// Typed reads: `None` when the attribute is absent, an error naming the
    /// node when it holds another type (a default would be silently wrong).
    fn attr_i(&self, name: &str) -> Result<Option<i64>>;
    fn attr_f(&self, name: &str) -> Result<Option<f32>>;
    fn attr_s(&self, name: &str) -> Result<Option<String>>;
    fn attr_ints(&self, name: &str) -> Result<Option<Vec<i64>>>;
    /// The `i`th input, `None` when absent or empty (an omitted optional input).
    fn input_name(&self, i: usize) -> Option<&str>;
}

impl NodeExt for NodeProto {
    fn label(&self) -> String {
        match self.name.as_deref() {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => format!(
                "{} -> {}",
                self.op(),
                self.output.first().map(String::as_str).unwrap_or("?")
            ),
        }
    }
    fn op(&self) -> &str {
        self.op_type.as_deref().unwrap_or("")
    }
    fn attr(&self, name: &str) -> Option<&AttributeProto> {
        self.attribute
            .iter()
            .find(|a| a.name.as_deref() == Some(name))
    }
    fn attr_i(&self, name: &str) -> Result<Option<i64>> {
        Ok(typed(self, name, attr_type::INT, |a| a.i.is_some())?.map(|a| a.i.unwrap_or_default()))
    }
    fn attr_f(&self, name: &str) -> Result<Option<f32>> {
        Ok(
            typed(self, name, attr_type::FLOAT, |a| a.f.is_some())?
                .map(|a| a.f.unwrap_or_default()),
        )
    }
    fn attr_s(&self, name: &str) -> Result<Option<String>> {
        Ok(typed(self, name, attr_type::STRING, |a| a.s.is_some())?
            .map(|a| String::from_utf8_lossy(a.s.as_deref().unwrap_or_default()).into_owned()))
    }
    fn attr_ints(&self, name: &str) -> Result<Option<Vec<i64>>> {
        Ok(typed(self, name, attr_type::INTS, |a| !a.ints.is_empty())?.map(|a| a.ints.clone()))
    }
    fn input_name(&self, i: usize) -> Option<&str> {
        self.input
            .get(i)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }
}

/// The attribute `name` of `node` when it is of type `want` (or, with no
/// declared type, when `holds` finds a value of that type in it).
fn typed<'a>(
    node: &'a NodeProto,
    name: &str,
    want: i32,
    holds: impl Fn(&AttributeProto) -> bool,
) -> Result<Option<&'a AttributeProto>> {
    let Some(a) = node.attr(name) else {
        return Ok(None);
    };
    let declared = a.r#type.filter(|&t| t != 0);
    if declared.map_or(holds(a), |t| t == want) {
        return Ok(Some(a));
    }
    let kind = |t: i32| match t {
        attr_type::FLOAT => "a float",
        attr_type::INT => "an integer",
        attr_type::STRING => "a string",
        attr_type::TENSOR => "a tensor",
        attr_type::FLOATS => "a list of floats",
        attr_type::INTS => "a list of integers",
        _ => "another type",
    };
    Err(Error::invalid(
        format!(
            "attribute '{name}' of {} node '{}'",
            node.op(),
            node.label()
        ),
        format!(
            "it is {} where ONNX defines {}; the model is malformed (export it again)",
            declared.map_or("of no declared type", kind),
            kind(want)
        ),
    ))
}

pub fn attr_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(attr_type::INT),
        i: Some(v),
        ..Default::default()
    }
}

pub fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(attr_type::INTS),
        ints: v.to_vec(),
        ..Default::default()
    }
}

pub fn attr_float(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(attr_type::FLOAT),
        f: Some(v),
        ..Default::default()
    }
}

pub fn attr_string(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(attr_type::STRING),
        s: Some(v.as_bytes().to_vec()),
        ..Default::default()
    }
}

pub fn attr_tensor(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(attr_type::TENSOR),
        t: Some(t),
        ..Default::default()
    }
}

/// The constant tensors of a graph: initializers and `Constant` node outputs.
pub struct Constants {
    map: HashMap<String, TensorProto>,
}

impl Constants {
    pub fn of(graph: &GraphProto) -> Constants {
        let mut map: HashMap<String, TensorProto> = graph
            .initializer
            .iter()
            .map(|t| (t.name.clone().unwrap_or_default(), t.clone()))
            .collect();
        for node in &graph.node {
            if node.op() != "Constant" {
                continue;
            }
            let Some(out) = node.output.first() else {
                continue;
            };
            let value = if let Some(t) = node.attr("value").and_then(|a| a.t.clone()) {
                Some(t)
            } else if let Some(v) = node.attr_f("value_float").ok().flatten() {
                Some(onnx::f32_tensor(out, &[], &[v]))
            } else if let Some(v) = node.attr("value_floats") {
                Some(onnx::f32_tensor(out, &[v.floats.len()], &v.floats))
            } else if let Some(v) = node.attr_i("value_int").ok().flatten() {
                Some(onnx::i64_tensor(out, &[], &[v]))
            } else {
                node.attr("value_ints")
                    .map(|v| onnx::i64_tensor(out, &[v.ints.len()], &v.ints))
            };
            if let Some(t) = value {
                map.insert(out.clone(), t);
            }
        }
        Constants { map }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    pub fn f32(&self, name: &str) -> Option<ArrayD<f32>> {
        self.map.get(name).and_then(onnx::tensor_to_f32)
    }

    pub fn i64(&self, name: &str) -> Option<ArrayD<i64>> {
        self.map.get(name).and_then(onnx::tensor_to_i64)
    }
}

/// Appends nodes and constants to a graph, naming each new tensor uniquely
/// with a prefix no exporter uses.
pub struct Builder<'g> {
    pub graph: &'g mut GraphProto,
    prefix: String,
    counter: usize,
}

impl<'g> Builder<'g> {
    pub fn new(graph: &'g mut GraphProto, prefix: &str) -> Builder<'g> {
        let taken: HashSet<&str> = graph
            .node
            .iter()
            .flat_map(|n| n.output.iter().chain(n.input.iter()))
            .map(String::as_str)
            .collect();
        let mut prefix = format!("sensie/{prefix}");
        while taken.iter().any(|t| t.starts_with(&prefix)) {
            prefix.push('_');
        }
        Builder {
            graph,
            prefix,
            counter: 0,
        }
    }

    /// A fresh tensor name that mentions `hint`.
    pub fn fresh(&mut self, hint: &str) -> String {
        self.counter += 1;
        format!("{}/{}{}", self.prefix, hint, self.counter)
    }

    /// Appends a node with one output and returns the output's name.
    pub fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        self.node_n(op, inputs, 1, attrs).pop().unwrap()
    }

    /// Appends a node with `n` outputs.
    pub fn node_n(
        &mut self,
        op: &str,
        inputs: &[&str],
        n: usize,
        attrs: Vec<AttributeProto>,
    ) -> Vec<String> {
        let outputs: Vec<String> = (0..n).map(|_| self.fresh(op)).collect();
        self.graph.node.push(NodeProto {
            op_type: Some(op.into()),
            name: Some(outputs[0].clone()),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.clone(),
            attribute: attrs,
            ..Default::default()
        });
        outputs
    }

    pub fn const_i64(&mut self, values: &[i64]) -> String {
        let name = self.fresh("const");
        self.graph
            .initializer
            .push(onnx::i64_tensor(&name, &[values.len()], values));
        name
    }

    /// An INT64 constant of any shape.
    pub fn const_i64_shaped(&mut self, dims: &[usize], values: &[i64]) -> String {
        let name = self.fresh("const");
        self.graph
            .initializer
            .push(onnx::i64_tensor(&name, dims, values));
        name
    }

    pub fn const_f32(&mut self, dims: &[usize], values: &[f32]) -> String {
        let name = self.fresh("const");
        self.graph
            .initializer
            .push(onnx::f32_tensor(&name, dims, values));
        name
    }

    pub fn scalar(&mut self, v: f32) -> String {
        self.const_f32(&[], &[v])
    }

    /// `Mul(a, scalar)`.
    pub fn scale(&mut self, a: &str, s: f32) -> String {
        let c = self.scalar(s);
        self.node("Mul", &[a, &c], vec![])
    }

    /// `Cast(to=FLOAT)`.
    pub fn cast_float(&mut self, a: &str) -> String {
        self.node(
            "Cast",
            &[a],
            vec![attr_int("to", onnx::dtype::FLOAT as i64)],
        )
    }

    /// Reshapes `a` to the runtime shape of `like`.
    pub fn reshape_like(&mut self, a: &str, like: &str) -> String {
        let shape = self.node("Shape", &[like], vec![]);
        self.node("Reshape", &[a, &shape], vec![])
    }

    /// Zeros with the runtime shape of `like`.
    pub fn zeros_like(&mut self, like: &str) -> String {
        let shape = self.node("Shape", &[like], vec![]);
        self.node(
            "ConstantOfShape",
            &[&shape],
            vec![attr_tensor("value", onnx::f32_tensor("", &[1], &[0.0]))],
        )
    }

    pub fn reduce_sum(&mut self, a: &str, axes: &[i64], keepdims: bool) -> String {
        let axes = self.const_i64(axes);
        self.node(
            "ReduceSum",
            &[a, &axes],
            vec![attr_int("keepdims", keepdims as i64)],
        )
    }

    pub fn unsqueeze(&mut self, a: &str, axes: &[i64]) -> String {
        let axes = self.const_i64(axes);
        self.node("Unsqueeze", &[a, &axes], vec![])
    }

    pub fn transpose(&mut self, a: &str, perm: &[i64]) -> String {
        self.node("Transpose", &[a], vec![attr_ints("perm", perm)])
    }

    /// Adds `name` to the graph's outputs (type left for ONNX Runtime to infer).
    pub fn expose(&mut self, name: &str) {
        expose(self.graph, name);
    }
}

/// Adds `name` to a graph's outputs, unless it is one already.
pub fn expose(graph: &mut GraphProto, name: &str) {
    if !graph.output.iter().any(|o| o.name.as_deref() == Some(name)) {
        graph.output.push(ValueInfoProto {
            name: Some(name.to_string()),
            ..Default::default()
        });
    }
}

/// Names of the graph's real inputs (those that are not initializers).
pub fn real_inputs(graph: &GraphProto) -> Vec<&ValueInfoProto> {
    let inits: HashSet<&str> = graph
        .initializer
        .iter()
        .filter_map(|t| t.name.as_deref())
        .collect();
    graph
        .input
        .iter()
        .filter(|i| !inits.contains(i.name.as_deref().unwrap_or("")))
        .collect()
}

/// The names closest to `name` among `candidates`, for "did you mean" errors.
pub fn closest_names<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut scored: Vec<(f64, &str)> = candidates
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored
        .into_iter()
        .take(5)
        .map(|(_, c)| c.to_string())
        .collect()
}
