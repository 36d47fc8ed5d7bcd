//! Running a model: batched forward passes, feature maps and gradients.
//!
//! An [`Engine`] owns one model and the ONNX Runtime sessions made from it:
//! the forward graph, graphs with intermediate tensors exposed, and
//! forward+backward graphs built by [`crate::autodiff`]. Each session is
//! built once and reused, keyed by what it computes (rule set, score,
//! tensors), so a method that asks for the same gradients again pays only the
//! run.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ndarray::{Array2, ArrayD, ArrayView, ArrayViewD, Axis, Dimension, IxDyn};
use ort::session::Session;

use crate::autodiff::{self, Request, RuleSet};
use crate::graph::{self, Builder, TensorShapes, attr_int};
use crate::model::{Model, OutputKind};
use crate::onnx::{self, ModelProto};
use crate::runtime::{Runtime, SessionOptions, Spinning};
use crate::{Error, Result};

/// The most examples per ONNX Runtime call unless asked otherwise: the
/// default of every command, config and the Python package's explanations.
pub const DEFAULT_BATCH_SIZE: usize = 32;

/// How an engine runs.
#[derive(Clone, Copy, Debug)]
pub struct EngineOptions {
    /// The most examples per ONNX Runtime call: forward passes run fewer at
    /// a time where the batch's input would not fit the cache (`forward_run`).
    pub batch_size: usize,
    /// Threads inside one operator; 0 lets ONNX Runtime choose.
    pub threads: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            batch_size: DEFAULT_BATCH_SIZE,
            threads: 0,
        }
    }
}

/// Which score of each example a gradient is taken of.
///
/// Not `Copy`, because [`Score::Tensor`] names a tensor: clone it to reuse it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Score {
    /// The class logit (the input of a final Softmax, or the output itself
    /// when the model outputs logits). What saliency, Grad-CAM and Captum on
    /// a logit model explain.
    Logit,
    /// The class probability (softmax of the logits).
    Probability,
    /// The model's first output as it is (log-probabilities, a regression
    /// value, ...).
    Output,
    /// Any tensor of the model, by name: a layer's activations, for
    /// activation maximisation of a channel or neuron and for Deep Dream. Its
    /// seed has one row per example holding the tensor's per-example
    /// elements (shaped like the tensor, or flattened).
    Tensor(String),
}

/// What to differentiate, and by which rules.
pub struct GradientRequest<'a> {
    /// The score whose gradient is taken.
    pub score: Score,
    /// The rules of the backward pass (the true gradient, guided backprop, LRP, ...).
    pub rules: &'a dyn RuleSet,
    /// Tensors to differentiate with respect to: the model's input name
    /// and/or intermediate tensor names.
    pub wrt: Vec<String>,
}

/// The result of a gradient run over a batch.
#[derive(Debug)]
pub struct Gradients {
    /// The score tensor, one row per example (N x classes for class
    /// scores; a [`Score::Tensor`] flattened to N x its per-example size).
    pub scores: Array2<f32>,
    /// Per requested tensor: its value.
    pub values: Vec<ArrayD<f32>>,
    /// Per requested tensor: the gradient of the seeded score.
    pub grads: Vec<ArrayD<f32>>,
}

/// A compiled graph and the names of what it reads and writes.
struct Compiled {
    session: Session,
    outputs: Vec<String>,
}

/// Runs one model in ONNX Runtime.
pub struct Engine {
    runtime: Runtime,
    model: Model,
    options: EngineOptions,
    sessions: SessionOptions,
    /// The model, plus a Softmax node when it outputs logits (the probability score).
    prepared: ModelProto,
    probabilities: String,
    shapes: Option<TensorShapes>,
    compiled: HashMap<Graph, Compiled>,
    /// More sessions of the forward graph, for forward passes on several
    /// threads at once ([`Engine::with_workers`]).
    workers: Vec<Compiled>,
    /// Set by the caller to stop the work in hand after its current batch.
    stop: Option<Arc<AtomicBool>>,
}

