//! What a probe run does: the `probe.toml` file, and the command line's
//! flags, which fill in the same structure.
//!
//! ```toml
//! model = "model.onnx"
//! out = "results"
//! classes = true
//!
//! [data]
//! path = "images.npy"
//! labels = "labels.npy"
//! # FITS survey cutouts: path = "cutouts/", bands = ["g", "r", "i"] (picked
//! # by FILTERn/BANDn), hdu = "SCI" (or an index), mask_hdu = "MASK",
//! # weight_hdu = "WEIGHT", metadata_key = "object" (matches the file stem)
//!
//! [preprocess]
//! scale = 0.00392156862745098
//!
//! [[perturb]]
//! name = "rotate"
//! values = "0:180:10"            # or a list: [0, 45, 90]
//! options = { interpolation = "nearest" }
//! # or, as --perturb takes them: perturb = ["rotate=0:180:10", "blur=0:3:7"]
//!
//! [[property]]
//! column = "magnitude"
//! bins = "q5"                    # 5 (equal width), q5 (quantile), discrete, auto
//!
//! [[grid]]                       # two perturbations varied jointly, in this order
//! perturb = [{ name = "rotate", values = "0:90:7" }, { name = "blur", values = "0:2:5" }]
//! ```
//!
//! Several data sets, each with its own files, replace `[data]` with
//! `[[data]]` tables that carry a `name`; several models, `model` with
//! `[[model]]` tables of `name` and `path`. Every test then runs on each.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::shard::Shard;
use crate::data::DataSpec;
use crate::preprocess::Preprocess;
use crate::{Error, Result, limits};

/// A whole probe run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProbeConfig {
    /// The model to probe.
    pub model: PathBuf,
    /// The output directory for results.json, results.csv and the report.
    pub out: PathBuf,
    /// Overwrite results already in `out`.
    pub force: bool,
    /// What the model outputs when sensie's detection is wrong: logits,
    /// probabilities, log-probabilities or sigmoid.
    pub output_kind: Option<String>,
    /// Examples per model pass.
    pub batch_size: usize,
    /// Threads for the model's operators and for perturbing a batch; 0 lets
    /// sensie choose ([`super::ThreadBudget`]).
    pub threads: usize,
    /// Seed of the bootstrap and of random perturbations.
    pub seed: u64,
    /// Bootstrap replicates for every interval.
    pub replicates: usize,
    /// The score whose crossing each test reports (default: halfway between
    /// the best and worst level).
    pub threshold: Option<f64>,
    /// Run a class test.
    pub classes: bool,
    /// Where the examples come from.
    pub data: DataSpec,
    /// How raw images become the model's input.
    pub preprocess: Preprocess,
    /// The perturbation sweeps (`[[perturb]]` tables, or `--perturb`'s text).
    #[serde(deserialize_with = "sweeps")]
    pub perturb: Vec<SweepSpec>,
    /// The property tests (`[[property]]`).
    pub property: Vec<PropertySpec>,
    /// Two-perturbation grids.
    pub grid: Vec<GridSpec>,
    /// Named data sets to compare (`[[data]]` tables); empty for one `[data]`.
    #[serde(skip)]
    pub sets: Vec<NamedData>,
    /// Named models to compare (`[[model]]` tables); empty for one `model`.
    #[serde(skip)]
    pub models: Vec<NamedModel>,
    /// Score only this slice of the examples and write a partial result for
    /// `sensie merge` (`--shard K/N`).
    pub shard: Option<Shard>,
    /// Continue an interrupted run from the partial scores in `out`.
    pub resume: bool,
    /// Examples per saved chunk of partial scores (rounded up to whole
    /// batches; 0: the whole slice is one chunk): what an interrupted run
    /// can lose at most, per test.
    pub chunk: usize,
}

