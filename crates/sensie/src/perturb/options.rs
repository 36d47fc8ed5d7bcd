//! A perturbation's options (`key=value` on the command line, keys in the
//! config file), read with typed accessors whose errors name the perturbation,
//! the option and the value at fault.

use std::collections::BTreeMap;

use crate::{Error, Result};

/// One option as listed by `sensie perturbations`.
#[derive(Clone, Copy, Debug)]
pub struct OptionSpec {
    /// The option's name, as written in `name(option=value)`.
    pub name: &'static str,
    /// The default, as text (empty when the option is required or has none).
    pub default: &'static str,
    /// One line: what it does.
    pub help: &'static str,
}

/// The options given for one perturbation.
pub struct Options<'a> {
    perturbation: &'a str,
    values: &'a BTreeMap<String, String>,
}

impl<'a> Options<'a> {
    /// The `values` given to perturbation `perturbation` (named in errors).
    pub fn new(perturbation: &'a str, values: &'a BTreeMap<String, String>) -> Self {
        Options {
            perturbation,
            values,
        }
    }

    fn what(&self, key: &str) -> String {
        format!("option '{key}' of perturbation '{}'", self.perturbation)
    }

    /// The option as text, if given.
    pub fn text(&self, key: &str) -> Option<&'a str> {
        self.values.get(key).map(String::as_str)
    }

    /// The option as a finite number, if given.
    pub fn optional_number(&self, key: &str) -> Result<Option<f64>> {
        self.text(key)
            .map(|text| match text.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                _ => Err(Error::invalid(
                    self.what(key),
                    format!("'{text}' is not a finite number"),
                )),
            })
            .transpose()
    }

    /// The option as a finite number, or `default`.
    pub fn number(&self, key: &str, default: f64) -> Result<f64> {
        Ok(self.optional_number(key)?.unwrap_or(default))
    }

    /// A pixel value (a fill), or `default`: a number float32 holds, as the
    /// images do (1e39 became infinity, and the model's NaN scores were
    /// blamed on the data).
    pub fn pixel(&self, key: &str, default: f32) -> Result<f32> {
        let value = self.number(key, f64::from(default))?;
        if (value as f32).is_infinite() {
            return Err(Error::invalid(
                self.what(key),
                format!("{value} is beyond float32's range (about 3.4e38), which images hold"),
            ));
        }
        Ok(value as f32)
    }

    /// A number the perturbation cannot work without.
    pub fn required_number(&self, key: &str) -> Result<f64> {
        self.optional_number(key)?.ok_or_else(|| {
            Error::invalid(
                self.what(key),
                "is required (`sensie perturbations` lists every option)",
            )
        })
    }

    /// A number that must be greater than zero, if given.
    pub fn optional_positive(&self, key: &str) -> Result<Option<f64>> {
        match self.optional_number(key)? {
            Some(v) if v <= 0.0 => Err(Error::invalid(
                self.what(key),
                format!("{v} must be greater than 0"),
            )),
            other => Ok(other),
        }
    }

    /// A non-negative whole number, or `default`.
    pub fn index(&self, key: &str, default: usize) -> Result<usize> {
        match self.optional_number(key)? {
            None => Ok(default),
            Some(v) if v >= 0.0 && v.fract() == 0.0 => Ok(v as usize),
            Some(v) => Err(Error::invalid(
                self.what(key),
                format!("{v} is not a non-negative whole number"),
            )),
        }
    }

    /// One of `choices`, or `default`.
    pub fn choice(
        &self,
        key: &str,
        choices: &[&'static str],
        default: &'static str,
    ) -> Result<&'static str> {
        match self.text(key) {
            None => Ok(default),
            Some(text) => choices
                .iter()
                .find(|c| c.eq_ignore_ascii_case(text))
                .copied()
                .ok_or_else(|| {
                    Error::unknown(
                        format!("value of {}", self.what(key)),
                        text,
                        choices.iter().copied(),
                    )
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_accessors_name_the_option_in_their_errors() {
        let values = BTreeMap::from([
            ("fill".to_string(), "abc".to_string()),
            ("band".to_string(), "1.5".to_string()),
            ("mode".to_string(), "Nearest".to_string()),
        ]);
        let options = Options::new("rotate", &values);
        let err = options.number("fill", 0.0).unwrap_err().to_string();
        assert!(
            err.contains("option 'fill' of perturbation 'rotate'") && err.contains("'abc'"),
            "{err}"
        );
        assert!(options.index("band", 0).is_err());
        assert_eq!(
            options
                .choice("mode", &["bilinear", "nearest"], "bilinear")
                .unwrap(),
            "nearest"
        );
        assert_eq!(options.number("absent", 2.5).unwrap(), 2.5);
        // A fill float32 cannot hold is refused; one it can is taken.
        let fills = BTreeMap::from([("fill".to_string(), "1e39".to_string())]);
        let err = Options::new("rotate", &fills)
            .pixel("fill", 0.0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("'fill'") && err.contains("float32"), "{err}");
        let fills = BTreeMap::from([("fill".to_string(), "-3e38".to_string())]);
        assert_eq!(
            Options::new("rotate", &fills).pixel("fill", 0.0).unwrap(),
            -3e38
        );
        assert!(
            options
                .required_number("absent")
                .unwrap_err()
                .to_string()
                .contains("required")
        );
    }
}
