//! From a model's outputs to the score a test follows, per example.
//!
//! Classifiers: the probability of the correct class, whatever the model
//! outputs (logits go through a softmax, log-probabilities through exp; a
//! single logit or sigmoid output is the probability of class 1), and
//! whether the top class is the correct one. Regression models: the signed
//! error (prediction - target); the score is its absolute value, and squared
//! error and bias are reported beside it.

use ndarray::{Array2, ArrayView1, ArrayView2};

use crate::data::{Labels, Task};
use crate::model::OutputKind;
use crate::stats::Direction;
use crate::{Error, Result};

/// How a test scores one example.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub enum Metric {
    /// A classifier: the correct class's probability, from an output of this kind.
    Classifier(OutputKind),
    /// A regressor: the absolute error of the prediction.
    Regressor,
}

/// One example's result.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Scored {
    /// Correct-class probability, or absolute error.
    pub score: f64,
    /// Whether the top class is the correct one (classifiers).
    pub correct: bool,
    /// Prediction minus target (regression).
    pub error: f64,
}

/// Every example's result at every level of one sweep, one array per field
/// so that the statistics read them in place: 9 bytes per example and level
/// for a classifier, 17 for a regression model (an array of [`Scored`] took
/// 24, and the statistics copied its scores out).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ScoreGrid {
    /// Examples x levels.
    pub score: Array2<f64>,
    /// Examples x levels: whether the prediction was right.
    pub correct: Array2<bool>,
    /// Prediction minus target, regression only.
    pub error: Option<Array2<f64>>,
}

impl ScoreGrid {
    /// A grid for `examples` x `levels` scores, with signed errors when
    /// `regression`.
    pub fn new(examples: usize, levels: usize, regression: bool) -> ScoreGrid {
        ScoreGrid {
            score: Array2::zeros((examples, levels)),
            correct: Array2::from_elem((examples, levels), false),
            error: regression.then(|| Array2::zeros((examples, levels))),
        }
    }

    /// Records one example's score at one level.
    pub fn set(&mut self, example: usize, level: usize, scored: Scored) {
        self.score[[example, level]] = scored.score;
        self.correct[[example, level]] = scored.correct;
        if let Some(error) = &mut self.error {
            error[[example, level]] = scored.error;
        }
    }

    /// One level's results, example by example.
    pub fn level(&self, level: usize) -> Vec<Scored> {
        (0..self.score.nrows())
            .map(|example| Scored {
                score: self.score[[example, level]],
                correct: self.correct[[example, level]],
                error: self.error.as_ref().map_or(0.0, |e| e[[example, level]]),
            })
            .collect()
    }

    /// Fills a level with the unperturbed pass's results (a sweep's identity value).
    pub fn set_level(&mut self, level: usize, reference: &[Scored]) {
        for (example, &scored) in reference.iter().enumerate() {
            self.set(example, level, scored);
        }
    }
}

impl Metric {
    /// The metric for these labels, read for `task`, and a model whose
    /// output has `width` values per example. Targets that sensie chose
    /// (`task` auto: a label that is not a whole number from 0) for a model
    /// whose output is a classifier's (sigmoid, softmax, or several logits)
    /// are refused, naming the first such label and its example as
    /// `example` names it (with its metadata row, for labels from a
    /// column): a "-1 = unknown" among class labels would otherwise turn a
    /// classifier's probe into a regression's without a word, or be refused
    /// in a regression's terms with nothing to find it by.
    pub fn new(
        labels: &Labels,
        task: Task,
        kind: OutputKind,
        width: usize,
        example: &dyn Fn(usize) -> String,
    ) -> Result<Metric> {
        let Labels::Targets(targets) = labels else {
            return Ok(Metric::Classifier(kind));
        };
        let chosen = (task == Task::Auto)
            .then(|| targets.iter().position(|t| t.fract() != 0.0 || *t < 0.0))
            .flatten()
            .map(|i| format!("label {} of {}", targets[i], example(i)));
        let leave_out = "leave out the examples that have no class";
        match chosen {
            Some(label) if kind != OutputKind::Logits => Err(Error::invalid(
                label,
                format!(
                    "not a class index (0, 1, 2, ...), but the model's output is {}, a classifier's; \
                     {leave_out}, or pass --task regress if the model is a regressor",
                    super::word(kind)
                ),
            )),
            _ if width == 1 => Ok(Metric::Regressor),
            Some(label) => Err(Error::invalid(
                label,
                format!(
                    "not a class index (0, 1, 2, ...), so the labels were read as regression targets (they are not all whole \
                     numbers from 0), but the model outputs {width} values per example and a regression test needs exactly one; \
                     a classifier needs class labels 0, 1, 2, ...: {leave_out}, or fix the label (--task classify reads whole \
                     numbers as classes)"
                ),
            )),
            None => Err(Error::invalid(
                "regression targets",
                format!(
                    "the labels were read as regression targets (--task regress says so), but the model outputs \
                     {width} values per example and a regression test needs exactly one; a classifier needs class \
                     labels 0, 1, 2, ... (--task classify says so)"
                ),
            )),
        }
    }

