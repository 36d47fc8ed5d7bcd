//! Feature visualisation: what a trained network has learned, seen four
//! ways: its convolutional kernels, its feature maps, inputs optimised to
//! excite it, and Deep Dream.
//!
//! - [`kernels()`]: a convolutional layer's weights, read from the model.
//! - [`feature_maps`]: a layer's activation maps for chosen examples, the
//!   most active channels first.
//! - [`maximize()`]: an input optimised to maximise a class score, a channel or
//!   one neuron, with the regularisers that make the result readable.
//! - [`dream()`]: Deep Dream, a given image changed to amplify a layer.
//!
//! Feature maps come from the engine exposing intermediate tensors, and the
//! optimisations run in the model's own input space on the engine's gradient
//! graphs ([`crate::engine::Score::Tensor`] for layers), so any ONNX model the
//! engine differentiates can be visualised. The pieces the optimisations
//! share each have a file: the image parameterisations ([`Parameterisation`],
//! Lucid's decorrelated Fourier space among them), the random transforms and
//! resampling, the penalties and blur, Adam, and the diversity term.
//!
//! Inside this module images are N x C x H x W in the model's value units;
//! results are handed back in the model's own input layout, so they can be
//! fed straight back to it. Layers are N x C x H x W too (a layer of units is
//! N x C x 1 x 1), whatever their layout in the graph ([`Layer`]).
//!
//! Every result has a `report`: its pictures (grids from [`crate::render`]),
//! a table of its numbers and a self-contained HTML page ([`Report`]).
//!
//! A visualisation as the command line asks for it is one value in, one
//! out: [`run`] takes a [`VisualizeConfig`] (the model, the kind and its
//! settings, the data's file and the examples chosen), loads and computes,
//! and returns a [`VisualizeRun`], plain data that writes nothing;
//! [`write_run`] writes its pictures, page, JSON and inputs.

mod adam;
mod diversity;
pub mod dream;
pub mod features;
mod fourier;
pub mod kernels;
pub mod maximize;
mod regularise;
mod run;
mod transform;

use std::path::{Path, PathBuf};

use ndarray::{Array4, ArrayD, ArrayView3, ArrayView4, ArrayViewD, Ix4};
use serde::Serialize;

use crate::engine::Engine;
use crate::graph::{self, NodeExt};
use crate::html::{Figure, Page};
use crate::model::Model;
use crate::render::{
    self, Colouring, Composite, Grid, HeatScale, LabelledGrid, Labels, RgbImage, Stretch,
};
use crate::{Error, Result};

pub use dream::{DreamOptions, Dreamed, dream, dream_with_progress};
pub use features::{FeatureMaps, feature_maps};
pub use fourier::{Parameterisation, colour_decorrelation};
pub use kernels::{Kernels, kernels};
pub use maximize::{MaximizeOptions, Maximized, Target, maximize, maximize_with_progress};
pub use regularise::Regularisers;
pub use run::{
    DEFAULT_EXAMPLES, DreamConfig, ExampleChoice, Kind, MaximizeConfig, VisualizeConfig,
    VisualizeRun, run, run_with_progress, write_run,
};

/// The values a model's inputs take: optimised images are kept inside it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ValueRange {
    /// The lowest value.
    pub low: f32,
    /// The highest value.
    pub high: f32,
}

impl Default for ValueRange {
    /// [0, 1], the range of most image models' inputs (MNIST's among them).
    fn default() -> Self {
        ValueRange {
            low: 0.0,
            high: 1.0,
        }
    }
}

impl ValueRange {
    /// The range from `low` to `high`; refuses one that is empty or not finite.
    pub fn new(low: f32, high: f32) -> Result<ValueRange> {
        if !(low.is_finite() && high.is_finite() && low < high) {
            return Err(Error::invalid(
                format!("value range [{low}, {high}]"),
                "it needs finite low < high",
            ));
        }
        Ok(ValueRange { low, high })
    }

