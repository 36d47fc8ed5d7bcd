//! The regularisers that make optimised inputs readable, after Simonyan et
//! al. (2014: an L2 penalty), Mahendran & Vedaldi (2015: total variation),
//! Yosinski et al. (2015: periodic blur) and Olah et al. (2017: random
//! jitter, scale and rotation, see [`super::transform`]).
//!
//! The penalties are measured on the image in units of the value range
//! (0 at its low end, 1 at its high end), so one strength suits MNIST's
//! [0, 1] and a survey's counts alike. They are sums over pixels, as in
//! Simonyan et al., so their pull on one pixel does not shrink with the
//! image's size, as a score's gradient on one pixel does not.

use ndarray::{Array4, ArrayView4, Axis};

/// Which regularisers act, and how strongly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Regularisers {
    /// Random shift of up to this many pixels along each axis, every step.
    pub jitter: usize,
    /// Random scale factor in [1 - scale, 1 + scale], every step.
    pub scale: f32,
    /// Random rotation of up to this many degrees either way, every step.
    pub rotate: f32,
    /// Strength of the penalty `sum (u - u0)^2`, pulling pixels towards the
    /// per-band value `u0` the optimisation starts from (the data's mean, or
    /// the middle of the range).
    pub l2: f32,
    /// Strength of the total variation `sum |u[y+1, x] - u[y, x]| + |u[y, x+1] - u[y, x]|`.
    pub tv: f32,
    /// Blur the image every this many steps (0: never)...
    pub blur_every: usize,
    /// ...with a Gaussian of this standard deviation in pixels.
    pub blur_sigma: f32,
}

/// Refuses a random shift of half an `h` x `w` image or more: each step
/// would see it mostly shifted out (10,000 pixels on a 28-pixel digit left
/// Deep Dream's images unchanged, without a word).
pub(super) fn check_jitter(jitter: usize, h: usize, w: usize) -> crate::Result<()> {
    if 2 * jitter >= h.min(w) {
        return Err(crate::Error::invalid(
            format!("jitter {jitter}"),
            format!(
                "a random shift of up to {jitter} pixels moves the {h} x {w} image by half of it or more; give less than {}",
                h.min(w).div_ceil(2)
            ),
        ));
    }
    Ok(())
}

impl Regularisers {
    /// Lucid's transformation robustness scaled to the image (a 224-pixel
    /// image gets its 8-pixel jitter), with light penalties; no blur.
    pub fn for_size(h: usize, w: usize) -> Regularisers {
        Regularisers {
            jitter: (h.max(w) / 28).max(1),
            scale: 0.1,
            rotate: 10.0,
            l2: 0.0,
            tv: 0.0,
            blur_every: 0,
            blur_sigma: 0.5,
        }
    }

    /// Per image, the penalty (L2 about `centre`, per band, plus total
    /// variation) of images `u` in units of the range, and its gradient with
    /// respect to `u`.
    pub(crate) fn penalty(&self, u: ArrayView4<f32>, centre: &[f32]) -> (Vec<f32>, Array4<f32>) {
        let mut grad = Array4::zeros(u.raw_dim());
        let mut totals = vec![0.0; u.shape()[0]];
        for ((image, mut g), total) in u.outer_iter().zip(grad.outer_iter_mut()).zip(&mut totals) {
            if self.l2 > 0.0 {
                for ((band, mut g), &c) in image.outer_iter().zip(g.outer_iter_mut()).zip(centre) {
                    *total += self.l2 * band.iter().map(|v| (v - c) * (v - c)).sum::<f32>();
                    g.zip_mut_with(&band, |g, &v| *g += 2.0 * self.l2 * (v - c));
                }
            }
            if self.tv > 0.0 {
                for axis in [1, 2] {
                    let n = image.len_of(Axis(axis));
                    for i in 0..n.saturating_sub(1) {
                        let (a, b) = (
                            image.index_axis(Axis(axis), i),
                            image.index_axis(Axis(axis), i + 1),
                        );
                        let d = &b - &a;
                        *total += self.tv * d.iter().map(|v| v.abs()).sum::<f32>();
                        let sign = d.mapv(|v| self.tv * v.signum() * f32::from(v != 0.0));
                        let mut ga = g.index_axis_mut(Axis(axis), i);
                        ga -= &sign;
                        let mut gb = g.index_axis_mut(Axis(axis), i + 1);
                        gb += &sign;
                    }
                }
            }
        }
        (totals, grad)
    }
}

