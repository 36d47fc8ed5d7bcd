//! Labels: class indices (from integers or one-hot rows) or continuous
//! regression targets.
//!
//! With `task = auto`, integer arrays and one-hot rows are class indices, a
//! float array whose values are all whole and non-negative is too (labels are
//! often saved as floats), and any other float array holds regression targets.
//! `task = classify` or `regress` says so outright.

use std::path::Path;

use ndarray::{ArrayD, Axis, Ix2};
use serde::{Deserialize, Serialize};

use super::array::Numeric;
use crate::{Error, Result};

/// What the model predicts, and so how labels are read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Classes when the labels are integers or text, targets when they are
    /// fractional numbers.
    #[default]
    Auto,
    /// Class labels, whatever their type.
    Classify,
    /// Regression targets, whatever their type.
    Regress,
}

impl Task {
    /// `auto`, `classify` or `regress`, as flags and configs spell them.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "auto" => Ok(Task::Auto),
            "classify" => Ok(Task::Classify),
            "regress" => Ok(Task::Regress),
            _ => Err(Error::unknown(
                "task",
                text,
                ["auto", "classify", "regress"],
            )),
        }
    }
}

/// The right answer for each example.
#[derive(Clone, Debug, PartialEq)]
pub enum Labels {
    /// Class indices, from 0.
    Classes(Vec<usize>),
    /// Continuous targets of a regression model.
    Targets(Vec<f32>),
}

impl Labels {
    /// The number of examples labelled.
    pub fn len(&self) -> usize {
        match self {
            Labels::Classes(c) => c.len(),
            Labels::Targets(t) => t.len(),
        }
    }

    /// Whether no example is labelled.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The labels of the examples at `keep`, in that order.
    pub(crate) fn select(&self, keep: &[usize]) -> Labels {
        match self {
            Labels::Classes(c) => Labels::Classes(keep.iter().map(|&i| c[i]).collect()),
            Labels::Targets(t) => Labels::Targets(keep.iter().map(|&i| t[i]).collect()),
        }
    }
}

/// Labels from an array as stored: 1-D, N x 1, or one-hot N x K.
pub(crate) fn from_array(array: Numeric, task: Task, path: &Path) -> Result<Labels> {
    let shape = array.shape().to_vec();
    let squeeze = |a: ArrayD<f64>| -> Result<Vec<f64>> {
        match shape.as_slice() {
            [_] | [_, 1] => Ok(a.into_iter().collect()),
            [_, _] => one_hot(a.into_dimensionality::<Ix2>().expect("2-D"), path),
            _ => Err(Error::data(
                path,
                format!("labels must be N, N x 1 or one-hot N x K; this array is {shape:?}"),
            )),
        }
    };
    let is_one_hot = matches!(shape.as_slice(), [_, k] if *k > 1);
    let is_column = matches!(shape.as_slice(), [_] | [_, 1]);
    let integer_task = if task == Task::Auto {
        Task::Classify
    } else {
        task
    };
    match array {
        Numeric::Int(a) if is_column => from_integers(a.mapv(i128::from), integer_task, path),
        Numeric::UInt(a) if is_column => from_integers(a.mapv(i128::from), integer_task, path),
        // One-hot rows (0 and 1, exact as floats), or a shape refused.
        Numeric::Int(a) => from_values(squeeze(a.mapv(|v| v as f64))?, integer_task, path),
        Numeric::UInt(a) => from_values(squeeze(a.mapv(|v| v as f64))?, integer_task, path),
        Numeric::F32(a) => from_values(
            squeeze(a.mapv(f64::from))?,
            if is_one_hot && task == Task::Auto {
                Task::Classify
            } else {
                task
            },
            path,
        ),
        Numeric::F64(a) => from_values(
            squeeze(a)?,
            if is_one_hot && task == Task::Auto {
                Task::Classify
            } else {
                task
            },
            path,
        ),
    }
}

/// Labels from an array in memory, as `from_array` reads a file's: N, N x
/// 1, or one-hot N x K (each row's 1 is its class); `name` stands for the
/// path in messages. The Python package hands its labels over here, so a
/// Keras user's one-hot labels mean what they mean in a file.
pub fn from_rows(values: ArrayD<f64>, task: Task, name: &Path) -> Result<Labels> {
    from_array(Numeric::F64(values), task, name)
}

/// The class index of each one-hot row.
fn one_hot(rows: ndarray::Array2<f64>, path: &Path) -> Result<Vec<f64>> {
    rows.axis_iter(Axis(0))
        .enumerate()
        .map(|(i, row)| {
            let ones: Vec<usize> = row
                .iter()
                .enumerate()
                .filter(|(_, v)| **v == 1.0)
                .map(|(k, _)| k)
                .collect();
            match ones.as_slice() {
                [k] if row.iter().all(|&v| v == 0.0 || v == 1.0) => Ok(*k as f64),
                _ => Err(Error::data(
                    path,
                    format!("row {i} of the labels is not one-hot (one 1, the rest 0): {row}"),
                )),
            }
        })
        .collect()
}

