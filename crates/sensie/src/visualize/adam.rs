//! Adam (Kingma & Ba 2015), as Lucid optimises its images: each variable
//! steps by about the learning rate whatever the scale of its gradient, which
//! suits Fourier coefficients whose gradients differ by orders of magnitude
//! between frequencies.

use ndarray::{Array4, ArrayView4, Zip};

pub(crate) struct Adam {
    rate: f32,
    step: i32,
    m: Array4<f32>,
    v: Array4<f32>,
}

const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;
const EPSILON: f32 = 1e-8;

impl Adam {
    pub fn new(rate: f32, shape: &[usize]) -> Adam {
        let shape = [shape[0], shape[1], shape[2], shape[3]];
        Adam {
            rate,
            step: 0,
            m: Array4::zeros(shape),
            v: Array4::zeros(shape),
        }
    }

    /// One step up the gradient (ascent: the objective is maximised).
    pub fn ascend(&mut self, params: &mut Array4<f32>, grad: ArrayView4<f32>) {
        self.step += 1;
        let (c1, c2) = (1.0 - BETA1.powi(self.step), 1.0 - BETA2.powi(self.step));
        let rate = self.rate;
        Zip::from(params)
            .and(&mut self.m)
            .and(&mut self.v)
            .and(grad)
            .for_each(|p, m, v, &g| {
                *m = BETA1 * *m + (1.0 - BETA1) * g;
                *v = BETA2 * *v + (1.0 - BETA2) * g * g;
                *p += rate * (*m / c1) / ((*v / c2).sqrt() + EPSILON);
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first step moves each variable by the rate in its gradient's
    /// direction (bias correction makes m / sqrt(v) = sign(g)).
    #[test]
    fn first_step_is_the_rate_along_the_gradient_sign() {
        let mut p = Array4::zeros((1, 1, 1, 3));
        let g = Array4::from_shape_vec((1, 1, 1, 3), vec![5.0, -0.001, 0.0]).unwrap();
        let mut adam = Adam::new(0.1, p.shape());
        adam.ascend(&mut p, g.view());
        let got = p.iter().copied().collect::<Vec<f32>>();
        assert!(
            (got[0] - 0.1).abs() < 1e-6 && (got[1] + 0.1).abs() < 1e-4 && got[2] == 0.0,
            "{got:?}"
        );
    }
}
