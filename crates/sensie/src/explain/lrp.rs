//! `lrp`: layer-wise relevance propagation (Bach et al. 2015; Montavon et
//! al. 2019) under one of the composites of [`crate::autodiff::Composite`], with
//! zennit 0.5's conventions, so the maps match zennit's on the same weights.
//!
//! Relevance starts at the logits: the target's logit on the target class, 0
//! elsewhere. Each example's conservation ratio, the input relevance's sum
//! over that logit, says how much relevance the biases and stabilisers
//! absorbed (1 would be perfect conservation). Class 0 of a single sigmoid
//! unit starts from its logit `-z` on the unit (zennit on the model with a
//! negation appended), so its map is class 1's negated.

use ndarray::{ArrayD, ArrayViewD, Axis};

use super::{Attribution, Method, Targets, check, gradients};
use crate::autodiff::{Composite, Lrp as LrpRules};
use crate::engine::{Engine, Score};
use crate::{Error, Result};

/// The `lrp` method: a composite and its parameters.
#[derive(Clone, Debug)]
pub struct Lrp {
    /// Which rule each layer gets.
    pub composite: Composite,
    /// The epsilon rule's epsilon (zennit's default 1e-6).
    pub epsilon: f32,
    /// The gamma rule's gamma (zennit's default 0.25).
    pub gamma: f32,
    /// The z^B rule's bounds; `None`: the range of the inputs explained
    /// (`sensie explain` and the Python package give the whole data's
    /// range, [`super::run::Examples::range`]).
    pub bounds: Option<(f32, f32)>,
}

impl Lrp {
    /// The bounds the z^B rule uses for `inputs`.
    pub fn bounds_for(&self, inputs: &ArrayViewD<f32>) -> (f32, f32) {
        self.bounds.unwrap_or_else(|| {
            inputs
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                    (lo.min(v), hi.max(v))
                })
        })
    }
}

impl Method for Lrp {
    fn name(&self) -> &str {
        "lrp"
    }

    fn attribute(
        &self,
        engine: &mut Engine,
        inputs: ArrayViewD<f32>,
        targets: &Targets,
    ) -> Result<Attribution> {
        check(engine, &inputs, targets)?;
        if targets.score != Score::Logit {
            return Err(Error::invalid(
                "LRP of the probability",
                "LRP starts from the target's logit; explain the logit score",
            ));
        }
        let (mut low, mut high) = self.bounds_for(&inputs);
        if self.bounds.is_none() && low >= high {
            // A constant input: any box around it will do.
            (low, high) = (low - 1.0, high + 1.0);
        }
        let rules = LrpRules::new(self.composite, self.epsilon, self.gamma, (low, high))?;
        let input = engine.model().info().input.name.clone();
        let run = gradients(
            engine,
            inputs,
            &targets.classes,
            &targets.score,
            1.0,
            &rules,
            vec![input],
        )?;
        let layout = targets.layout(engine)?;
        let logits = targets.pick(layout, &run.scores, 0..targets.classes.len());
        let mut map: ArrayD<f32> = run.grads.into_iter().next().expect("one tensor asked for");
        let mut conservation = Vec::with_capacity(logits.len());
        for ((mut example, &logit), &class) in map
            .axis_iter_mut(Axis(0))
            .zip(&logits)
            .zip(&targets.classes)
        {
            // The rules are linear in the seed: the run's seed carries the
            // class's sign, so the relevance `logit` starting on the unit is
            // the run's map times `logit * sign`.
            example *= logit * layout.sign(class);
            conservation.push(example.sum() / logit);
        }
        Ok(Attribution {
            map,
            layer: None,
            completeness: None,
            conservation: Some(conservation),
        })
    }
}
