//! Attribution maps as colours, alone or blended over the image they explain.
//!
//! Signed maps (gradients, Integrated Gradients, occlusion differences) use
//! the diverging map with 0 at its neutral centre and a limit symmetric about
//! 0, so red and blue of equal strength mean equal and opposite evidence.
//! Unsigned maps (magnitudes, Grad-CAM after its ReLU) run from 0 up with
//! viridis. A [`HeatScale`] fitted to one map shows that map's own structure;
//! fitted to many maps at once (the values chained) it puts them on one
//! scale, so that their strengths can be compared side by side.
//!
//! Maps coarser than the image (Grad-CAM at a late layer) are resized with
//! half-pixel centres, as PyTorch's `interpolate(align_corners=False)` and
//! ONNX's `Resize` do, so an upscaled map lines up with the image.

use image::{Rgb, RgbImage};
use ndarray::{Array2, ArrayView2, ArrayView3};

use super::colormap::Colormap;
use super::composite::picture_size;
use super::stretch::percentile;
use crate::{Error, Result};

/// How a map is brought to another size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Resample {
    /// Blocks of constant value: shows the map's true resolution.
    Nearest,
    /// Smooth, as Grad-CAM maps are usually shown.
    #[default]
    Bilinear,
}

/// How attribution values become positions on a colour map.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum HeatScale {
    /// `-limit` to `limit` on the diverging map, 0 neutral.
    Signed {
        /// The largest |value| shown; larger ones are clipped.
        limit: f32,
    },
    /// 0 to `high` on viridis.
    Unsigned {
        /// The largest value shown; larger ones are clipped.
        high: f32,
    },
}

impl HeatScale {
    /// Fits a scale to attribution values, ignoring NaN and infinities: signed
    /// when any value is negative; the limit is the `clip`-th percentile of
    /// the absolute values (100 for the maximum; 99 keeps a few extreme
    /// pixels from washing out the rest, as SmoothGrad's authors show maps).
    pub fn fit(values: impl IntoIterator<Item = f32>, clip: f32) -> Result<Self> {
        if !(clip > 0.0 && clip <= 100.0) {
            return Err(Error::invalid(
                "heat map clip percentile",
                format!("{clip} is not in (0, 100]"),
            ));
        }
        let mut signed = false;
        let mut magnitudes: Vec<f32> = values
            .into_iter()
            .filter(|v| v.is_finite())
            .map(|v| {
                signed |= v < 0.0;
                v.abs()
            })
            .collect();
        magnitudes.sort_unstable_by(f32::total_cmp);
        let limit = if magnitudes.is_empty() {
            0.0
        } else {
            percentile(&magnitudes, clip)
        };
        Ok(if signed {
            HeatScale::Signed { limit }
        } else {
            HeatScale::Unsigned { high: limit }
        })
    }

    /// The colour map this scale is shown with.
    pub fn colormap(&self) -> Colormap {
        match self {
            HeatScale::Signed { .. } => Colormap::Diverging,
            HeatScale::Unsigned { .. } => Colormap::Viridis,
        }
    }

    /// The data values at the two ends of the colour map.
    pub fn range(&self) -> (f32, f32) {
        match *self {
            HeatScale::Signed { limit } => (-limit, limit),
            HeatScale::Unsigned { high } => (0.0, high),
        }
    }

    /// The colour-map position of `v`; NaN, or any value when the limit is
    /// 0, sits at the neutral (signed) or lowest (unsigned) end.
    pub fn position(&self, v: f32) -> f32 {
        let (low, high) = self.range();
        if !v.is_finite() || high <= low {
            return match self {
                HeatScale::Signed { .. } => 0.5,
                HeatScale::Unsigned { .. } => 0.0,
            };
        }
        ((v - low) / (high - low)).clamp(0.0, 1.0)
    }

    /// The colour of `v`.
    pub fn rgb(&self, v: f32) -> [u8; 3] {
        self.colormap().rgb(self.position(v))
    }
}

/// An attribution map (H x W) in colour, one pixel per value.
pub fn heatmap(map: ArrayView2<f32>, scale: &HeatScale) -> Result<RgbImage> {
    let (h, w) = picture_size(map.dim())?;
    Ok(RgbImage::from_fn(w, h, |x, y| {
        Rgb(scale.rgb(map[[y as usize, x as usize]]))
    }))
}

