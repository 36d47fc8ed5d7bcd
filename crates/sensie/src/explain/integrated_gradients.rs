//! `integrated-gradients` (Sundararajan et al. 2017): the path integral of
//! the gradient from a baseline `b` to the input `x`,
//! `(x - b) * integral_0^1 grad f(b + a (x - b)) da`, by quadrature.
//!
//! Gauss-Legendre is the default (Captum's too): exact for polynomials of
//! degree 2n - 1, it reaches a given completeness gap with far fewer steps
//! than a Riemann rule. The trapezoid rule is Captum's `riemann_trapezoid`
//! exactly, so that its maps agree with Captum's per example: nodes
//! equally spaced from 0 to 1, weights 1/n halved at both ends. Those
//! weights sum to 1 - 1/n (the true rule's are 1/(n - 1)), so its
//! attributions fall short of completeness by about 1/n of the score change,
//! which the reported gap shows; Gauss-Legendre has no such shortfall.
//!
//! Completeness: the attributions of an example should sum to
//! `f(x) - f(b)`; the difference is reported per example (Captum's
//! convergence delta). The steps of all examples are one stream of rows run
//! in batches of the engine's batch size, so memory stays one batch whatever
//! the number of steps.

use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, Zip};

use super::content_hash;
use super::image::gaussian_blur;
use super::{Attribution, Completeness, Geometry, Method, Targets, check, variant_gradients};
use crate::engine::Engine;
use crate::rng::{SeededRng, name_hash};
use crate::{Error, Result};

/// The quadrature rule over the path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quadrature {
    /// Gauss-Legendre nodes and weights: exact for polynomials of degree
    /// 2 x steps - 1 along the path.
    GaussLegendre,
    /// Captum's `riemann_trapezoid`: equally spaced points, weights 1/n
    /// halved at both ends (summing to 1 - 1/n).
    RiemannTrapezoid,
}

impl std::str::FromStr for Quadrature {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "gauss-legendre" | "gausslegendre" => Ok(Quadrature::GaussLegendre),
            "riemann-trapezoid" | "trapezoid" => Ok(Quadrature::RiemannTrapezoid),
            _ => Err(Error::unknown(
                "quadrature rule",
                s,
                ["gauss-legendre", "riemann-trapezoid"],
            )),
        }
    }
}

impl Quadrature {
    /// The `n` nodes on [0, 1] and their weights (summing to 1 for
    /// Gauss-Legendre, to 1 - 1/n for Captum's trapezoid).
    pub fn rule(self, n: usize) -> (Vec<f64>, Vec<f64>) {
        match self {
            Quadrature::GaussLegendre => gauss_legendre(n),
            Quadrature::RiemannTrapezoid => {
                let nodes = (0..n).map(|i| i as f64 / (n - 1) as f64).collect();
                let step = 1.0 / n as f64;
                let weights = (0..n)
                    .map(|i| {
                        if i == 0 || i == n - 1 {
                            step / 2.0
                        } else {
                            step
                        }
                    })
                    .collect();
                (nodes, weights)
            }
        }
    }
}

/// Gauss-Legendre nodes and weights mapped from [-1, 1] to [0, 1]: the roots
/// of the Legendre polynomial P_n by Newton's method from Tricomi's
/// approximation, weights `2 / ((1 - x^2) P_n'(x)^2)`, both halved.
fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut pairs: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
            let mut derivative = 0.0;
            for _ in 0..100 {
                let (mut p0, mut p1) = (1.0, x);
                for k in 2..=n {
                    let k = k as f64;
                    (p0, p1) = (p1, ((2.0 * k - 1.0) * x * p1 - (k - 1.0) * p0) / k);
                }
                derivative = n as f64 * (x * p1 - p0) / (x * x - 1.0);
                let step = p1 / derivative;
                x -= step;
                if step.abs() < 1e-15 {
                    break;
                }
            }
            (
                0.5 * (1.0 + x),
                1.0 / ((1.0 - x * x) * derivative * derivative),
            )
        })
        .collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    pairs.into_iter().unzip()
}

