//! How an optimised image is represented: plain pixels, or Lucid's
//! decorrelated Fourier parameterisation (Olah, Mordvintsev & Schubert 2017,
//! "Feature Visualization", section "Preconditioning and
//! Parameterization").
//!
//! Gradient ascent on pixels piles up high frequencies: a network's gradient
//! is largest there, and nothing stops noise that raises the score. Lucid
//! instead optimises Fourier coefficients scaled by 1 / frequency, so that
//! every frequency has about the same energy in the image's gradient steps
//! (the spectrum of natural images falls as 1 / f), and mixes the bands
//! through the square root of their covariance, so that a step moves
//! decorrelated colours rather than correlated bands; a sigmoid keeps the
//! image inside the model's value range.
//!
//! Lucid uses a complex FFT. Here the basis is the real Fourier basis (1,
//! cos, sin at each frequency) in each axis, orthonormal: their products span
//! the same images, and the two terms of each product have the same
//! frequency magnitude, so the 1 / f scaling is Lucid's. Synthesis is two
//! small matrix products per band, and its gradient is the transpose of the
//! same products, computed exactly.

use std::f32::consts::PI;

use ndarray::{Array2, Array4, ArrayView4, Axis, Zip};
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;

use super::ValueRange;
use super::regularise::gaussian_blur;

/// How images being optimised are represented.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Parameterisation {
    /// Pixels in the value range, clamped to it after every step.
    Pixel,
    /// Lucid's decorrelated Fourier space; `decay` is the power of 1 / f
    /// that scales the coefficients (1 in Lucid).
    Fourier {
        /// The power of 1 / f that scales the coefficients.
        decay: f32,
    },
}

impl Default for Parameterisation {
    fn default() -> Self {
        Parameterisation::Fourier { decay: 1.0 }
    }
}

/// Lucid scales its spectrum down by 4 so that a fresh image is close to
/// grey; with an orthonormal basis the same factor applies.
const SPECTRUM_SCALE: f32 = 0.25;

/// Standard deviation of the starting values (Lucid's 0.01).
const INIT_SD: f32 = 0.01;

/// A batch of images being optimised: its variables and how they become
/// images (N x C x H x W, in the model's value units).
pub(crate) struct Images {
    kind: Parameterisation,
    range: ValueRange,
    /// The variables: pixels in [0, 1] of the range, or Fourier coefficients.
    pub params: Array4<f32>,
    /// Orthonormal real Fourier bases (rows are basis vectors).
    basis_h: Array2<f32>,
    basis_w: Array2<f32>,
    /// Each coefficient's frequency (cycles per pixel) and its 1 / f scale.
    freq: Array2<f32>,
    scale: Array2<f32>,
    /// Band mixing, C x C (the identity without decorrelation).
    colour: Array2<f32>,
    /// Per band, the Fourier images' value before the sigmoid at the start.
    bias: Vec<f32>,
}

impl Images {
    /// `n` fresh images of `c` x `h` x `w`, close to `start` (per band, in
    /// units of the range, inside (0, 1)). `colour` mixes the bands of the
    /// Fourier parameterisation (see [`colour_decorrelation`]; the identity
    /// when `None`).
    pub fn new(
        kind: Parameterisation,
        n: usize,
        (c, h, w): (usize, usize, usize),
        range: ValueRange,
        colour: Option<Array2<f32>>,
        start: &[f32],
        rng: &mut Pcg64Mcg,
    ) -> Images {
        let (basis_h, fh) = real_fourier_basis(h);
        let (basis_w, fw) = real_fourier_basis(w);
        let freq = Array2::from_shape_fn((h, w), |(i, j)| (fh[i] * fh[i] + fw[j] * fw[j]).sqrt());
        let floor = 1.0 / h.max(w) as f32;
        let decay = match kind {
            Parameterisation::Fourier { decay } => decay,
            Parameterisation::Pixel => 0.0,
        };
        let scale = freq.mapv(|f| SPECTRUM_SCALE / f.max(floor).powf(decay));
        let mut normal =
            || INIT_SD * <StandardNormal as Distribution<f32>>::sample(&StandardNormal, rng);
        let params = match kind {
            Parameterisation::Pixel => {
                Array4::from_shape_fn((n, c, h, w), |(_, band, _, _)| start[band] + normal())
            }
            Parameterisation::Fourier { .. } => Array4::from_shape_simple_fn((n, c, h, w), normal),
        };
        let colour = colour.unwrap_or_else(|| Array2::eye(c));
        let bias = start.iter().map(|&u| (u / (1.0 - u)).ln()).collect();
        Images {
            kind,
            range,
            params,
            basis_h,
            basis_w,
            freq,
            scale,
            colour,
            bias,
        }
    }

