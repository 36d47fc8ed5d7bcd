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

use ndarray::{Array3, ArrayView3};

use super::{OptionSpec, Options};
use crate::Result;

/// How a geometric perturbation reads the image between pixel centres.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interpolation {
    /// Linear between the four nearest pixels.
    Bilinear,
    /// The nearest pixel: no value is made that the image does not hold.
    Nearest,
}

pub(super) const INTERPOLATION: OptionSpec = OptionSpec {
    name: "interpolation",
    default: "bilinear",
    help: "bilinear or nearest",
};
pub(super) const FILL: OptionSpec = OptionSpec {
    name: "fill",
    default: "0",
    help: "value of pixels that come from outside the image",
};

/// How the geometric perturbations sample the source image.
#[derive(Clone, Copy, Debug)]
pub(super) struct Resampling {
    interpolation: Interpolation,
    fill: f32,
}

impl Resampling {
    pub(super) fn from_options(options: &Options) -> Result<Self> {
        let interpolation =
            match options.choice(INTERPOLATION.name, &["bilinear", "nearest"], "bilinear")? {
                "nearest" => Interpolation::Nearest,
                _ => Interpolation::Bilinear,
            };
        Ok(Resampling {
            interpolation,
            fill: options.number(FILL.name, 0.0)? as f32,
        })
    }

    /// Every band of `image` resampled: output pixel (x, y) takes the source
    /// value at `map` (x, y). The position and interpolation weights are
    /// worked out once per pixel and shared by every band; blocks of four
    /// neighbours wholly inside the image skip the edge checks.
    pub(super) fn warp(&self, image: ArrayView3<f32>, map: Affine) -> Array3<f32> {
        let (c, h, w) = image.dim();
        let source = image.as_standard_layout();
        let source = source.as_slice().expect("standard layout");
        let plane = h * w;
        let mut out = vec![0.0f32; c * plane];
        // The value of band `band` at integer position (xi, yi), or the fill.
        let pixel = |band: usize, xi: i64, yi: i64| -> f32 {
            if xi >= 0 && yi >= 0 && (xi as usize) < w && (yi as usize) < h {
                source[band * plane + yi as usize * w + xi as usize]
            } else {
                self.fill
            }
        };
        for y in 0..h {
            let (row_x, row_y) = (map.b * y as f64 + map.c, map.e * y as f64 + map.f);
            for x in 0..w {
                // Positions more than a pixel outside read only the fill;
                // clamped there, a shift of 1e45 pixels cannot overflow an index.
                let (sx, sy) = (
                    (map.a * x as f64 + row_x).clamp(-2.0, w as f64 + 1.0),
                    (map.d * x as f64 + row_y).clamp(-2.0, h as f64 + 1.0),
                );
                let at = y * w + x;
                if self.interpolation == Interpolation::Nearest {
                    let (xi, yi) = (floor(sx + 0.5), floor(sy + 0.5));
                    for band in 0..c {
                        out[band * plane + at] = pixel(band, xi, yi);
                    }
                    continue;
                }
                let (x0, y0) = (floor(sx), floor(sy));
                let (fx, fy) = ((sx - x0 as f64) as f32, (sy - y0 as f64) as f32);
                let inside =
                    x0 >= 0 && y0 >= 0 && ((x0 + 1) as usize) < w && ((y0 + 1) as usize) < h;
                for band in 0..c {
                    let [v00, v01, v10, v11] = if inside {
                        let i = band * plane + y0 as usize * w + x0 as usize;
                        [source[i], source[i + 1], source[i + w], source[i + w + 1]]
                    } else {
                        [
                            pixel(band, x0, y0),
                            pixel(band, x0 + 1, y0),
                            pixel(band, x0, y0 + 1),
                            pixel(band, x0 + 1, y0 + 1),
                        ]
                    };
                    out[band * plane + at] =
                        weighted(weighted(v00, v01, fx), weighted(v10, v11, fx), fy);
                }
            }
        }
        Array3::from_shape_vec((c, h, w), out).expect("c x h x w values")
    }
}

/// An affine map from output pixel (x, y) to source position
/// (a x + b y + c, d x + e y + f).
#[derive(Clone, Copy, Debug)]
pub(super) struct Affine {
    pub a: f64,
    pub b: f64,
    pub c: f64,
    pub d: f64,
    pub e: f64,
    pub f: f64,
}

/// floor as an integer, by truncation (a single instruction, unlike
/// `f64::floor` on baseline x86-64).
fn floor(v: f64) -> i64 {
    let t = v as i64;
    if (t as f64) > v { t - 1 } else { t }
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
        Resampling {
            interpolation,
            fill,
        }
    }

    #[test]
    fn half_pixel_positions_average_their_neighbours() {
        let image = ramp(1, 2, 2); // [[0, 1], [10, 11]]
        let shift = Affine {
            a: 1.0,
            b: 0.0,
            c: -0.5,
            d: 0.0,
            e: 1.0,
            f: -0.5,
        };
        let out = resampling(Interpolation::Bilinear, 0.0).warp(image.view(), shift);
        // Output (0, 0) samples (-0.5, -0.5): three fill neighbours and pixel (0, 0).
        assert_eq!(out[[0, 0, 0]], 0.25 * 0.0);
        // Output (1, 1) samples (0.5, 0.5): the mean of all four pixels.
        assert_eq!(out[[0, 1, 1]], 5.5);
    }

    #[test]
    fn positions_far_outside_read_the_fill() {
        // Found by fuzzing: translate=1.6e45 overflowed the integer position.
        let image = ramp(1, 2, 3);
        for interpolation in [Interpolation::Bilinear, Interpolation::Nearest] {
            for shift in [1.6e45, -1.6e45, f64::MAX] {
                let map = Affine {
                    a: 1.0,
                    b: 0.0,
                    c: shift,
                    d: 0.0,
                    e: 1.0,
                    f: -shift,
                };
                let out = resampling(interpolation, 7.0).warp(image.view(), map);
                assert!(out.iter().all(|&v| v == 7.0), "{shift}: {out:?}");
            }
        }
    }

    #[test]
    fn nearest_rounds_and_fills_outside() {
        let image = ramp(1, 2, 3);
        let shift = Affine {
            a: 1.0,
            b: 0.0,
            c: 1.4,
            d: 0.0,
            e: 1.0,
            f: 0.0,
        };
        let out = resampling(Interpolation::Nearest, -1.0).warp(image.view(), shift);
        assert_eq!(
            out.slice(ndarray::s![0, 0, ..]).to_vec(),
            vec![1.0, 2.0, -1.0]
        );
    }
}
