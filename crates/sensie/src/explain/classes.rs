//! Where a target class's score is in the model's score tensor, and with
//! which sign: the one place every method asks.
//!
//! A classifier with one score per class reads class `k` from column `k`.
//! A single sigmoid unit is a binary classifier scoring two classes, as
//! `sensie probe` scores it ([`crate::probe`]'s `classify`): class 1 is the
//! unit itself and class 0 its complement, `1 - sigmoid(z) = sigmoid(-z)`.
//! So class 0's logit is `-z` and its probability `1 - p`; its gradient
//! seed is -1 on the unit, and every value a method reads (occlusion's and
//! blur saliency's drops, Integrated Gradients' completeness, LRP's starting
//! relevance, the curves' probabilities) is that complement. Reading class
//! 0 as column 0, as a multi-class model would, explained class 1 under
//! class 0's name, and class 1 was refused.

use ndarray::{Array2, ArrayView1};

use crate::engine::{Engine, Score, one_hot};
use crate::model::OutputKind;
use crate::{Error, Result};

/// How the model's classes lie in its score tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClassLayout {
    /// One score per class, `width` of them (a one-output regressor is
    /// class 0 of width 1).
    PerClass {
        /// Scores per example.
        width: usize,
    },
    /// One sigmoid unit scoring classes 0 and 1.
    Binary {
        /// Whether the tensor read holds the probability `p` (class 0 is
        /// then `1 - p`) rather than the logit `z` (class 0 is `-z`).
        probability: bool,
    },
}

/// The classes of one sigmoid output, as refusals name them.
const BINARY_CLASSES: &str = "the model has one sigmoid output, which scores two classes: 1 (the output's \
                              probability p) and 0 (1 - p); choose class 0 or 1";

impl ClassLayout {
    /// The layout of `score` on `engine`'s model: binary for a model whose
    /// output kind is sigmoid and that has one score per example.
    pub(crate) fn of(engine: &mut Engine, score: &Score) -> Result<ClassLayout> {
        let width = engine.score_width()?;
        let model = engine.model();
        if width != 1 || model.info().output_kind != OutputKind::Sigmoid {
            return Ok(ClassLayout::PerClass { width });
        }
        // The logit tensor is the output itself when no final Sigmoid node
        // was found (an output kind set by hand): then it holds p too.
        let probability = match score {
            Score::Logit => model.logit_tensor() == model.info().outputs[0].name,
            Score::Probability | Score::Output => true,
            Score::Tensor(_) => return Ok(ClassLayout::PerClass { width }),
        };
        Ok(ClassLayout::Binary { probability })
    }

    /// Why a class past the last is refused, for a message without an
    /// example (activation maximisation's).
    pub(crate) fn out_of_range(self) -> String {
        match self {
            ClassLayout::Binary { .. } => BINARY_CLASSES.to_string(),
            ClassLayout::PerClass { width } => {
                format!("the model scores {width} classes (0 to {})", width - 1)
            }
        }
    }

    /// Refuses a class the model does not score, naming the example.
    pub(crate) fn check(self, classes: &[usize]) -> Result<()> {
        self.seed(classes).map(|_| ())
    }

    /// The derivative of `class`'s score by the unit carrying it: +1, or
    /// -1 for class 0 of a sigmoid unit.
    pub(crate) fn sign(self, class: usize) -> f32 {
        match self {
            ClassLayout::Binary { .. } if class == 0 => -1.0,
            _ => 1.0,
        }
    }

    /// Gradient seeds (N x width): for example `i`, the derivative of
    /// `classes[i]`'s score by each entry of the score tensor. Checks the
    /// classes first.
    pub(crate) fn seed(self, classes: &[usize]) -> Result<Array2<f32>> {
        match self {
            ClassLayout::PerClass { width } => one_hot(classes, width),
            ClassLayout::Binary { .. } => {
                if let Some((i, &c)) = classes.iter().enumerate().find(|&(_, &c)| c > 1) {
                    return Err(Error::invalid(
                        format!("target class {c} (example {i})"),
                        BINARY_CLASSES,
                    ));
                }
                Ok(Array2::from_shape_fn((classes.len(), 1), |(i, _)| {
                    self.sign(classes[i])
                }))
            }
        }
    }

