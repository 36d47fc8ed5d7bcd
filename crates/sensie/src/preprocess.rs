//! The declared step from raw images (physical units, N x C x H x W) to what
//! the model expects.
//!
//! Perturbations work on raw images, where their parameters mean something;
//! only then is each batch prepared for the model, in this order: resize
//! (bilinear) or centre-crop to the model's input size, then
//! `(x * scale - mean[c]) / std[c]` per channel, then the model's layout.
//! Resizing before the per-channel affine step gives the same result as after
//! it (bilinear weights sum to 1) and touches fewer pixels when shrinking.

use ndarray::{Array4, ArrayView4, Axis, s};
use serde::{Deserialize, Serialize};

use crate::model::Layout;
use crate::{Error, Result};

/// How images reach the model's input size when theirs differs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fit {
    /// Bilinear resampling with half-pixel centres (PyTorch's
    /// `interpolate(mode="bilinear", align_corners=False)`, OpenCV's
    /// `INTER_LINEAR`), without antialiasing.
    #[default]
    Resize,
    /// The central region of the model's size; images must be at least that large.
    Crop,
}

/// Preprocessing, as the `[preprocess]` table of a probe config or the
/// command line's preprocessing flags.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Preprocess {
    /// Raw values are multiplied by this first (e.g. 1/255 for 8-bit images).
    pub scale: f32,
    /// Subtracted per channel after scaling: one value for every channel, or
    /// one per channel; empty for none.
    pub mean: Vec<f32>,
    /// Divided per channel after the mean; empty for none.
    pub std: Vec<f32>,
    /// How images reach the model's input size: resize or crop.
    pub fit: Fit,
    /// Let `fit = resize` change the images' aspect ratio (refused otherwise:
    /// a stretched image is rarely what the model was trained on).
    pub allow_aspect_change: bool,
}

impl Default for Preprocess {
    fn default() -> Self {
        Preprocess {
            scale: 1.0,
            mean: Vec::new(),
            std: Vec::new(),
            fit: Fit::Resize,
            allow_aspect_change: false,
        }
    }
}

/// Resizing by more than this factor either way is warned about.
const LARGE_RESIZE: f64 = 2.0;

impl Preprocess {
    /// Refuses settings that cannot apply to images with `channels` channels.
    pub fn check(&self, channels: usize) -> Result<()> {
        if !self.scale.is_finite() || self.scale == 0.0 {
            return Err(Error::invalid(
                "preprocessing scale",
                format!("{} must be a finite, non-zero number", self.scale),
            ));
        }
        for (name, values) in [("mean", &self.mean), ("std", &self.std)] {
            if !(values.is_empty() || values.len() == 1 || values.len() == channels) {
                return Err(Error::invalid(
                    format!("preprocessing {name}"),
                    format!(
                        "{} values for images with {channels} channels; give one value, or one per channel",
                        values.len()
                    ),
                ));
            }
            if values.iter().any(|v| !v.is_finite()) {
                return Err(Error::invalid(
                    format!("preprocessing {name}"),
                    "values must be finite",
                ));
            }
        }
        // A negative one would flip every image's sign, 0 divide by zero.
        if let Some(std) = self.std.iter().find(|&&s| s <= 0.0) {
            return Err(Error::invalid(
                format!("preprocessing std {std:?}"),
                "a standard deviation must be positive",
            ));
        }
        Ok(())
    }

    /// Checks how images of `from` (height, width) reach the model's `to`:
    /// refuses a resize that changes the aspect ratio unless allowed, and
    /// returns a warning when it resizes by more than a factor of 2 (a 2 x 2
    /// image upsampled to 28 x 28 is no longer the data the model knows).
    pub fn check_fit(&self, from: (usize, usize), to: (usize, usize)) -> Result<Option<String>> {
        if from == to || self.fit == Fit::Crop {
            return Ok(None);
        }
        let (fy, fx) = (to.0 as f64 / from.0 as f64, to.1 as f64 / from.1 as f64);
        if (fy / fx - 1.0).abs() > 0.01 && !self.allow_aspect_change {
            return Err(Error::invalid(
                "resizing the images",
                format!(
                    "they are {} x {} but the model takes {} x {}, a different aspect ratio; crop them (--fit crop), or allow the stretch with --allow-aspect-change",
                    from.0, from.1, to.0, to.1
                ),
            ));
        }
        let factor = fy.max(fx).max(1.0 / fy.min(fx));
        Ok((factor > LARGE_RESIZE).then(|| {
            format!("the images are {} x {} and are resized to the model's {} x {} (a factor of {factor:.1}); check that this is the data the model expects", from.0, from.1, to.0, to.1)
        }))
    }

