//! The model-randomisation sanity check of Adebayo et al. (2018), cascading:
//! randomise the weights of the top layer, then of the top two, and so on
//! down to the input, and after each step compare every method's maps with
//! the trained model's by rank correlation. A method whose maps stay alike
//! while the model it explains is destroyed shows the input, not the model
//! (the paper's finding for guided backprop); one that decorrelates passes.
//!
//! Layers are the nodes with learned weights: Conv, ConvTranspose, Gemm and
//! MatMul with an initializer input. Each of their float initializers
//! (weights and biases) is redrawn from a normal distribution with mean 0
//! and the original tensor's standard deviation, so activations keep their
//! scale; the draws are seeded. The targets stay those of the trained model.
//! Correlations are Spearman's, per example, of the maps as they are and of
//! their absolute values (the paper reports both); a map that is constant
//! (all zeros, say) has no rank correlation and is reported as `null`.

use std::collections::HashSet;

use ndarray::{ArrayViewD, Axis};
use serde::Serialize;

use super::{Attribution, Method, Targets};
use crate::engine::Engine;
use crate::graph::NodeExt;
use crate::onnx::{self, ModelProto};
use crate::rng::{SeededRng, name_hash};
use crate::{Error, Result};

/// The check's result.
#[derive(Clone, Debug, Serialize)]
pub struct Sanity {
    /// The randomised layers, top first: step `i` has layers `0..=i` randomised.
    pub layers: Vec<String>,
    /// Per method, its rank correlations.
    pub methods: Vec<MethodSanity>,
}

/// One method's rank correlations with its trained-model maps.
#[derive(Clone, Debug, Serialize)]
pub struct MethodSanity {
    /// The method's name.
    pub method: String,
    /// Per step, per example.
    pub spearman: Vec<Vec<Option<f64>>>,
    /// Per step, per example, of the maps' absolute values.
    pub spearman_abs: Vec<Vec<Option<f64>>>,
    /// Per step, the mean over the examples that have one.
    pub mean_spearman: Vec<Option<f64>>,
    /// Per step, the mean of [`MethodSanity::spearman_abs`] over the examples
    /// that have one.
    pub mean_spearman_abs: Vec<Option<f64>>,
}

/// Runs the cascading randomisation for `methods`, whose maps on the trained
/// model (the engine's) are `originals`.
pub fn cascading_randomisation(
    engine: &Engine,
    inputs: ArrayViewD<f32>,
    targets: &Targets,
    methods: &[Box<dyn Method>],
    originals: &[Attribution],
    seed: u64,
) -> Result<Sanity> {
    if originals.len() != methods.len()
        || originals
            .iter()
            .any(|a| a.map.shape().first() != inputs.shape().first())
    {
        return Err(Error::invalid(
            "the sanity check's reference maps",
            "need one map per method, one row per example",
        ));
    }
    let model = engine.model();
    let layers = weighted_nodes(model.proto());
    let mut proto = model.proto().clone();
    let mut methods_out: Vec<MethodSanity> = methods
        .iter()
        .map(|m| MethodSanity {
            method: m.name().to_string(),
            spearman: vec![],
            spearman_abs: vec![],
            mean_spearman: vec![],
            mean_spearman_abs: vec![],
        })
        .collect();
    for (step, (_, weights)) in layers.iter().enumerate() {
        randomise(&mut proto, weights, seed, step as u64);
        let mut engine = engine.with_model(model.with_weights(proto.clone()))?;
        for ((method, original), out) in methods.iter().zip(originals).zip(methods_out.iter_mut()) {
            let map = method.attribute(&mut engine, inputs.view(), targets)?.map;
            let per_example = |abs: bool| -> Vec<Option<f64>> {
                original
                    .map
                    .axis_iter(Axis(0))
                    .zip(map.axis_iter(Axis(0)))
                    .map(|(a, b)| spearman(&a, &b, abs))
                    .collect()
            };
            let (plain, abs) = (per_example(false), per_example(true));
            out.mean_spearman.push(mean(&plain));
            out.mean_spearman_abs.push(mean(&abs));
            out.spearman.push(plain);
            out.spearman_abs.push(abs);
        }
    }
    Ok(Sanity {
        layers: layers.into_iter().map(|(name, _)| name).collect(),
        methods: methods_out,
    })
}