    /// The metric's name in results.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Classifier(_) => "correct-class probability",
            Metric::Regressor => "absolute error",
        }
    }

    /// Whether a good score is high (probability) or low (error).
    pub fn direction(self) -> Direction {
        match self {
            Metric::Classifier(_) => Direction::HigherIsBetter,
            Metric::Regressor => Direction::LowerIsBetter,
        }
    }

    /// Refuses outputs that are not what the model's output kind says: a
    /// "probability" of 14.6 means logits taken for probabilities, and every
    /// score would be wrong. `first` is the first row's example index.
    pub fn check(self, outputs: ArrayView2<f32>, first: usize) -> Result<()> {
        let Metric::Classifier(kind) = self else {
            return Ok(());
        };
        for (i, row) in outputs.rows().into_iter().enumerate() {
            let sum: f64 = row.iter().map(|&v| f64::from(v)).sum();
            let in_unit = row.iter().all(|&v| (-1e-4..=1.0001).contains(&v));
            let fits = match kind {
                OutputKind::Logits => true,
                OutputKind::Sigmoid => in_unit,
                OutputKind::Probabilities => {
                    in_unit && (row.len() == 1 || (sum - 1.0).abs() < 1e-3)
                }
                OutputKind::LogProbabilities => {
                    row.len() == 1
                        || (row.iter().map(|&v| f64::from(v).exp()).sum::<f64>() - 1.0).abs() < 1e-3
                }
            };
            if !fits {
                let shown: Vec<String> = row.iter().take(6).map(|v| format!("{v:.4}")).collect();
                return Err(Error::invalid(
                    format!("the model's outputs for example {}", first + i),
                    format!(
                        "are [{}{}] (sum {sum:.4}), which are not {}; pass the right --output-kind (logits, probabilities, log-probabilities or sigmoid)",
                        shown.join(", "),
                        if row.len() > 6 { ", ..." } else { "" },
                        crate::probe::word(kind)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Scores example `index` from its output row.
    pub fn score(self, row: ArrayView1<f32>, labels: &Labels, index: usize) -> Scored {
        match (self, labels) {
            (Metric::Classifier(kind), Labels::Classes(classes)) => {
                classify(kind, row, classes[index])
            }
            (_, Labels::Targets(targets)) => {
                let error = f64::from(row[0]) - f64::from(targets[index]);
                Scored {
                    score: error.abs(),
                    correct: false,
                    error,
                }
            }
            (Metric::Regressor, Labels::Classes(_)) => {
                unreachable!("Metric::new pairs class labels with a classifier")
            }
        }
    }
}

fn classify(kind: OutputKind, row: ArrayView1<f32>, class: usize) -> Scored {
    let z: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
    if z.len() == 1 {
        // One output: the probability (or logit) of class 1.
        let p1 = match kind {
            OutputKind::Logits => 1.0 / (1.0 + (-z[0]).exp()),
            OutputKind::LogProbabilities => z[0].exp(),
            OutputKind::Probabilities | OutputKind::Sigmoid => z[0],
        };
        let score = if class == 1 { p1 } else { 1.0 - p1 };
        return Scored {
            score,
            correct: (p1 >= 0.5) == (class == 1),
            error: 0.0,
        };
    }
    let top = z
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(k, _)| k)
        .expect("a non-empty row");
    let score = match kind {
        OutputKind::Logits => {
            let max = z[top];
            let total: f64 = z.iter().map(|v| (v - max).exp()).sum();
            (z[class] - max).exp() / total
        }
        OutputKind::LogProbabilities => z[class].exp(),
        OutputKind::Probabilities | OutputKind::Sigmoid => z[class],
    };
    Scored {
        score,
        correct: top == class,
        error: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use ndarray::arr1;

    use super::*;

    fn numbered(i: usize) -> String {
        format!("example {i}")
    }

    #[test]
    fn logits_become_the_softmax_probability_of_the_label() {
        // softmax([1, 2, 3])[0] = e^1 / (e^1 + e^2 + e^3) = 0.0900306
        let labels = Labels::Classes(vec![0, 2]);
        let metric = Metric::new(&labels, Task::Auto, OutputKind::Logits, 3, &numbered).unwrap();
        let s = metric.score(arr1(&[1.0f32, 2.0, 3.0]).view(), &labels, 0);
        assert!((s.score - 0.090_030_57).abs() < 1e-7 && !s.correct);
        let s = metric.score(arr1(&[1000.0f32, 0.0, 1001.0]).view(), &labels, 1);
        assert!(
            (s.score - 0.731_058_58).abs() < 1e-7 && s.correct,
            "overflow-safe: {}",
            s.score
        );
        let log = Metric::Classifier(OutputKind::LogProbabilities).score(
            arr1(&[-0.5f32, -1.0]).view(),
            &labels,
            0,
        );
        assert!((log.score - (-0.5f64).exp()).abs() < 1e-7);
    }

    #[test]
    fn one_output_is_the_probability_of_class_one() {
        let labels = Labels::Classes(vec![0, 1]);
        let sigmoid = Metric::Classifier(OutputKind::Sigmoid);
        assert!((sigmoid.score(arr1(&[0.8f32]).view(), &labels, 0).score - 0.2).abs() < 1e-6);
        assert!(sigmoid.score(arr1(&[0.8f32]).view(), &labels, 1).correct);
        let logit =
            Metric::Classifier(OutputKind::Logits).score(arr1(&[0.0f32]).view(), &labels, 1);
        assert_eq!(logit.score, 0.5);
    }

    #[test]
    fn regression_scores_the_absolute_error_and_keeps_its_sign() {
        let labels = Labels::Targets(vec![2.0, 1.0]);
        let metric = Metric::new(&labels, Task::Auto, OutputKind::Logits, 1, &numbered).unwrap();
        let s = metric.score(arr1(&[1.5f32]).view(), &labels, 0);
        assert_eq!((s.score, s.error), (0.5, -0.5));
        assert!(Metric::new(&labels, Task::Auto, OutputKind::Logits, 3, &numbered).is_err());
        assert_eq!(metric.direction(), Direction::LowerIsBetter);
    }

    #[test]
    fn targets_sensie_chose_are_refused_for_a_classifiers_output() {
        // 0/1 labels with one -1 ("unknown") read as targets: a sigmoid
        // classifier was silently probed as a regressor.
        let labels = Labels::Targets(vec![1.0, 0.0, -1.0, 1.0]);
        for kind in [
            OutputKind::Sigmoid,
            OutputKind::Probabilities,
            OutputKind::LogProbabilities,
        ] {
            let err = Metric::new(&labels, Task::Auto, kind, 1, &numbered)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("label -1 of example 2")
                    && err.contains("not a class index")
                    && err.contains("--task regress"),
                "{err}"
            );
        }
        // Asked for, or from a model that may be a regressor, they stay targets.
        assert_eq!(
            Metric::new(&labels, Task::Regress, OutputKind::Sigmoid, 1, &numbered).unwrap(),
            Metric::Regressor
        );
        assert_eq!(
            Metric::new(&labels, Task::Auto, OutputKind::Logits, 1, &numbered).unwrap(),
            Metric::Regressor
        );
        // Several logits: the label is named as the caller names its
        // example, not in a regression's terms alone.
        let err = Metric::new(&labels, Task::Auto, OutputKind::Logits, 10, &|i| {
            format!("example {i}, row {} of m.csv", i + 1)
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("label -1 of example 2, row 3 of m.csv")
                && err.contains("not a class index")
                && err.contains("outputs 10 values"),
            "{err}"
        );
    }
}
