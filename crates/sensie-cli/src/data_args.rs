//! The data and preprocessing flags that `probe` and `explain` share: where
//! the test data is and how to read it ([`DataSpec`]), and the declared step
//! from raw images to the model's input ([`Preprocess`]).

use std::path::PathBuf;

use sensie::data::{DataSpec, Hdu};
use sensie::model::Layout;
use sensie::preprocess::{Fit, Preprocess};
use sensie::probe::NamedData;
use sensie::{Error, Result};

#[derive(clap::Args, Debug)]
pub struct DataArgs {
    /// Test data: a class folder, .npz, .npy or FITS file, or a per-band path with {band}.
    /// probe: NAME=PATH, repeated, names data sets to compare (every test runs on each).
    #[arg(long)]
    pub data: Vec<String>,
    /// Labels (.npy) for .npy and FITS images; NAME=PATH for one named data set.
    #[arg(long)]
    pub labels: Vec<String>,
    /// Take the labels from this metadata column.
    #[arg(long)]
    pub label_column: Option<String>,
    /// A CSV of per-example properties; NAME=PATH for one named data set.
    #[arg(long)]
    pub metadata: Vec<String>,
    /// The metadata column naming each example (rows join by order without it).
    #[arg(long)]
    pub metadata_key: Option<String>,
    /// Layout of a 4-D image array in its file: nchw or nhwc (guessed if absent).
    #[arg(long, value_parser = Layout::parse)]
    pub data_layout: Option<Layout>,
    /// Names of the image and label arrays in an .npz.
    #[arg(long)]
    pub npz_x: Option<String>,
    #[arg(long)]
    pub npz_y: Option<String>,
    /// Band names, e.g. g,r,i: per-band FITS files, or the bands of FITS cubes and
    /// multi-extension files picked and ordered by their header (FILTERn, BANDn, FILTER per extension).
    #[arg(long, value_delimiter = ',')]
    pub bands: Vec<String>,
    /// The FITS HDU holding the image: EXTNAME (e.g. SCI) or index (0 = primary); default the first image.
    #[arg(long, value_parser = parse_hdu)]
    pub hdu: Option<Hdu>,
    /// A FITS mask HDU (EXTNAME or index): nonzero pixels are bad, treated as NaN pixels.
    #[arg(long, value_parser = parse_hdu)]
    pub mask_hdu: Option<Hdu>,
    /// A FITS weight HDU (EXTNAME or index): pixels of zero weight are bad, treated as NaN pixels.
    #[arg(long, value_parser = parse_hdu)]
    pub weight_hdu: Option<Hdu>,
    /// Class names in the model's index order, e.g. nonlens,lens: text labels
    /// (a word column, class folders) are numbered by them (default: the
    /// model's own names from its metadata, else sorted order).
    #[arg(long, value_delimiter = ',')]
    pub class_names: Vec<String>,
    /// Keep only the examples whose metadata column has this value, COLUMN=VALUE (e.g. class=lens).
    #[arg(long)]
    pub only: Option<String>,
    /// Leave out images with NaN, infinite or bad (masked, zero-weight) pixels instead of refusing the data.
    #[arg(long)]
    pub skip_bad: bool,
    /// Multiply raw pixel values by this before the model (e.g. 0.00392 for 1/255).
    #[arg(long)]
    pub scale: Option<f32>,
    /// Per-channel mean subtracted after scaling (one value, or one per channel).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub mean: Vec<f32>,
    /// Per-channel standard deviation divided after the mean.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true, value_parser = positive)]
    pub std: Vec<f32>,
    /// How images reach the model's input size: resize or crop.
    #[arg(long, value_parser = parse_fit)]
    pub fit: Option<Fit>,
    /// Let --fit resize change the images' aspect ratio.
    #[arg(long)]
    pub allow_aspect_change: bool,
}

