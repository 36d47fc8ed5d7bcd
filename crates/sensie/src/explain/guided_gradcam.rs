//! `guided-gradcam` (Selvaraju et al. 2017): guided backprop's
//! pixel-resolution map times the Grad-CAM map upsampled to the input, so
//! that fine detail is shown only where the class's evidence lies. Captum's
//! `GuidedGradCam` with `interpolate_mode="bilinear"` (its default,
//! "nearest", leaves blocks of the layer's resolution in the map).

use ndarray::{ArrayViewD, Axis};

use super::{Attribution, Geometry, Method, Targets, gradcam, input_gradient};
use crate::Result;
use crate::autodiff::GuidedBackprop;
use crate::engine::Engine;

/// Guided Grad-CAM: guided backpropagation's map times the Grad-CAM map.
pub struct GuidedGradCam {
    /// `None`: the last convolutional layer.
    pub layer: Option<String>,
}

impl Method for GuidedGradCam {
    fn name(&self) -> &str {
        "guided-gradcam"
    }

    fn attribute(
        &self,
        engine: &mut Engine,
        inputs: ArrayViewD<f32>,
        targets: &Targets,
    ) -> Result<Attribution> {
        let (_, _, cam) =
            gradcam::cam(engine, inputs.view(), targets, self.layer.as_deref(), false)?;
        let geometry = Geometry::of(engine.model(), "guided Grad-CAM")?;
        let mut map = input_gradient(engine, inputs, targets, &GuidedBackprop)?;
        for (example, cam) in map.axis_iter_mut(Axis(0)).zip(cam.axis_iter(Axis(0))) {
            geometry.scale_pixels(example, cam);
        }
        Ok(Attribution::pixels(map))
    }
}
