//! `occlusion` (Zeiler & Fergus 2014): slide a window over the image, fill
//! it (all channels) with a constant, and record how much the target score
//! drops. A pixel's attribution is the mean drop over the windows that
//! cover it (Captum's `Occlusion` with a window spanning all channels).
//!
//! Windows start every `stride` pixels; as in Captum, when the image size is
//! not a whole number of strides past the window, one more window starts
//! past the last full one and is cut off by the image's edge, so every pixel
//! is covered. All windows of all examples are one stream of occluded
//! copies, run through forward passes a batch at a time.

use std::ops::Range;

use ndarray::{Array2, Array3, ArrayD, ArrayViewD, Axis};

use super::{Attribution, Geometry, Method, Targets, check, in_batches};
use crate::engine::Engine;
use crate::{Error, Result};

/// Occlusion (Zeiler and Fergus 2014): the score's drop when a square
/// window of the image is set to a fill value, averaged over the windows
/// covering each pixel.
pub struct Occlusion {
    window: usize,
    stride: usize,
    fill: f32,
}

impl Occlusion {
    /// The method with its square `window` and `stride` (pixels, at least 1)
    /// and `fill` value.
    pub fn new(window: usize, stride: usize, fill: f32) -> Result<Occlusion> {
        if !fill.is_finite() {
            return Err(Error::invalid(
                format!("occlusion fill {fill}"),
                "give a finite value for occluded pixels (e.g. 0, or the data's mean)",
            ));
        }
        if window == 0 || stride == 0 {
            return Err(Error::invalid(
                format!("occlusion window {window}, stride {stride}"),
                "both must be at least 1 pixel",
            ));
        }
        // Windows further apart than their size leave pixels no window
        // covers: no attribution there (it was NaN, or a window starting
        // past the image's edge).
        if stride > window {
            return Err(Error::invalid(
                format!("occlusion stride {stride}"),
                format!(
                    "larger than the window ({window}): pixels between windows would never be occluded; give a stride of at most {window}"
                ),
            ));
        }
        Ok(Occlusion {
            window,
            stride,
            fill,
        })
    }

    /// The windows' extents along an axis of `size` pixels.
    fn spans(&self, size: usize) -> Vec<Range<usize>> {
        let count = (size - self.window).div_ceil(self.stride) + 1;
        (0..count)
            .map(|i| i * self.stride..(i * self.stride + self.window).min(size))
            .collect()
    }
}

impl Method for Occlusion {
    fn name(&self) -> &str {
        "occlusion"
    }

    fn attribute(
        &self,
        engine: &mut Engine,
        inputs: ArrayViewD<f32>,
        targets: &Targets,
    ) -> Result<Attribution> {
        check(engine, &inputs, targets)?;
        let geometry = Geometry::of(engine.model(), "occlusion")?;
        if self.window > geometry.height || self.window > geometry.width {
            return Err(Error::invalid(
                format!("occlusion window {}", self.window),
                format!(
                    "larger than the {} x {} image",
                    geometry.height, geometry.width
                ),
            ));
        }
        let windows: Vec<(Range<usize>, Range<usize>)> = self
            .spans(geometry.height)
            .into_iter()
            .flat_map(|rows| {
                self.spans(geometry.width)
                    .into_iter()
                    .map(move |cols| (rows.clone(), cols))
            })
            .collect();
        let mut coverage = Array2::<f32>::zeros((geometry.height, geometry.width));
        for (rows, cols) in &windows {
            coverage
                .slice_mut(ndarray::s![rows.clone(), cols.clone()])
                .mapv_inplace(|c| c + 1.0);
        }

        let layout = targets.layout(engine)?;
        let clean = engine.scores(inputs.view(), &targets.score)?;
        let clean = targets.pick(layout, &clean, 0..targets.classes.len());
        let n = inputs.shape()[0];
        let mut drops = Array3::<f32>::zeros((n, geometry.height, geometry.width));
        let fill = |e: usize, w: usize, mut row: ndarray::ArrayViewMutD<f32>| {
            row.assign(&inputs.index_axis(Axis(0), e));
            let (rows, cols) = windows[w].clone();
            geometry.region_mut(row, rows, cols).fill(self.fill);
        };
        in_batches(
            engine,
            inputs.view(),
            windows.len(),
            fill,
            |engine, batch, pairs| {
                let scores = engine.scores(batch, &targets.score)?;
                let occluded = targets.pick(layout, &scores, pairs.iter().map(|&(e, _)| e));
                for (&(e, w), s) in pairs.iter().zip(occluded) {
                    let (rows, cols) = windows[w].clone();
                    drops
                        .slice_mut(ndarray::s![e, rows, cols])
                        .mapv_inplace(|d| d + (clean[e] - s));
                }
                Ok(())
            },
        )?;
        let mut map = ArrayD::zeros(inputs.raw_dim());
        for (example, drop) in map.axis_iter_mut(Axis(0)).zip(drops.axis_iter(Axis(0))) {
            geometry.spread(example, (&drop / &coverage).view());
        }
        Ok(Attribution::pixels(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stride_past_the_window_is_refused_and_windows_cover_every_pixel() {
        // --window 4 --stride 5 left a pixel column in five uncovered (NaN
        // maps); a stride past the image's edge panicked.
        let err = Occlusion::new(4, 5, 0.0).err().unwrap().to_string();
        assert!(
            err.contains("stride 5") && err.contains("at most 4"),
            "{err}"
        );
        for (window, stride) in [(4, 4), (4, 3), (3, 1), (28, 28)] {
            let occlusion = Occlusion::new(window, stride, 0.0).unwrap();
            let mut covered = [false; 28];
            for span in occlusion.spans(28) {
                assert!(span.end <= 28 && span.start < span.end);
                covered[span].iter_mut().for_each(|c| *c = true);
            }
            assert!(
                covered.iter().all(|&c| c),
                "window {window} stride {stride}"
            );
        }
    }
}
