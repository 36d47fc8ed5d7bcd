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

use std::cell::RefCell;
use std::f64::consts::{LN_2, PI};
use std::rc::Rc;

use ndarray::linalg::general_mat_mul;
use ndarray::{
    Array2, Array3, Array4, ArrayView2, ArrayView3, ArrayView4, ArrayViewMut2, ArrayViewMut3,
    ArrayViewMut4, Axis, Zip,
};

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
pub(crate) fn normalised(mut weights: Vec<f64>) -> Result<Vec<f64>> {
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

/// Convolves every band with `kernel` along rows and then along columns: a
/// separable 2-D convolution with the outer product of `kernel` with itself.
/// `kernel` has odd length and is centred. Each output is its taps' sum in
/// kernel order from -0.0, as `Iterator::sum` adds them, rounded to f32
/// after each pass.
pub(crate) fn convolve_separable(image: ArrayView3<f32>, kernel: &[f64]) -> Array3<f32> {
    if kernel.len() == 1 || image.is_empty() {
        return image.to_owned();
    }
    let (c, h, w) = image.dim();
    let r = kernel.len() / 2;
    let source = image.as_standard_layout();
    let source = source.as_slice().expect("standard layout");
    // Along rows: output x, tap k reads source reflect(x + r - k), which is
    // padded[x + 2r - k] of the row extended by r reflected pixels a side.
    let reflected: Vec<usize> = (0..w + 2 * r)
        .map(|j| reflect(j as i64 - r as i64, w))
        .collect();
    let mut padded = vec![0.0f64; w + 2 * r + OVERHANG];
    let mut along_x = vec![0.0f32; c * h * w];
    for (row, out) in source.chunks_exact(w).zip(along_x.chunks_exact_mut(w)) {
        padded
            .iter_mut()
            .zip(&reflected)
            .for_each(|(p, &j)| *p = f64::from(row[j]));
        weighted_sums(kernel, |k| &padded[2 * r - k..], out);
    }
    // Along columns, a whole output row at a time: output row y, tap k adds
    // source row reflect(y + r - k), so the taps read contiguous pixels
    // instead of gathering a column pixel by pixel. Row j of the column
    // extended by r reflected rows a side starts at row_starts[j], so output
    // row y's tap k reads from row_starts[y + 2r - k].
    let row_starts: Vec<usize> = (0..h + 2 * r)
        .map(|j| reflect(j as i64 - r as i64, h) * w)
        .collect();
    let mut out = vec![0.0f32; c * h * w];
    let mut plane_f64 = vec![0.0f64; h * w + OVERHANG];
    for (plane, target) in along_x.chunks_exact(h * w).zip(out.chunks_exact_mut(h * w)) {
        plane_f64
            .iter_mut()
            .zip(plane)
            .for_each(|(d, &v)| *d = f64::from(v));
        for (y, target) in target.chunks_exact_mut(w).enumerate() {
            let starts = &row_starts[y..=y + 2 * r];
            weighted_sums(kernel, |k| &plane_f64[starts[2 * r - k]..], target);
        }
    }
    Array3::from_shape_vec((c, h, w), out).expect("c x h x w values")
}

/// `out[x] = sum over k of weights[k] * tap(k)[x]`, each sum taken in
/// kernel order from -0.0 and rounded to f32 once.
fn weighted_sums<'a>(weights: &[f64], tap: impl Fn(usize) -> &'a [f64], out: &mut [f32]) {
    each_weighted_sum(weights, tap, out, |o, sum| *o = sum as f32);
}

/// How many values past its last output each tap's slice holds for
/// [`each_weighted_sum`]: the last block of outputs is summed whole, and the
/// sums past the end are dropped. One less than the widest block.
const OVERHANG: usize = 31;

/// `store(&mut out[x], sum)` for the sum over k of weights[k] * tap(k)[x],
/// each sum taken in kernel order from -0.0, as `Iterator::sum` adds them;
/// every `tap(k)` holds at least `out.len() + OVERHANG` values. Outputs are
/// summed a block at a time in registers, every tap adding to all of them:
/// no sum is stored and reloaded between taps, and a block's sums advance
/// side by side instead of one waiting on its own last addition. The same
/// roundings as one sum per output, in 0.55 of the time of summing a row of
/// outputs side by side in memory (a blur sweep spent a quarter of its CPU
/// there).
fn each_weighted_sum<'a, O>(
    weights: &[f64],
    tap: impl Fn(usize) -> &'a [f64],
    out: &mut [O],
    store: impl Fn(&mut O, f64),
) {
    Vectors::widest().each_weighted_sum(weights, &tap, out, &store);
}