/// One data set of a run that compares data sets.
#[derive(Clone, Debug)]
pub struct NamedData {
    /// The data set's name, also its folder under the output.
    pub name: String,
    /// Where its examples come from.
    pub spec: DataSpec,
}

/// One model of a run that compares models.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedModel {
    /// The model's name, also its folder under the output.
    pub name: String,
    /// The model file.
    pub path: PathBuf,
}

/// Two perturbations varied jointly over every pair of their values, the
/// first applied first. In a config, `perturb` is a list of two tables like
/// `[[perturb]]`'s, or the command line's text (`"rotate=0:90:7,blur=0:2:5"`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridSpec {
    /// The two perturbations with their values, first applied first.
    #[serde(deserialize_with = "grid_parts")]
    pub perturb: Vec<SweepSpec>,
}

/// A config's sweeps, each a `[[perturb]]` table or the command line's text
/// (`perturb = ["rotate=0:180:10", "blur=0:3:7"]`), so that sweeps copied
/// from a command line read as they did there.
fn sweeps<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Vec<SweepSpec>, D::Error> {
    Ok(Vec::<TableOrText>::deserialize(deserializer)?
        .into_iter()
        .map(|sweep| sweep.0)
        .collect())
}

/// A grid's two perturbations: a list of two, each a table or `--perturb`'s
/// text, or `--grid`'s text (`"rotate=0:90:7,blur=0:2:5"`).
fn grid_parts<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Vec<SweepSpec>, D::Error> {
    struct ListOrText;
    impl<'de> serde::de::Visitor<'de> for ListOrText {
        type Value = Vec<SweepSpec>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str(
                "a list of two perturbations (tables of name, values, options, or sweeps as --perturb \
                 takes them) or the grid as --grid takes it, e.g. \"rotate=0:90:7,blur=0:2:5\"",
            )
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> std::result::Result<Self::Value, E> {
            GridSpec::parse(text).map(|g| g.perturb).map_err(E::custom)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut parts: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            let mut sweeps = Vec::new();
            while let Some(TableOrText(sweep)) = parts.next_element()? {
                sweeps.push(sweep);
            }
            Ok(sweeps)
        }
    }
    deserializer.deserialize_any(ListOrText)
}

/// One sweep in a config: a `[[perturb]]` table or the command line's text.
/// A table's mistakes keep their own messages (an unknown field, a value of
/// the wrong type), which serde's untagged enums would replace by one that
/// names neither.
struct TableOrText(SweepSpec);

impl<'de> Deserialize<'de> for TableOrText {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<TableOrText, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = TableOrText;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "a [[perturb]] table (name, values, options) or a sweep as --perturb takes it, \
                     e.g. \"rotate=0:180:10\"",
                )
            }
            fn visit_str<E: serde::de::Error>(
                self,
                text: &str,
            ) -> std::result::Result<TableOrText, E> {
                SweepSpec::parse(text).map(TableOrText).map_err(E::custom)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<TableOrText, A::Error> {
                SweepSpec::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(TableOrText)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            model: PathBuf::new(),
            out: PathBuf::new(),
            force: false,
            output_kind: None,
            batch_size: super::DEFAULT_BATCH_SIZE,
            threads: 0,
            seed: 0,
            replicates: crate::stats::DEFAULT_REPLICATES,
            threshold: None,
            classes: false,
            data: DataSpec::default(),
            preprocess: Preprocess::default(),
            perturb: Vec::new(),
            property: Vec::new(),
            grid: Vec::new(),
            sets: Vec::new(),
            models: Vec::new(),
            shard: None,
            resume: false,
            chunk: 1024,
        }
    }
}