/// A graph the engine compiles (once) into a session of its own.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Graph {
    /// The model as it is.
    Forward,
    /// The model with these tensors (feature maps) as its outputs.
    Tensors(Vec<String>),
    /// The model, with its probability node, with this score tensor as output.
    Scores(String),
    /// The forward and backward graph of a rule set's gradient of a score
    /// tensor with respect to tensors.
    Gradient {
        rules: String,
        score: String,
        wrt: Vec<String>,
    },
}

impl std::fmt::Display for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Graph::Forward => write!(f, "forward"),
            Graph::Tensors(names) => write!(f, "tensors {}", names.join(", ")),
            Graph::Scores(score) => write!(f, "scores {score}"),
            Graph::Gradient { rules, score, wrt } => {
                write!(f, "{rules} gradient of {score} for {}", wrt.join(", "))
            }
        }
    }
}

impl Engine {
    /// An engine running `model` on `runtime`: the forward session is built
    /// now, other graphs on first use.
    pub fn new(runtime: Runtime, model: Model, options: EngineOptions) -> Result<Engine> {
        Engine::with_spinning(runtime, model, options, Spinning::Always)
    }

    /// An engine whose ONNX Runtime threads spin while they wait for work
    /// as `spinning` says: [`Spinning::Always`] is ONNX Runtime's default and
    /// [`Engine::new`]'s; [`Spinning::DuringRuns`] is for a caller whose own
    /// threads need the same cores between the forward passes, as the
    /// probe's perturbations do.
    pub fn with_spinning(
        runtime: Runtime,
        model: Model,
        options: EngineOptions,
        spinning: Spinning,
    ) -> Result<Engine> {
        Engine::with_workers(runtime, model, options, spinning, 1)
    }

    /// [`Engine::with_spinning`] with `workers` sessions of the forward graph
    /// (at least one), made side by side now: the workers of a probe's
    /// sweep ([`Engine::forwards`]). Made one after another, the engine's
    /// own session and the first worker's took 6 of an MNIST probe's 70 ms.
    pub fn with_workers(
        runtime: Runtime,
        model: Model,
        options: EngineOptions,
        spinning: Spinning,
        workers: usize,
    ) -> Result<Engine> {
        if options.batch_size == 0 {
            return Err(Error::invalid(
                "batch size 0",
                "the batch size must be at least 1",
            ));
        }
        crate::limits::at_most("threads", options.threads, crate::limits::MAX_THREADS)?;
        let (prepared, probabilities) = prepare(&model);
        let sessions = SessionOptions {
            threads: options.threads,
            spinning,
        };
        let mut forwards = forward_sessions(&runtime, &model, sessions, workers.max(1))?;
        let own = forwards.remove(0);
        Ok(Engine {
            runtime,
            model,
            options,
            sessions,
            prepared,
            probabilities,
            shapes: None,
            compiled: HashMap::from([(Graph::Forward, own)]),
            workers: forwards,
            stop: None,
        })
    }

    /// The model the engine runs.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Stops every later call once `flag` is set: the batch in hand finishes
    /// and the call returns [`Error::Cancelled`]. Every forward and gradient
    /// pass goes through the engine's batches, so this is how Ctrl-C in a
    /// notebook reaches a long attribution between two batches.
    pub fn stop_when(&mut self, flag: Arc<AtomicBool>) {
        self.stop = Some(flag);
    }

    /// An engine for another model on the same runtime, with the same
    /// options, thread spinning and stop flag (the sanity check's models
    /// with randomised weights).
    pub fn with_model(&self, model: Model) -> Result<Engine> {
        let mut engine = Engine::with_spinning(
            self.runtime.clone(),
            model,
            self.options,
            self.sessions.spinning,
        )?;
        engine.stop = self.stop.clone();
        Ok(engine)
    }

    /// The batch size and threads the engine was made with.
    pub fn options(&self) -> EngineOptions {
        self.options
    }

    /// The model's first output for every example, flattened to N x (rest),
    /// in batches of the configured size.
    pub fn predict(&mut self, x: ArrayViewD<f32>) -> Result<Array2<f32>> {
        self.forwards().swap_remove(0).predict(x)
    }