/// The vector registers the weighted sums are compiled for, the widest the
/// CPU has. Each lane adds its own output's taps in kernel order, so every
/// width gives the same sums to the bit. Wider registers take a block of
/// outputs in fewer instructions; a block fills enough of them that the
/// core's two adders stay busy while each sum waits on its last addition.
/// Measured with AVX-512 (a sweep's perturbing, per image and level, one
/// thread): a 64 x 64 x 3 lens cut-out's blur 69 us with the baseline's
/// registers, 45 with these; a 28 x 28 digit's 6.3 and 4.0.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
enum Vectors {
    /// The target's baseline (SSE2 on x86-64): blocks of 16, eight of its
    /// sixteen 128-bit registers.
    Baseline,
    /// 256-bit AVX registers: blocks of 32, eight of its sixteen.
    #[cfg(target_arch = "x86_64")]
    Avx,
    /// 512-bit AVX-512 registers: blocks of 32, four of them (each sum's
    /// additions then keep both adders busy).
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Vectors {
    /// The widest this CPU runs (found once by the standard library, then a
    /// load and a test).
    fn widest() -> Vectors {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Vectors::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx") {
                return Vectors::Avx;
            }
        }
        Vectors::Baseline
    }

    /// [`each_weighted_sum`] compiled for these registers.
    fn each_weighted_sum<'a, O>(
        self,
        weights: &[f64],
        tap: &impl Fn(usize) -> &'a [f64],
        out: &mut [O],
        store: &impl Fn(&mut O, f64),
    ) {
        match self {
            Vectors::Baseline => sums_in_blocks::<16, O>(weights, tap, out, store),
            // SAFETY: `Vectors::widest` gives these only where the CPU has
            // the instructions the functions are compiled for (and tests
            // only the widths up to it).
            #[cfg(target_arch = "x86_64")]
            Vectors::Avx => unsafe { sums_on_avx(weights, tap, out, store) },
            #[cfg(target_arch = "x86_64")]
            Vectors::Avx512 => unsafe { sums_on_avx512(weights, tap, out, store) },
        }
    }
}

/// [`sums_in_blocks`] compiled for AVX's 256-bit registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn sums_on_avx<'a, O>(
    weights: &[f64],
    tap: &impl Fn(usize) -> &'a [f64],
    out: &mut [O],
    store: &impl Fn(&mut O, f64),
) {
    sums_in_blocks::<32, O>(weights, tap, out, store);
}

/// [`sums_in_blocks`] compiled for AVX-512's 512-bit registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn sums_on_avx512<'a, O>(
    weights: &[f64],
    tap: &impl Fn(usize) -> &'a [f64],
    out: &mut [O],
    store: &impl Fn(&mut O, f64),
) {
    sums_in_blocks::<32, O>(weights, tap, out, store);
}

/// Every output's weighted sum, `B` outputs at a time, the last block
/// reaching into the taps' overhang. Inlined always, so that it is compiled
/// for the registers of the function that calls it.
#[inline(always)]
fn sums_in_blocks<'a, const B: usize, O>(
    weights: &[f64],
    tap: &impl Fn(usize) -> &'a [f64],
    out: &mut [O],
    store: &impl Fn(&mut O, f64),
) {
    const { assert!(B <= OVERHANG + 1) };
    for x in (0..out.len()).step_by(B) {
        let mut sums = [-0.0f64; B];
        for (k, &weight) in weights.iter().enumerate() {
            let values: &[f64; B] = tap(k)[x..x + B].try_into().expect("taps hold the overhang");
            sums.iter_mut()
                .zip(values)
                .for_each(|(sum, &v)| *sum += weight * v);
        }
        out[x..]
            .iter_mut()
            .zip(sums)
            .for_each(|(o, sum)| store(o, sum));
    }
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
    let mut padded = vec![0.0f64; ph * pw + OVERHANG];
    let mut row = vec![0.0f64; w];
    for band in 0..c {
        for (i, slot) in padded[..ph * pw].iter_mut().enumerate() {
            let (y, x) = (
                reflect((i / pw) as i64 - ry as i64, h),
                reflect((i % pw) as i64 - rx as i64, w),
            );
            *slot = f64::from(image[[band, y, x]]);
        }
        for y in 0..h {
            row.iter_mut().for_each(|v| *v = 0.0);
            for ky in 0..kh {
                // Each output adds this kernel row's sum over its taps.
                let taps = &flipped[ky * kw..(ky + 1) * kw];
                let source = &padded[(y + ky) * pw..];
                each_weighted_sum(taps, |kx| &source[kx..], &mut row, |acc, sum| *acc += sum);
            }
            for (x, v) in row.iter().enumerate() {
                out[[band, y, x]] = *v as f32;
            }
        }
    }
    out
}

