//! `blur-saliency`: perturbation saliency by local blurring (Greydanus et
//! al. 2017). For each centre `(i, j)` of a grid of stride `K`, a Gaussian
//! mask `M[u, v] = exp(-((u - i)^2 + (v - j)^2) / (2 S^2))` (peak 1, over the
//! whole image) blends the image `I` with its blurred copy `A` (every band
//! blurred by a Gaussian of sigma `B`, as `scipy.ndimage.gaussian_filter`
//! does: radius `int(4 B + 0.5)`, edges reflected half-sample symmetric):
//! `phi = I (1 - M) + A M`. The saliency is `1/2 ||f(I) - f(phi)||^2` over
//! all logits, or `1/2 (f_t(I) - f_t(phi))^2` for the target's.
//!
//! Maps are at the grid's resolution, N x ceil(H/K) x ceil(W/K); the
//! pictures repeat each value over its K x K cell. Every blended image of
//! every example is one stream run through forward passes a batch at a time,
//! as occlusion's windows are.

use ndarray::{Array2, Array3, ArrayD, ArrayViewD, Axis, IxDyn, Zip};

use super::{Attribution, Geometry, MapKind, Method, Targets, check, in_batches};
use crate::engine::Engine;
use crate::perturb::kernel::{convolve_separable, normalised};
use crate::{Error, Result};

/// Which logits the saliency compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compared {
    /// Every entry of the score (Greydanus et al.'s choice).
    All,
    /// The target's only.
    Target,
}

/// Blur-perturbation saliency (Greydanus et al. 2017): how much the score
/// changes when a Gaussian patch of the image is blurred, per grid cell.
pub struct BlurSaliency {
    blur_sigma: f32,
    mask_sigma: f32,
    stride: usize,
    compared: Compared,
}

impl BlurSaliency {
    /// The method with its blur and mask sigmas (pixels), the grid's `stride`
    /// and which scores it compares; refuses sigmas or a stride that are not
    /// positive.
    pub fn new(
        blur_sigma: f32,
        mask_sigma: f32,
        stride: usize,
        compared: Compared,
    ) -> Result<BlurSaliency> {
        if !(blur_sigma > 0.0 && blur_sigma.is_finite()) {
            return Err(Error::invalid(
                format!("blur sigma {blur_sigma}"),
                "must be a positive number of pixels; a blur of sigma 0 leaves the image as it is, \
                 so no blend changes the score and every map would be 0",
            ));
        }
        if blur_sigma > crate::limits::MAX_SIGMA {
            return Err(Error::invalid(
                format!("blur sigma {blur_sigma}"),
                format!(
                    "sensie accepts at most {} pixels (its kernel has 8 sigma + 1 taps)",
                    crate::limits::MAX_SIGMA
                ),
            ));
        }
        if !(mask_sigma > 0.0 && mask_sigma.is_finite()) {
            return Err(Error::invalid(
                format!("mask sigma {mask_sigma}"),
                "must be a finite number of pixels > 0",
            ));
        }
        if stride == 0 {
            return Err(Error::invalid(
                "blur-saliency stride 0",
                "the grid's stride must be at least 1 pixel",
            ));
        }
        Ok(BlurSaliency {
            blur_sigma,
            mask_sigma,
            stride,
            compared,
        })
    }

    /// The mask centred on `(i, j)` over an H x W image.
    fn mask(&self, (i, j): (usize, usize), height: usize, width: usize) -> Array2<f32> {
        let two_s2 = 2.0 * f64::from(self.mask_sigma).powi(2);
        Array2::from_shape_fn((height, width), |(u, v)| {
            let d2 = (u as f64 - i as f64).powi(2) + (v as f64 - j as f64).powi(2);
            (-d2 / two_s2).exp() as f32
        })
    }
}

/// scipy.ndimage's Gaussian kernel: radius `int(4 sigma + 0.5)`, normalised.
fn scipy_gaussian(sigma: f32) -> Vec<f64> {
    let sigma = f64::from(sigma);
    let radius = (4.0 * sigma + 0.5) as i64;
    normalised(
        (-radius..=radius)
            .map(|k| (-0.5 * (k as f64 / sigma).powi(2)).exp())
            .collect(),
    )
    .expect("a Gaussian has a positive sum")
}

impl Method for BlurSaliency {
    fn name(&self) -> &str {
        "blur-saliency"
    }

    fn kind(&self) -> MapKind {
        MapKind::Grid { cell: self.stride }
    }

    fn attribute(
        &self,
        engine: &mut Engine,
        inputs: ArrayViewD<f32>,
        targets: &Targets,
    ) -> Result<Attribution> {
        check(engine, &inputs, targets)?;
        let g = Geometry::of(engine.model(), "blur-saliency")?;
        let (rows, cols) = (
            g.height.div_ceil(self.stride),
            g.width.div_ceil(self.stride),
        );
        let centres: Vec<(usize, usize)> = (0..rows)
            .flat_map(|r| (0..cols).map(move |c| (r * self.stride, c * self.stride)))
            .collect();
        let kernel = scipy_gaussian(self.blur_sigma);
        // A - I per example, in the example's own layout.
        let towards_blur: Vec<ArrayD<f32>> = inputs
            .axis_iter(Axis(0))
            .map(|x| {
                let blurred: Array3<f32> = convolve_separable(g.chw(x.view()), &kernel);
                let mut delta = x.to_owned();
                Zip::from(g.chw(delta.view_mut()))
                    .and(&blurred)
                    .for_each(|d, &a| *d = a - *d);
                delta
            })
            .collect();

        let layout = targets.layout(engine)?;
        let clean = engine.scores(inputs.view(), &targets.score)?;
        let n = inputs.shape()[0];
        let mut map = Array3::<f32>::zeros((n, rows, cols));
        let fill = |e: usize, c: usize, mut row: ndarray::ArrayViewMutD<f32>| {
            // phi = I + M (A - I)
            let mut step = towards_blur[e].clone();
            g.scale_pixels(
                step.view_mut(),
                self.mask(centres[c], g.height, g.width).view(),
            );
            row.assign(&inputs.index_axis(Axis(0), e));
            row += &step;
        };
        in_batches(
            engine,
            inputs.view(),
            centres.len(),
            fill,
            |engine, batch, pairs| {
                let scores = engine.scores(batch, &targets.score)?;
                for (&(e, c), blended) in pairs.iter().zip(scores.rows()) {
                    let before = clean.row(e);
                    let value = match self.compared {
                        Compared::All => before
                            .iter()
                            .zip(blended)
                            .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
                            .sum::<f64>(),
                        Compared::Target => {
                            let class = targets.classes[e];
                            (f64::from(layout.score(before, class))
                                - f64::from(layout.score(blended, class)))
                            .powi(2)
                        }
                    };
                    map[[e, c / cols, c % cols]] = (0.5 * value) as f32;
                }
                Ok(())
            },
        )?;
        Ok(Attribution {
            map: map.into_dyn(),
            layer: None,
            completeness: None,
            conservation: None,
        })
    }
}

/// A grid map (N x rows x cols) at the input's resolution: each value
/// repeated over its `cell` x `cell` block, cut at the image's edge.
pub(crate) fn expand(
    grid: ArrayViewD<f32>,
    cell: usize,
    height: usize,
    width: usize,
) -> ArrayD<f32> {
    let n = grid.shape()[0];
    ArrayD::from_shape_fn(IxDyn(&[n, height, width]), |ix| {
        grid[[ix[0], ix[1] / cell, ix[2] / cell]]
    })
}