    /// A handle on each session of the forward graph (the engine's own, then
    /// those [`Engine::with_workers`] made): each can run on a thread of its
    /// own at the same time as the others, so a probe spreads its batches
    /// over the cores instead of dividing every small operator among them.
    pub fn forwards(&mut self) -> Vec<Forward<'_>> {
        let Engine {
            model,
            options,
            compiled,
            workers,
            stop,
            ..
        } = self;
        let own = compiled
            .get_mut(&Graph::Forward)
            .expect("built with the engine");
        std::iter::once(own)
            .chain(workers.iter_mut())
            .map(|compiled| Forward {
                compiled,
                model,
                batch_size: options.batch_size,
                stop: stop.as_deref(),
            })
            .collect()
    }

    /// The values of named tensors (feature maps) for every example.
    pub fn tensors(&mut self, x: ArrayViewD<f32>, names: &[String]) -> Result<Vec<ArrayD<f32>>> {
        self.check_tensors(names)?;
        let key = Graph::Tensors(names.to_vec());
        if !self.compiled.contains_key(&key) {
            let mut proto = self.model.proto().clone();
            let g = proto.graph.as_mut().expect("checked on load");
            g.output.clear();
            for n in names {
                graph::expose(g, n);
            }
            self.compile(key.clone(), &proto, names.to_vec())?;
        }
        self.run_batched(&key, x, |_| None)
    }

    /// The score tensor (one row per example: N x classes for the logits or
    /// probabilities) for every example; a forward pass only.
    pub fn scores(&mut self, x: ArrayViewD<f32>, score: &Score) -> Result<Array2<f32>> {
        let name = self.score_tensor(score)?;
        let key = Graph::Scores(name.clone());
        if !self.compiled.contains_key(&key) {
            let mut proto = self.prepared.clone();
            let g = proto.graph.as_mut().expect("checked on load");
            g.output.clear();
            graph::expose(g, &name);
            self.compile(key.clone(), &proto, vec![name])?;
        }
        let out = self.run_batched(&key, x, |_| None)?;
        Ok(flatten2(out.into_iter().next().expect("one output")))
    }

    /// Gradients of `sum(seed * score)` for every example. The seed has one
    /// row per example: N x classes for class scores (see
    /// [`Engine::class_seed`]), and for [`Score::Tensor`] the tensor's shape
    /// or N x its per-example size.
    pub fn gradients<D: Dimension>(
        &mut self,
        x: ArrayViewD<f32>,
        seed: ArrayView<f32, D>,
        request: &GradientRequest,
    ) -> Result<Gradients> {
        let n_seed = seed.shape().first().copied().unwrap_or(0);
        if n_seed != x.shape()[0] {
            return Err(Error::invalid(
                "the gradient seed",
                format!("has {n_seed} rows for {} examples", x.shape()[0]),
            ));
        }
        let (key, score) = self.gradient_graph(request)?;
        let seed = self.shape_seed(seed.into_dyn(), &score)?;
        let mut offset = 0;
        let mut out = self.run_batched(&key, x, |n| {
            let end = (offset + n).min(seed.shape()[0]);
            let mut rows = seed
                .slice_axis(Axis(0), (offset.min(end)..end).into())
                .to_owned();
            offset += n;
            if rows.shape()[0] < n {
                // Padding rows of a fixed-batch model get zero seeds.
                let mut dims = rows.shape().to_vec();
                dims[0] = n - rows.shape()[0];
                let pad = ArrayD::zeros(dims);
                rows =
                    ndarray::concatenate(Axis(0), &[rows.view(), pad.view()]).expect("same shapes");
            }
            Some(rows)
        })?;
        let k = request.wrt.len();
        let grads = out.split_off(1 + k);
        let values = out.split_off(1);
        Ok(Gradients {
            scores: flatten2(out.remove(0)),
            values,
            grads,
        })
    }

    /// One-hot seeds selecting `classes[i]` for example `i`, checked against
    /// the number of classes.
    pub fn class_seed(&mut self, classes: &[usize]) -> Result<Array2<f32>> {
        one_hot(classes, self.score_width()?)
    }

    /// The number of scores per example (classes).
    pub fn score_width(&mut self) -> Result<usize> {
        let name = self.model.logit_tensor();
        let dims = &self
            .shapes()?
            .get(&name)
            .expect("the logit tensor is in the graph")
            .dims;
        Ok(dims.iter().skip(1).map(|&d| d.max(1) as usize).product())
    }

    /// The learned shapes of every tensor of the model (learned on first use).
    pub(crate) fn shapes(&mut self) -> Result<&TensorShapes> {
        if self.shapes.is_none() {
            let sample = self.sample_input()?;
            let free = self.model.info().fixed_batch().is_none();
            let shapes = TensorShapes::learn(
                &self.runtime,
                &self.prepared,
                &self.model.info().input.name,
                &sample,
                free,
            )?;
            self.shapes = Some(shapes);
        }
        Ok(self.shapes.as_ref().expect("just learned"))
    }

    /// A seed with one row per example, reshaped to the score tensor's shape
    /// (the seed input of a gradient graph has that shape).
    fn shape_seed(&mut self, seed: ArrayViewD<f32>, score: &str) -> Result<ArrayD<f32>> {
        let n = seed.shape()[0];
        let dims = &self
            .shapes()?
            .get(score)
            .expect("checked when the graph was built")
            .dims;
        let mut shape = vec![n];
        shape.extend(dims.iter().skip(1).map(|&d| d.max(1) as usize));
        let per_example: usize = shape[1..].iter().product();
        if seed.len() != n * per_example {
            return Err(Error::invalid(
                format!("the gradient seed of shape {:?}", seed.shape()),
                format!(
                    "score tensor '{score}' has {per_example} elements per example (shape {:?} after the batch)",
                    &shape[1..]
                ),
            ));
        }
        Ok(seed
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order(shape)
            .expect("sizes checked"))
    }

    /// Builds (once) the forward+backward graph for a request; returns its
    /// key and the score tensor's name.
    fn gradient_graph(&mut self, request: &GradientRequest) -> Result<(Graph, String)> {
        self.check_tensors(&request.wrt)?;
        let score = self.score_tensor(&request.score)?;
        let key = Graph::Gradient {
            rules: request.rules.name().to_string(),
            score: score.clone(),
            wrt: request.wrt.clone(),
        };
        if !self.compiled.contains_key(&key) {
            let prepared = self.prepared.clone();
            let shapes = self.shapes()?.clone();
            let built = autodiff::differentiate(
                &prepared,
                &shapes,
                &Request {
                    score: &score,
                    wrt: &request.wrt,
                    rules: request.rules,
                },
            )?;
            let outputs = [built.score.clone()]
                .into_iter()
                .chain(request.wrt.iter().cloned())
                .chain(built.grads.iter().cloned())
                .collect();
            let mut proto = built.model;
            let g = proto.graph.as_mut().expect("checked on load");
            g.output.retain(|o| {
                o.name.as_deref().is_some_and(|n| {
                    n.starts_with("sensie/") || request.wrt.iter().any(|w| w == n) || n == score
                })
            });
            self.compile(key.clone(), &proto, outputs)?;
        }
        Ok((key, score))
    }

    /// The name of the tensor holding `score`, checked to exist.
    fn score_tensor(&mut self, score: &Score) -> Result<String> {
        Ok(match score {
            Score::Logit => self.model.logit_tensor(),
            Score::Probability => self.probabilities.clone(),
            Score::Output => self.model.info().outputs[0].name.clone(),
            Score::Tensor(name) => {
                self.check_tensors(std::slice::from_ref(name))?;
                name.clone()
            }
        })
    }

    fn check_tensors(&mut self, names: &[String]) -> Result<()> {
        let shapes = self.shapes()?;
        for n in names {
            if shapes.get(n).is_none() {
                return Err(Error::UnknownTensor {
                    name: n.clone(),
                    closest: graph::closest_names(n, shapes.names()),
                });
            }
        }
        Ok(())
    }

    fn compile(&mut self, key: Graph, proto: &ModelProto, outputs: Vec<String>) -> Result<()> {
        let what = format!("model {} ({key})", self.model.path().display());
        let session = self
            .runtime
            .session(&onnx::encode_model(proto), &what, self.sessions)?;
        self.compiled.insert(key, Compiled { session, outputs });
        Ok(())
    }

    /// Runs compiled graph `key` on `x` in the engine's batches, each with
    /// the gradient seed `seed` gives for a batch of that many rows.
    fn run_batched(
        &mut self,
        key: &Graph,
        x: ArrayViewD<f32>,
        mut seed: impl FnMut(usize) -> Option<ArrayD<f32>>,
    ) -> Result<Vec<ArrayD<f32>>> {
        let compiled = self.compiled.get_mut(key).expect("compiled before running");
        let input = &self.model.info().input.name;
        batched(
            &self.model,
            self.options.batch_size,
            self.stop.as_deref(),
            x,
            |batch| {
                let rows = seed(batch.shape()[0]);
                compiled.run(key, input, batch, rows.as_ref().map(|r| r.view()))
            },
        )
    }

    /// Checks that `x` is a non-empty batch of the model's input shape.
    pub fn check_input(&self, x: &ArrayViewD<f32>) -> Result<()> {
        check_input(&self.model, x)
    }

    /// A deterministic batch-1 input in [0, 1) with the model's input size.
    fn sample_input(&self) -> Result<ArrayD<f32>> {
        let info = &self.model.info().input;
        let dims = info
            .shape
            .iter()
            .enumerate()
            .map(|(i, d)| match (i, d) {
                (0, _) => Ok(self.model.info().fixed_batch().unwrap_or(1)),
                (_, Some(d)) => Ok(*d),
                (_, None) => Err(Error::UnsupportedModel {
                    path: self.model.path().to_path_buf(),
                    reason: format!("input '{}' has a symbolic size in dimension {i}; export it with a fixed image size", info.name),
                }),
            })
            .collect::<Result<Vec<usize>>>()?;
        let mut state = 0x9e3779b97f4a7c15u64;
        Ok(ArrayD::from_shape_fn(IxDyn(&dims), |_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32
        }))
    }
}

