//! Convolution kernels and the convolutions that apply them (blur, psf,
//! seeing).
//!
//! Edges are handled by half-sample symmetric reflection (`d c b a | a b c d |
//! d c b a`, scipy's `reflect`, numpy's `symmetric`). With a kernel that is
//! symmetric about its centre along each axis, every source pixel then hands
//! out exactly its own flux, so the total flux of each band is conserved to
//! rounding even next to the edges; zero padding would lose the flux that
//! spills out, and edge replication would add flux. Kernels are normalised to
//! sum to 1, so a convolution changes where the light is, never how much.

use std::f64::consts::LN_2;

use ndarray::{Array2, Array3, ArrayView2, ArrayView3, Axis};

use crate::{Error, Result};

/// FWHM = this x sigma for a Gaussian: 2 sqrt(2 ln 2) = 2.3548...
pub(super) fn fwhm_per_sigma() -> f64 {
    2.0 * (2.0 * LN_2).sqrt()
}

/// A normalised 1-D Gaussian sampled at integer offsets -r..=r, r = ceil(4 sigma):
/// the truncated tails hold less than 1e-4 of the flux before normalisation.
/// `sigma = 0` gives the identity kernel `[1]`.
pub(super) fn gaussian_1d(sigma: f64) -> Vec<f64> {
    if sigma == 0.0 {
        return vec![1.0];
    }
    let radius = (4.0 * sigma).ceil() as i64;
    normalised(
        (-radius..=radius)
            .map(|k| (-0.5 * (k as f64 / sigma).powi(2)).exp())
            .collect(),
    )
    .expect("a Gaussian kernel has a positive sum")
}

/// `weights` divided by their sum; refuses a kernel whose sum is not positive.
pub(super) fn normalised(mut weights: Vec<f64>) -> Result<Vec<f64>> {
    let sum: f64 = weights.iter().sum();
    if !(sum > 0.0 && sum.is_finite()) {
        return Err(Error::invalid(
            "convolution kernel",
            format!("its values sum to {sum}; a PSF must sum to a positive number"),
        ));
    }
    weights.iter_mut().for_each(|w| *w /= sum);
    Ok(weights)
}

/// The index that position `p` of the reflected extension of a length-`n`
/// axis reads from (the pattern repeats every 2n, so any kernel size works).
fn reflect(p: i64, n: usize) -> usize {
    let n = n as i64;
    let m = p.rem_euclid(2 * n);
    (if m < n { m } else { 2 * n - 1 - m }) as usize
}

/// Convolves every band with `kernel` along columns and then along rows: a
/// separable 2-D convolution with the outer product of `kernel` with itself.
/// `kernel` has odd length and is centred.
pub(super) fn convolve_separable(image: ArrayView3<f32>, kernel: &[f64]) -> Array3<f32> {
    if kernel.len() == 1 {
        return image.to_owned();
    }
    let along_x = convolve_axis(image, kernel, Axis(2));
    convolve_axis(along_x.view(), kernel, Axis(1))
}

fn convolve_axis(image: ArrayView3<f32>, kernel: &[f64], axis: Axis) -> Array3<f32> {
    let n = image.len_of(axis);
    let r = kernel.len() / 2;
    // Output i, tap k reads source reflect(i + r - k), which is
    // padded[i + 2r - k] of the lane extended by r reflected pixels a side.
    let reflected: Vec<usize> = (0..n + 2 * r)
        .map(|j| reflect(j as i64 - r as i64, n))
        .collect();
    let mut out = Array3::zeros(image.raw_dim());
    let mut padded: Vec<f64> = vec![0.0; n + 2 * r];
    let mut sums: Vec<f64> = vec![0.0; n];
    for (lane_in, mut lane_out) in image.lanes(axis).into_iter().zip(out.lanes_mut(axis)) {
        padded
            .iter_mut()
            .zip(&reflected)
            .for_each(|(p, &j)| *p = f64::from(lane_in[j]));
        // Each output is the sum of its taps in kernel order from -0.0, as
        // `Iterator::sum` adds them; with the taps in the outer loop, a
        // lane's outputs are summed side by side over contiguous slices
        // (the same roundings, several times faster).
        sums.fill(-0.0);
        for (k, &w) in kernel.iter().enumerate() {
            let window = &padded[2 * r - k..2 * r - k + n];
            sums.iter_mut()
                .zip(window)
                .for_each(|(sum, &v)| *sum += w * v);
        }
        lane_out
            .iter_mut()
            .zip(&sums)
            .for_each(|(o, &sum)| *o = sum as f32);
    }
    out
}