/// Each of `maps` (N x H x W: feature-map channels, kernels, or one map per
/// example) as a heat map with the scale it was drawn on: one scale fitted
/// to all of them when `shared`, so strengths compare across tiles, or each
/// map's own, so each shows its structure.
pub fn heatmaps(
    maps: ArrayView3<f32>,
    shared: bool,
    clip: f32,
) -> Result<Vec<(RgbImage, HeatScale)>> {
    let common = if shared {
        Some(HeatScale::fit(maps.iter().copied(), clip)?)
    } else {
        None
    };
    maps.outer_iter()
        .map(|map| {
            let scale = match common {
                Some(scale) => scale,
                None => HeatScale::fit(map.iter().copied(), clip)?,
            };
            Ok((heatmap(map, &scale)?, scale))
        })
        .collect()
}

/// How a map is laid over an image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Overlay {
    /// Opacity of the map, 0 (image only) to 1 (map only).
    pub alpha: f32,
    /// How the map is brought to the image's size.
    pub resample: Resample,
}

impl Default for Overlay {
    fn default() -> Self {
        Overlay {
            alpha: 0.5,
            resample: Resample::Bilinear,
        }
    }
}

/// `map` resized to `base` and alpha-blended over it.
pub fn overlay(
    base: &RgbImage,
    map: ArrayView2<f32>,
    scale: &HeatScale,
    how: &Overlay,
) -> Result<RgbImage> {
    if !(0.0..=1.0).contains(&how.alpha) {
        return Err(Error::invalid(
            "overlay opacity",
            format!("{} is not in [0, 1]", how.alpha),
        ));
    }
    let (w, h) = base.dimensions();
    let resized = resize(map, h as usize, w as usize, how.resample)?;
    let a = how.alpha;
    Ok(RgbImage::from_fn(w, h, |x, y| {
        let under = base.get_pixel(x, y).0;
        let over = scale.rgb(resized[[y as usize, x as usize]]);
        Rgb(std::array::from_fn(|k| {
            (f32::from(under[k]) * (1.0 - a) + f32::from(over[k]) * a).round() as u8
        }))
    }))
}