/// A flag's value split into a data set's name and a path, when it reads
/// `NAME=PATH` with a name of letters, digits, '-', '_' and '.' (a path
/// holding '=' is written `./a=b` to be read whole).
fn named(text: &str) -> Option<(&str, PathBuf)> {
    let (name, path) = text.split_once('=')?;
    let is_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    is_name.then(|| (name, PathBuf::from(path)))
}

/// A flag's plain value (at most one) and its `NAME=PATH` values.
type Split<'a> = (Option<PathBuf>, Vec<(&'a str, PathBuf)>);

/// The plain values of a flag (at most one) and its `NAME=PATH` ones.
fn split<'a>(flag: &str, values: &'a [String]) -> Result<Split<'a>> {
    let (with_name, plain): (Vec<&String>, Vec<&String>) =
        values.iter().partition(|v| named(v).is_some());
    if plain.len() > 1 {
        return Err(Error::invalid(
            format!("--{flag} {}", plain[1]),
            format!("--{flag} is given twice; to compare data sets, name each: --{flag} NAME=PATH"),
        ));
    }
    Ok((
        plain.first().map(PathBuf::from),
        with_name.into_iter().filter_map(|v| named(v)).collect(),
    ))
}

impl DataArgs {
    /// Puts the flags that were given over `spec` and `preprocess` (a config
    /// file's values, or the defaults); list flags replace, switches add.
    /// Refuses named data sets (`--data NAME=PATH`), which only probe compares.
    pub fn merge(&self, spec: &mut DataSpec, preprocess: &mut Preprocess) -> Result<()> {
        let sets = self.merge_named(spec, &mut Vec::new(), preprocess)?;
        if let Some(set) = sets.first() {
            return Err(Error::invalid(
                format!("--data {}={}", set.name, set.spec.path.display()),
                "only probe compares named data sets; give one --data PATH",
            ));
        }
        Ok(())
    }

    /// [`DataArgs::merge`] for a run that may compare data sets: the shared
    /// flags go over `spec` and over each of `sets` (a config's `[[data]]`
    /// tables); each `--data NAME=PATH` adds a set (with `spec`'s settings)
    /// or replaces a set's path, and `--labels NAME=PATH` and `--metadata
    /// NAME=PATH` go to that set. Returns the sets.
    pub fn merge_named(
        &self,
        spec: &mut DataSpec,
        sets: &mut Vec<NamedData>,
        preprocess: &mut Preprocess,
    ) -> Result<Vec<NamedData>> {
        let (data, named_data) = split("data", &self.data)?;
        let (labels, named_labels) = split("labels", &self.labels)?;
        let (metadata, named_metadata) = split("metadata", &self.metadata)?;
        if let (Some(path), Some((name, _))) = (&data, named_data.first()) {
            return Err(Error::invalid(
                format!("--data {}", path.display()),
                format!("give every data set a name (NAME=PATH) when comparing, as '{name}' has"),
            ));
        }
        let shared = |spec: &mut DataSpec| {
            if let Some(path) = &data {
                spec.path = path.clone();
            }
            self.apply(spec, labels.clone(), metadata.clone());
        };
        shared(spec);
        sets.iter_mut().for_each(|s| shared(&mut s.spec));
        for (name, path) in named_data {
            match sets.iter_mut().find(|s| s.name == name) {
                Some(set) => set.spec.path = path,
                None => sets.push(NamedData {
                    name: name.to_string(),
                    spec: DataSpec {
                        path,
                        ..spec.clone()
                    },
                }),
            }
        }
        for (flag, values) in [("labels", named_labels), ("metadata", named_metadata)] {
            for (name, path) in values {
                let set = sets.iter_mut().find(|s| s.name == name).ok_or_else(|| {
                    Error::invalid(
                        format!("--{flag} {name}={}", path.display()),
                        format!("no data set is named '{name}'; name it with --data {name}=PATH"),
                    )
                })?;
                match flag {
                    "labels" => set.spec.labels = Some(path),
                    _ => set.spec.metadata = Some(path),
                }
            }
        }
        self.apply_preprocess(preprocess);
        Ok(std::mem::take(sets))
    }