    /// The smallest and largest finite value of some data.
    pub fn of_data(x: ArrayViewD<f32>) -> Result<ValueRange> {
        let (low, high) = x
            .iter()
            .filter(|v| v.is_finite())
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
                (l.min(v), h.max(v))
            });
        ValueRange::new(low, high).map_err(|_| {
            Error::invalid(
                "the data's value range",
                format!("[{low}, {high}] is empty; give the range explicitly"),
            )
        })
    }

    /// `high - low`.
    pub fn width(&self) -> f32 {
        self.high - self.low
    }
}

/// Refuses images holding NaN or infinite values (their maps would be NaN),
/// naming the first.
fn finite(x: ArrayViewD<f32>) -> Result<()> {
    match crate::data::first_non_finite(x) {
        Some((i, count)) => Err(Error::invalid(
            format!("example {i} of the images"),
            format!(
                "it holds {count} NaN or infinite value(s), so its maps would be NaN; fix or leave out that example"
            ),
        )),
        None => Ok(()),
    }
}

/// A tensor of the model, chosen by its name or by the name of the node
/// that makes it, seen per example as C x H x W.
#[derive(Clone, Debug)]
pub struct Layer {
    /// The tensor's name in the graph.
    pub(crate) tensor: String,
    /// Its shape after the batch dimension, as stored in the graph.
    dims: Vec<usize>,
    /// Whether the stored shape is H x W x C: the input of an NHWC model, or
    /// a tensor transposed back to NHWC (tf2onnx does this before Flatten),
    /// and activations of either (`Model::channels_last`). Every other 3-D
    /// shape is ONNX's C x H x W.
    channels_last: bool,
}

impl Layer {
    /// The layer named `name` (a tensor, or a node whose first output is
    /// taken); an unknown name is an error listing the closest names.
    pub fn find(engine: &mut Engine, name: &str) -> Result<Layer> {
        let node_output = engine
            .model()
            .nodes()
            .iter()
            .find(|n| n.name.as_deref() == Some(name))
            .and_then(|n| n.output.first().cloned());
        let tensor = match node_output {
            Some(output) if engine.shapes()?.get(name).is_none() => output,
            _ => name.to_string(),
        };
        if engine.model().is_weight(&tensor) {
            // A weight has a shape too, but no example's activations: its
            // "feature maps" would be the weights themselves.
            if let Some(weight) = engine.shapes()?.get(&tensor) {
                let dims = weight
                    .dims
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>();
                return Err(Error::invalid(
                    format!("layer '{name}'"),
                    format!(
                        "it is a weight of the model ({}), not a layer's output; layers: {}",
                        dims.join(" x "),
                        layer_names(engine)?
                    ),
                ));
            }
        }
        let Some(shape) = engine.shapes()?.get(&tensor).cloned() else {
            let mut names: Vec<String> = engine.shapes()?.names().map(str::to_string).collect();
            names.extend(engine.model().nodes().iter().filter_map(|n| n.name.clone()));
            return Err(Error::UnknownTensor {
                name: name.to_string(),
                closest: graph::closest_names(name, names.iter().map(String::as_str)),
            });
        };
        let dims: Vec<usize> = shape
            .dims
            .iter()
            .skip(1)
            .map(|&d| d.max(1) as usize)
            .collect();
        let channels_last = engine.model().channels_last(&tensor);
        let layer = Layer {
            tensor,
            dims,
            channels_last,
        };
        if !matches!(layer.dims.len(), 1 | 3) {
            return Err(Error::invalid(
                format!("layer '{name}' of shape [N, {}]", join(&layer.dims)),
                format!(
                    "sensie visualises layers of feature maps (N x C x H x W) or of units (N x C); such layers: {}",
                    layer_names(engine)?
                ),
            ));
        }
        Ok(layer)
    }

