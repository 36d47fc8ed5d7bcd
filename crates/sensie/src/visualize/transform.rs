//! Geometric changes of images that gradients can flow back through: random
//! jitter, scale and rotation (the "transformation robustness" of Lucid:
//! an image that maximises a unit whatever its small shifts, zooms and turns
//! holds structure, not pixel-level noise), and resizing between octaves.
//!
//! Both are linear in the image, so the gradient through them is the adjoint
//! (transpose) of the same linear map, applied exactly: a gradient computed
//! at the transformed image is carried back to the image being optimised.

use ndarray::{Array2, Array3, ArrayView2, ArrayView3, Axis};
use rand::RngExt;
use rand_pcg::Pcg64Mcg;

/// One affine resampling of a C x H x W image: every output pixel samples the
/// input bilinearly at `centre + m (p - centre) - shift`, with samples off
/// the image taken from its nearest edge pixel (no invented border colour).
pub(crate) struct Warp {
    /// Per output pixel, up to four (input pixel, weight) taps.
    taps: Vec<[(usize, f32); 4]>,
    size: (usize, usize),
}

impl Warp {
    /// A random warp for an `h` x `w` image: a shift of up to `jitter` whole
    /// pixels along each axis, a scale factor in [1 - `scale`, 1 + `scale`]
    /// and a rotation of up to `rotate` degrees either way.
    pub fn random(
        rng: &mut Pcg64Mcg,
        (h, w): (usize, usize),
        jitter: usize,
        scale: f32,
        rotate: f32,
    ) -> Warp {
        let mut shift = || {
            if jitter == 0 {
                0.0
            } else {
                rng.random_range(-(jitter as i64)..=jitter as i64) as f32
            }
        };
        let (dy, dx) = (shift(), shift());
        let s = if scale > 0.0 {
            rng.random_range(1.0 - scale..=1.0 + scale)
        } else {
            1.0
        };
        let angle = if rotate > 0.0 {
            rng.random_range(-rotate..=rotate).to_radians()
        } else {
            0.0
        };
        // Enlarging the content by `s` and turning it by `angle` samples the
        // input at the inverse: turned back and shrunk.
        let (sin, cos) = angle.sin_cos();
        let m = [[cos / s, sin / s], [-sin / s, cos / s]];
        Warp::affine((h, w), m, (dy, dx))
    }

    fn affine((h, w): (usize, usize), m: [[f32; 2]; 2], (dy, dx): (f32, f32)) -> Warp {
        let (cy, cx) = ((h as f32 - 1.0) / 2.0, (w as f32 - 1.0) / 2.0);
        let mut taps = Vec::with_capacity(h * w);
        for y in 0..h {
            for x in 0..w {
                let (py, px) = (y as f32 - cy, x as f32 - cx);
                let sy = (cy + m[0][0] * py + m[0][1] * px - dy).clamp(0.0, (h - 1) as f32);
                let sx = (cx + m[1][0] * py + m[1][1] * px - dx).clamp(0.0, (w - 1) as f32);
                let (y0, x0) = (sy.floor() as usize, sx.floor() as usize);
                let (y1, x1) = ((y0 + 1).min(h - 1), (x0 + 1).min(w - 1));
                let (fy, fx) = (sy - y0 as f32, sx - x0 as f32);
                taps.push([
                    (y0 * w + x0, (1.0 - fy) * (1.0 - fx)),
                    (y0 * w + x1, (1.0 - fy) * fx),
                    (y1 * w + x0, fy * (1.0 - fx)),
                    (y1 * w + x1, fy * fx),
                ]);
            }
        }
        Warp { taps, size: (h, w) }
    }

    /// The warped image.
    pub fn apply(&self, image: ArrayView3<f32>) -> Array3<f32> {
        let mut out = Array3::zeros(image.raw_dim());
        for (src, mut dst) in image.axis_iter(Axis(0)).zip(out.axis_iter_mut(Axis(0))) {
            let src = src.as_standard_layout();
            let src = src.as_slice().expect("standard layout");
            for (d, taps) in dst.iter_mut().zip(&self.taps) {
                *d = taps.iter().map(|&(i, wt)| wt * src[i]).sum();
            }
        }
        out
    }