    /// The error for pixel value `v` of channel `c` that `(v * scale -
    /// mean) / std` made `prepared`, not finite: the model would see (and
    /// predict, explain, probe would write) NaN. Names the setting at fault.
    fn overflow(&self, c: usize, v: f32, prepared: f32, mean: f32, std: f32) -> Error {
        let scaled = v * self.scale;
        let (what, remedy) = if !scaled.is_finite() {
            (
                format!("preprocessing scale {:?}", self.scale),
                "a smaller scale (--scale)",
            )
        } else if !(scaled - mean).is_finite() {
            (
                format!("preprocessing mean {mean:?}"),
                "a smaller mean (--mean)",
            )
        } else {
            (
                format!("preprocessing std {std:?}"),
                "a larger standard deviation (--std)",
            )
        };
        Error::invalid(
            what,
            format!(
                "it turns the pixel value {v:?} of channel {c} into {prepared} ((x * scale - mean) / std with scale {:?}, \
                 mean {mean:?}, std {std:?}), and the model would see no number; give {remedy}",
                self.scale
            ),
        )
    }

    /// A batch of raw images prepared for a model taking `size` (height,
    /// width; `None` keeps the images' own) in `layout`.
    pub fn apply(
        &self,
        raw: ArrayView4<f32>,
        size: Option<(usize, usize)>,
        layout: Layout,
    ) -> Result<Array4<f32>> {
        let (_, channels, h, w) = raw.dim();
        self.check(channels)?;
        let (th, tw) = size.unwrap_or((h, w));
        let fitted = if (th, tw) == (h, w) {
            raw.to_owned()
        } else {
            match self.fit {
                Fit::Resize => resize_bilinear(raw, th, tw),
                Fit::Crop => {
                    if th > h || tw > w {
                        return Err(Error::invalid(
                            "centre crop",
                            format!(
                                "the images are {h} x {w}, smaller than the model's {th} x {tw}; resize instead (fit = resize)"
                            ),
                        ));
                    }
                    let (y0, x0) = ((h - th) / 2, (w - tw) / 2);
                    raw.slice(s![.., .., y0..y0 + th, x0..x0 + tw]).to_owned()
                }
            }
        };
        let per_channel = |values: &[f32], c: usize, default: f32| match values.len() {
            0 => default,
            1 => values[0],
            _ => values[c],
        };
        let mut prepared = fitted;
        for (c, mut channel) in prepared.axis_iter_mut(Axis(1)).enumerate() {
            let (mean, std) = (
                per_channel(&self.mean, c, 0.0),
                per_channel(&self.std, c, 1.0),
            );
            // The first finite value the step makes infinite or NaN. A value
            // already not finite came from a perturbation, whose own checks
            // name it.
            let mut overflow = None;
            channel.mapv_inplace(|v| {
                let prepared = (v * self.scale - mean) / std;
                if !prepared.is_finite() && v.is_finite() && overflow.is_none() {
                    overflow = Some((v, prepared));
                }
                prepared
            });
            if let Some((v, prepared)) = overflow {
                return Err(self.overflow(c, v, prepared, mean, std));
            }
        }
        Ok(match layout {
            Layout::Nchw => prepared,
            Layout::Nhwc => prepared
                .permuted_axes([0, 2, 3, 1])
                .as_standard_layout()
                .into_owned(),
        })
    }
}

/// Source coordinate and weights of each output position along one axis
/// (half-pixel centres, clamped at the edges as PyTorch does).
fn taps(output: usize, input: usize) -> Vec<(usize, usize, f32)> {
    let ratio = input as f64 / output as f64;
    (0..output)
        .map(|o| {
            let x = ((o as f64 + 0.5) * ratio - 0.5).max(0.0);
            let x0 = (x.floor() as usize).min(input - 1);
            let x1 = (x0 + 1).min(input - 1);
            (x0, x1, (x - x0 as f64) as f32)
        })
        .collect()
}

fn resize_bilinear(raw: ArrayView4<f32>, th: usize, tw: usize) -> Array4<f32> {
    let (n, c, h, w) = raw.dim();
    let (rows, cols) = (taps(th, h), taps(tw, w));
    Array4::from_shape_fn((n, c, th, tw), |(i, ch, y, x)| {
        let ((y0, y1, fy), (x0, x1, fx)) = (rows[y], cols[x]);
        let at = |yy: usize, xx: usize| raw[[i, ch, yy, xx]];
        let top = at(y0, x0) * (1.0 - fx) + at(y0, x1) * fx;
        let bottom = at(y1, x0) * (1.0 - fx) + at(y1, x1) * fx;
        top * (1.0 - fy) + bottom * fy
    })
}

#[cfg(test)]
mod tests {
    use ndarray::Array4;

    use super::*;