/// One forward session of an [`Engine`] (see [`Engine::forwards`]), held by
/// one thread at a time.
pub struct Forward<'a> {
    compiled: &'a mut Compiled,
    model: &'a Model,
    batch_size: usize,
    stop: Option<&'a AtomicBool>,
}

impl Forward<'_> {
    /// The model's first output for every example, flattened to N x (rest),
    /// in runs of at most the engine's batch size (`forward_run`):
    /// [`Engine::predict`] on this session.
    pub fn predict(&mut self, x: ArrayViewD<f32>) -> Result<Array2<f32>> {
        let compiled = &mut *self.compiled;
        let input = &self.model.info().input.name;
        let run = forward_run(x.shape(), self.batch_size);
        let out = batched(self.model, run, self.stop, x, |batch| {
            Ok(vec![
                compiled.run(&Graph::Forward, input, batch, None)?.remove(0),
            ])
        })?;
        Ok(flatten2(out.into_iter().next().expect("one output")))
    }
}

impl Compiled {
    fn run(
        &mut self,
        key: &Graph,
        input: &str,
        x: ArrayViewD<f32>,
        seed: Option<ArrayViewD<f32>>,
    ) -> Result<Vec<ArrayD<f32>>> {
        let compiled = self;
        let fail = |e: ort::Error| Error::runtime(format!("running {key}"), e);
        // ONNX Runtime reads C-ordered memory; arrays stacked along a band
        // axis (one FITS file per band) or sliced views are copied into it.
        let x = x.as_standard_layout();
        let x = ort::value::TensorRef::from_array_view(x.view()).map_err(fail)?;
        let outputs = match seed {
            Some(seed) => {
                let seed = seed.as_standard_layout();
                let seed = ort::value::TensorRef::from_array_view(seed.view()).map_err(fail)?;
                compiled
                    .session
                    .run(ort::inputs![input => x, autodiff::SEED => seed])
            }
            None => compiled.session.run(ort::inputs![input => x]),
        }
        .map_err(fail)?;
        compiled
            .outputs
            .iter()
            .map(|name| {
                let value = outputs.get(name).ok_or_else(|| {
                    Error::runtime(format!("running {key}"), format!("no output '{name}'"))
                })?;
                let array = value
                    .try_extract_array::<f32>()
                    .map_err(|e| Error::runtime(format!("output '{name}'"), e))?;
                Ok(array.to_owned())
            })
            .collect()
    }
}