/// The discrete Gaussian kernel of variance `variance` (px^2): T(n) =
/// e^-t I_n(t), t = variance (Lindeberg 1990), the exact discrete analogue of
/// a Gaussian: its second moment sum n^2 T(n) is exactly t at every width,
/// where a Gaussian sampled at pixel centres falls short by up to 100% below
/// sigma = 0.7 px. Cut at 5 sigma + 2 (what is cut holds 1.5e-5 of the
/// second moment) and normalised to sum 1. `variance = 0` gives `[1]`.
pub(super) fn discrete_gaussian(variance: f64) -> Vec<f64> {
    if variance <= 0.0 {
        return vec![1.0];
    }
    let radius = (5.0 * variance.sqrt()).ceil() as usize + 2;
    // Miller's backward recurrence I_{n-1} = I_{n+1} + (2n / t) I_n from far
    // beyond the radius (where I_n is negligible), rescaled whenever it grows
    // large; the normalisation fixes the overall factor.
    let start = 2 * radius + 10;
    let mut half = vec![0.0f64; start + 2];
    half[start] = 1.0;
    for n in (1..=start).rev() {
        half[n - 1] = half[n + 1] + 2.0 * n as f64 / variance * half[n];
        if half[n - 1] > 1e200 {
            half.iter_mut().for_each(|v| *v *= 1e-200);
        }
    }
    half.truncate(radius + 1);
    let full: Vec<f64> = half.iter().rev().chain(&half[1..]).copied().collect();
    normalised(full).expect("a Gaussian kernel has a positive sum")
}

/// The transfer function (the kernel's Fourier transform at angular
/// frequency `omega`, radians per pixel) of a Gaussian PSF of `variance`
/// px^2 per axis: the discrete Gaussian's e^(t (cos omega - 1)) up to t = 2,
/// above it the pixel-sampled Gaussian's sum over aliases of
/// e^(-t (omega + 2 pi m)^2 / 2). Both have second moment exactly t (minus
/// the curvature at omega = 0); the sampled one keeps the continuous
/// profile's shape (its FWHM) where pixels resolve it, and below t = 2 its
/// second moment would fall short (by e^(-2 pi^2 t) terms, 38% at FWHM 1 px).
pub(super) fn gaussian_transfer(variance: f64, omega: f64) -> f64 {
    if variance <= 2.0 {
        return (variance * (omega.cos() - 1.0)).exp();
    }
    let aliases = |omega: f64| {
        (-3..=3)
            .map(|m| (-0.5 * variance * (omega + 2.0 * PI * f64::from(m)).powi(2)).exp())
            .sum::<f64>()
    };
    aliases(omega) / aliases(0.0)
}

/// The orthonormal DCT-II matrix of size n: row k, column i holds
/// c_k cos(pi k (i + 1/2) / n).
fn dct_matrix(n: usize) -> Array2<f64> {
    Array2::from_shape_fn((n, n), |(k, i)| {
        let c = if k == 0 {
            (1.0 / n as f64).sqrt()
        } else {
            (2.0 / n as f64).sqrt()
        };
        c * (PI * k as f64 * (i as f64 + 0.5) / n as f64).cos()
    })
}

/// Convolves every band with a PSF made of Gaussians, weight w_i and
/// variance t_i per axis: one Gaussian for `psf` and `seeing`, many for a
/// Moffat (see `psf`). The sum's second moment is exactly sum w_i t_i.
///
/// The PSF is applied as its transfer function in the cosine (DCT-II)
/// basis, which diagonalises convolution by any centred symmetric kernel
/// under the reflected edges described above (Martucci 1994): coefficient
/// (k, l) is multiplied by H(pi k / h, pi l / w). This is the whole,
/// untruncated kernel, folded by the edges exactly, at a cost of four matrix
/// products per band however wide the PSF (a Moffat's wings reach far beyond
/// any kernel one would convolve directly), two for one Gaussian; the (0, 0)
/// coefficient, the band's flux, is multiplied by sum w_i = 1.
pub(super) fn convolve_gaussian_mixture(
    image: ArrayView3<f32>,
    components: &[(f64, f64)],
) -> Array3<f32> {
    let (c, h, w) = image.dim();
    let mut out = Array4::zeros((1, c, h, w));
    convolve_gaussian_mixture_into(image.insert_axis(Axis(0)), components, out.view_mut());
    out.index_axis_move(Axis(0), 0)
}