    /// Like [`Layer::find`], for a layer that must hold feature maps (C x H x W
    /// per example); the error for any other names the convolutional layers.
    pub fn feature_map(engine: &mut Engine, name: &str) -> Result<Layer> {
        let layer = Layer::find(engine, name)?;
        if layer.dims.len() != 3 {
            return Err(Error::invalid(
                format!("layer '{name}' of shape [N, {}]", join(&layer.dims)),
                format!(
                    "it has no feature maps (N x C x H x W); convolutional layers: {}",
                    conv_outputs(engine.model()).join(", ")
                ),
            ));
        }
        Ok(layer)
    }

    /// The model's input as a layer (its images, C x H x W per example).
    pub fn input(engine: &mut Engine) -> Result<Layer> {
        let name = engine.model().info().input.name.clone();
        if engine.model().info().image_size().is_none() {
            return Err(Error::invalid(
                format!("model input '{name}'"),
                "feature visualisation needs a 4-D image input with a fixed size (N x C x H x W or N x H x W x C)",
            ));
        }
        Layer::find(engine, &name)
    }

    /// The tensor's name in the graph.
    pub fn tensor(&self) -> &str {
        &self.tensor
    }

    /// (channels, height, width) per example; units are C x 1 x 1.
    pub fn chw(&self) -> (usize, usize, usize) {
        match (self.dims.as_slice(), self.channels_last) {
            ([h, w, c], true) => (*c, *h, *w),
            ([c, h, w], false) => (*c, *h, *w),
            ([c], _) => (*c, 1, 1),
            _ => unreachable!("Layer::find admits ranks 1 and 3 only"),
        }
    }

    /// Values of this tensor (N first, in its stored layout, such as data
    /// for the model's input) as N x C x H x W.
    pub fn to_nchw(&self, a: ArrayViewD<f32>) -> Result<Array4<f32>> {
        let (c, h, w) = self.chw();
        if a.ndim() != self.dims.len() + 1 || a.shape()[1..] != self.dims[..] {
            return Err(Error::invalid(
                format!("an array of shape {:?}", a.shape()),
                format!(
                    "'{}' holds [N, {}] (N examples first)",
                    self.tensor,
                    join(&self.dims)
                ),
            ));
        }
        let n = a.shape()[0];
        Ok(if self.channels_last {
            let a = a.into_dimensionality::<Ix4>().expect("shape checked");
            a.permuted_axes([0, 3, 1, 2])
                .as_standard_layout()
                .into_owned()
        } else {
            a.as_standard_layout()
                .into_owned()
                .into_shape_with_order((n, c, h, w))
                .expect("shape checked")
        })
    }

    /// N x C x H x W values in this tensor's stored layout (N first).
    pub(crate) fn to_stored(&self, a: ArrayView4<f32>) -> ArrayD<f32> {
        let n = a.shape()[0];
        let mut dims = vec![n];
        dims.extend(&self.dims);
        let a = if self.channels_last {
            a.permuted_axes([0, 2, 3, 1])
        } else {
            a
        };
        a.as_standard_layout()
            .into_owned()
            .into_shape_with_order(dims)
            .expect("the layer's size")
    }