/// A TOML error on one line, as every sensie error is: the line it was
/// found on where the parser knows it (the toml crate draws the line with a
/// caret under it over several lines), else the key it belongs to.
fn toml_problem(error: &toml::de::Error, text: &str) -> String {
    let problem = match error.span() {
        Some(span) => {
            let before = &text.as_bytes()[..span.start.min(text.len())];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            format!("line {line}: {}", error.message())
        }
        None => error.to_string(),
    };
    problem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

impl ProbeConfig {
    /// Reads a `probe.toml`. Relative paths inside it (model, out, data,
    /// labels, metadata, a PSF `kernel` file) are taken from the config
    /// file's folder, as Cargo and docker compose do, so a config works from
    /// any working directory; paths given on the command line stay relative
    /// to the working directory.
    pub fn read(path: &Path) -> Result<ProbeConfig> {
        let bytes = crate::limits::read_file(path, crate::limits::MAX_CONFIG_BYTES)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::data(path, "not a probe config: it is not UTF-8 text"))?;
        let mut config = ProbeConfig::parse(&text).map_err(|reason| Error::Data {
            path: path.to_path_buf(),
            reason: format!("not a valid probe config: {reason}"),
        })?;
        config.resolve_paths(path.parent().unwrap_or(Path::new("")));
        Ok(config)
    }

    /// A config from TOML text: `[[data]]` tables become [`ProbeConfig::sets`]
    /// and `[[model]]` tables [`ProbeConfig::models`], the rest as written.
    pub fn parse(text: &str) -> std::result::Result<ProbeConfig, String> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| toml_problem(&e, text))?;
        let sets = match table.remove("data") {
            Some(toml::Value::Array(sets)) => sets
                .into_iter()
                .map(|set| {
                    let toml::Value::Table(mut set) = set else {
                        return Err("each [[data]] entry must be a table".to_string());
                    };
                    let name = match set.remove("name") {
                        Some(toml::Value::String(name)) => name,
                        _ => return Err("each [[data]] table needs a name = \"...\"".into()),
                    };
                    let spec = DataSpec::deserialize(set)
                        .map_err(|e| format!("[[data]] '{name}': {}", toml_problem(&e, text)))?;
                    Ok(NamedData { name, spec })
                })
                .collect::<std::result::Result<Vec<_>, String>>()?,
            Some(single) => {
                table.insert("data".into(), single);
                Vec::new()
            }
            None => Vec::new(),
        };
        let models = match table.remove("model") {
            Some(toml::Value::Array(models)) => models
                .into_iter()
                .map(|m| {
                    NamedModel::deserialize(m)
                        .map_err(|e| format!("[[model]]: {}", toml_problem(&e, text)))
                })
                .collect::<std::result::Result<Vec<_>, String>>()?,
            Some(single) => {
                table.insert("model".into(), single);
                Vec::new()
            }
            None => Vec::new(),
        };
        let mut config = ProbeConfig::deserialize(table).map_err(|e| toml_problem(&e, text))?;
        config.sets = sets;
        config.models = models;
        Ok(config)
    }

    /// Joins every relative path of the config onto `folder`.
    pub(super) fn resolve_paths(&mut self, folder: &Path) {
        let resolve = |p: &mut PathBuf| {
            if !p.as_os_str().is_empty() && p.is_relative() {
                *p = lexically_joined(folder, p);
            }
        };
        resolve(&mut self.model);
        resolve(&mut self.out);
        let resolve_data = |d: &mut DataSpec| {
            resolve(&mut d.path);
            d.labels.iter_mut().for_each(resolve);
            d.metadata.iter_mut().for_each(resolve);
        };
        resolve_data(&mut self.data);
        self.sets.iter_mut().for_each(|s| resolve_data(&mut s.spec));
        self.models.iter_mut().for_each(|m| resolve(&mut m.path));
        let grids = self.grid.iter_mut().flat_map(|g| g.perturb.iter_mut());
        for spec in self.perturb.iter_mut().chain(grids) {
            if let Some(OptionValue::Text(file)) = spec.options.get_mut(KERNEL_OPTION) {
                let mut path = PathBuf::from(&*file);
                resolve(&mut path);
                *file = path.to_string_lossy().into_owned();
            }
        }
    }
}

