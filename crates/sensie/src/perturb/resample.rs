//! Resampling an image through a coordinate map: the shared core of the
//! geometric perturbations (rotate, translate, zoom).
//!
//! Pixel centres sit at integer coordinates (x = column, y = row). An output
//! pixel takes the value of the source image at the mapped position. Bilinear
//! interpolation weighs the four neighbouring pixels, and a neighbour outside
//! the image counts as the fill value, so the image fades into the fill over
//! one pixel instead of ending in a hard edge. Positions that land exactly on
//! pixel centres reproduce those pixels exactly, which makes quarter turns and
//! whole-pixel shifts lossless.

use ndarray::{Array3, ArrayView2, ArrayView3};

use super::{OptionSpec, Options};
use crate::Result;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interpolation {
    Bilinear,
    Nearest,
}

pub(super) const INTERPOLATION: OptionSpec =
    OptionSpec { name: "interpolation", default: "bilinear", help: "bilinear or nearest" };
pub(super) const FILL: OptionSpec =
    OptionSpec { name: "fill", default: "0", help: "value of pixels that come from outside the image" };

/// How the geometric perturbations sample the source image.
#[derive(Clone, Copy, Debug)]
pub(super) struct Resampling {
    interpolation: Interpolation,
    fill: f32,
}

impl Resampling {
    pub(super) fn from_options(options: &Options) -> Result<Self> {
        let interpolation = match options.choice(INTERPOLATION.name, &["bilinear", "nearest"], "bilinear")? {
            "nearest" => Interpolation::Nearest,
            _ => Interpolation::Bilinear,
        };
        Ok(Resampling { interpolation, fill: options.number(FILL.name, 0.0)? as f32 })
    }

    /// Every band of `image` resampled: output pixel (x, y) takes the source
    /// value at `map(x, y)`.
    pub(super) fn warp(&self, image: ArrayView3<f32>, map: impl Fn(f64, f64) -> (f64, f64)) -> Array3<f32> {
        let (c, h, w) = image.dim();
        let mut out = Array3::zeros((c, h, w));
        for y in 0..h {
            for x in 0..w {
                let (sx, sy) = map(x as f64, y as f64);
                for band in 0..c {
                    out[[band, y, x]] = self.sample(image.index_axis(ndarray::Axis(0), band), sx, sy);
                }
            }
        }
        out
    }

    fn sample(&self, band: ArrayView2<f32>, x: f64, y: f64) -> f32 {
        let (h, w) = band.dim();
        let pixel = |xi: f64, yi: f64| -> f32 {
            if xi >= 0.0 && yi >= 0.0 && xi < w as f64 && yi < h as f64 {
                band[[yi as usize, xi as usize]]
            } else {
                self.fill
            }
        };
        match self.interpolation {
            Interpolation::Nearest => pixel((x + 0.5).floor(), (y + 0.5).floor()),
            Interpolation::Bilinear => {
                let (x0, y0) = (x.floor(), y.floor());
                let (fx, fy) = ((x - x0) as f32, (y - y0) as f32);
                let top = weighted(pixel(x0, y0), pixel(x0 + 1.0, y0), fx);
                let bottom = weighted(pixel(x0, y0 + 1.0), pixel(x0 + 1.0, y0 + 1.0), fx);
                weighted(top, bottom, fy)
            }
        }
    }
}

/// (1 - t) a + t b, exact at t = 0 whatever b is.
fn weighted(a: f32, b: f32, t: f32) -> f32 {
    if t == 0.0 { a } else { (1.0 - t) * a + t * b }
}

/// The image's centre in pixel coordinates: the point geometric
/// perturbations turn and scale about.
pub(super) fn centre(image: ArrayView3<f32>) -> (f64, f64) {
    let (_, h, w) = image.dim();
    ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perturb::test_support::ramp;

    fn resampling(interpolation: Interpolation, fill: f32) -> Resampling {
        Resampling { interpolation, fill }
    }

    #[test]
    fn half_pixel_positions_average_their_neighbours() {
        let image = ramp(1, 2, 2); // [[0, 1], [10, 11]]
        let out = resampling(Interpolation::Bilinear, 0.0).warp(image.view(), |x, y| (x - 0.5, y - 0.5));
        // Output (0, 0) samples (-0.5, -0.5): three fill neighbours and pixel (0, 0).
        assert_eq!(out[[0, 0, 0]], 0.25 * 0.0);
        // Output (1, 1) samples (0.5, 0.5): the mean of all four pixels.
        assert_eq!(out[[0, 1, 1]], 5.5);
    }

    #[test]
    fn nearest_rounds_and_fills_outside() {
        let image = ramp(1, 2, 3);
        let out = resampling(Interpolation::Nearest, -1.0).warp(image.view(), |x, y| (x + 1.4, y));
        assert_eq!(out.slice(ndarray::s![0, 0, ..]).to_vec(), vec![1.0, 2.0, -1.0]);
    }
}