    /// The scores per example in the tensor read.
    pub(crate) fn width(self) -> usize {
        match self {
            ClassLayout::PerClass { width } => width,
            ClassLayout::Binary { .. } => 1,
        }
    }

    /// The classes the scores stand for.
    pub(crate) fn classes(self) -> usize {
        match self {
            ClassLayout::PerClass { width } => width,
            ClassLayout::Binary { .. } => 2,
        }
    }

    /// `class`'s score in one example's row of the score tensor (a class
    /// the layout scores: see [`ClassLayout::check`]).
    pub(crate) fn score(self, row: ArrayView1<f32>, class: usize) -> f32 {
        match self {
            ClassLayout::PerClass { .. } => row[class],
            ClassLayout::Binary { .. } if class == 1 => row[0],
            ClassLayout::Binary { probability: true } => 1.0 - row[0],
            ClassLayout::Binary { probability: false } => -row[0],
        }
    }

    /// The class predicted from one example's row: the argmax, or for a
    /// sigmoid unit class 1 when `p >= 0.5` (`z >= 0`), as `sensie probe`
    /// counts it correct.
    pub(crate) fn predicted(self, row: ArrayView1<f32>) -> usize {
        match self {
            ClassLayout::PerClass { .. } => argmax(row.iter().copied()),
            ClassLayout::Binary { probability } => {
                let threshold = if probability { 0.5 } else { 0.0 };
                usize::from(row[0] >= threshold)
            }
        }
    }

    /// What the report says about the classes of a sigmoid unit; `None`
    /// for other models.
    pub(crate) fn describe(self) -> Option<String> {
        match self {
            ClassLayout::PerClass { .. } => None,
            ClassLayout::Binary { probability } => Some(format!(
                "One sigmoid output scores two classes: class 1 is explained by the output's {}, \
                 class 0 by {}",
                if probability {
                    "probability p"
                } else {
                    "logit z"
                },
                if probability {
                    "1 - p"
                } else {
                    "-z (the logit of 1 - p)"
                },
            )),
        }
    }
}

fn argmax(values: impl Iterator<Item = f32>) -> usize {
    values
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, v)| {
            if v > best.1 { (i, v) } else { best }
        })
        .0
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr1;

    #[test]
    fn a_sigmoid_unit_scores_class_1_as_itself_and_class_0_as_its_complement() {
        let logit = ClassLayout::Binary { probability: false };
        let probability = ClassLayout::Binary { probability: true };
        let z = arr1(&[0.75f32]);
        assert_eq!(logit.score(z.view(), 1), 0.75);
        assert_eq!(logit.score(z.view(), 0), -0.75);
        assert_eq!(probability.score(z.view(), 0), 0.25);
        assert_eq!(
            logit.seed(&[1, 0, 1]).unwrap(),
            Array2::from_shape_vec((3, 1), vec![1.0, -1.0, 1.0]).unwrap()
        );
        // p = 0.5 (z = 0) is class 1, as probe counts it.
        assert_eq!(probability.predicted(arr1(&[0.5f32]).view()), 1);
        assert_eq!(probability.predicted(arr1(&[0.49f32]).view()), 0);
        assert_eq!(logit.predicted(arr1(&[0.0f32]).view()), 1);
        assert_eq!(logit.predicted(arr1(&[-0.01f32]).view()), 0);
        let err = logit.check(&[1, 2]).unwrap_err().to_string();
        assert!(
            err.contains("target class 2 (example 1)") && err.contains("class 0 or 1"),
            "{err}"
        );
    }

    #[test]
    fn one_score_per_class_reads_its_column() {
        let layout = ClassLayout::PerClass { width: 3 };
        let row = arr1(&[0.1f32, 0.7, 0.2]);
        assert_eq!(layout.score(row.view(), 2), 0.2);
        assert_eq!(layout.predicted(row.view()), 1);
        assert_eq!(
            layout.seed(&[2]).unwrap().row(0).to_vec(),
            vec![0.0, 0.0, 1.0]
        );
        let err = layout.check(&[3]).unwrap_err().to_string();
        assert!(err.contains("3 classes (0 to 2)"), "{err}");
        // A one-output regressor keeps class 0 only.
        assert!(ClassLayout::PerClass { width: 1 }.check(&[1]).is_err());
    }
}