/// `map` resampled to `height` x `width`, with half-pixel centres.
pub fn resize(
    map: ArrayView2<f32>,
    height: usize,
    width: usize,
    how: Resample,
) -> Result<Array2<f32>> {
    let (h, w) = map.dim();
    picture_size((h, w))?;
    picture_size((height, width))?;
    if (h, w) == (height, width) {
        return Ok(map.to_owned());
    }
    let sy = h as f32 / height as f32;
    let sx = w as f32 / width as f32;
    Ok(match how {
        Resample::Nearest => Array2::from_shape_fn((height, width), |(i, j)| {
            let si = ((i as f32 * sy) as usize).min(h - 1);
            let sj = ((j as f32 * sx) as usize).min(w - 1);
            map[[si, sj]]
        }),
        Resample::Bilinear => {
            // Source coordinate of an output pixel centre, clamped to the
            // outer source centres: (index, next index, weight of next).
            // Computed once per row and per column, not per pixel: Grad-CAM
            // upsamples every example's map.
            let source = |i: usize, scale: f32, n: usize| {
                let s = ((i as f32 + 0.5) * scale - 0.5).clamp(0.0, (n - 1) as f32);
                let lo = s.floor() as usize;
                (lo, (lo + 1).min(n - 1), s - lo as f32)
            };
            let rows: Vec<_> = (0..height).map(|i| source(i, sy, h)).collect();
            let cols: Vec<_> = (0..width).map(|j| source(j, sx, w)).collect();
            let mut out = Array2::zeros((height, width));
            for (mut row, &(i0, i1, fi)) in out.rows_mut().into_iter().zip(&rows) {
                for (v, &(j0, j1, fj)) in row.iter_mut().zip(&cols) {
                    let top = map[[i0, j0]] * (1.0 - fj) + map[[i0, j1]] * fj;
                    let bottom = map[[i1, j0]] * (1.0 - fj) + map[[i1, j1]] * fj;
                    *v = top * (1.0 - fi) + bottom * fi;
                }
            }
            out
        }
    })
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    #[test]
    fn signed_maps_are_symmetric_about_neutral_zero() {
        let map = array![[-1.0f32, 0.0], [0.5, 2.0]];
        let scale = HeatScale::fit(map.iter().copied(), 100.0).unwrap();
        assert_eq!(scale, HeatScale::Signed { limit: 2.0 });
        assert_eq!(scale.position(0.0), 0.5);
        assert_eq!(scale.position(-2.0), 0.0);
        assert_eq!(scale.rgb(0.0), [0xf7, 0xf7, 0xf7]);
        let img = heatmap(map.view(), &scale).unwrap();
        assert_eq!(img.get_pixel(1, 0).0, [0xf7, 0xf7, 0xf7]);
        assert_eq!(img.get_pixel(1, 1).0, Colormap::Diverging.rgb(1.0));
    }

    #[test]
    fn unsigned_maps_start_at_zero_and_clip_at_a_percentile() {
        let values: Vec<f32> = (1..=100).map(|v| v as f32).collect();
        let scale = HeatScale::fit(values.iter().copied(), 100.0).unwrap();
        assert_eq!(scale, HeatScale::Unsigned { high: 100.0 });
        assert_eq!(scale.colormap(), Colormap::Viridis);
        // 99th percentile of 1..=100: rank 98.01, so 99.01.
        let clipped = HeatScale::fit(values, 99.0).unwrap();
        let (low, high) = clipped.range();
        assert!(low == 0.0 && (high - 99.01).abs() < 1e-4, "{high}");
        assert!(HeatScale::fit([1.0], 0.0).is_err());
    }

    #[test]
    fn a_shared_scale_spans_all_maps() {
        let a = array![[0.0f32, 1.0]];
        let b = array![[0.0f32, 4.0]];
        let shared = HeatScale::fit(a.iter().chain(b.iter()).copied(), 100.0).unwrap();
        assert_eq!(shared.position(1.0), 0.25);
        let own = HeatScale::fit(a.iter().copied(), 100.0).unwrap();
        assert_eq!(own.position(1.0), 1.0);
    }

    #[test]
    fn many_maps_on_a_shared_or_their_own_scale() {
        let maps = ndarray::Array3::from_shape_vec((2, 1, 2), vec![0.0f32, 1.0, 0.0, 4.0]).unwrap();
        let shared = heatmaps(maps.view(), true, 100.0).unwrap();
        assert_eq!(shared[0].1, HeatScale::Unsigned { high: 4.0 });
        assert_eq!(shared[0].0.get_pixel(1, 0).0, Colormap::Viridis.rgb(0.25));
        let own = heatmaps(maps.view(), false, 100.0).unwrap();
        assert_eq!(own[0].0.get_pixel(1, 0).0, Colormap::Viridis.rgb(1.0));
        assert_eq!(own[1].1, HeatScale::Unsigned { high: 4.0 });
    }

    #[test]
    fn overlay_at_alpha_0_is_the_image_and_at_1_the_map() {
        let base = RgbImage::from_fn(4, 4, |x, y| Rgb([x as u8 * 10, y as u8 * 10, 7]));
        let map = array![[0.0f32, 1.0], [2.0, 3.0]];
        let scale = HeatScale::fit(map.iter().copied(), 100.0).unwrap();
        let none = Overlay {
            alpha: 0.0,
            resample: Resample::Bilinear,
        };
        assert_eq!(overlay(&base, map.view(), &scale, &none).unwrap(), base);
        let full = Overlay {
            alpha: 1.0,
            resample: Resample::Nearest,
        };
        let out = overlay(&base, map.view(), &scale, &full).unwrap();
        assert_eq!(
            out.get_pixel(3, 3).0,
            scale.rgb(3.0),
            "bottom-right block is the map's last value"
        );
        assert_eq!(out.get_pixel(1, 0).0, scale.rgb(0.0));
        let half = overlay(&base, map.view(), &scale, &Overlay::default()).unwrap();
        let expect = (f32::from(base.get_pixel(0, 0).0[2]) * 0.5
            + f32::from(scale.rgb(0.0)[2]) * 0.5)
            .round() as u8;
        assert_eq!(half.get_pixel(0, 0).0[2], expect);
        assert!(overlay(&base, map.view(), &scale, &Overlay { alpha: 1.5, ..none }).is_err());
    }

    #[test]
    fn bilinear_resize_uses_half_pixel_centres() {
        // 1 x 2 -> 1 x 4, as torch.nn.functional.interpolate(mode="bilinear",
        // align_corners=False) gives: [0, 0.25, 0.75, 1].
        let up = resize(array![[0.0f32, 1.0]].view(), 1, 4, Resample::Bilinear).unwrap();
        assert_eq!(up, array![[0.0, 0.25, 0.75, 1.0]]);
        let near = resize(array![[0.0f32, 1.0]].view(), 2, 4, Resample::Nearest).unwrap();
        assert_eq!(near, array![[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]);
        assert!(resize(array![[1.0f32]].view(), 0, 4, Resample::Nearest).is_err());
    }
}