/// `folder` joined with `relative`, each `..` taking off the folder's last
/// named component where it has one (`examples/lens` + `../../out/lens` is
/// `out/lens`), so that printed paths read as the user would write them.
fn lexically_joined(folder: &Path, relative: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = folder.to_path_buf();
    for part in relative.components() {
        match part {
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The perturbation option that names a file (`psf(kernel=FILE)`).
const KERNEL_OPTION: &str = "kernel";

/// One perturbation sweep.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// The perturbation's name (`sensie perturbations` lists them).
    pub name: String,
    /// Its parameter's values.
    pub values: Values,
    /// Its options.
    #[serde(default)]
    pub options: BTreeMap<String, OptionValue>,
}

/// The levels of a sweep: a list, or `a:b:n` (n evenly spaced values from a
/// to b) or `a,b,c` as text.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "a list of numbers (values = [0, 90, 180]) or text (values = \"0:180:19\")"
)]
pub enum Values {
    /// The values themselves.
    List(Vec<f64>),
    /// A range `a:b:n` (n values from a to b) or `a,b,c` as text.
    Spec(String),
}

/// An option value as written in TOML.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OptionValue {
    /// A number.
    Number(f64),
    /// Text.
    Text(String),
    /// A switch.
    Flag(bool),
}

impl OptionValue {
    fn text(&self) -> String {
        match self {
            OptionValue::Number(v) => v.to_string(),
            OptionValue::Text(t) => t.clone(),
            OptionValue::Flag(b) => b.to_string(),
        }
    }
}

/// One property test: a metadata column and how to bin it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertySpec {
    /// The metadata column.
    pub column: String,
    /// How to bin it: `auto`, `N` equal-width bins, `qN` quantile bins or
    /// `discrete` (one group per value). A config may write N as a number
    /// (`bins = 5`), as anyone writing TOML would.
    #[serde(default = "auto", deserialize_with = "bins")]
    pub bins: String,
}

fn auto() -> String {
    "auto".into()
}

/// A property's bins: text, or a whole number of equal-width bins.
fn bins<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<String, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str(
                "a number of bins (bins = 5) or text: \"auto\", \"5\", \"q4\" or \"discrete\"",
            )
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> std::result::Result<String, E> {
            Ok(text.to_string())
        }
        fn visit_u64<E: serde::de::Error>(self, n: u64) -> std::result::Result<String, E> {
            Ok(n.to_string())
        }
        fn visit_i64<E: serde::de::Error>(self, n: i64) -> std::result::Result<String, E> {
            Ok(n.to_string())
        }
    }
    deserializer.deserialize_any(Visitor)
}

impl SweepSpec {
    /// Parses the command line's `NAME=SPEC` or `NAME(key=value,...)=SPEC`,
    /// e.g. `rotate=0:180:10` or `psf(profile=moffat)=0,1,2`.
    pub fn parse(text: &str) -> Result<SweepSpec> {
        let bad = |why: &str| Error::invalid(format!("--perturb '{text}'"), why.to_string());
        let (head, values) = text
            .rsplit_once('=')
            .ok_or_else(|| bad("expected NAME=SPEC, e.g. rotate=0:180:10 or blur=0,1,2"))?;
        let (name, options) = match head.split_once('(') {
            None => (head, BTreeMap::new()),
            Some((name, rest)) => {
                let inner = rest
                    .strip_suffix(')')
                    .ok_or_else(|| bad("options go in parentheses: NAME(key=value,...)=SPEC"))?;
                // A piece without '=' continues the value before it, so
                // that a value may hold commas (occlude's `position=X,Y`).
                let mut pairs: Vec<(String, String)> = Vec::new();
                for piece in inner.split(',').filter(|p| !p.trim().is_empty()) {
                    match (piece.split_once('='), pairs.last_mut()) {
                        (Some((k, v)), _) => pairs.push((k.trim().into(), v.trim().into())),
                        (None, Some((_, value))) => *value = format!("{value},{}", piece.trim()),
                        (None, None) => return Err(bad("each option is key=value")),
                    }
                }
                let options = pairs
                    .into_iter()
                    .map(|(k, v)| (k, OptionValue::Text(v)))
                    .collect();
                (name, options)
            }
        };
        let spec = SweepSpec {
            name: name.trim().to_string(),
            values: Values::Spec(values.to_string()),
            options,
        };
        spec.levels()?;
        Ok(spec)
    }