/// Labels from plain numbers, read as the task says.
pub fn from_values(values: Vec<f64>, task: Task, path: &Path) -> Result<Labels> {
    let whole = |v: &f64| v.fract() == 0.0 && *v >= 0.0;
    let classify = match task {
        Task::Classify => true,
        Task::Regress => false,
        Task::Auto => values.iter().all(whole),
    };
    if !classify {
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::data(
                path,
                format!(
                    "target {i} is {}; regression targets must be finite",
                    values[i]
                ),
            ));
        }
        return Ok(Labels::Targets(
            values.into_iter().map(|v| v as f32).collect(),
        ));
    }
    if let Some(i) = values.iter().position(|v| !whole(v)) {
        return Err(not_a_class(path, i, values[i]));
    }
    Ok(Labels::Classes(
        values.into_iter().map(|v| v as usize).collect(),
    ))
}

/// Labels from an integer array (N or N x 1), read as the task says. Kept
/// as integers, not floats: a label above 2^53 (a uint64 sentinel, 2^64 -
/// 1) is named in messages as the file holds it, not rounded.
fn from_integers(values: ArrayD<i128>, task: Task, path: &Path) -> Result<Labels> {
    if task == Task::Regress {
        return Ok(Labels::Targets(values.iter().map(|&v| v as f32).collect()));
    }
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| usize::try_from(v).map_err(|_| not_a_class(path, i, v)))
        .collect::<Result<_>>()
        .map(Labels::Classes)
}

fn not_a_class(path: &Path, example: usize, value: impl std::fmt::Display) -> Error {
    Error::data(
        path,
        format!("the label of example {example} is {value}, not a class index (0, 1, 2, ...)"),
    )
}

#[cfg(test)]
mod tests {
    use ndarray::{ArrayD, IxDyn};

    use super::*;

    fn path() -> &'static Path {
        Path::new("y.npy")
    }

    #[test]
    fn integers_and_one_hot_rows_are_classes() {
        let ints = Numeric::Int(ArrayD::from_shape_vec(IxDyn(&[3]), vec![2, 0, 1]).unwrap());
        assert_eq!(
            from_array(ints, Task::Auto, path()).unwrap(),
            Labels::Classes(vec![2, 0, 1])
        );
        let one_hot = Numeric::F32(
            ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![0., 0., 1., 1., 0., 0.]).unwrap(),
        );
        assert_eq!(
            from_array(one_hot, Task::Auto, path()).unwrap(),
            Labels::Classes(vec![2, 0])
        );
        let bad =
            Numeric::F32(ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![0.5, 0.5, 1., 0.]).unwrap());
        assert!(
            from_array(bad, Task::Auto, path())
                .unwrap_err()
                .to_string()
                .contains("row 0")
        );
    }

    #[test]
    fn floats_are_targets_unless_whole() {
        let whole = Numeric::F64(ArrayD::from_shape_vec(IxDyn(&[2, 1]), vec![1.0, 0.0]).unwrap());
        assert_eq!(
            from_array(whole, Task::Auto, path()).unwrap(),
            Labels::Classes(vec![1, 0])
        );
        let real = Numeric::F64(ArrayD::from_shape_vec(IxDyn(&[2]), vec![0.3, 2.0]).unwrap());
        assert_eq!(
            from_array(real, Task::Auto, path()).unwrap(),
            Labels::Targets(vec![0.3, 2.0])
        );
        let forced = Numeric::Int(ArrayD::from_shape_vec(IxDyn(&[2]), vec![3, 4]).unwrap());
        assert_eq!(
            from_array(forced, Task::Regress, path()).unwrap(),
            Labels::Targets(vec![3.0, 4.0])
        );
        let negative = Numeric::Int(ArrayD::from_shape_vec(IxDyn(&[2]), vec![0, -1]).unwrap());
        let err = from_array(negative, Task::Auto, path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("y.npy") && err.contains("the label of example 1 is -1"),
            "{err}"
        );
    }

    /// uint64 labels keep their value: 2^64 - 1 went through i64 (clamped
    /// to 2^63 - 1) and f64 (rounded to 2^63) and was reported as 2^63.
    #[test]
    fn uint64_labels_keep_their_value() {
        let max = Numeric::UInt(ArrayD::from_shape_vec(IxDyn(&[2]), vec![1, u64::MAX]).unwrap());
        assert_eq!(
            from_array(max, Task::Auto, path()).unwrap(),
            Labels::Classes(vec![1, 18_446_744_073_709_551_615])
        );
        // Integers beyond f64's 2^53 are named exactly when refused.
        let big = Numeric::Int(ArrayD::from_shape_vec(IxDyn(&[1]), vec![-(1 << 60) - 1]).unwrap());
        let err = from_array(big, Task::Auto, path()).unwrap_err().to_string();
        assert!(
            err.contains("is -1152921504606846977, not a class"),
            "{err}"
        );
    }
}
