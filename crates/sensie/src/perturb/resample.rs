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

use ndarray::{Array3, Array4, ArrayView3, ArrayView4, ArrayViewMut4, Axis, s};

use super::{ChunkFn, Effect, OptionSpec, Options};
use crate::Result;
use crate::rng::SeededRng;

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
            fill: options.pixel(FILL.name, 0.0)?,
        })
    }

    /// Every band of `image` resampled: output pixel (x, y) takes the source
    /// value at `map` (x, y).
    pub(super) fn warp(&self, image: ArrayView3<f32>, map: Affine) -> Array3<f32> {
        let (c, h, w) = image.dim();
        let mut out = Array4::zeros((1, c, h, w));
        self.warp_into(image.insert_axis(Axis(0)), map, out.view_mut());
        out.index_axis_move(Axis(0), 0)
    }

    /// Every band of every image of `images` (N x C x H x W) resampled into
    /// `out` (the same shape). The output pixels' source positions and
    /// interpolation weights are worked out once for a block of rows and
    /// shared by every image and band: a batch's images are all turned
    /// (shifted, scaled) alike, so the per-pixel arithmetic is paid once per
    /// batch instead of once per image. Each band is copied once, followed
    /// by the fill value, which a neighbour outside the image reads: the
    /// interpolation has no branch.
    pub(super) fn warp_into(
        &self,
        images: ArrayView4<f32>,
        map: Affine,
        mut out: ArrayViewMut4<f32>,
    ) {
        let (n, c, h, w) = images.dim();
        let plane = h * w;
        if plane == 0 {
            return;
        }
        let source = images.as_standard_layout();
        let source = source.as_slice().expect("standard layout");
        let stride = plane + 1;
        let mut bands = vec![self.fill; n * c * stride];
        for (band, values) in bands
            .chunks_exact_mut(stride)
            .zip(source.chunks_exact(plane))
        {
            band[..plane].copy_from_slice(values);
        }
        // Samples (40 bytes each) for at most 2^15 pixels at a time: a whole
        // lens cutout, a few rows of a large image, never a table ten times
        // the size of the image.
        let rows_per_block = ((1 << 15) / w).clamp(1, h);
        let mut samples = Vec::with_capacity(rows_per_block * w);
        for first in (0..h).step_by(rows_per_block) {
            let rows = first..(first + rows_per_block).min(h);
            samples.clear();
            samples.extend(rows.clone().flat_map(|y| {
                let (row_x, row_y) = (map.b * y as f64 + map.c, map.e * y as f64 + map.f);
                (0..w).map(move |x| {
                    // Positions more than a pixel outside read only the fill;
                    // clamped there, a shift of 1e45 pixels cannot overflow an index.
                    let (sx, sy) = (
                        (map.a * x as f64 + row_x).clamp(-2.0, w as f64 + 1.0),
                        (map.d * x as f64 + row_y).clamp(-2.0, h as f64 + 1.0),
                    );
                    self.sample(sx, sy, w, h)
                })
            }));
            for (k, values) in bands.chunks_exact(stride).enumerate() {
                let mut target = out.slice_mut(s![k / c, k % c, rows.clone(), ..]);
                match target.as_slice_mut() {
                    Some(pixels) => self.interpolate(values, &samples, pixels.iter_mut()),
                    None => self.interpolate(values, &samples, target.iter_mut()),
                }
            }
        }
    }

    /// Output pixels `pixels` from band `values` (its plane, then the fill)
    /// at `samples`, one each: a generic loop, so that the rows of a
    /// contiguous output (every batch the sweep makes) run as a slice's.
    fn interpolate<'a>(
        &self,
        values: &[f32],
        samples: &[Sample],
        pixels: impl Iterator<Item = &'a mut f32>,
    ) {
        let pixels = pixels.zip(samples);
        match self.interpolation {
            Interpolation::Nearest => {
                for (pixel, sample) in pixels {
                    *pixel = values[sample.at[0]];
                }
            }
            Interpolation::Bilinear => {
                for (pixel, sample) in pixels {
                    let [a, b, c, d] = sample.at;
                    *pixel = weighted(
                        weighted(values[a], values[b], sample.fx),
                        weighted(values[c], values[d], sample.fx),
                        sample.fy,
                    );
                }
            }
        }
    }

    /// Where output pixels read the source at position (sx, sy) of a
    /// w x h plane: the nearest pixel, or the four neighbours and weights.
    /// A neighbour outside the image is offset w x h, the fill's place after
    /// the plane.
    fn sample(&self, sx: f64, sy: f64, w: usize, h: usize) -> Sample {
        let outside = w * h;
        let offset = |xi: i64, yi: i64| {
            if xi >= 0 && yi >= 0 && (xi as usize) < w && (yi as usize) < h {
                yi as usize * w + xi as usize
            } else {
                outside
            }
        };
        if self.interpolation == Interpolation::Nearest {
            let at = offset(floor(sx + 0.5), floor(sy + 0.5));
            return Sample {
                at: [at, outside, outside, outside],
                fx: 0.0,
                fy: 0.0,
            };
        }
        let (x0, y0) = (floor(sx), floor(sy));
        Sample {
            at: [
                offset(x0, y0),
                offset(x0 + 1, y0),
                offset(x0, y0 + 1),
                offset(x0 + 1, y0 + 1),
            ],
            fx: (sx - x0 as f64) as f32,
            fy: (sy - y0 as f64) as f32,
        }
    }
}