/// Blurs every band of N x C x H x W images in place with a Gaussian of
/// `sigma` pixels (truncated at 3 sigma, edges repeated, weights summing to 1).
pub(crate) fn gaussian_blur(x: &mut Array4<f32>, sigma: f32) {
    if sigma <= 0.0 {
        return;
    }
    let radius = (3.0 * sigma).ceil() as i64;
    let mut kernel: Vec<f32> = (-radius..=radius)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f32 = kernel.iter().sum();
    kernel.iter_mut().for_each(|k| *k /= total);
    for axis in [2, 3] {
        for mut lane in x.lanes_mut(Axis(axis)) {
            let src = lane.to_vec();
            let n = src.len() as i64;
            for (i, out) in lane.iter_mut().enumerate() {
                *out = kernel
                    .iter()
                    .enumerate()
                    .map(|(k, w)| w * src[(i as i64 + k as i64 - radius).clamp(0, n - 1) as usize])
                    .sum();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regs(l2: f32, tv: f32) -> Regularisers {
        Regularisers {
            l2,
            tv,
            ..Regularisers::for_size(8, 8)
        }
    }

    #[test]
    fn penalties_match_their_definitions_and_finite_differences() {
        let u = Array4::from_shape_fn((2, 2, 3, 4), |(n, c, y, x)| {
            ((n * 13 + c * 7 + y * 5 + x * 3) % 9) as f32 / 8.0 + 0.01 * x as f32
        });
        let r = regs(0.3, 0.2);
        let centre = [0.5, 0.1];
        let (totals, grad) = r.penalty(u.view(), &centre);
        let image = u.index_axis(Axis(0), 1);
        let l2: f32 = image
            .indexed_iter()
            .map(|((c, _, _), v)| (v - centre[c]).powi(2))
            .sum();
        let mut tv = 0.0;
        for c in 0..2 {
            for y in 0..3 {
                for x in 0..4 {
                    if y + 1 < 3 {
                        tv += (image[[c, y + 1, x]] - image[[c, y, x]]).abs();
                    }
                    if x + 1 < 4 {
                        tv += (image[[c, y, x + 1]] - image[[c, y, x]]).abs();
                    }
                }
            }
        }
        assert!((totals[1] - (0.3 * l2 + 0.2 * tv)).abs() < 1e-4);
        for idx in [(0, 0, 1, 2), (1, 1, 2, 3), (1, 0, 0, 0)] {
            let h = 1e-3;
            let mut up = u.clone();
            up[idx] += h;
            let mut down = u.clone();
            down[idx] -= h;
            let numeric = (r.penalty(up.view(), &centre).0[idx.0]
                - r.penalty(down.view(), &centre).0[idx.0])
                / (2.0 * h);
            assert!(
                (numeric - grad[idx]).abs() < 1e-2,
                "{idx:?}: {numeric} vs {}",
                grad[idx]
            );
        }
    }

    #[test]
    fn blur_keeps_a_constant_image_and_spreads_a_point() {
        let mut flat = Array4::from_elem((1, 1, 5, 5), 0.7f32);
        gaussian_blur(&mut flat, 1.0);
        assert!(flat.iter().all(|v| (v - 0.7).abs() < 1e-6));
        let mut point = Array4::zeros((1, 1, 9, 9));
        point[[0, 0, 4, 4]] = 1.0;
        gaussian_blur(&mut point, 1.0);
        assert!((point.sum() - 1.0).abs() < 1e-5);
        assert!(point[[0, 0, 4, 4]] < 0.2 && point[[0, 0, 4, 5]] > 0.05);
        assert_eq!(point[[0, 0, 4, 5]], point[[0, 0, 5, 4]]);
    }
}
