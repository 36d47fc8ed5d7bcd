//! The order of the axes of a batch of images.
//!
//! Inside sensie, raw images are always N x C x H x W: perturbations and
//! statistics are written once, for that order. Files and models come in
//! either order, so the layout is named where they meet: when a data file is
//! read ([`crate::data`]) and when a batch is prepared for a model
//! ([`crate::preprocess`]).

use serde::Deserialize;

use crate::{Error, Result};

/// Where the channel axis sits in a 4-D batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// N x C x H x W (PyTorch, ONNX's convolution convention).
    Nchw,
    /// N x H x W x C (TensorFlow, Keras, most image files).
    Nhwc,
}

impl Layout {
    /// Reads `nchw` or `nhwc` (any case), as given to `--data-layout` or `layout`.
    pub fn parse(text: &str) -> Result<Self> {
        match text.to_ascii_lowercase().as_str() {
            "nchw" => Ok(Layout::Nchw),
            "nhwc" => Ok(Layout::Nhwc),
            _ => Err(Error::unknown("layout", text, ["nchw", "nhwc"])),
        }
    }

    /// The name used on the command line and in results.
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Nchw => "nchw",
            Layout::Nhwc => "nhwc",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_layouts_and_names_the_valid_ones_otherwise() {
        assert_eq!(Layout::parse("NHWC").unwrap(), Layout::Nhwc);
        assert_eq!(Layout::parse("nchw").unwrap(), Layout::Nchw);
        let message = Layout::parse("nwhc").unwrap_err().to_string();
        assert!(message.contains("nchw, nhwc"), "{message}");
    }
}