/// Where the path starts.
#[derive(Clone, Debug)]
pub enum Baseline {
    /// All zeros (Captum's default).
    Zeros,
    /// The input blurred by a Gaussian of `sigma` pixels (Sturmfels et al.
    /// 2020): removes the fine detail a classifier uses, keeps the flux.
    Blur {
        /// The blur's sigma, in pixels.
        sigma: f32,
    },
    /// Uniform noise over each example's value range, seeded (by the seed
    /// and the example's values).
    Noise {
        /// The noise's seed.
        seed: u64,
    },
    /// Given values: one example's shape (used for every example), or one
    /// baseline per example.
    Array(ArrayD<f32>),
}

impl Baseline {
    /// The baseline of every example of `inputs`.
    pub fn for_inputs(&self, engine: &Engine, inputs: ArrayViewD<f32>) -> Result<ArrayD<f32>> {
        engine.check_input(&inputs)?;
        let n = inputs.shape()[0];
        let example = &inputs.shape()[1..];
        Ok(match self {
            Baseline::Zeros => ArrayD::zeros(inputs.raw_dim()),
            Baseline::Blur { sigma } => {
                let geometry = Geometry::of(engine.model(), "a blurred baseline")?;
                let mut out = inputs.to_owned();
                for mut row in out.axis_iter_mut(Axis(0)) {
                    let blurred = gaussian_blur(geometry.chw(row.view()), *sigma)?;
                    geometry.chw(row.view_mut()).assign(&blurred);
                }
                out
            }
            Baseline::Noise { seed } => {
                let mut out = inputs.to_owned();
                for mut row in out.axis_iter_mut(Axis(0)) {
                    let (lo, hi) = row
                        .iter()
                        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                            (a.min(v), b.max(v))
                        });
                    let mut stream =
                        SeededRng::new(*seed, &[name_hash("baseline"), content_hash(row.view())]);
                    row.mapv_inplace(|_| lo + (hi - lo) * stream.uniform() as f32);
                }
                out
            }
            Baseline::Array(values) => {
                // A NaN or infinite value makes the path, and the whole map,
                // NaN while the completeness check still read 0% (NaN
                // dropped by its max).
                if let Some(at) = values.iter().position(|v| !v.is_finite()) {
                    return Err(Error::invalid(
                        "the Integrated Gradients baseline",
                        format!(
                            "value {} (at flat index {at}) is not finite; give finite values (zeros, the data's mean, a blurred image)",
                            values.iter().nth(at).expect("found")
                        ),
                    ));
                }
                if values.shape() == inputs.shape() {
                    values.clone()
                } else if values.shape() == example
                    || (values.shape().first() == Some(&1) && &values.shape()[1..] == example)
                {
                    let one = values
                        .to_shape(IxDyn(example))
                        .expect("same number of elements")
                        .to_owned();
                    let mut out = ArrayD::zeros(inputs.raw_dim());
                    out.axis_iter_mut(Axis(0))
                        .for_each(|mut row| row.assign(&one));
                    out
                } else {
                    return Err(Error::invalid(
                        format!("a baseline of shape {:?}", values.shape()),
                        format!(
                            "expected one example's shape {example:?} (with or without a leading 1), or one baseline per example {:?} ({n} examples)",
                            inputs.shape()
                        ),
                    ));
                }
            }
        })
    }
}

/// Integrated Gradients (Sundararajan et al. 2017): the gradient integrated
/// along the straight path from a baseline to the input, times their
/// difference.
pub struct IntegratedGradients {
    steps: usize,
    quadrature: Quadrature,
    baseline: Baseline,
}

impl IntegratedGradients {
    /// The method with its number of `steps` (at least 1), quadrature rule and
    /// baseline.
    pub fn new(
        steps: usize,
        quadrature: Quadrature,
        baseline: Baseline,
    ) -> Result<IntegratedGradients> {
        let (least, rule) = match quadrature {
            Quadrature::GaussLegendre => (1, "gauss-legendre"),
            Quadrature::RiemannTrapezoid => (2, "riemann-trapezoid"),
        };
        if steps < least {
            return Err(Error::invalid(
                format!("{steps} integration steps"),
                format!("the {rule} rule needs at least {least}"),
            ));
        }
        crate::limits::at_most("integration steps", steps, crate::limits::MAX_STEPS)?;
        Ok(IntegratedGradients {
            steps,
            quadrature,
            baseline,
        })
    }
}

