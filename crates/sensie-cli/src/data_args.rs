//! The data and preprocessing flags that `probe` and `explain` share: where
//! the test data is and how to read it ([`DataSpec`]), and the declared step
//! from raw images to the model's input ([`Preprocess`]).

use std::path::PathBuf;

use sensie::data::{DataSpec, Hdu};
use sensie::model::Layout;
use sensie::preprocess::{Fit, Preprocess};
use sensie::{Error, Result};

#[derive(clap::Args, Debug)]
pub struct DataArgs {
    /// Test data: a class folder, .npz, .npy or FITS file, or a per-band path with {band}.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Labels (.npy) for .npy and FITS images.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Take the labels from this metadata column.
    #[arg(long)]
    pub label_column: Option<String>,
    /// A CSV of per-example properties.
    #[arg(long)]
    pub metadata: Option<PathBuf>,
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
    #[arg(long, value_delimiter = ',')]
    pub std: Vec<f32>,
    /// How images reach the model's input size: resize or crop.
    #[arg(long, value_parser = parse_fit)]
    pub fit: Option<Fit>,
    /// Let --fit resize change the images' aspect ratio.
    #[arg(long)]
    pub allow_aspect_change: bool,
}

impl DataArgs {
    /// Puts the flags that were given over `spec` and `preprocess` (a config
    /// file's values, or the defaults); list flags replace, switches add.
    pub fn merge(self, spec: &mut DataSpec, preprocess: &mut Preprocess) {
        fn set<T>(slot: &mut T, value: Option<T>) {
            if let Some(v) = value {
                *slot = v;
            }
        }
        fn replace<T>(slot: &mut Vec<T>, values: Vec<T>) {
            if !values.is_empty() {
                *slot = values;
            }
        }
        set(&mut spec.path, self.data);
        set(&mut spec.x, self.npz_x);
        set(&mut spec.y, self.npz_y);
        spec.labels = self.labels.or(spec.labels.take());
        spec.label_column = self.label_column.or(spec.label_column.take());
        spec.metadata = self.metadata.or(spec.metadata.take());
        spec.metadata_key = self.metadata_key.or(spec.metadata_key.take());
        spec.only = self.only.or(spec.only.take());
        spec.layout = self.data_layout.or(spec.layout);
        replace(&mut spec.bands, self.bands);
        spec.hdu = self.hdu.or(spec.hdu.take());
        spec.mask_hdu = self.mask_hdu.or(spec.mask_hdu.take());
        spec.weight_hdu = self.weight_hdu.or(spec.weight_hdu.take());
        if !self.class_names.is_empty() {
            spec.class_names = Some(self.class_names);
        }
        spec.skip_bad |= self.skip_bad;
        set(&mut preprocess.scale, self.scale);
        set(&mut preprocess.fit, self.fit);
        preprocess.allow_aspect_change |= self.allow_aspect_change;
        replace(&mut preprocess.mean, self.mean);
        replace(&mut preprocess.std, self.std);
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
            return Err(Error::InvalidInput {
                what: format!("{what} {value}"),
                reason: format!("must be at least {min}"),
            });
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

/// A clap parser for an example index (0-based), so that `-1` gets a clear
/// answer instead of being taken for a flag.
pub fn index(text: &str) -> std::result::Result<usize, String> {
    text.trim().parse::<usize>().map_err(|_| format!("'{text}' is not an example index; indices count from 0 (the first example of the data file)"))
}

fn parse_fit(text: &str) -> Result<Fit> {
    match text {
        "resize" => Ok(Fit::Resize),
        "crop" => Ok(Fit::Crop),
        _ => Err(Error::Unknown {
            what: "fit".into(),
            name: text.into(),
            valid: vec!["resize".into(), "crop".into()],
        }),
    }
}