    /// The adjoint: a gradient at the warped image carried back to the image.
    pub fn adjoint(&self, grad: ArrayView3<f32>) -> Array3<f32> {
        let (h, w) = self.size;
        let mut out = Array3::<f32>::zeros((grad.shape()[0], h, w));
        for (g, mut dst) in grad.axis_iter(Axis(0)).zip(out.axis_iter_mut(Axis(0))) {
            let dst = dst.as_slice_mut().expect("fresh array");
            for (&gv, taps) in g.iter().zip(&self.taps) {
                for &(i, wt) in taps {
                    dst[i] += wt * gv;
                }
            }
        }
        out
    }
}

/// Linear interpolation from `n` samples to `m` as an m x n matrix, with
/// half-pixel centres (PyTorch's `align_corners=False`, ONNX Resize's
/// `half_pixel`), so that resized images stay aligned with the original.
pub(crate) fn interpolation(m: usize, n: usize) -> Array2<f32> {
    let mut r = Array2::zeros((m, n));
    let ratio = n as f32 / m as f32;
    for i in 0..m {
        let s = ((i as f32 + 0.5) * ratio - 0.5).clamp(0.0, (n - 1) as f32);
        let j0 = s.floor() as usize;
        let j1 = (j0 + 1).min(n - 1);
        let f = s - j0 as f32;
        r[[i, j0]] += 1.0 - f;
        r[[i, j1]] += f;
    }
    r
}

/// Every channel of a C x h x w image resized by `rows` (H x h) and `cols`
/// (W x w) interpolation matrices: `rows . image . cols^T`. Passing the
/// matrices transposed applies the adjoint.
pub(crate) fn resize(
    image: ArrayView3<f32>,
    rows: ArrayView2<f32>,
    cols: ArrayView2<f32>,
) -> Array3<f32> {
    let mut out = Array3::zeros((image.shape()[0], rows.nrows(), cols.nrows()));
    for (src, mut dst) in image.axis_iter(Axis(0)).zip(out.axis_iter_mut(Axis(0))) {
        dst.assign(&rows.dot(&src).dot(&cols.t()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array;
    use rand::SeedableRng;

    fn ramp(c: usize, h: usize, w: usize) -> Array3<f32> {
        Array::from_shape_fn((c, h, w), |(k, y, x)| {
            (k * 100 + y * 10 + x) as f32 * 0.37 % 5.0
        })
    }

    /// <W x, g> = <x, W^T g> for random x and g: the adjoint is the transpose.
    #[test]
    fn warp_adjoint_is_its_transpose() {
        let mut rng = Pcg64Mcg::seed_from_u64(3);
        for _ in 0..5 {
            let warp = Warp::random(&mut rng, (9, 7), 2, 0.2, 15.0);
            let x = ramp(2, 9, 7);
            let g = ramp(2, 9, 7).mapv(|v| (v * 1.7).sin());
            let lhs: f32 = (&warp.apply(x.view()) * &g).sum();
            let rhs: f32 = (&x * &warp.adjoint(g.view())).sum();
            assert!(
                (lhs - rhs).abs() < 1e-3 * lhs.abs().max(1.0),
                "{lhs} vs {rhs}"
            );
        }
    }

    #[test]
    fn a_whole_pixel_shift_moves_pixels_and_repeats_the_edge() {
        let x = ramp(1, 4, 5);
        let shifted = Warp::affine((4, 5), [[1.0, 0.0], [0.0, 1.0]], (1.0, -2.0)).apply(x.view());
        for y in 0..4 {
            for xx in 0..5 {
                let (sy, sx) = ((y as i64 - 1).clamp(0, 3) as usize, (xx + 2).min(4));
                assert_eq!(shifted[[0, y, xx]], x[[0, sy, sx]]);
            }
        }
    }

    /// Upsampling 2 -> 4 with half-pixel centres, as torch's
    /// `interpolate([[0., 1.]], size=4, mode="linear")` gives.
    #[test]
    fn interpolation_matches_pytorch_linear() {
        let r = interpolation(4, 2);
        let up = r.dot(&ndarray::arr1(&[0.0f32, 1.0]));
        assert_eq!(up.to_vec(), vec![0.0, 0.25, 0.75, 1.0]);
    }
}
