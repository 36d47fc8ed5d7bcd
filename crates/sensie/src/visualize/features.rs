//! Feature maps: a layer's activations for chosen examples, one map per
//! channel, the most active channels first (ranked per example by the mean of
//! the map), so that the channels an example excites lead its grid.

use ndarray::{Array2, Array4, ArrayViewD, Axis};
use serde::Serialize;

use super::Layer;
use crate::Result;
use crate::engine::Engine;

/// A layer's feature maps for some examples.
#[derive(Clone, Debug, Serialize)]
pub struct FeatureMaps {
    /// The layer's tensor.
    pub layer: String,
    /// N x C x H x W, exactly as the model computes them.
    #[serde(skip)]
    pub maps: Array4<f32>,
    /// N x C: each map's mean activation.
    #[serde(skip)]
    pub mean: Array2<f32>,
    /// Per example, its channels from the highest mean activation to the
    /// lowest (ties in channel order).
    pub order: Vec<Vec<usize>>,
}

/// The feature maps of `layer` for inputs `x` (in the model's layout).
pub fn feature_maps(engine: &mut Engine, x: ArrayViewD<f32>, layer: &str) -> Result<FeatureMaps> {
    let layer = Layer::feature_map(engine, layer)?;
    let values = engine.tensors(x, std::slice::from_ref(&layer.tensor))?.remove(0);
    let maps = layer.to_nchw(values.view());
    let mean = maps.map_axis(Axis(3), |row| row.sum()).map_axis(Axis(2), |col| col.sum()) / (maps.shape()[2] * maps.shape()[3]) as f32;
    let order = mean
        .rows()
        .into_iter()
        .map(|row| {
            let mut channels: Vec<usize> = (0..row.len()).collect();
            channels.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
            channels
        })
        .collect();
    Ok(FeatureMaps { layer: layer.tensor, maps, mean, order })
}