    /// The images, in the model's value units.
    pub fn render(&self) -> Array4<f32> {
        match self.kind {
            Parameterisation::Pixel => self
                .params
                .mapv(|p| self.range.low + self.range.width() * p),
            Parameterisation::Fourier { .. } => self
                .logits()
                .mapv(|t| self.range.low + self.range.width() * sigmoid(t)),
        }
    }

    /// The gradient with respect to the variables, from the gradient with
    /// respect to the images.
    pub fn backward(&self, grad: ArrayView4<f32>) -> Array4<f32> {
        let width = self.range.width();
        match self.kind {
            Parameterisation::Pixel => grad.mapv(|g| g * width),
            Parameterisation::Fourier { .. } => {
                let mut g = self.logits();
                Zip::from(&mut g).and(grad).for_each(|t, &gx| {
                    let s = sigmoid(*t);
                    *t = gx * width * s * (1.0 - s);
                });
                let g = mix(g.view(), &self.colour.t());
                let mut out = Array4::zeros(g.raw_dim());
                for (src, mut dst) in g.outer_iter().zip(out.outer_iter_mut()) {
                    for (band, mut coef) in src.outer_iter().zip(dst.outer_iter_mut()) {
                        coef.assign(
                            &(&self.basis_h.dot(&band).dot(&self.basis_w.t()) * &self.scale),
                        );
                    }
                }
                out
            }
        }
    }

    /// Keeps the variables valid after a step: pixels stay in the range.
    pub fn project(&mut self) {
        if self.kind == Parameterisation::Pixel {
            self.params.mapv_inplace(|p| p.clamp(0.0, 1.0));
        }
    }

    /// Blurs the images with a Gaussian of `sigma` pixels. Fourier images are
    /// blurred before their sigmoid, exactly, by the Gaussian's transfer
    /// function exp(-2 pi^2 sigma^2 f^2) on the coefficients.
    pub fn blur(&mut self, sigma: f32) {
        match self.kind {
            Parameterisation::Pixel => gaussian_blur(&mut self.params, sigma),
            Parameterisation::Fourier { .. } => {
                let transfer = self
                    .freq
                    .mapv(|f| (-2.0 * PI * PI * sigma * sigma * f * f).exp());
                for mut image in self.params.outer_iter_mut() {
                    for mut band in image.outer_iter_mut() {
                        band *= &transfer;
                    }
                }
            }
        }
    }

    /// The Fourier images before their sigmoid: synthesis, then band mixing.
    fn logits(&self) -> Array4<f32> {
        let mut t = Array4::zeros(self.params.raw_dim());
        for (src, mut dst) in self.params.outer_iter().zip(t.outer_iter_mut()) {
            for (coef, mut band) in src.outer_iter().zip(dst.outer_iter_mut()) {
                band.assign(
                    &self
                        .basis_h
                        .t()
                        .dot(&(&coef * &self.scale))
                        .dot(&self.basis_w),
                );
            }
        }
        let mut t = mix(t.view(), &self.colour.view());
        for mut image in t.outer_iter_mut() {
            for (mut band, &b) in image.outer_iter_mut().zip(&self.bias) {
                band += b;
            }
        }
        t
    }
}

fn sigmoid(t: f32) -> f32 {
    1.0 / (1.0 + (-t).exp())
}