/// Convolves every band with a 2-D kernel of odd height and width, centred.
///
/// Each band is copied once into a reflect-padded buffer and the kernel is
/// flipped once, so the inner loop is a dot product over contiguous rows
/// (wide PSF kernels have thousands of taps; this loop is where a PSF sweep
/// spends its time).
pub(super) fn convolve_2d(image: ArrayView3<f32>, kernel: ArrayView2<f64>) -> Array3<f32> {
    let (kh, kw) = kernel.dim();
    let (c, h, w) = image.dim();
    let (ry, rx) = (kh / 2, kw / 2);
    let (ph, pw) = (h + 2 * ry, w + 2 * rx);
    let mut flipped: Vec<f64> = kernel.iter().copied().collect();
    flipped.reverse();
    let mut out = Array3::zeros((c, h, w));
    let mut padded = vec![0.0f64; ph * pw];
    let mut row = vec![0.0f64; w];
    for band in 0..c {
        for (i, slot) in padded.iter_mut().enumerate() {
            let (y, x) = (
                reflect((i / pw) as i64 - ry as i64, h),
                reflect((i % pw) as i64 - rx as i64, w),
            );
            *slot = f64::from(image[[band, y, x]]);
        }
        for y in 0..h {
            row.iter_mut().for_each(|v| *v = 0.0);
            for ky in 0..kh {
                let taps = &flipped[ky * kw..(ky + 1) * kw];
                let source = &padded[(y + ky) * pw..(y + ky + 1) * pw];
                for (x, acc) in row.iter_mut().enumerate() {
                    *acc += taps
                        .iter()
                        .zip(&source[x..x + kw])
                        .map(|(k, v)| k * v)
                        .sum::<f64>();
                }
            }
            for (x, v) in row.iter().enumerate() {
                out[[band, y, x]] = *v as f32;
            }
        }
    }
    out
}

/// A normalised 2-D kernel of radius `radius` from a radial profile `f(r)`
/// sampled at pixel centres.
pub(super) fn radial_kernel(radius: usize, profile: impl Fn(f64) -> f64) -> Array2<f64> {
    let size = 2 * radius + 1;
    let r = radius as f64;
    let kernel = Array2::from_shape_fn((size, size), |(y, x)| {
        profile((y as f64 - r).hypot(x as f64 - r))
    });
    let sum = kernel.sum();
    kernel / sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perturb::test_support::ramp;

    #[test]
    fn the_gaussian_kernel_matches_the_hand_computed_one() {
        // sigma = 1: radius 4, w_k = exp(-k^2/2) / S with
        // S = 1 + 2 (e^-0.5 + e^-2 + e^-4.5 + e^-8) = 2.5066208...
        let expected = [
            0.00013383062,
            0.0044318616,
            0.053991127,
            0.24197144,
            0.39894346,
        ];
        let kernel = gaussian_1d(1.0);
        assert_eq!(kernel.len(), 9);
        for (k, e) in expected.iter().enumerate() {
            assert!(
                (kernel[k] - e).abs() < 1e-8 && (kernel[8 - k] - e).abs() < 1e-8,
                "w[{k}] = {}",
                kernel[k]
            );
        }
    }

    #[test]
    fn fwhm_per_sigma_is_2_3548() {
        assert!((fwhm_per_sigma() - 2.354_820_045).abs() < 1e-9);
    }

    #[test]
    fn reflection_repeats_every_two_lengths() {
        let got: Vec<usize> = (-4..8).map(|p| reflect(p, 3)).collect();
        assert_eq!(got, vec![2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0, 1]);
    }

    #[test]
    fn separable_equals_the_2d_outer_product_and_conserves_flux() {
        let image = ramp(2, 7, 5);
        let k = gaussian_1d(1.3); // radius 6: wider than the image
        let outer = Array2::from_shape_fn((k.len(), k.len()), |(i, j)| k[i] * k[j]);
        let a = convolve_separable(image.view(), &k);
        let b = convolve_2d(image.view(), outer.view());
        for band in 0..2 {
            let before = image.index_axis(Axis(0), band).sum();
            for out in [&a, &b] {
                let after = out.index_axis(Axis(0), band).sum();
                assert!(
                    (after - before).abs() < 1e-4 * before,
                    "band {band}: {before} -> {after}"
                );
            }
        }
        assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-3));
    }
}