/// The input bytes a forward run is sized to: a run's activations then stay
/// in the core's caches. A whole batch of 256 lens images (48 KiB each) ran
/// 15% slower per image than runs of 8 and faulted in 165 MiB of
/// ONNX Runtime's arena on its first run (about 50 ms); MNIST digits ran
/// fastest in runs of 32 to 128 (docs/design.md, "Sweep speed").
const RUN_INPUT_BYTES: usize = 256 * 1024;

/// The fewest examples a forward run takes when the batch has them: below
/// this, large images (a ResNet at 224 pixels) pay each run's fixed cost.
const MIN_RUN: usize = 8;

/// How many examples of a batch of `shape` one forward pass takes, at most
/// `batch_size`: the largest power of two whose input fits
/// [`RUN_INPUT_BYTES`], at least [`MIN_RUN`]. Each example's outputs are the
/// same whatever the run size; only the time and the memory change.
fn forward_run(shape: &[usize], batch_size: usize) -> usize {
    let example = shape.iter().skip(1).product::<usize>() * size_of::<f32>();
    let fits = (RUN_INPUT_BYTES / example.max(1)).max(MIN_RUN);
    (1usize << fits.ilog2()).min(batch_size).max(1)
}

/// `n` sessions of `model` as it is (the forward graph), made side by side:
/// one on this thread, the others on threads of their own.
fn forward_sessions(
    runtime: &Runtime,
    model: &Model,
    options: SessionOptions,
    n: usize,
) -> Result<Vec<Compiled>> {
    let bytes = onnx::encode_model(model.proto());
    let what = format!("model {} ({})", model.path().display(), Graph::Forward);
    let make = || runtime.session(&bytes, &what, options);
    let made: Vec<Result<Session>> = std::thread::scope(|scope| {
        let others: Vec<_> = (1..n).map(|_| scope.spawn(make)).collect();
        std::iter::once(make())
            .chain(others.into_iter().map(|m| {
                m.join().unwrap_or_else(|_| {
                    Err(Error::runtime(&what, "the thread making a session stopped"))
                })
            }))
            .collect()
    });
    let outputs: Vec<String> = model
        .info()
        .outputs
        .iter()
        .map(|o| o.name.clone())
        .collect();
    made.into_iter()
        .map(|session| {
            Ok(Compiled {
                session: session?,
                outputs: outputs.clone(),
            })
        })
        .collect()
}