    /// The file its options name (a PSF's `kernel`), if any: the run's
    /// numbers depend on its bytes, not only on its path.
    pub fn file(&self) -> Option<PathBuf> {
        let path = self.options.get(KERNEL_OPTION)?.text();
        (!path.is_empty()).then(|| PathBuf::from(path))
    }

    /// The options as text, as perturbations read them.
    pub fn option_text(&self) -> BTreeMap<String, String> {
        self.options
            .iter()
            .map(|(k, v)| (k.clone(), v.text()))
            .collect()
    }

    /// The parameter values to test, in order.
    pub fn levels(&self) -> Result<Vec<f64>> {
        let bad =
            |why: String| Error::invalid(format!("values of perturbation '{}'", self.name), why);
        let values = match &self.values {
            Values::List(list) => list.clone(),
            Values::Spec(text) => {
                let parts: Vec<&str> = text.split(':').collect();
                let number = |t: &str| {
                    t.trim()
                        .parse::<f64>()
                        .map_err(|_| bad(format!("'{t}' is not a number")))
                };
                match parts.as_slice() {
                    [a, b, n] => {
                        let (a, b) = (number(a)?, number(b)?);
                        // Steps between infinite ends would be NaN.
                        if !(a.is_finite() && b.is_finite()) {
                            return Err(bad(format!(
                                "the ends of a:b:n must be finite numbers, not {a} and {b}; \
                                 list the values instead (e.g. 10,100,inf)"
                            )));
                        }
                        let n = limits::parse_count(n, "level count", limits::MAX_LEVELS)
                            .ok()
                            .filter(|&n| n >= 2)
                            .ok_or_else(|| {
                                bad(format!(
                                    "'{n}' must be a count from 2 to {} in a:b:n",
                                    limits::MAX_LEVELS
                                ))
                            })?;
                        (0..n)
                            .map(|i| a + (b - a) * i as f64 / (n - 1) as f64)
                            .collect()
                    }
                    [list] => list.split(',').map(number).collect::<Result<_>>()?,
                    _ => {
                        return Err(bad(format!(
                            "'{text}' is neither a:b:n nor a comma-separated list"
                        )));
                    }
                }
            }
        };
        // `inf` is allowed: it is Poisson noise's identity gain; each
        // perturbation refuses the values it cannot take.
        if values.is_empty() || values.iter().any(|v| v.is_nan() || *v == f64::NEG_INFINITY) {
            return Err(bad("give at least one value, each a number or inf".into()));
        }
        if values.len() > limits::MAX_LEVELS {
            return Err(bad(format!(
                "{} levels; a sweep has at most {}",
                values.len(),
                limits::MAX_LEVELS
            )));
        }
        Ok(in_order(values))
    }
}

/// A sweep's values in an order its statistics can read: as given when they
/// run one way (up, or down as in `saturation=1:0:5`, repeats allowed),
/// else in increasing order. The threshold crossing and the range change
/// read the levels in order, so a list that goes up and down
/// (`rotate=180,0,30`) would make them depend on how it was written: the
/// crossing 180 degrees instead of 42 for the same scores.
pub fn in_order(mut values: Vec<f64>) -> Vec<f64> {
    let runs = |keep: fn(&f64, &f64) -> bool| values.windows(2).all(|w| keep(&w[0], &w[1]));
    if !(runs(|a, b| a <= b) || runs(|a, b| a >= b)) {
        values.sort_by(f64::total_cmp);
    }
    values
}