/// Bands mixed per pixel: `out[c] = sum_d m[c, d] x[d]`.
fn mix(x: ArrayView4<f32>, m: &ndarray::ArrayView2<f32>) -> Array4<f32> {
    let mut out = Array4::zeros(x.raw_dim());
    for (src, mut dst) in x.outer_iter().zip(out.outer_iter_mut()) {
        for (c, mut band) in dst.outer_iter_mut().enumerate() {
            for (d, other) in src.outer_iter().enumerate() {
                band.scaled_add(m[[c, d]], &other);
            }
        }
    }
    out
}

/// The orthonormal real Fourier basis of length `n` (rows: the constant,
/// then cos and sin of each frequency k / n, then the alternating Nyquist
/// row when `n` is even) and each row's frequency in cycles per sample.
fn real_fourier_basis(n: usize) -> (Array2<f32>, Vec<f32>) {
    let mut basis = Array2::zeros((n, n));
    let mut freq = vec![0.0; n];
    let nf = n as f32;
    for t in 0..n {
        basis[[0, t]] = 1.0 / nf.sqrt();
    }
    let mut row = 1;
    for k in 1..=(n - 1) / 2 {
        for t in 0..n {
            let phase = 2.0 * PI * (k * t % n) as f32 / nf;
            basis[[row, t]] = (2.0 / nf).sqrt() * phase.cos();
            basis[[row + 1, t]] = (2.0 / nf).sqrt() * phase.sin();
        }
        freq[row] = k as f32 / nf;
        freq[row + 1] = k as f32 / nf;
        row += 2;
    }
    if n.is_multiple_of(2) {
        for t in 0..n {
            basis[[row, t]] = if t % 2 == 0 { 1.0 } else { -1.0 } / nf.sqrt();
        }
        freq[row] = 0.5;
    }
    (basis, freq)
}

/// Lucid's colour decorrelation for the bands of some images (N x C x H x W):
/// the square root of the bands' covariance over all pixels, in units of the
/// value range, divided by its largest column norm. Steps in the Fourier
/// parameterisation then move independent colours, as in the data.
pub fn colour_decorrelation(x: ArrayView4<f32>, range: ValueRange) -> Array2<f32> {
    let c = x.shape()[1];
    let bands: Vec<Vec<f64>> = x
        .axis_iter(Axis(1))
        .map(|band| {
            band.iter()
                .map(|&v| f64::from((v - range.low) / range.width()))
                .collect()
        })
        .collect();
    let count = bands.first().map_or(1, Vec::len).max(1) as f64;
    let means: Vec<f64> = bands
        .iter()
        .map(|b| b.iter().sum::<f64>() / count)
        .collect();
    let mut cov = Array2::<f64>::zeros((c, c));
    for i in 0..c {
        for j in 0..=i {
            let v = bands[i]
                .iter()
                .zip(&bands[j])
                .map(|(a, b)| (a - means[i]) * (b - means[j]))
                .sum::<f64>()
                / count;
            cov[[i, j]] = v;
            cov[[j, i]] = v;
        }
    }
    let (values, vectors) = symmetric_eigen(cov);
    let root = Array2::from_diag(&values.mapv(|v| v.max(0.0).sqrt()));
    let sqrt = vectors.dot(&root).dot(&vectors.t());
    let max_norm = sqrt
        .axis_iter(Axis(1))
        .map(|col| col.dot(&col).sqrt())
        .fold(0.0, f64::max);
    if max_norm > 0.0 {
        sqrt.mapv(|v| (v / max_norm) as f32)
    } else {
        Array2::eye(c)
    }
}

