//! `saliency`: Simonyan et al. (2014)'s saliency map, the largest absolute
//! gradient over an input pixel's channels. One channel, kept as a length-1
//! channel axis so the map has the input's layout.

use ndarray::{ArrayViewD, Axis};

use super::{Attribution, Geometry, Method, Targets, input_gradient};
use crate::Result;
use crate::autodiff::Standard;
use crate::engine::Engine;

/// Saliency (Simonyan et al. 2014): the absolute gradient, its largest
/// value over the channels.
pub struct Saliency;

impl Method for Saliency {
    fn name(&self) -> &str {
        "saliency"
    }

    fn attribute(
        &self,
        engine: &mut Engine,
        inputs: ArrayViewD<f32>,
        targets: &Targets,
    ) -> Result<Attribution> {
        let geometry = Geometry::of(engine.model(), "saliency")?;
        let grad = input_gradient(engine, inputs, targets, &Standard)?;
        let channels = Axis(geometry.channel_axis().index() + 1);
        let map = grad
            .map_axis(channels, |g| g.iter().fold(0.0f32, |m, v| m.max(v.abs())))
            .insert_axis(channels);
        Ok(Attribution::pixels(map))
    }
}
