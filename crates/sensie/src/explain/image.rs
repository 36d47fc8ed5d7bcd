//! The geometry of an image input, in either layout, and the image
//! operations the methods share: per-pixel views of an example and the
//! Gaussian blur of a blurred baseline.

use std::collections::BTreeMap;
use std::ops::Range;

use ndarray::{
    Array2, Array3, ArrayBase, ArrayView2, ArrayView3, ArrayViewD, ArrayViewMutD, Axis, Ix3, IxDyn,
    RawData, Slice,
};

use crate::model::{Layout, Model};
use crate::perturb;
use crate::rng::SeededRng;
use crate::{Error, Result};

/// Where the channels, rows and columns of one example are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Geometry {
    /// Where the channels are in the model's input.
    pub layout: Layout,
    /// Bands of one example.
    pub channels: usize,
    /// Rows of one example.
    pub height: usize,
    /// Columns of one example.
    pub width: usize,
}

impl Geometry {
    /// The model's image geometry, or an error naming `what` needs it.
    pub fn of(model: &Model, what: &str) -> Result<Geometry> {
        let info = model.info();
        match (info.layout, info.image_size()) {
            (Some(layout), Some((channels, height, width))) => Ok(Geometry {
                layout,
                channels,
                height,
                width,
            }),
            _ => Err(Error::invalid(
                what,
                format!(
                    "needs a 4-D image input with static sizes; input '{}' has shape {:?}",
                    info.input.name, info.input.shape
                ),
            )),
        }
    }

    /// The channel axis of one example (C x H x W or H x W x C); of a batch,
    /// the next one.
    pub fn channel_axis(&self) -> Axis {
        match self.layout {
            Layout::Nchw => Axis(0),
            Layout::Nhwc => Axis(2),
        }
    }

    /// The Gaussian blur (sigma in pixels) of a blurred baseline or of the
    /// insertion curve's start when none is given: a tenth of the image's
    /// larger side, which removes the detail a classifier reads and keeps
    /// the overall light.
    pub fn default_blur(&self) -> f32 {
        self.height.max(self.width) as f32 / 10.0
    }

    /// One example (a view, mutable or not) as C x H x W, whatever the layout.
    pub fn chw<S: RawData<Elem = f32>>(&self, example: ArrayBase<S, IxDyn>) -> ArrayBase<S, Ix3> {
        let example = example
            .into_dimensionality::<Ix3>()
            .expect("an example of a 4-D input is 3-D");
        match self.layout {
            Layout::Nchw => example,
            Layout::Nhwc => example.permuted_axes([2, 0, 1]),
        }
    }

    /// The rows x cols region of one example, all channels.
    pub fn region_mut<'a>(
        &self,
        example: ArrayViewMutD<'a, f32>,
        rows: Range<usize>,
        cols: Range<usize>,
    ) -> ArrayViewMutD<'a, f32> {
        let (r, c) = match self.layout {
            Layout::Nchw => (1, 2),
            Layout::Nhwc => (0, 1),
        };
        let mut region = example;
        region.slice_axis_inplace(Axis(r), Slice::from(rows));
        region.slice_axis_inplace(Axis(c), Slice::from(cols));
        region
    }

    /// A per-pixel value of one example: the sum over its channels (H x W).
    pub fn pixel_sum(&self, example: ArrayViewD<f32>) -> Array2<f32> {
        example
            .sum_axis(self.channel_axis())
            .into_dimensionality()
            .expect("3-D minus one axis")
    }

    /// `example * map` with an H x W map applied to every channel.
    pub fn scale_pixels(&self, mut example: ArrayViewMutD<f32>, map: ArrayView2<f32>) {
        for mut channel in example.axis_iter_mut(self.channel_axis()) {
            channel *= &map;
        }
    }

    /// An H x W map copied to every channel, in the example's layout.
    pub fn spread(&self, mut example: ArrayViewMutD<f32>, map: ArrayView2<f32>) {
        for mut channel in example.axis_iter_mut(self.channel_axis()) {
            channel.assign(&map);
        }
    }
}

/// Each band of a C x H x W image blurred by a Gaussian of `sigma` pixels:
/// the `blur` perturbation (flux-conserving, edges reflected), for the
/// blurred baseline of Integrated Gradients and the starting image of the
/// insertion curve (Petsiuk et al. 2018).
pub fn gaussian_blur(image: ArrayView3<f32>, sigma: f32) -> Result<Array3<f32>> {
    let blur = perturb::build("blur", &BTreeMap::new())?;
    blur.apply(image, f64::from(sigma), &mut SeededRng::new(0, &[]))
}