impl GridSpec {
    /// Parses the command line's `NAME=SPEC,NAME=SPEC`, e.g.
    /// `rotate=0:90:7,blur=0:2:5` or `psf(profile=moffat,beta=3)=0,1,2,magnitude=0,1`:
    /// a comma outside parentheses followed by a text holding `=` starts the
    /// second perturbation, any other continues the first's list of values.
    pub fn parse(text: &str) -> Result<GridSpec> {
        let mut parts: Vec<String> = Vec::new();
        let (mut depth, mut piece) = (0i32, String::new());
        for c in text.chars().chain([',']) {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if c == ',' && depth == 0 {
                match parts.last_mut() {
                    Some(last) if !piece.contains('=') => {
                        last.push(',');
                        last.push_str(&piece);
                    }
                    _ => parts.push(piece.clone()),
                }
                piece.clear();
            } else {
                piece.push(c);
            }
        }
        let perturb = parts
            .iter()
            .map(|p| SweepSpec::parse(p))
            .collect::<Result<Vec<_>>>()?;
        let spec = GridSpec { perturb };
        spec.check()?;
        Ok(spec)
    }

    /// Refuses a grid of other than two perturbations.
    pub fn check(&self) -> Result<()> {
        if self.perturb.len() != 2 {
            let names: Vec<&str> = self.perturb.iter().map(|p| p.name.as_str()).collect();
            return Err(Error::invalid(
                format!("grid of [{}]", names.join(", ")),
                format!(
                    "a grid varies exactly two perturbations, {} given; e.g. --grid rotate=0:90:7,blur=0:2:5",
                    self.perturb.len()
                ),
            ));
        }
        Ok(())
    }
}