/// [`convolve_gaussian_mixture`] on every band of a chunk of images (N x C
/// x H x W) into `out`: the planes side by side (H x NCW) for the products
/// from the left and stacked (NCH x W) for those from the right, so a chunk
/// pays a few large matrix products instead of a few small ones per band.
/// Each value is the same sum in the same order however the images are
/// chunked.
pub(super) fn convolve_gaussian_mixture_into(
    images: ArrayView4<f32>,
    components: &[(f64, f64)],
    out: ArrayViewMut4<f32>,
) {
    let operator = PsfOperator::for_psf(images.dim().2, images.dim().3, components);
    PLANES.with_borrow_mut(|planes| {
        planes.load(images);
        match &operator.kind {
            Operator::Folded { along_y, along_x } => {
                planes.left(along_y.view());
                planes.right(along_x.view());
            }
            Operator::Cosine {
                dct_y,
                dct_x,
                transfer,
            } => {
                planes.left(dct_y.view());
                planes.right(dct_x.t());
                planes.scale(transfer.view());
                planes.left(dct_y.t());
                planes.right(dct_x.view());
            }
        }
        planes.store(out);
        if planes.operand.capacity() > KEEP_AT_MOST {
            *planes = Planes::default();
        }
    });
}

/// Values (f64) a thread's planes keep after their chunk, per buffer (64
/// MiB): a chunk of large images (16 survey frames of 3 x 1024 x 1024 are
/// 400 MB a buffer) hands its buffers back rather than hold them on every
/// thread after the sweep, where cut-outs' (1.5 MB) are worth keeping.
const KEEP_AT_MOST: usize = 1 << 23;

thread_local! {
    /// Each thread's working planes, kept from chunk to chunk: fresh
    /// buffers of a chunk's size (1.5 MB for 16 lens cut-outs), mapped,
    /// faulted in and handed back to the kernel at every chunk, were a
    /// sixth of a PSF sweep's CPU (`perf`, docs/design.md "Sweep speed").
    static PLANES: RefCell<Planes> = RefCell::new(Planes::default());
}

/// A chunk's P planes of h x w values in f64, between matrix products.
/// `operand` holds the next product's operand, side by side (h x Pw) for a
/// product from the left; `product` the last product, stacked (Ph x w) after
/// one from the right, ready for the next from the right.
#[derive(Default)]
struct Planes {
    dim: (usize, usize, usize),
    operand: Vec<f64>,
    product: Vec<f64>,
}

impl Planes {
    /// The chunk's planes, side by side, as the first operand.
    fn load(&mut self, images: ArrayView4<f32>) {
        let (n, c, h, w) = images.dim();
        self.dim = (n * c, h, w);
        self.operand.resize(n * c * h * w, 0.0);
        self.product.resize(n * c * h * w, 0.0);
        let planes = images
            .into_shape_with_order((n * c, h, w))
            .expect("the chunk's planes")
            .permuted_axes([1, 0, 2]);
        Zip::from(side_by_side(&mut self.operand, self.dim))
            .and(planes)
            .for_each(|to, &from| *to = f64::from(from));
    }

    /// `matrix` (h x h) times the planes side by side, the product stacked
    /// as the next operand (for a product from the right).
    fn left(&mut self, matrix: ArrayView2<f64>) {
        let (p, h, w) = self.dim;
        let operand = ArrayView2::from_shape((h, p * w), &self.operand).expect("h x pw");
        let mut product = ArrayViewMut2::from_shape((h, p * w), &mut self.product).expect("h x pw");
        general_mat_mul(1.0, &matrix, &operand, 0.0, &mut product);
        let product = ArrayView3::from_shape((h, p, w), &self.product).expect("h x p x w");
        stacked(&mut self.operand, self.dim).assign(&product.permuted_axes([1, 0, 2]));
    }

    /// The planes stacked times `matrix` (w x w), into the product.
    fn right(&mut self, matrix: ArrayView2<f64>) {
        let (p, h, w) = self.dim;
        let operand = ArrayView2::from_shape((p * h, w), &self.operand).expect("ph x w");
        let mut product = ArrayViewMut2::from_shape((p * h, w), &mut self.product).expect("ph x w");
        general_mat_mul(1.0, &operand, &matrix, 0.0, &mut product);
    }