    /// The data flags other than the path over one data set's settings.
    fn apply(&self, spec: &mut DataSpec, labels: Option<PathBuf>, metadata: Option<PathBuf>) {
        fn set<T: Clone>(slot: &mut T, value: &Option<T>) {
            if let Some(v) = value {
                *slot = v.clone();
            }
        }
        set(&mut spec.x, &self.npz_x);
        set(&mut spec.y, &self.npz_y);
        spec.labels = labels.or(spec.labels.take());
        spec.label_column = self.label_column.clone().or(spec.label_column.take());
        spec.metadata = metadata.or(spec.metadata.take());
        spec.metadata_key = self.metadata_key.clone().or(spec.metadata_key.take());
        spec.only = self.only.clone().or(spec.only.take());
        spec.layout = self.data_layout.or(spec.layout);
        if !self.bands.is_empty() {
            spec.bands = self.bands.clone();
        }
        spec.hdu = self.hdu.clone().or(spec.hdu.take());
        spec.mask_hdu = self.mask_hdu.clone().or(spec.mask_hdu.take());
        spec.weight_hdu = self.weight_hdu.clone().or(spec.weight_hdu.take());
        if !self.class_names.is_empty() {
            spec.class_names = Some(self.class_names.clone());
        }
        spec.skip_bad |= self.skip_bad;
    }

    fn apply_preprocess(&self, preprocess: &mut Preprocess) {
        if let Some(scale) = self.scale {
            preprocess.scale = scale;
        }
        if let Some(fit) = self.fit {
            preprocess.fit = fit;
        }
        preprocess.allow_aspect_change |= self.allow_aspect_change;
        if !self.mean.is_empty() {
            preprocess.mean = self.mean.clone();
        }
        if !self.std.is_empty() {
            preprocess.std = self.std.clone();
        }
    }
}

fn parse_hdu(text: &str) -> Result<Hdu> {
    text.parse()
}

/// A clap parser for a count flag: a whole number (`1000` or `1e3`) from
/// `min` to `limit` (one of [`sensie::limits`]), refused with the bound named.
pub fn count(
    what: &'static str,
    min: usize,
    limit: usize,
) -> impl Fn(&str) -> Result<usize> + Clone + Send + Sync + 'static {
    move |text| {
        let value = sensie::limits::parse_count(text, what, limit)?;
        if value < min {
            return Err(Error::invalid(
                format!("{what} {value}"),
                format!("must be at least {min}"),
            ));
        }
        Ok(value)
    }
}

/// A clap parser for a number that must be finite (NaN would silently drop
/// a threshold or fill a map with NaN).
pub fn finite<T: std::str::FromStr + Into<f64> + Copy>(
    text: &str,
) -> std::result::Result<T, String> {
    match text.trim().parse::<T>() {
        Ok(v) if v.into().is_finite() => Ok(v),
        Ok(_) => Err(format!("'{text}' is not finite; give a number")),
        Err(_) => Err(format!("'{text}' is not a number")),
    }
}

/// A clap parser for a standard deviation (`--std`, a Gaussian's sigma): a
/// finite number above 0 (a negative `--std` would flip every image's sign,
/// 0 divide by zero; a blur of sigma 0 changes nothing, so its maps are 0).
pub fn positive(text: &str) -> std::result::Result<f32, String> {
    match finite::<f32>(text)? {
        v if v > 0.0 => Ok(v),
        _ => Err(format!(
            "'{text}' is not above 0; a standard deviation (sigma) must be positive"
        )),
    }
}

/// A clap parser for an example index (0-based), so that `-1` gets a clear
/// answer instead of being taken for a flag.
pub fn index(text: &str) -> std::result::Result<usize, String> {
    text.trim().parse::<usize>().map_err(|_| format!("'{text}' is not an example index; indices count from 0 (the first example of the data file)"))
}

fn parse_fit(text: &str) -> Result<Fit> {
    match text {
        "resize" => Ok(Fit::Resize),
        "crop" => Ok(Fit::Crop),
        _ => Err(Error::unknown("fit", text, ["resize", "crop"])),
    }
}