impl Method for IntegratedGradients {
    fn name(&self) -> &str {
        "integrated-gradients"
    }

    fn attribute(
        &self,
        engine: &mut Engine,
        inputs: ArrayViewD<f32>,
        targets: &Targets,
    ) -> Result<Attribution> {
        check(engine, &inputs, targets)?;
        let baselines = self.baseline.for_inputs(engine, inputs.view())?;
        let (alphas, weights) = self.quadrature.rule(self.steps);
        let delta = &inputs - &baselines;
        let mut path_sum = ArrayD::<f64>::zeros(inputs.raw_dim());
        let fill = |e: usize, step: usize, mut row: ndarray::ArrayViewMutD<f32>| {
            let a = alphas[step] as f32;
            Zip::from(&mut row)
                .and(baselines.index_axis(Axis(0), e))
                .and(delta.index_axis(Axis(0), e))
                .for_each(|r, &b, &d| *r = b + a * d);
        };
        variant_gradients(
            engine,
            inputs.view(),
            targets,
            self.steps,
            fill,
            |e, step, g| {
                let w = weights[step];
                Zip::from(path_sum.index_axis_mut(Axis(0), e))
                    .and(g)
                    .for_each(|s, &g| *s += w * g as f64);
            },
        )?;
        let map = Zip::from(&path_sum)
            .and(&delta)
            .map_collect(|&s, &d| (s * d as f64) as f32);

        let layout = targets.layout(engine)?;
        let examples = 0..targets.classes.len();
        let f_x = targets.pick(
            layout,
            &engine.scores(inputs, &targets.score)?,
            examples.clone(),
        );
        let f_b = targets.pick(
            layout,
            &engine.scores(baselines.view(), &targets.score)?,
            examples,
        );
        let score_change: Vec<f32> = f_x.iter().zip(&f_b).map(|(x, b)| x - b).collect();
        let gap = map
            .axis_iter(Axis(0))
            .zip(&score_change)
            .map(|(a, &c)| a.iter().map(|&v| v as f64).sum::<f64>() as f32 - c)
            .collect();
        Ok(Attribution {
            map,
            layer: None,
            completeness: Some(Completeness { gap, score_change }),
            conservation: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// numpy.polynomial.legendre.leggauss(5), mapped to [0, 1] as Captum does.
    #[test]
    fn gauss_legendre_matches_numpy() {
        let (x, w) = gauss_legendre(5);
        let want_x = [
            0.046_910_077_030_668,
            0.230_765_344_947_158,
            0.5,
            0.769_234_655_052_841_6,
            0.953_089_922_969_332,
        ];
        let want_w = [
            0.118_463_442_528_094_5,
            0.239_314_335_249_683_2,
            0.284_444_444_444_444_4,
            0.239_314_335_249_683_2,
            0.118_463_442_528_094_5,
        ];
        for i in 0..5 {
            assert!(
                (x[i] - want_x[i]).abs() < 1e-14 && (w[i] - want_w[i]).abs() < 1e-14,
                "{i}: {} {}",
                x[i],
                w[i]
            );
        }
        for n in [1, 2, 7, 50, 128] {
            let (x, w) = gauss_legendre(n);
            assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12, "n = {n}");
            // Exact for x^(2n - 1): its integral over [0, 1] is 1 / 2n.
            let p = 2 * n as i32 - 1;
            let integral: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(p)).sum();
            assert!(
                (integral - 1.0 / (2 * n) as f64).abs() < 1e-12,
                "n = {n}: {integral}"
            );
        }
    }

    #[test]
    fn trapezoid_weights_are_captums() {
        // captum.attr._utils.approximation_methods.riemann_builders:
        // alphas linspace(0, 1, n), step sizes 1/n halved at both ends.
        let (x, w) = Quadrature::RiemannTrapezoid.rule(5);
        assert_eq!(x, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(w, vec![0.1, 0.2, 0.2, 0.2, 0.1]);
    }
}
