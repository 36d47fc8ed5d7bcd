//! What a probe needs of a model: a description and a forward pass.
//!
//! A probe only runs its model forward, so it works through [`Predictor`]:
//! the ONNX [`Engine`] is one, and the Python package's wrapper of a plain
//! Python function `f(x) -> scores` is another, so a user can probe a model
//! that is not ONNX at all. Attributions and feature visualisation need
//! gradients, which only the engine's graphs give: they take an [`Engine`].

use std::path::Path;

use ndarray::{Array2, ArrayViewD};

use crate::Result;
use crate::engine::Engine;
use crate::model::{Model, ModelInfo};

/// What a report says about a model: its input, layout, outputs and output
/// kind, where it came from, and the class names it carries.
pub trait Described {
    /// The input, layout, outputs and output kind.
    fn info(&self) -> &ModelInfo;
    /// The model's file, or a name standing for it.
    fn path(&self) -> &Path;
    /// The class names the model carries, if any.
    fn class_names(&self) -> Option<Vec<String>>;
}

/// A model that scores batches: N inputs in the layout of
/// [`Described::info`], N rows of its first output out.
pub trait Predictor: Described {
    /// The model's first output for a batch, N x K.
    fn predict(&mut self, batch: ArrayViewD<f32>) -> Result<Array2<f32>>;
    /// The threads the model's operators use (0: one per core), which the
    /// probe's producer shares the cores with.
    fn threads(&self) -> usize;
    /// Forward passes that run at the same time, each on a thread of its
    /// own: the probe's workers, each perturbing a batch and running it (an
    /// engine's forward sessions, see [`Engine::with_workers`]). None (the
    /// default) for a predictor that runs one batch at a time, such as a
    /// Python function, which holds the interpreter's lock.
    fn forwards(&mut self) -> Vec<Box<dyn Forward + '_>> {
        Vec::new()
    }
}

/// A forward pass that one thread holds at a time: N inputs in, N rows of
/// the first output out, as [`Predictor::predict`].
pub trait Forward: Send {
    /// The model's first output for a batch, N x K.
    fn predict(&mut self, batch: ArrayViewD<f32>) -> Result<Array2<f32>>;
}

impl Forward for crate::engine::Forward<'_> {
    fn predict(&mut self, batch: ArrayViewD<f32>) -> Result<Array2<f32>> {
        crate::engine::Forward::predict(self, batch)
    }
}

impl Described for Model {
    fn info(&self) -> &ModelInfo {
        Model::info(self)
    }
    fn path(&self) -> &Path {
        Model::path(self)
    }
    fn class_names(&self) -> Option<Vec<String>> {
        Model::class_names(self)
    }
}

impl Described for Engine {
    fn info(&self) -> &ModelInfo {
        self.model().info()
    }
    fn path(&self) -> &Path {
        self.model().path()
    }
    fn class_names(&self) -> Option<Vec<String>> {
        self.model().class_names()
    }
}

impl Predictor for Engine {
    fn predict(&mut self, batch: ArrayViewD<f32>) -> Result<Array2<f32>> {
        Engine::predict(self, batch)
    }
    fn threads(&self) -> usize {
        self.options().threads
    }
    fn forwards(&mut self) -> Vec<Box<dyn Forward + '_>> {
        Engine::forwards(self)
            .into_iter()
            .map(|f| Box::new(f) as Box<dyn Forward>)
            .collect()
    }
}