/// Splits `x` into batches, checks its shape, pads the last batch of a
/// fixed-batch model, runs `f` on each and concatenates the results.
fn batched(
    model: &Model,
    batch_size: usize,
    stop: Option<&AtomicBool>,
    x: ArrayViewD<f32>,
    mut f: impl FnMut(ArrayViewD<f32>) -> Result<Vec<ArrayD<f32>>>,
) -> Result<Vec<ArrayD<f32>>> {
    check_input(model, &x)?;
    let n = x.shape()[0];
    let fixed = model.info().fixed_batch();
    let step = fixed.unwrap_or(batch_size);
    let mut parts: Vec<Vec<ArrayD<f32>>> = Vec::new();
    let mut start = 0;
    while start < n {
        if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
            return Err(Error::Cancelled);
        }
        let end = (start + step).min(n);
        let batch = x.slice_axis(Axis(0), (start..end).into());
        let out = match fixed {
            Some(b) if end - start < b => {
                let last = batch
                    .index_axis(Axis(0), end - start - 1)
                    .insert_axis(Axis(0));
                let mut views = vec![batch.view()];
                views.extend(std::iter::repeat_n(last.view(), b - (end - start)));
                let padded = ndarray::concatenate(Axis(0), &views).expect("same shapes");
                f(padded.view())?
                    .into_iter()
                    .map(|a| a.slice_axis(Axis(0), (0..end - start).into()).to_owned())
                    .collect()
            }
            _ => f(batch)?,
        };
        parts.push(out);
        start = end;
    }
    let count = parts.first().map_or(0, Vec::len);
    (0..count)
        .map(|i| {
            let views: Vec<_> = parts.iter().map(|p| p[i].view()).collect();
            ndarray::concatenate(Axis(0), &views).map_err(|e| Error::runtime("joining batches", e))
        })
        .collect()
}