/// Where one output pixel reads the source: the offsets in a band's plane
/// of its four neighbours (the nearest pixel alone first, for nearest
/// interpolation; the plane's size for a neighbour outside it) and the
/// bilinear weights between them.
#[derive(Clone, Copy)]
struct Sample {
    at: [usize; 4],
    fx: f32,
    fy: f32,
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

/// A perturbation that resamples the image through an affine map: rotate,
/// translate and zoom. Each says only how it samples and which map a value
/// means for an image of a size; a batch's images (all of one size) then
/// share the map's sample positions.
pub(super) trait Geometric: Send + Sync + 'static {
    /// How the image is sampled between pixel centres.
    fn resampling(&self) -> &Resampling;

    /// The map from output pixel to source position at strength `value`,
    /// for an image of `height` x `width` pixels.
    fn map(&self, value: f64, height: usize, width: usize) -> Affine;

    /// Refuses finite values that make no sense here.
    fn check(&self, _value: f64) -> Result<()> {
        Ok(())
    }
}

impl<G: Geometric> Effect for G {
    fn check(&self, value: f64) -> Result<()> {
        Geometric::check(self, value)
    }

    fn apply(&self, image: ArrayView3<f32>, value: f64, _: &mut SeededRng) -> Result<Array3<f32>> {
        let (_, h, w) = image.dim();
        Ok(self.resampling().warp(image, self.map(value, h, w)))
    }

    fn chunked(&self, value: f64) -> Option<ChunkFn<'_>> {
        Some(Box::new(move |images, out| {
            let (_, _, h, w) = images.dim();
            self.resampling()
                .warp_into(images, self.map(value, h, w), out);
        }))
    }
}

/// The centre of an image of `height` x `width` pixels, in pixel
/// coordinates: the point geometric perturbations turn and scale about.
pub(super) fn centre(height: usize, width: usize) -> (f64, f64) {
    ((width as f64 - 1.0) / 2.0, (height as f64 - 1.0) / 2.0)
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
    fn an_image_wider_than_a_block_of_samples_turns_half_way_exactly() {
        // 40,000 pixels a row: more than one block's samples, so every row is
        // a block of its own. A half turn about the centre lands on pixel
        // centres: output (x, y) is input (w - 1 - x, h - 1 - y), exactly.
        let (h, w) = (3, 40_000);
        let image = Array3::from_shape_fn((2, h, w), |(c, y, x)| (c * 7 + y * 3 + x % 11) as f32);
        let half_turn = Affine {
            a: -1.0,
            b: 0.0,
            c: (w - 1) as f64,
            d: 0.0,
            e: -1.0,
            f: (h - 1) as f64,
        };
        for interpolation in [Interpolation::Bilinear, Interpolation::Nearest] {
            let out = resampling(interpolation, 0.0).warp(image.view(), half_turn);
            let mut expected = image.clone();
            expected.invert_axis(Axis(1));
            expected.invert_axis(Axis(2));
            assert!(out == expected, "{interpolation:?}");
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