impl PropertySpec {
    /// Parses the command line's `COLUMN` or `COLUMN=BINS`.
    pub fn parse(text: &str) -> PropertySpec {
        match text.split_once('=') {
            Some((column, bins)) => PropertySpec {
                column: column.to_string(),
                bins: bins.to_string(),
            },
            None => PropertySpec {
                column: text.to_string(),
                bins: auto(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_lists_give_the_levels() {
        let spec = SweepSpec::parse("rotate=0:180:5").unwrap();
        assert_eq!(spec.levels().unwrap(), vec![0.0, 45.0, 90.0, 135.0, 180.0]);
        let spec = SweepSpec::parse("psf(profile=moffat, beta=3)=0,0.5,2").unwrap();
        assert_eq!(spec.name, "psf");
        assert_eq!(spec.levels().unwrap(), vec![0.0, 0.5, 2.0]);
        assert_eq!(spec.option_text()["beta"], "3");
        // A value holding commas (occlude's X,Y) stays whole.
        let spec = SweepSpec::parse("occlude(position=10,12, fill=0.5)=0,4").unwrap();
        assert_eq!(spec.option_text()["position"], "10,12");
        assert_eq!(spec.option_text()["fill"], "0.5");
        assert_eq!(spec.levels().unwrap(), vec![0.0, 4.0]);
        for bad in [
            "rotate",
            "rotate=0:1",
            "rotate=0:1:1",
            "blur=a,b",
            "psf(beta)=1",
            "psf(beta=3=1",
        ] {
            assert!(SweepSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn config_errors_are_one_line_naming_the_line_or_the_key() {
        let error = |text: &str| ProbeConfig::parse(text).err().unwrap();
        for (text, wants) in [
            (
                "model = 3",
                &["invalid type: integer `3`", "in `model`"][..],
            ),
            ("model = \"m.onnx\"\nseed = [", &["line 2: "][..]),
            ("seed = \"é\"é", &["line 1: "][..]),
            (
                "[[data]]\nname = \"sims\"\npath = 7",
                &["[[data]] 'sims': ", "in `path`"][..],
            ),
        ] {
            let error = error(text);
            assert!(!error.contains('\n'), "{text}: not one line: {error}");
            for want in wants {
                assert!(error.contains(want), "{text}: '{want}' not in: {error}");
            }
        }
    }

    #[test]
    fn a_sweep_that_runs_one_way_keeps_its_order_and_one_that_does_not_is_sorted() {
        let levels = |text: &str| SweepSpec::parse(text).unwrap().levels().unwrap();
        assert_eq!(levels("saturation=1:0:3"), vec![1.0, 0.5, 0.0]);
        assert_eq!(levels("flip=0,1,1"), vec![0.0, 1.0, 1.0]);
        assert_eq!(
            levels("poisson-noise=inf,100,10"),
            vec![f64::INFINITY, 100.0, 10.0]
        );
        assert_eq!(
            levels("rotate=180,0,30,150,90"),
            vec![0.0, 30.0, 90.0, 150.0, 180.0]
        );
        assert_eq!(levels("brightness=1,0.5,1.5"), vec![0.5, 1.0, 1.5]);
    }

    #[test]
    fn sweeps_in_a_config_are_tables_or_the_command_lines_text() {
        let config = ProbeConfig::parse(
            r#"perturb = ["rotate(fill=1)=0:90:3", { name = "blur", values = [0, 1] }]"#,
        )
        .unwrap();
        let text = SweepSpec::parse("rotate(fill=1)=0:90:3").unwrap();
        assert_eq!(config.perturb[0].name, text.name);
        assert_eq!(config.perturb[0].levels().unwrap(), text.levels().unwrap());
        assert_eq!(config.perturb[0].option_text(), text.option_text());
        assert_eq!(config.perturb[1].levels().unwrap(), vec![0.0, 1.0]);
        let error = |text: &str| ProbeConfig::parse(text).err().unwrap();
        for (text, wants) in [
            // A table's mistake keeps its own message.
            (
                "[[perturb]]\nname = \"rotate\"\nvaluez = \"0:90:3\"",
                &["unknown field `valuez`", "in `perturb`"][..],
            ),
            (
                "perturb = [\"rotate=0:90\"]",
                &["'0:90' is neither a:b:n", "in `perturb`"][..],
            ),
            (
                "perturb = [3]",
                &["a [[perturb]] table", "\"rotate=0:180:10\""][..],
            ),
            // Values of mixed kinds: what values may be, not serde's
            // "did not match any variant of untagged enum Values".
            (
                "[[perturb]]\nname = \"rotate\"\nvalues = [\"0\", 90]",
                &[
                    "a list of numbers (values = [0, 90, 180])",
                    "in `perturb.values`",
                ][..],
            ),
            // A grid's tables too.
            (
                "[[grid]]\nperturb = [{ name = \"rotate\", values = [0, 90] }, { name = \"blur\", valuez = [0, 1] }]",
                &["unknown field `valuez`", "in `grid.perturb`"][..],
            ),
            (
                "[[grid]]\nperturb = 3",
                &[
                    "a list of two perturbations",
                    "\"rotate=0:90:7,blur=0:2:5\"",
                ][..],
            ),
        ] {
            let error = error(text);
            for want in wants {
                assert!(error.contains(want), "{text}: '{want}' not in: {error}");
            }
        }
    }

    #[test]
    fn paths_in_a_config_file_are_taken_from_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("examples/lens");
        std::fs::create_dir_all(&folder).unwrap();
        let file = folder.join("probe.toml");
        let absolute = dir.path().join("abs.onnx");
        std::fs::write(
            &file,
            format!(
                "model = {:?}\nout = \"../../out/lens\"\n[data]\npath = \"data/test.npz\"\nmetadata = \"./meta.csv\"\n[[perturb]]\nname = \"psf\"\nvalues = [1]\noptions = {{ kernel = \"psf.npy\" }}\n",
                absolute.to_str().unwrap()
            ),
        )
        .unwrap();
        let config = ProbeConfig::read(&file).unwrap();
        assert_eq!(config.model, absolute);
        assert_eq!(config.out, dir.path().join("out/lens"));
        assert_eq!(config.data.path, folder.join("data/test.npz"));
        assert_eq!(config.data.metadata, Some(folder.join("meta.csv")));
        assert_eq!(
            config.perturb[0].option_text()["kernel"],
            folder.join("psf.npy").to_str().unwrap()
        );
        let err = ProbeConfig::read(&folder.join("missing.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.toml"), "{err}");
    }

    /// `bins = 5` was refused ("invalid type: integer `5`, expected a
    /// string"), though a number of bins is what TOML writes as a number.
    #[test]
    fn a_propertys_bins_may_be_a_number_or_text() {
        let bins = |value: &str| {
            ProbeConfig::parse(&format!("[[property]]\ncolumn = \"z\"\nbins = {value}"))
                .unwrap()
                .property[0]
                .bins
                .clone()
        };
        assert_eq!(bins("5"), "5");
        assert_eq!(bins("\"5\""), "5");
        assert_eq!(bins("\"q4\""), "q4");
        let err = ProbeConfig::parse("[[property]]\ncolumn = \"z\"\nbins = 2.5")
            .err()
            .unwrap();
        assert!(err.contains("number of bins"), "{err}");
    }

    #[test]
    fn a_toml_config_fills_every_section() {
        let text = r#"
            model = "m.onnx"
            out = "res"
            classes = true
            [data]
            path = "x.npy"
            labels = "y.npy"
            layout = "nhwc"
            [preprocess]
            scale = 0.5
            [[perturb]]
            name = "rotate"
            values = [0, 90]
            options = { fill = 1, interpolation = "nearest" }
            [[perturb]]
            name = "blur"
            values = "0:2:3"
            [[property]]
            column = "mag"
        "#;
        let config: ProbeConfig = toml::from_str(text).unwrap();
        let grid: GridSpec =
            toml::from_str("perturb = \"rotate=0,90,blur(mode=reflect)=0:2:3\"").unwrap();
        assert_eq!(grid.perturb[1].levels().unwrap(), vec![0.0, 1.0, 2.0]);
        assert_eq!(grid.perturb[1].option_text()["mode"], "reflect");
        assert!(toml::from_str::<GridSpec>("perturb = \"rotate=0,90\"").is_err());
        let mixed: GridSpec = toml::from_str(
            "perturb = [\"blur(mode=reflect)=0:2:3\", { name = \"rotate\", values = [0, 90] }]",
        )
        .unwrap();
        assert_eq!(mixed.perturb[0].option_text()["mode"], "reflect");
        assert_eq!(mixed.perturb[1].levels().unwrap(), vec![0.0, 90.0]);
        assert_eq!(config.perturb[0].levels().unwrap(), vec![0.0, 90.0]);
        assert_eq!(config.perturb[0].option_text()["fill"], "1");
        assert_eq!(config.perturb[1].levels().unwrap(), vec![0.0, 1.0, 2.0]);
        assert_eq!(config.property[0].bins, "auto");
        assert_eq!(config.batch_size, 32);
        assert_eq!(config.data.layout, Some(crate::model::Layout::Nhwc));
        let survey: ProbeConfig = toml::from_str("[data]\npath = \"cutouts\"\nbands = [\"g\", \"r\", \"i\"]\nhdu = \"SCI\"\nmask_hdu = 3\nweight_hdu = \"WEIGHT\"").unwrap();
        let extensions = survey.data.extensions();
        assert_eq!(
            extensions.science,
            Some(crate::data::Hdu::Name("SCI".into()))
        );
        assert_eq!(
            (extensions.mask, extensions.weight),
            (
                Some(crate::data::Hdu::Index(3)),
                Some(crate::data::Hdu::Name("WEIGHT".into()))
            )
        );
    }
}