    /// Checks that `channel` (and a position, for one neuron) lies in the
    /// layer, naming the valid choices otherwise.
    pub fn check(&self, channel: usize, position: Option<(usize, usize)>) -> Result<()> {
        let (c, h, w) = self.chw();
        if channel >= c {
            return Err(Error::invalid(
                format!("channel {channel} of layer '{}'", self.tensor),
                format!("it has {c} channels (0 to {})", c - 1),
            ));
        }
        match position {
            Some((y, x)) if y >= h || x >= w => Err(Error::invalid(
                format!("position ({y}, {x}) in layer '{}'", self.tensor),
                format!(
                    "its maps are {h} x {w} (rows 0 to {}, columns 0 to {})",
                    h - 1,
                    w - 1
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// The output tensors of the model's convolutional nodes, in graph order.
pub fn conv_outputs(model: &Model) -> Vec<String> {
    model
        .nodes()
        .iter()
        .filter(|n| matches!(n.op(), "Conv" | "ConvTranspose"))
        .filter_map(|n| n.output.first().cloned())
        .collect()
}

/// The model's tensors that [`Layer::find`] admits, for error messages.
fn layer_names(engine: &mut Engine) -> Result<String> {
    let outputs: Vec<String> = engine
        .model()
        .nodes()
        .iter()
        .filter_map(|n| n.output.first().cloned())
        .collect();
    let shapes = engine.shapes()?;
    let admitted: Vec<String> = outputs
        .into_iter()
        .filter(|o| shapes.get(o).is_some_and(|s| matches!(s.rank(), 2 | 4)))
        .collect();
    Ok(admitted.join(", "))
}

fn join(dims: &[usize]) -> String {
    dims.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A picture a visualisation made, with how it was laid out and coloured.
pub struct Picture {
    /// Its file name in the output folder.
    pub file: String,
    /// The picture.
    pub image: RgbImage,
    /// The tiles' layout: tile `k` at column `k % columns`, row `k / columns`,
    /// each source pixel a block of `upscale` x `upscale`, the first cell
    /// `origin` (after the label bands) plus the padding from the corner.
    pub grid: Grid,
    /// Where the first tile's row and column begin, past the labels.
    pub origin: (u32, u32),
    /// The colour scale of the values, when one scale colours every tile.
    pub scale: Option<HeatScale>,
    /// What the picture shows, for the page.
    pub caption: String,
}

impl Picture {
    /// The picture of tiles `laid_out` (by [`tiled`]), to be written as
    /// `file`, with the colour scale of its values when one colours every tile.
    fn new(
        file: impl Into<String>,
        laid_out: LabelledGrid,
        scale: Option<HeatScale>,
        caption: String,
    ) -> Picture {
        let LabelledGrid {
            image,
            origin,
            layout,
        } = laid_out;
        Picture {
            file: file.into(),
            image,
            grid: layout,
            origin,
            scale,
            caption,
        }
    }
}

/// A table of numbers: header, rows and caption.
pub struct Table {
    /// The columns' names.
    pub header: Vec<&'static str>,
    /// The rows, as text.
    pub rows: Vec<Vec<String>>,
    /// What the table shows.
    pub caption: String,
}

/// What a visualisation writes to its output folder.
pub struct Report {
    /// The stem of its page and summary (`kernels.html`, `kernels.json`).
    pub name: &'static str,
    /// The page's title.
    pub title: String,
    /// What the pictures show and how they were made, for the page.
    pub text: String,
    /// The pictures.
    pub pictures: Vec<Picture>,
    /// Charts (SVG) with their captions.
    pub charts: Vec<(String, String)>,
    /// A table of numbers, when the visualisation has one.
    pub table: Option<Table>,
    /// The numbers behind the page, written as JSON.
    pub summary: serde_json::Value,
    /// Optimised inputs, in the model's layout and value range.
    pub inputs: Option<ArrayD<f32>>,
}

/// The file of a visualisation's optimised inputs.
const INPUTS: &str = "inputs.npy";

impl Report {
    /// The entries [`Report::write`] writes into its folder, by name: what
    /// a forced run may replace only when an earlier sensie run wrote them
    /// (see [`crate::output::OutputDir::claim`]).
    pub fn files(&self) -> Vec<String> {
        let mut files: Vec<String> = self.pictures.iter().map(|p| p.file.clone()).collect();
        if self.inputs.is_some() {
            files.push(INPUTS.into());
        }
        files.extend([self.file("json"), self.file("html")]);
        files
    }

    /// The page's or the summary's file, NAME.`extension`.
    fn file(&self, extension: &str) -> String {
        format!("{}.{extension}", self.name)
    }

    /// Writes the pictures (PNG), NAME.html (a self-contained page of the
    /// pictures, charts and table), NAME.json and, for optimised inputs,
    /// `inputs.npy`, creating `dir` if needed; returns the paths written.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut written = Vec::new();
        let mut page = Page::new(&self.title);
        // The page's title is its heading already; the section says what it holds.
        let section = page.section("Pictures and numbers");
        section.paragraph(&self.text);
        if let Some(table) = &self.table {
            section.table(&table.header, table.rows.clone(), &table.caption);
        }
        for picture in &self.pictures {
            let path = dir.join(&picture.file);
            render::write_png(&picture.image, &path)?;
            section.figure(Figure::picture(
                &picture.image,
                &picture.file,
                &picture.caption,
            )?);
            written.push(path);
        }
        for (svg, caption) in &self.charts {
            section.figure(Figure::svg(svg, caption)?);
        }
        if let Some(inputs) = &self.inputs {
            let path = dir.join(INPUTS);
            crate::output::write_npy(&path, inputs)?;
            written.push(path);
        }
        let json = dir.join(self.file("json"));
        let text = serde_json::to_string_pretty(&self.summary)
            .map_err(|e| Error::invalid("the summary", e.to_string()))?;
        crate::output::write_atomic(&json, (text + "\n").as_bytes())?;
        let html = dir.join(self.file("html"));
        page.write(&html)?;
        written.extend([json, html]);
        Ok(written)
    }
}

/// Side, in screen pixels, that tiles of a grid of many (kernels, feature
/// maps) are enlarged to.
const SMALL_TILE: u32 = 48;

/// Side that the few pictures of maximize and dream are enlarged to: an
/// optimised input must be big enough to read.
const LARGE_TILE: u32 = 192;

/// Tiles laid out in `columns`, each enlarged to about `side` pixels across
/// (whole factors only, so every value stays one crisp block) unless that
/// would make the picture wider or taller than [`render::MAX_SIDE`], on dark
/// grey: neither white (0 on the diverging scale) nor black (an empty sky);
/// `labels` are drawn above and left of the tiles.
fn tiled(tiles: &[RgbImage], columns: usize, side: u32, labels: &Labels) -> Result<LabelledGrid> {
    let size = tiles
        .iter()
        .fold((1, 1), |(w, h), t| (w.max(t.width()), h.max(t.height())));
    let layout = Grid::sized(columns, tiles.len(), size, side, 2, [96, 96, 96]);
    render::labelled(tiles, &layout, labels)
}

/// Columns for a near-square grid of `n` tiles.
fn square_columns(n: usize) -> usize {
    (n as f64).sqrt().ceil().max(1.0) as usize
}

/// An image (C x H x W) as a picture: one band in grey, three or more as a
/// colour composite, each stretched linearly between the image's extremes.
fn image_picture(image: ArrayView3<f32>) -> Result<RgbImage> {
    render::composite(
        image,
        &Composite {
            bands: None,
            colouring: Colouring::Stretch(Stretch::Linear),
        },
    )
}

/// The `(low, high)` of a colour scale as caption text.
fn scale_text(scale: &HeatScale) -> String {
    let (low, high) = scale.range();
    match scale {
        HeatScale::Signed { .. } => format!("blue {low:.3} to white 0 to red {high:.3}"),
        HeatScale::Unsigned { .. } => format!("viridis from {low:.3} (dark) to {high:.3} (yellow)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_tiles_are_enlarged_but_big_grids_stay_within_the_largest_side() {
        let tile = RgbImage::new(3, 3);
        let none = Labels::default();
        let LabelledGrid { image, layout, .. } =
            tiled(&vec![tile.clone(); 8], 3, SMALL_TILE, &none).unwrap();
        assert_eq!((layout.upscale, image.width()), (16, 3 * (48 + 2) + 2));
        // A 512 x 512 layer of 3 x 3 kernels: one row per output channel.
        let LabelledGrid { image, layout, .. } =
            tiled(&vec![tile; 512 * 16], 512, SMALL_TILE, &none).unwrap();
        assert!(
            image.width() <= render::MAX_SIDE
                && image.height() <= render::MAX_SIDE
                && layout.upscale >= 1,
            "{:?}",
            image.dimensions()
        );
    }
}