/// The nodes with learned weights, top (nearest the output) first, each with
/// the names of its float initializers.
fn weighted_nodes(proto: &ModelProto) -> Vec<(String, Vec<String>)> {
    let graph = proto
        .graph
        .as_ref()
        .expect("models are checked to have a graph");
    let floats: HashSet<&str> = graph
        .initializer
        .iter()
        .filter(|t| t.data_type == Some(onnx::dtype::FLOAT))
        .filter_map(|t| t.name.as_deref())
        .collect();
    graph
        .node
        .iter()
        .rev()
        .filter(|n| matches!(n.op(), "Conv" | "ConvTranspose" | "Gemm" | "MatMul"))
        .map(|n| {
            (
                n.label(),
                n.input
                    .iter()
                    .filter(|i| floats.contains(i.as_str()))
                    .cloned()
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, weights)| !weights.is_empty())
        .collect()
}

/// Redraws the named initializers from N(0, their own standard deviation).
fn randomise(proto: &mut ModelProto, names: &[String], seed: u64, step: u64) {
    let graph = proto
        .graph
        .as_mut()
        .expect("models are checked to have a graph");
    for tensor in graph
        .initializer
        .iter_mut()
        .filter(|t| t.name.as_ref().is_some_and(|n| names.contains(n)))
    {
        let Some(values) = onnx::tensor_to_f32(tensor) else {
            continue;
        };
        let n = values.len().max(1) as f64;
        let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
        let std = (values
            .iter()
            .map(|&v| (v as f64 - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        let name = tensor.name.clone().unwrap_or_default();
        let mut stream = SeededRng::new(seed, &[name_hash("sanity"), step, name_hash(&name)]);
        let fresh: Vec<f32> = values
            .iter()
            .map(|_| (std * stream.normal()) as f32)
            .collect();
        let dims: Vec<usize> = values.shape().to_vec();
        *tensor = onnx::f32_tensor(&name, &dims, &fresh);
    }
}

/// Spearman's rank correlation of two maps (of their absolute values when
/// `abs`); `None` when either is constant.
pub fn spearman(a: &ArrayViewD<f32>, b: &ArrayViewD<f32>, abs: bool) -> Option<f64> {
    let prepare = |m: &ArrayViewD<f32>| {
        ranks(
            &m.iter()
                .map(|&v| if abs { v.abs() } else { v })
                .collect::<Vec<_>>(),
        )
    };
    let (ra, rb) = (prepare(a), prepare(b));
    let n = ra.len() as f64;
    let mean = (n + 1.0) / 2.0;
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        cov += (x - mean) * (y - mean);
        va += (x - mean).powi(2);
        vb += (y - mean).powi(2);
    }
    (va > 0.0 && vb > 0.0).then(|| cov / (va * vb).sqrt())
}

/// Ranks from 1, ties given the mean of the ranks they span.
fn ranks(values: &[f32]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut out = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        let rank = (start + end + 1) as f64 / 2.0;
        for &i in &order[start..end] {
            out[i] = rank;
        }
        start = end;
    }
    out
}

fn mean(values: &[Option<f64>]) -> Option<f64> {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    (!present.is_empty()).then(|| present.iter().sum::<f64>() / present.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr1;

    /// scipy.stats.spearmanr([1, 2, 2, 5], [3, 1, 4, 9]) = 0.6324555320336759.
    #[test]
    fn spearman_with_ties_matches_scipy() {
        let a = arr1(&[1.0f32, 2.0, 2.0, 5.0]).into_dyn();
        let b = arr1(&[3.0f32, 1.0, 4.0, 9.0]).into_dyn();
        let r = spearman(&a.view(), &b.view(), false).unwrap();
        assert!((r - 0.632_455_532_033_675_9).abs() < 1e-12, "{r}");
        assert_eq!(
            spearman(&a.view(), &arr1(&[0.0f32; 4]).into_dyn().view(), false),
            None
        );
        assert_eq!(
            spearman(
                &arr1(&[-2.0f32, 1.0, 3.0]).into_dyn().view(),
                &arr1(&[2.0f32, 1.0, 3.0]).into_dyn().view(),
                true
            ),
            Some(1.0)
        );
    }
}