    /// Every plane of the product times `factors` (h x w) value by value,
    /// then side by side as the next operand (for a product from the left).
    fn scale(&mut self, factors: ArrayView2<f64>) {
        let mut product = stacked(&mut self.product, self.dim);
        product *= &factors;
        let product = product.permuted_axes([1, 0, 2]);
        side_by_side(&mut self.operand, self.dim).assign(&product);
    }

    /// The product, rounded to f32, into the chunk's images.
    fn store(&self, mut out: ArrayViewMut4<f32>) {
        let product = ArrayView4::from_shape(out.dim(), &self.product).expect("n x c x h x w");
        Zip::from(&mut out)
            .and(product)
            .for_each(|to, &from| *to = from as f32);
    }
}

/// A buffer of P planes of h x w values, side by side: h x P x w.
fn side_by_side(buffer: &mut [f64], (p, h, w): (usize, usize, usize)) -> ArrayViewMut3<'_, f64> {
    ArrayViewMut3::from_shape((h, p, w), buffer).expect("h x p x w")
}

/// A buffer of P planes of h x w values, stacked: P x h x w.
fn stacked(buffer: &mut [f64], (p, h, w): (usize, usize, usize)) -> ArrayViewMut3<'_, f64> {
    ArrayViewMut3::from_shape((p, h, w), buffer).expect("p x h x w")
}

/// A PSF made ready for h x w images: the same for every image of a sweep
/// level. Built afresh per image its cosines cost 2 h w `cos` calls, a
/// quarter of a PSF sweep's time on 64 x 64 images (`perf`, docs/design.md
/// "Sweep speed"), so each thread keeps the last one it built and reuses it
/// while the size and PSF stay the same.
struct PsfOperator {
    h: usize,
    w: usize,
    components: Vec<(f64, f64)>,
    kind: Operator,
}

/// How a plane X (h x w) is convolved.
enum Operator {
    /// One Gaussian (`psf`'s default profile, `seeing`): its transfer
    /// function is a product of one factor per axis, t_y(k) t_x(l), so the
    /// whole operator is K_y X K_x with K = C' diag(t) C, the Gaussian folded
    /// by the reflected edges as a matrix per axis. Two matrix products a
    /// plane instead of four; the same convolution, rounded differently.
    Folded {
        along_y: Array2<f64>,
        along_x: Array2<f64>,
    },
    /// A mixture (a Moffat's many Gaussians), whose transfer function is no
    /// product: C_y' (H o (C_y X C_x')) C_x, with H the transfer function at
    /// the cosine basis's frequencies.
    Cosine {
        dct_y: Array2<f64>,
        dct_x: Array2<f64>,
        transfer: Array2<f64>,
    },
}

thread_local! {
    static LAST_OPERATOR: RefCell<Option<Rc<PsfOperator>>> = const { RefCell::new(None) };
}

impl PsfOperator {
    /// The operator of `components` on h x w images: this thread's last one
    /// when it matches, else a new one (which becomes the last).
    fn for_psf(h: usize, w: usize, components: &[(f64, f64)]) -> Rc<PsfOperator> {
        LAST_OPERATOR.with_borrow_mut(|last| {
            match last {
                Some(op) if op.h == h && op.w == w && op.components == components => {}
                _ => *last = Some(Rc::new(PsfOperator::new(h, w, components))),
            }
            Rc::clone(last.as_ref().expect("just set"))
        })
    }

    fn new(h: usize, w: usize, components: &[(f64, f64)]) -> PsfOperator {
        // One Gaussian's transfer function along an axis of n samples.
        let along = |variance: f64, n: usize| -> Vec<f64> {
            (0..n)
                .map(|k| gaussian_transfer(variance, PI * k as f64 / n as f64))
                .collect()
        };
        let (dct_y, dct_x) = (dct_matrix(h), dct_matrix(w));
        let kind = if let [(weight, variance)] = components {
            // C' diag(weight t) C, per axis (the weight on one side only).
            let fold = |dct: &Array2<f64>, weight: f64| {
                let t = along(*variance, dct.nrows());
                let scaled = Array2::from_shape_fn(dct.dim(), |(k, i)| weight * t[k] * dct[[k, i]]);
                dct.t().dot(&scaled)
            };
            Operator::Folded {
                along_y: fold(&dct_y, *weight),
                along_x: fold(&dct_x, 1.0),
            }
        } else {
            let mut transfer = Array2::<f64>::zeros((h, w));
            for &(weight, variance) in components {
                let (along_y, along_x) = (along(variance, h), along(variance, w));
                transfer
                    .indexed_iter_mut()
                    .for_each(|((k, l), t)| *t += weight * along_y[k] * along_x[l]);
            }
            Operator::Cosine {
                dct_y,
                dct_x,
                transfer,
            }
        };
        PsfOperator {
            h,
            w,
            components: components.to_vec(),
            kind,
        }
    }
}

