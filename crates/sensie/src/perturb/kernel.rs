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
///
/// A sigma beyond twice the image's longer `side` is taken as twice it, so the
/// kernel stays bounded by the image whatever sigma is asked for: the
/// reflected image repeats every two sides, and a Gaussian that wide is flat
/// over that period to 1e-8, so the result (the band's mean) is the same.
pub(super) fn gaussian_1d(sigma: f64, side: usize) -> Vec<f64> {
    if sigma == 0.0 {
        return vec![1.0];
    }
    let sigma = sigma.min(2.0 * side.max(1) as f64);
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

/// For each output index i of a length-`n` axis, the source index read by
/// tap k of a kernel of `taps` (odd) values: `reflect(i + r - k)`, laid out
/// as `n` rows of `taps`. Computed once per axis, not per pixel.
fn taps_table(n: usize, taps: usize) -> Vec<usize> {
    let r = (taps / 2) as i64;
    (0..n)
        .flat_map(|i| (0..taps).map(move |k| reflect(i as i64 + r - k as i64, n)))
        .collect()
}

fn convolve_axis(image: ArrayView3<f32>, kernel: &[f64], axis: Axis) -> Array3<f32> {
    let n = image.len_of(axis);
    let table = taps_table(n, kernel.len());
    let mut out = Array3::zeros(image.raw_dim());
    let mut lane: Vec<f64> = vec![0.0; n];
    for (lane_in, mut lane_out) in image.lanes(axis).into_iter().zip(out.lanes_mut(axis)) {
        lane.iter_mut()
            .zip(lane_in)
            .for_each(|(l, &v)| *l = f64::from(v));
        for (o, sources) in lane_out.iter_mut().zip(table.chunks_exact(kernel.len())) {
            *o = kernel
                .iter()
                .zip(sources)
                .map(|(w, &j)| w * lane[j])
                .sum::<f64>() as f32;
        }
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
        let kernel = gaussian_1d(1.0, 100);
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
        let k = gaussian_1d(1.3, 100); // radius 6: wider than the image
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