    #[test]
    fn settings_that_make_pixels_infinite_or_flip_them_are_refused_by_name() {
        let raw = Array4::from_elem((2, 1, 2, 2), 0.5f32);
        let apply = |p: Preprocess| {
            p.apply(raw.view(), None, Layout::Nchw)
                .unwrap_err()
                .to_string()
        };
        let tiny = apply(Preprocess {
            std: vec![1e-40],
            ..Preprocess::default()
        });
        assert!(
            tiny.contains("preprocessing std 1e-40")
                && tiny.contains("pixel value 0.5 of channel 0 into inf"),
            "{tiny}"
        );
        let huge = apply(Preprocess {
            scale: 1e38,
            mean: vec![-3e38],
            ..Preprocess::default()
        });
        assert!(huge.contains("preprocessing mean -3e38"), "{huge}");
        let flipped = apply(Preprocess {
            std: vec![-1.0],
            ..Preprocess::default()
        });
        assert!(
            flipped.contains("std -1") && flipped.contains("must be positive"),
            "{flipped}"
        );
    }

    #[test]
    fn bilinear_upsampling_matches_pytorch() {
        // torch.nn.functional.interpolate(torch.tensor([[[[0., 1.], [2., 3.]]]]),
        // size=(4, 4), mode="bilinear", align_corners=False):
        let expected = [
            [0.0, 0.25, 0.75, 1.0],
            [0.5, 0.75, 1.25, 1.5],
            [1.5, 1.75, 2.25, 2.5],
            [2.0, 2.25, 2.75, 3.0],
        ];
        let raw = Array4::from_shape_vec((1, 1, 2, 2), vec![0.0f32, 1.0, 2.0, 3.0]).unwrap();
        let out = Preprocess::default()
            .apply(raw.view(), Some((4, 4)), Layout::Nchw)
            .unwrap();
        for (y, row) in expected.iter().enumerate() {
            for (x, e) in row.iter().enumerate() {
                assert!((out[[0, 0, y, x]] - e).abs() < 1e-6, "({y}, {x})");
            }
        }
        // Halving a 4 x 4 samples at 0.5, 2.5: the mean of each 2 x 2 block.
        let ramp = Array4::from_shape_fn((1, 1, 4, 4), |(_, _, y, x)| (y * 4 + x) as f32);
        let half = Preprocess::default()
            .apply(ramp.view(), Some((2, 2)), Layout::Nchw)
            .unwrap();
        assert_eq!(half.into_raw_vec_and_offset().0, vec![2.5, 4.5, 10.5, 12.5]);
    }

    #[test]
    fn scale_mean_std_per_channel_then_layout() {
        let raw = Array4::from_shape_fn((2, 3, 2, 2), |(n, c, y, x)| {
            (n + c * 10 + y + x) as f32 * 255.0
        });
        let prep = Preprocess {
            scale: 1.0 / 255.0,
            mean: vec![0.0, 10.0, 20.0],
            std: vec![1.0, 2.0, 4.0],
            ..Preprocess::default()
        };
        let out = prep.apply(raw.view(), None, Layout::Nhwc).unwrap();
        assert_eq!(out.dim(), (2, 2, 2, 3));
        // Example 1, channel 2, pixel (1, 1): raw (1 + 20 + 2) * 255 -> 23 -> (23 - 20) / 4.
        assert!((out[[1, 1, 1, 2]] - 0.75).abs() < 1e-6);
        assert!((out[[0, 0, 0, 1]] - 0.0).abs() < 1e-6);
    }

    #[test]
    fn centre_crop_and_bad_settings() {
        let raw = Array4::from_shape_fn((1, 1, 5, 6), |(_, _, y, x)| (y * 10 + x) as f32);
        let prep = Preprocess {
            fit: Fit::Crop,
            ..Preprocess::default()
        };
        let out = prep.apply(raw.view(), Some((3, 2)), Layout::Nchw).unwrap();
        assert_eq!(
            out.into_raw_vec_and_offset().0,
            vec![12.0, 13.0, 22.0, 23.0, 32.0, 33.0]
        );
        assert!(
            prep.apply(raw.view(), Some((7, 2)), Layout::Nchw)
                .unwrap_err()
                .to_string()
                .contains("smaller")
        );
        let two_means = Preprocess {
            mean: vec![0.1, 0.2],
            ..Preprocess::default()
        };
        assert!(
            two_means
                .check(3)
                .unwrap_err()
                .to_string()
                .contains("2 values for images with 3 channels")
        );
        assert!(
            Preprocess {
                std: vec![0.0],
                ..Preprocess::default()
            }
            .check(1)
            .is_err()
        );
        let parsed: Preprocess =
            serde_json::from_str(r#"{"scale": 0.5, "mean": [0.5], "fit": "crop"}"#).unwrap();
        assert_eq!((parsed.scale, parsed.fit), (0.5, Fit::Crop));
    }
}