/// The variance of a 1-D kernel about its centroid, in px^2.
#[cfg(test)]
pub(super) fn variance_1d(kernel: &[f64]) -> f64 {
    let sum: f64 = kernel.iter().sum();
    let mean = kernel
        .iter()
        .enumerate()
        .map(|(i, w)| i as f64 * w)
        .sum::<f64>()
        / sum;
    kernel
        .iter()
        .enumerate()
        .map(|(i, w)| (i as f64 - mean).powi(2) * w)
        .sum::<f64>()
        / sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perturb::test_support::ramp;
    use ndarray::s;

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
    fn separable_sums_are_each_outputs_taps_in_kernel_order_to_the_bit() {
        // The definition, one output at a time: rows, rounded to f32, then
        // columns. Widths around the blocks of 8 and 4, a kernel wider than
        // the image, and a transposed (non-standard) view.
        let definition = |image: ArrayView3<f32>, kernel: &[f64]| {
            let (c, h, w) = image.dim();
            let r = kernel.len() as i64 / 2;
            let taps = |at: &dyn Fn(usize) -> f64| -> f32 {
                kernel
                    .iter()
                    .enumerate()
                    .map(|(k, &weight)| weight * at(k))
                    .sum::<f64>() as f32
            };
            let along_x = Array3::from_shape_fn((c, h, w), |(b, y, x)| {
                taps(&|k| f64::from(image[[b, y, reflect(x as i64 + r - k as i64, w)]]))
            });
            Array3::from_shape_fn((c, h, w), |(b, y, x)| {
                taps(&|k| f64::from(along_x[[b, reflect(y as i64 + r - k as i64, h), x]]))
            })
        };
        // Values of very different sizes cancel, so a sum taken in another
        // order comes out different even after rounding to f32.
        let cancelling = |h, w| {
            let sizes = [1e20f32, -1e20, 1.0, -3.0, 0.5, 2e20, 7.0];
            Array3::from_shape_fn((2, h, w), |(b, y, x)| sizes[(b * 5 + y * 3 + x * 11) % 7])
        };
        let cases = [
            (5, 3, 2.0),
            (9, 13, 0.8),
            (8, 16, 3.0),
            (31, 29, 1.5),
            (4, 67, 2.5),
        ]
        .map(|(h, w, sigma)| {
            let smooth = ramp(2, h, w).mapv(|v| (v * 1.37).sin() * 5.0 - 1.0);
            (smooth, gaussian_1d(sigma, 100))
        })
        .into_iter()
        .chain([
            (cancelling(7, 21), vec![0.5, 1.0, 2.0]),
            (cancelling(12, 9), vec![1.0, -0.5, 2.0, 0.25, 1.0]),
        ]);
        let empty = Array3::<f32>::zeros((2, 0, 5));
        assert_eq!(convolve_separable(empty.view(), &[0.25, 0.5, 0.25]), empty);
        for (image, kernel) in cases {
            let (_, h, w) = image.dim();
            for view in [image.view(), image.view().reversed_axes()] {
                let got = convolve_separable(view, &kernel);
                let expected = definition(view, &kernel);
                assert!(
                    got.iter()
                        .zip(&expected)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{h} x {w}, kernel {kernel:?}"
                );
            }
        }
    }

    #[test]
    fn every_register_width_sums_each_output_in_kernel_order_to_the_bit() {
        // Every third output's weighted taps are 1e20, -1e20 and a small
        // value: in kernel order they sum to the small value, in any other
        // to 0. Widths around every block size, and taps that hold exactly
        // the overhang the last block reads.
        let weights = [2.0, 1.0, 0.5];
        let mut available = vec![Vectors::Baseline];
        #[cfg(target_arch = "x86_64")]
        available.extend([Vectors::Avx, Vectors::Avx512]);
        // Every width this CPU runs (a CPU with AVX-512 has AVX).
        available.retain(|&v| v <= Vectors::widest());
        for vectors in available {
            for width in 0..=70 {
                let taps: Vec<Vec<f64>> = (0..weights.len())
                    .map(|k| {
                        (0..width + OVERHANG)
                            .map(|x| [5e19, -1e20, (x + 1) as f64][(x + k) % 3])
                            .collect()
                    })
                    .collect();
                let mut got = vec![f64::NAN; width];
                vectors
                    .each_weighted_sum(&weights, &|k| &taps[k][..], &mut got, &|o, sum| *o = sum);
                let expected = (0..width).map(|x| {
                    weights
                        .iter()
                        .zip(&taps)
                        .map(|(w, tap)| w * tap[x])
                        .sum::<f64>()
                });
                assert!(
                    got.iter()
                        .zip(expected)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{vectors:?}, {width} outputs"
                );
            }
        }
    }

    #[test]
    fn a_2d_kernels_sums_are_each_outputs_rows_of_taps_in_order_to_the_bit() {
        // The definition, one output at a time: the sum over kernel rows
        // (from 0) of each row's sum over its taps (from -0.0), the kernel
        // flipped, the image reflected at its edges. Values that cancel, so
        // that another order of the sums shows after rounding to f32.
        let definition = |image: ArrayView3<f32>, kernel: ArrayView2<f64>| {
            let (c, h, w) = image.dim();
            let (kh, kw) = kernel.dim();
            let (ry, rx) = ((kh / 2) as i64, (kw / 2) as i64);
            Array3::from_shape_fn((c, h, w), |(b, y, x)| {
                let mut acc = 0.0f64;
                for ky in 0..kh {
                    acc += (0..kw)
                        .map(|kx| {
                            let sy = reflect(y as i64 + ky as i64 - ry, h);
                            let sx = reflect(x as i64 + kx as i64 - rx, w);
                            kernel[[kh - 1 - ky, kw - 1 - kx]] * f64::from(image[[b, sy, sx]])
                        })
                        .sum::<f64>();
                }
                acc as f32
            })
        };
        // Along a row: 1e20, -1e20, then a small value; three taps of equal
        // weight sum to the small value in one order and to 0 in the other.
        let wide = Array3::from_shape_fn((2, 11, 40), |(b, y, x)| match x % 3 {
            0 => 1e20f32,
            1 => -1e20,
            _ => (1 + y + 3 * b) as f32,
        });
        let kernels = [
            Array2::from_elem((3, 3), 1.0),
            Array2::from_shape_fn((5, 3), |(i, _)| 2f64.powi(i as i32 - 2)),
        ];
        for kernel in &kernels {
            for view in [wide.view(), wide.slice(s![.., .., 1..38])] {
                let got = convolve_2d(view, kernel.view());
                let expected = definition(view, kernel.view());
                assert!(
                    got.iter()
                        .zip(&expected)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "kernel {:?}",
                    kernel.dim()
                );
            }
        }
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

    #[test]
    fn the_discrete_gaussian_is_e_to_the_minus_t_times_bessel_i() {
        // scipy.special.ive(n, t) for n = 0..5: the kernel's values, and its
        // second moment is t exactly, at widths where sampling fails.
        // (At t = 9 the kernel is the sampled Gaussian: within 1% of these.)
        let cases: [(f64, [f64; 6]); 2] = [
            (
                0.045,
                [
                    0.956_481_516_814_648_2,
                    0.021_515_388_505_069_32,
                    0.000_242_027_700_456_260_31,
                    1.815_131_179_513_562e-6,
                    1.020_985_445_218_394_1e-8,
                    4.594_356_974_643_321e-11,
                ],
            ),
            (
                1.0,
                [
                    0.465_759_607_593_640_4,
                    0.207_910_415_349_708_42,
                    0.049_938_776_894_223_56,
                    0.008_155_307_772_814_294,
                    0.001_006_930_257_337_775_7,
                    9.986_571_411_208_7e-5,
                ],
            ),
        ];
        for (t, expected) in cases {
            let kernel = discrete_gaussian(t);
            let centre = kernel.len() / 2;
            for (n, e) in expected.iter().enumerate() {
                let got = kernel.get(centre + n).copied().unwrap_or(0.0);
                assert!(
                    (got - e).abs() < 1e-6 * e.max(1e-3),
                    "t = {t}, n = {n}: {got} vs {e}"
                );
            }
            assert!(
                (variance_1d(&kernel) / t - 1.0).abs() < 2e-5,
                "t = {t}: {}",
                variance_1d(&kernel)
            );
        }
        for t in [2.5, 9.0, 100.0] {
            assert!((variance_1d(&discrete_gaussian(t)) / t - 1.0).abs() < 2e-5);
        }
    }

    #[test]
    fn the_cosine_basis_applies_the_discrete_gaussian_as_convolution_would() {
        // A point at the centre of a 61 x 61 image, spread by t = 1: the
        // output at offset (0, n) is T(0) T(n) with T(n) = e^-1 I_n(1)
        // (scipy.special.ive), and it equals the direct reflected
        // convolution with the kernel, also next to an edge.
        let ive = [
            0.465_759_607_593_640_4,
            0.207_910_415_349_708_42,
            0.049_938_776_894_223_56,
            0.008_155_307_772_814_294,
            0.001_006_930_257_337_775_7,
        ];
        let mut point = Array3::zeros((1, 61, 61));
        point[[0, 30, 30]] = 1.0f32;
        let out = convolve_gaussian_mixture(point.view(), &[(1.0, 1.0)]);
        for (n, e) in ive.iter().enumerate() {
            assert!(
                (f64::from(out[[0, 30, 30 + n]]) - ive[0] * e).abs() < 1e-7,
                "n = {n}"
            );
        }
        let image = ramp(2, 9, 7);
        let kernel = discrete_gaussian(1.7);
        let direct = convolve_separable(image.view(), &kernel);
        let fourier = convolve_gaussian_mixture(image.view(), &[(1.0, 1.7)]);
        assert!(
            direct
                .iter()
                .zip(&fourier)
                .all(|(a, b)| (a - b).abs() < 1e-3),
            "{direct:?} vs {fourier:?}"
        );
    }

    #[test]
    fn one_gaussian_folded_per_axis_is_the_transfer_function_in_the_cosine_basis() {
        // The same Gaussian as two halves takes the cosine basis's four
        // products; alone it takes the folded per-axis matrices' two. Both
        // are the same operator: equal to f64 rounding (then f32's) on
        // several images and bands of an image taller than wide, narrow and
        // wide PSFs, and a PSF wider than the image.
        let image = ramp(3, 13, 9);
        let images =
            ndarray::stack(Axis(0), &[image.view(), image.mapv(|v| 2.0 - v).view()]).unwrap();
        for variance in [0.05, 1.7, 9.0, 400.0] {
            let convolved = |components: &[(f64, f64)]| {
                let mut out = Array4::zeros(images.dim());
                convolve_gaussian_mixture_into(images.view(), components, out.view_mut());
                out
            };
            let one = convolved(&[(1.0, variance)]);
            let halves = convolved(&[(0.5, variance), (0.5, variance)]);
            let scale = images.iter().fold(0f32, |m, v| m.max(v.abs()));
            for (a, b) in one.iter().zip(&halves) {
                assert!(
                    (a - b).abs() <= 1e-6 * scale,
                    "variance {variance}: {a} vs {b}"
                );
            }
            assert_ne!(one, images, "variance {variance}: the PSF changed nothing");
        }
    }

    #[test]
    fn a_wide_gaussian_is_the_sampled_profile_and_conserves_flux() {
        // sigma = 3 px: the pixel-sampled Gaussian exp(-n^2 / 18) / sqrt(18 pi)
        // per axis, within 1e-7 (aliases beyond the 61-pixel image are e^-50).
        let mut point = Array3::zeros((1, 61, 61));
        point[[0, 30, 30]] = 1.0f32;
        let out = convolve_gaussian_mixture(point.view(), &[(1.0, 9.0)]);
        let g = |n: f64| (-n * n / 18.0).exp() / (18.0 * PI).sqrt();
        for n in [0.0, 1.0, 3.0, 7.0] {
            assert!(
                (f64::from(out[[0, 30, 30 + n as usize]]) - g(0.0) * g(n)).abs() < 1e-7,
                "n = {n}"
            );
        }
        let image = ramp(3, 12, 17);
        let blurred = convolve_gaussian_mixture(image.view(), &[(0.3, 0.2), (0.7, 40.0)]);
        for band in 0..3 {
            let sum = |a: &Array3<f32>| {
                a.index_axis(Axis(0), band)
                    .iter()
                    .map(|&v| f64::from(v))
                    .sum::<f64>()
            };
            assert!((sum(&blurred) / sum(&image) - 1.0).abs() < 1e-6);
        }
    }
}