/// Checks that `x` is a non-empty batch of the model's input shape.
fn check_input(model: &Model, x: &ArrayViewD<f32>) -> Result<()> {
    let info = &model.info().input;
    let ok = x.ndim() == info.shape.len()
        && info
            .shape
            .iter()
            .zip(x.shape())
            .skip(1)
            .all(|(d, &n)| d.is_none_or(|d| d == n));
    if ok && x.shape()[0] == 0 {
        return Err(Error::invalid(
            format!("data of shape {:?}", x.shape()),
            "it holds no examples (an empty array, or every example left out by --skip-bad or --only)",
        ));
    }
    if !ok {
        return Err(Error::invalid(
            format!("data of shape {:?}", x.shape()),
            format!(
                "model input '{}' expects {} (N examples first, in the model's own layout)",
                info.name,
                describe_shape(&info.shape)
            ),
        ));
    }
    Ok(())
}

/// The model plus, when it outputs logits, a Softmax giving probabilities;
/// returns the graph and the probability tensor's name.
///
/// The graph is raised to opset 16 when it can be (gradient graphs need it),
/// so that the shapes learned on it cover every tensor the rules see.
fn prepare(model: &Model) -> (ModelProto, String) {
    let mut proto = autodiff::at_least_16(model.proto()).unwrap_or_else(|_| model.proto().clone());
    let first = model.info().outputs[0].name.clone();
    let g = proto.graph.as_mut().expect("checked on load");
    let mut b = Builder::new(g, "score");
    let probabilities = match model.info().output_kind {
        OutputKind::Probabilities | OutputKind::Sigmoid => first,
        OutputKind::LogProbabilities => b.node("Exp", &[&first], vec![]),
        OutputKind::Logits => {
            let logits = model.logit_tensor();
            b.node("Softmax", &[&logits], vec![attr_int("axis", -1)])
        }
    };
    (proto, probabilities)
}

/// One-hot rows selecting `classes[i]` of `width` scores for example `i`,
/// checked against the number of classes.
pub(crate) fn one_hot(classes: &[usize], width: usize) -> Result<Array2<f32>> {
    let mut seed = Array2::zeros((classes.len(), width));
    for (i, &c) in classes.iter().enumerate() {
        if c >= width {
            return Err(Error::invalid(
                format!("target class {c} (example {i})"),
                format!("the model has {width} classes (0 to {})", width - 1),
            ));
        }
        seed[[i, c]] = 1.0;
    }
    Ok(seed)
}

fn flatten2(a: ArrayD<f32>) -> Array2<f32> {
    let n = a.shape()[0];
    let rest = a.len() / n.max(1);
    a.into_shape_with_order((n, rest))
        .expect("contiguous output")
}

/// `[N, 1, 28, 28]`-style text for a shape, N for a dimension the model leaves open.
pub(crate) fn describe_shape(shape: &[Option<usize>]) -> String {
    let dims: Vec<String> = shape
        .iter()
        .map(|d| d.map_or("N".into(), |d| d.to_string()))
        .collect();
    format!("[{}]", dims.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forward_run_holds_256_kib_of_input_and_at_least_8_examples() {
        // MNIST digits (3 KiB): 83 fit, so 64.
        assert_eq!(forward_run(&[256, 1, 28, 28], 256), 64);
        // Lens cutouts (48 KiB): 5 fit, so the floor of 8.
        assert_eq!(forward_run(&[256, 3, 64, 64], 256), 8);
        assert_eq!(forward_run(&[32, 3, 224, 224], 32), 8);
        // Never more than the batch size.
        assert_eq!(forward_run(&[13, 1, 28, 28], 13), 13);
        assert_eq!(forward_run(&[5, 3, 64, 64], 5), 5);
        assert_eq!(forward_run(&[1, 1, 28, 28], 1), 1);
    }
}