/// Eigenvalues and eigenvectors (columns) of a small symmetric matrix, by
/// cyclic Jacobi rotations (Golub & Van Loan, algorithm 8.5.3).
fn symmetric_eigen(mut a: Array2<f64>) -> (ndarray::Array1<f64>, Array2<f64>) {
    let n = a.nrows();
    let mut v = Array2::<f64>::eye(n);
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[[i, j]].powi(2))
            .sum();
        if off < 1e-30 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                if a[[p, q]].abs() < 1e-300 {
                    continue;
                }
                let theta = (a[[q, q]] - a[[p, p]]) / (2.0 * a[[p, q]]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let (c, s) = (1.0 / (t * t + 1.0).sqrt(), t / (t * t + 1.0).sqrt());
                for k in 0..n {
                    let (akp, akq) = (a[[k, p]], a[[k, q]]);
                    a[[k, p]] = c * akp - s * akq;
                    a[[k, q]] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[[p, k]], a[[q, k]]);
                    a[[p, k]] = c * apk - s * aqk;
                    a[[q, k]] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[[k, p]], v[[k, q]]);
                    v[[k, p]] = c * vkp - s * vkq;
                    v[[k, q]] = s * vkp + c * vkq;
                }
            }
        }
    }
    (a.diag().to_owned(), v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_real_fourier_basis_is_orthonormal() {
        for n in [1, 2, 7, 8] {
            let (b, freq) = real_fourier_basis(n);
            let gram = b.dot(&b.t());
            for ((i, j), v) in gram.indexed_iter() {
                assert!(
                    (v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-5,
                    "n={n} ({i},{j}) {v}"
                );
            }
            assert!(freq.iter().all(|&f| (0.0..=0.5).contains(&f)));
        }
    }

    /// The analytic gradient against central differences of
    /// `sum(weights * render(params))`.
    #[test]
    fn fourier_backward_matches_finite_differences() {
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        let colour = colour_decorrelation(
            Array4::from_shape_fn((2, 3, 4, 4), |(n, c, y, x)| {
                ((n + c * 3 + y * 5 + x * 7) % 11) as f32 / 10.0
            })
            .view(),
            ValueRange::default(),
        );
        let range = ValueRange::new(-1.0, 2.0).unwrap();
        let mut images = Images::new(
            Parameterisation::default(),
            2,
            (3, 6, 5),
            range,
            Some(colour),
            &[0.2, 0.5, 0.9],
            &mut rng,
        );
        images.params.mapv_inplace(|p| p * 30.0);
        let weights = Array4::from_shape_fn((2, 3, 6, 5), |(n, c, y, x)| {
            ((n * 7 + c * 5 + y * 3 + x) % 5) as f32 - 2.0
        });
        let analytic = images.backward(weights.view());
        for idx in [(0, 0, 0, 0), (1, 2, 3, 4), (0, 1, 5, 2), (1, 0, 2, 1)] {
            let h = 1e-2;
            let base = images.params[idx];
            images.params[idx] = base + h;
            let up: f32 = (&images.render() * &weights).sum();
            images.params[idx] = base - h;
            let down: f32 = (&images.render() * &weights).sum();
            images.params[idx] = base;
            let numeric = (up - down) / (2.0 * h);
            assert!(
                (numeric - analytic[idx]).abs() < 2e-2 * numeric.abs().max(0.1),
                "{idx:?}: {numeric} vs {}",
                analytic[idx]
            );
        }
    }

    #[test]
    fn colour_decorrelation_is_the_normalised_square_root_of_the_covariance() {
        // Band 1 = 2 x band 0 + noise-free offset: covariance [[v, 2v], [2v, 4v]].
        let x = Array4::from_shape_fn((1, 2, 4, 4), |(_, c, y, x)| {
            ((y * 4 + x) as f32 / 16.0) * if c == 0 { 1.0 } else { 2.0 }
        });
        let m = colour_decorrelation(x.view(), ValueRange::default());
        let cov = ndarray::arr2(&[[1.0f32, 2.0], [2.0, 4.0]]);
        // m . m is proportional to the covariance.
        let mm = m.dot(&m);
        let k = mm[[0, 0]] / cov[[0, 0]];
        for (a, b) in mm.iter().zip(cov.iter()) {
            assert!((a - k * b).abs() < 1e-4, "{mm:?}");
        }
        let max_norm = m
            .axis_iter(Axis(1))
            .map(|c| c.dot(&c).sqrt())
            .fold(0.0, f32::max);
        assert!((max_norm - 1.0).abs() < 1e-5);
    }
}
