//! Diversity between restarts (Olah et al. 2017, "Feature Visualization",
//! section "Diversity"): without it every restart tends to the same image.
//! The term is the mean cosine similarity, over pairs of restarts, of their
//! Gram matrices at a layer (which channels fire together, wherever they
//! fire: a style, in the sense of Gatys et al.); the objective subtracts it.

use ndarray::{Array2, Array4, ArrayView4, Axis};

/// The mean pairwise cosine similarity of the Gram matrices of `a`
/// (N x C x H x W, N >= 2), and its gradient with respect to `a`.
pub(crate) fn similarity(a: ArrayView4<f32>) -> (f32, Array4<f32>) {
    let (n, c, h, w) = a.dim();
    let m = (h * w) as f32;
    let features: Vec<Array2<f32>> = a
        .outer_iter()
        .map(|x| x.to_shape((c, h * w)).expect("contiguous").to_owned())
        .collect();
    let grams: Vec<Array2<f32>> = features.iter().map(|f| f.dot(&f.t()) / m).collect();
    let norms: Vec<f32> = grams
        .iter()
        .map(|g| g.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12))
        .collect();
    let mut grad = Array4::zeros(a.raw_dim());
    if n < 2 {
        return (0.0, grad);
    }
    let pairs = (n * (n - 1)) as f32;
    let mut total = 0.0;
    for i in 0..n {
        // d/dG_i of the mean over ordered pairs (each unordered pair twice).
        let mut d_gram = Array2::<f32>::zeros((c, c));
        for j in (0..n).filter(|&j| j != i) {
            let cos = (&grams[i] * &grams[j]).sum() / (norms[i] * norms[j]);
            total += cos / pairs;
            d_gram.scaled_add(2.0 / pairs / (norms[i] * norms[j]), &grams[j]);
            d_gram.scaled_add(-2.0 / pairs * cos / (norms[i] * norms[i]), &grams[i]);
        }
        // G = F F^T / m with d_gram symmetric: dF = 2 d_gram F / m.
        let d_features = d_gram.dot(&features[i]) * (2.0 / m);
        grad.index_axis_mut(Axis(0), i).assign(
            &d_features
                .into_shape_with_order((c, h, w))
                .expect("same size"),
        );
    }
    (total, grad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_restarts_are_fully_similar_and_the_gradient_matches_finite_differences() {
        let one = Array4::from_shape_fn((1, 3, 2, 2), |(_, c, y, x)| {
            (c + 2 * y + x) as f32 * 0.3 + 0.1
        });
        let same = ndarray::concatenate(Axis(0), &[one.view(), one.view()]).unwrap();
        assert!((similarity(same.view()).0 - 1.0).abs() < 1e-5);

        let a = Array4::from_shape_fn((3, 3, 2, 2), |(n, c, y, x)| {
            ((n * 5 + c * 3 + y * 2 + x) % 7) as f32 * 0.2 - 0.5
        });
        let (_, grad) = similarity(a.view());
        for idx in [(0, 0, 0, 0), (1, 2, 1, 0), (2, 1, 1, 1)] {
            let h = 1e-3;
            let mut up = a.clone();
            up[idx] += h;
            let mut down = a.clone();
            down[idx] -= h;
            let numeric = (similarity(up.view()).0 - similarity(down.view()).0) / (2.0 * h);
            assert!(
                (numeric - grad[idx]).abs() < 2e-3,
                "{idx:?}: {numeric} vs {}",
                grad[idx]
            );
        }
    }
}
