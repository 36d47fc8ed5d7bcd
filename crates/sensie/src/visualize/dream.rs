//! Deep Dream (Mordvintsev, Olah & Tyka 2015): change a given image to
//! amplify whatever a layer already sees in it, by gradient ascent on half
//! the layer's squared L2 norm, whose gradient at the layer is the layer
//! itself.
//!
//! Octaves work coarse to fine: at the first, steps are taken in an image
//! shrunk by `octave_scale` per remaining octave and enlarged back before the
//! model sees it, so they add large structures; the last works at full
//! resolution. Shrinking only the step, not the image, keeps every detail
//! already there (the original keeps a pyramid of "detail" images for the
//! same reason) and works with models whose input size is fixed. Each step is
//! jittered by a random shift, and normalised by the mean absolute gradient
//! as in the original, so the step size is a fraction of the value range.

use ndarray::{Array4, ArrayD, ArrayViewD, Axis};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde::Serialize;

use super::maximize::per_image;
use super::transform::{Warp, interpolation, resize};
use super::{LARGE_TILE, Layer, Picture, Report, Table, ValueRange, image_picture, tiled};
use crate::autodiff::Standard;
use crate::engine::{Engine, GradientRequest, Score};
use crate::render::Labels;
use crate::{Error, Result};

/// How to dream.
#[derive(Clone, Copy, Debug)]
pub struct DreamOptions {
    /// Octaves: each a smaller step than the last.
    pub octaves: usize,
    /// Size ratio between successive octaves.
    pub octave_scale: f32,
    /// Gradient steps per octave.
    pub steps: usize,
    /// Mean change of a pixel per step, as a fraction of the value range.
    pub step_size: f32,
    /// Random shift of up to this many pixels along each axis, every step.
    pub jitter: usize,
    /// The inputs the model expects; images never leave it.
    pub range: ValueRange,
    /// Seed of the jitter.
    pub seed: u64,
}

impl Default for DreamOptions {
    /// The original's 4 octaves 1.4 apart, 10 steps each of 1.5 / 255 of the range.
    fn default() -> Self {
        DreamOptions {
            octaves: 4,
            octave_scale: 1.4,
            steps: 10,
            step_size: 1.5 / 255.0,
            jitter: 1,
            range: ValueRange::default(),
            seed: 0,
        }
    }
}

/// Dreamed images and how much the layer grew.
#[derive(Clone, Debug, Serialize)]
pub struct Dreamed {
    /// The layer amplified.
    pub layer: String,
    /// The images, in the model's input layout and value range.
    pub inputs: ArrayD<f32>,
    /// The images given and the dreamed ones, N x C x H x W.
    pub originals: Array4<f32>,
    /// The dreamed images.
    pub images: Array4<f32>,
    /// Per image, the layer's L2 norm before and after.
    pub norm_before: Vec<f32>,
    /// Per image, the layer's L2 norm after.
    pub norm_after: Vec<f32>,
}

/// Deep Dream on images `x` (in the model's layout) at `layer`.
pub fn dream(
    engine: &mut Engine,
    x: ArrayViewD<f32>,
    layer: &str,
    options: &DreamOptions,
) -> Result<Dreamed> {
    dream_with_progress(engine, x, layer, options, &mut |_, _| {})
}

