//! Feature maps: a layer's activations for chosen examples, one map per
//! channel, the most active channels first (ranked per example by the mean of
//! the map), so that the channels an example excites lead its grid.

use ndarray::{Array2, Array4, ArrayViewD, Axis};
use serde::Serialize;

use super::{Layer, Picture, Report, SMALL_TILE, Table, scale_text, square_columns, tiled};
use crate::engine::Engine;
use crate::render;
use crate::render::Labels;
use crate::{Error, Result};

/// A layer's feature maps for some examples.
#[derive(Clone, Debug, Serialize)]
pub struct FeatureMaps {
    /// The layer's tensor.
    pub layer: String,
    /// N x C x H x W, exactly as the model computes them.
    pub maps: Array4<f32>,
    /// N x C: each map's mean activation.
    pub mean: Array2<f32>,
    /// Per example, its channels from the highest mean activation to the
    /// lowest (ties in channel order).
    pub order: Vec<Vec<usize>>,
}

/// The feature maps of `layer` for inputs `x` (in the model's layout).
pub fn feature_maps(engine: &mut Engine, x: ArrayViewD<f32>, layer: &str) -> Result<FeatureMaps> {
    super::finite(x.view())?;
    let layer = Layer::feature_map(engine, layer)?;
    let values = engine
        .tensors(x, std::slice::from_ref(&layer.tensor))?
        .remove(0);
    let maps = layer.to_nchw(values.view())?;
    let mean = maps
        .map_axis(Axis(3), |row| row.sum())
        .map_axis(Axis(2), |col| col.sum())
        / (maps.shape()[2] * maps.shape()[3]) as f32;
    let order = mean
        .rows()
        .into_iter()
        .map(|row| {
            let mut channels: Vec<usize> = (0..row.len()).collect();
            channels.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
            channels
        })
        .collect();
    Ok(FeatureMaps {
        layer: layer.tensor,
        maps,
        mean,
        order,
    })
}

impl FeatureMaps {
    /// Example `n`'s maps as a grid, the most active channel first (row by
    /// row), on one scale fitted to all of this example's maps: diverging
    /// about 0 when any value is negative, viridis from 0 otherwise, so the
    /// channels' strengths compare.
    pub fn picture(&self, n: usize, label: &str) -> Result<Picture> {
        let count = self.maps.shape()[0];
        if n >= count {
            return Err(Error::invalid(
                format!("example {n}"),
                format!(
                    "there are {count} examples (0 to {})",
                    count.saturating_sub(1)
                ),
            ));
        }
        let ordered = self
            .maps
            .index_axis(Axis(0), n)
            .select(Axis(0), &self.order[n]);
        let drawn = render::heatmaps(ordered.view(), true, 100.0)?;
        let scale = drawn.first().map(|(_, s)| *s);
        let tiles: Vec<_> = drawn.into_iter().map(|(tile, _)| tile).collect();
        let laid_out = tiled(
            &tiles,
            square_columns(tiles.len()),
            SMALL_TILE,
            &Labels::default(),
        )?;
        let leaders: Vec<String> = self.order[n].iter().take(5).map(usize::to_string).collect();
        let caption = format!(
            "{label}: {} channels of {}, most active first (channels {}, ...); {}.",
            tiles.len(),
            self.layer,
            leaders.join(", "),
            scale.as_ref().map(scale_text).unwrap_or_default()
        );
        Ok(Picture::new(
            format!("features_{label}.png").replace(' ', "_"),
            laid_out,
            scale,
            caption,
        ))
    }

    /// A picture per example (`labels` name them, e.g. by their index in the
    /// data) with a page and a summary.
    pub fn report(&self, labels: &[String]) -> Result<Report> {
        let pictures = labels
            .iter()
            .enumerate()
            .map(|(n, label)| self.picture(n, label))
            .collect::<Result<Vec<_>>>()?;
        let rows = labels
            .iter()
            .zip(&self.order)
            .enumerate()
            .map(|(n, (label, order))| {
                let top: Vec<String> = order
                    .iter()
                    .take(5)
                    .map(|&c| format!("{c} ({:.3})", self.mean[[n, c]]))
                    .collect();
                vec![label.clone(), top.join(", ")]
            })
            .collect();
        Ok(Report {
            name: "features",
            title: format!("Feature maps of {}", self.layer),
            text: format!(
                "Every channel's activation map at {} for each example, ranked by the map's mean activation.",
                self.layer
            ),
            pictures,
            charts: Vec::new(),
            table: Some(Table {
                header: vec!["example", "most active channels (mean activation)"],
                rows,
                caption: String::new(),
            }),
            summary: serde_json::json!({ "layer": self.layer, "examples": labels, "order": self.order, "mean": self.mean.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>() }),
            inputs: None,
        })
    }
}