/// [`dream`], telling `progress` (steps done, steps in all, over every
/// octave) before each step.
pub fn dream_with_progress(
    engine: &mut Engine,
    x: ArrayViewD<f32>,
    layer: &str,
    options: &DreamOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Dreamed> {
    if options.octaves == 0
        || options.octave_scale.is_nan()
        || options.octave_scale < 1.0
        || options.step_size.is_nan()
        || options.step_size <= 0.0
    {
        return Err(Error::invalid(
            format!(
                "Deep Dream with {} octaves {} apart and step {}",
                options.octaves, options.octave_scale, options.step_size
            ),
            "it needs at least 1 octave, an octave scale of at least 1 and a positive step",
        ));
    }
    crate::limits::at_most("octaves", options.octaves, crate::limits::MAX_STEPS)?;
    crate::limits::at_most("steps", options.steps, crate::limits::MAX_STEPS)?;
    super::finite(x.view())?;
    let layer = Layer::find(engine, layer)?;
    let input = Layer::input(engine)?;
    let (_, h, w) = input.chw();
    super::regularise::check_jitter(options.jitter, h, w)?;
    let originals = input.to_nchw(x)?;
    let mut images = originals.clone();
    let norm_before = norms(&activations(
        engine,
        &layer,
        &input.to_stored(images.view()),
    )?);
    let request = GradientRequest {
        score: Score::Tensor(layer.tensor.clone()),
        rules: &Standard,
        wrt: vec![input.tensor.clone()],
    };
    let mut rng = Pcg64Mcg::seed_from_u64(options.seed);
    for octave in 0..options.octaves {
        let shrink = options
            .octave_scale
            .powi((options.octaves - 1 - octave) as i32);
        let small = (
            ((h as f32 / shrink).round() as usize).max(1),
            ((w as f32 / shrink).round() as usize).max(1),
        );
        let (rows, cols) = (interpolation(h, small.0), interpolation(w, small.1));
        for step in 0..options.steps {
            progress(
                octave * options.steps + step,
                options.octaves * options.steps,
            );
            let warps: Vec<Warp> = (0..images.shape()[0])
                .map(|_| Warp::random(&mut rng, (h, w), options.jitter, 0.0, 0.0))
                .collect();
            let fed = input.to_stored(per_image(&images, |i, image| warps[i].apply(image)).view());
            // d(|A|^2 / 2) / dx is the gradient of the layer seeded with itself.
            let seed = engine
                .tensors(fed.view(), std::slice::from_ref(&layer.tensor))?
                .remove(0);
            let grad = input
                .to_nchw(engine.gradients(fed.view(), seed.view(), &request)?.grads[0].view())?;
            let grad = per_image(&grad, |i, g| warps[i].adjoint(g));
            let step = per_image(&grad, |_, g| {
                let coarse = resize(g, rows.t(), cols.t());
                let mean = coarse.mapv(f32::abs).mean().unwrap_or(0.0);
                let coarse = if mean > 0.0 { coarse / mean } else { coarse };
                resize(coarse.view(), rows.view(), cols.view())
            });
            images.scaled_add(options.step_size * options.range.width(), &step);
            images.mapv_inplace(|v| v.clamp(options.range.low, options.range.high));
        }
    }
    let inputs = input.to_stored(images.view());
    let norm_after = norms(&activations(engine, &layer, &inputs)?);
    Ok(Dreamed {
        layer: layer.tensor,
        inputs,
        originals,
        images,
        norm_before,
        norm_after,
    })
}

impl Dreamed {
    /// Each image beside its dream, and a page with the layer's norms;
    /// `labels` name the images (e.g. by their index in the data).
    pub fn report(&self, labels: &[String]) -> Result<Report> {
        let mut tiles = Vec::new();
        for (original, dreamed) in self.originals.outer_iter().zip(self.images.outer_iter()) {
            tiles.push(image_picture(original)?);
            tiles.push(image_picture(dreamed)?);
        }
        let laid_out = tiled(
            &tiles,
            2,
            LARGE_TILE,
            &Labels {
                columns: vec!["image".into(), format!("dream at {}", self.layer)],
                rows: labels.to_vec(),
            },
        )?;
        let caption = format!(
            "Each image (left) and its dream at {} (right), each stretched between its own extremes.",
            self.layer
        );
        let picture = Picture::new("dream.png", laid_out, None, caption);
        let rows = labels
            .iter()
            .zip(self.norm_before.iter().zip(&self.norm_after))
            .map(|(label, (before, after))| {
                vec![
                    label.clone(),
                    format!("{before:.4}"),
                    format!("{after:.4}"),
                    format!("{:.3}", after / before),
                ]
            })
            .collect();
        Ok(Report {
            name: "dream",
            title: format!("Deep Dream at {}", self.layer),
            text: format!(
                "Images changed by gradient ascent on the L2 norm of {}, over octaves with jitter. inputs.npy holds the dreams in the model's layout and value range.",
                self.layer
            ),
            pictures: vec![picture],
            charts: Vec::new(),
            table: Some(Table {
                header: vec!["example", "norm before", "norm after", "ratio"],
                rows,
                caption: format!("L2 norm of {} per example.", self.layer),
            }),
            summary: serde_json::json!({
                "examples": labels,
                "result": { "layer": self.layer, "norm_before": self.norm_before, "norm_after": self.norm_after },
            }),
            inputs: Some(self.inputs.clone()),
        })
    }
}

fn activations(engine: &mut Engine, layer: &Layer, x: &ArrayD<f32>) -> Result<Array4<f32>> {
    layer.to_nchw(engine.tensors(x.view(), std::slice::from_ref(&layer.tensor))?[0].view())
}

/// Per example, the L2 norm of its activations.
fn norms(a: &Array4<f32>) -> Vec<f32> {
    a.axis_iter(Axis(0))
        .map(|x| x.iter().map(|v| v * v).sum::<f32>().sqrt())
        .collect()
}
