//! `sensie explain`: attribution maps for chosen examples, written to a
//! directory, with the optional sanity and faithfulness checks. Data is read
//! and prepared for the model as `probe` does it (the same flags); the maps
//! are of the prepared input, the pictures show the raw images.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use ndarray::{ArrayD, ArrayViewD, Axis};
use sensie::autodiff::Composite;
use sensie::data::name::Name;
use sensie::data::{self, ClassMapping, DataSpec, Labels};
use sensie::engine::{Engine, EngineOptions, Score};
use sensie::explain::blur_saliency::Compared;
use sensie::explain::faithfulness::{self, CurveOptions};
use sensie::explain::figures::Drawing;
use sensie::explain::lrp::Lrp;
use sensie::explain::report::{self, Checks, MethodSummary, Summary};
use sensie::explain::{self, Baseline, Geometry, Options, Quadrature, TargetSpec, Targets, sanity};
use sensie::model::{Layout, Model};
use sensie::preprocess::Preprocess;
use sensie::render::Stretch;
use sensie::runtime::Runtime;
use sensie::{Error, Result};

use sensie::limits::{MAX_STEPS, MAX_THREADS};
use sensie::output;

use crate::data_args::{DataArgs, count, finite, index};

#[derive(clap::Args)]
pub struct Args {
    /// The ONNX model.
    #[arg(long)]
    model: PathBuf,
    /// Data and preprocessing (labels are optional unless --target label).
    #[command(flatten)]
    input: DataArgs,
    /// Which examples to explain (0-based, comma-separated).
    #[arg(long, value_delimiter = ',', conflicts_with = "limit", value_parser = index, allow_hyphen_values = true)]
    indices: Option<Vec<usize>>,
    /// Explain the first N examples (default: all).
    #[arg(long)]
    limit: Option<usize>,
    /// Methods, comma-separated: gradient, saliency, gradient-x-input, smoothgrad,
    /// smoothgrad-squared, smoothgrad-variance, integrated-gradients, deconvnet,
    /// guided-backprop, gradcam, gradcam-negative, guided-gradcam, occlusion,
    /// blur-saliency, lrp.
    #[arg(long, value_delimiter = ',', required = true)]
    method: Vec<String>,
    /// The class explained: label, predicted or a class index (default: label
    /// when the data has labels, else predicted).
    #[arg(long)]
    target: Option<TargetSpec>,
    /// The score explained: logit (the class logit, as in Captum on a logit
    /// model) or probability. blur-saliency compares all logits (all, the
    /// default) or the target's (target); the other methods explain the
    /// target's logit with either.
    #[arg(long, default_value = "logit", value_parser = ["logit", "probability", "all", "target"])]
    score: String,
    /// The layer for Grad-CAM (default: the last convolutional layer; see
    /// `sensie inspect` for the tensor names).
    #[arg(long)]
    layer: Option<String>,
    /// Integrated Gradients: steps.
    #[arg(long, default_value_t = 50, value_parser = count("steps", 1, MAX_STEPS))]
    steps: usize,
    /// Integrated Gradients: gauss-legendre or riemann-trapezoid.
    #[arg(long, default_value = "gauss-legendre")]
    rule: Quadrature,
    /// Integrated Gradients: zeros, blur, blur:SIGMA (pixels), noise, or a .npy
    /// file (one example's shape, or one per example of --data).
    #[arg(long, default_value = "zeros")]
    baseline: String,
    /// SmoothGrad: noisy samples per example.
    #[arg(long, default_value_t = 50, value_parser = count("samples", 1, MAX_STEPS))]
    samples: usize,
    /// SmoothGrad: noise sigma as a fraction of each example's value range.
    #[arg(long, default_value_t = 0.15)]
    noise: f32,
    /// Occlusion: the square window's side in pixels.
    #[arg(long, default_value_t = 4)]
    window: usize,
    /// Occlusion: the window's stride in pixels.
    #[arg(long, default_value_t = 2)]
    stride: usize,
    /// Occlusion and deletion curves: the value occluded pixels get.
    #[arg(long, default_value_t = 0.0, value_parser = finite::<f32>, allow_hyphen_values = true)]
    fill: f32,
    /// LRP: the composite, epsilon, epsilon-plus-flat, epsilon-gamma-box or alpha1-beta0.
    #[arg(long, default_value = "epsilon")]
    lrp_composite: Composite,
    /// LRP: the epsilon rule's epsilon.
    #[arg(long, default_value_t = 1e-6)]
    epsilon: f32,
    /// LRP: the gamma rule's gamma.
    #[arg(long, default_value_t = 0.25)]
    gamma: f32,
    /// LRP: the z^B rule's input bounds LOW,HIGH (default: the range of the examples explained).
    #[arg(long = "box", value_name = "LOW,HIGH", value_parser = bounds)]
    lrp_box: Option<(f32, f32)>,
    /// blur-saliency: the blur's Gaussian sigma, in pixels.
    #[arg(long, default_value_t = 3.0)]
    blur_sigma: f32,
    /// blur-saliency: the mask's Gaussian sigma, in pixels (its grid is --stride).
    #[arg(long, default_value_t = 5.0)]
    mask_sigma: f32,
    /// Seed of the random draws (SmoothGrad noise, noise baseline, sanity weights).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Run the model-randomisation sanity check (Adebayo et al. 2018).
    #[arg(long)]
    sanity: bool,
    /// Compute deletion and insertion curves (Petsiuk et al. 2018).
    #[arg(long)]
    faithfulness: bool,
    /// Points of the deletion and insertion curves after the first.
    #[arg(long, default_value_t = 20, value_parser = count("curve steps", 1, MAX_STEPS))]
    curve_steps: usize,
    /// How inputs are drawn: linear, percentile:LOW,HIGH, asinh, asinh:SOFTENING,
    /// log, log:A or zscale (multi-band inputs are shown as colour composites).
    #[arg(long, default_value = "percentile:1,99.5")]
    stretch: Stretch,
    /// Draw every example of a method on one colour scale, to compare strengths.
    #[arg(long)]
    shared_scale: bool,
    /// Examples per ONNX Runtime call.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Threads per operator (0: one per core).
    #[arg(long, default_value_t = 0, value_parser = count("threads", 0, MAX_THREADS))]
    threads: usize,
    /// The output directory.
    #[arg(long)]
    out: PathBuf,
    /// Replace the earlier run in a non-empty --out.
    #[arg(long)]
    force: bool,
}

pub fn run(args: Args) -> Result<()> {
    let (mut data_spec, mut preprocess) = (DataSpec::default(), Preprocess::default());
    args.input.merge(&mut data_spec, &mut preprocess)?;
    let mut inputs = vec![
        args.model.as_path(),
        data_spec.path.as_path(),
        Path::new(&args.baseline),
    ];
    inputs.extend(
        data_spec
            .labels
            .as_deref()
            .into_iter()
            .chain(data_spec.metadata.as_deref()),
    );
    let out = output::prepare(&args.out, args.force, &inputs)?;
    let model = Model::load(&args.model)?;
    let geometry = Geometry::of(&model, "sensie explain")?;
    let model_names = model.class_names();
    let data::Images {
        images,
        labels,
        ids,
        positions,
        skipped,
        total,
        class_names,
    } = data::load_images(&ClassMapping::names_for(&data_spec, model_names.clone()))?;
    if let Some(mapping) = ClassMapping::of(class_names.as_ref(), &data_spec, model_names.as_ref())
    {
        eprintln!("note: {mapping}");
    }
    // `rows` index the examples kept; `indices` are the same examples' positions in the data file.
    let rows = select(
        &positions,
        total,
        args.indices.as_deref(),
        args.limit,
        &data_spec.path,
    )?;
    let indices: Vec<usize> = rows.iter().map(|&r| positions[r]).collect();
    if !skipped.is_empty() {
        eprintln!(
            "note: {} example(s) with NaN or infinite pixels were left out",
            skipped.len()
        );
    }
    if let Some(warning) = preprocess.check_fit(
        (images.dim().2, images.dim().3),
        (geometry.height, geometry.width),
    )? {
        eprintln!("WARNING: {warning}");
    }
    let raw = images.select(Axis(0), &rows);
    let size = Some((geometry.height, geometry.width));
    let inputs = preprocess
        .apply(raw.view(), size, geometry.layout)?
        .into_dyn();
    // The raw images at the model's size, for the pictures.
    let display = Preprocess {
        fit: preprocess.fit,
        ..Preprocess::default()
    }
    .apply(raw.view(), size, Layout::Nchw)?;
    let labels: Option<Vec<usize>> = match labels {
        Some(Labels::Classes(classes)) => Some(rows.iter().map(|&r| classes[r]).collect()),
        Some(Labels::Targets(_)) => {
            let reason =
                "its labels are continuous; explanations need class labels (or --target predicted)"
                    .into();
            return Err(Error::Data {
                path: data_spec.path.clone(),
                reason,
            });
        }
        None => None,
    };

    let mut engine = Engine::new(
        Runtime::new()?,
        model,
        EngineOptions {
            batch_size: args.batch_size,
            threads: args.threads,
        },
    )?;
    let score = if args.score == "probability" {
        Score::Probability
    } else {
        Score::Logit
    };
    let blur_score = if args.score == "target" {
        Compared::Target
    } else {
        Compared::All
    };
    let spec = args.target.unwrap_or(if labels.is_some() {
        TargetSpec::Label
    } else {
        TargetSpec::Predicted
    });
    let targets = Targets::resolve(&mut engine, inputs.view(), spec, labels.as_deref(), score)
        .map_err(|e| match e {
            Error::InvalidInput { what, reason } => Error::InvalidInput {
                what: format!("{}: {what}", data_spec.path.display()),
                reason,
            },
            other => other,
        })?;
    let options = Options {
        layer: args.layer.clone(),
        steps: args.steps,
        quadrature: args.rule,
        baseline: baseline(
            &args.baseline,
            &engine,
            inputs.view(),
            total,
            &indices,
            args.seed,
        )?,
        samples: args.samples,
        noise: args.noise,
        window: args.window,
        stride: args.stride,
        fill: args.fill,
        seed: args.seed,
        lrp: Lrp {
            composite: args.lrp_composite,
            epsilon: args.epsilon,
            gamma: args.gamma,
            bounds: args.lrp_box,
        },
        blur_sigma: args.blur_sigma,
        mask_sigma: args.mask_sigma,
        blur_score,
    };
    let methods = args
        .method
        .iter()
        .map(|m| explain::build(m, &options))
        .collect::<Result<Vec<_>>>()?;

    // A bar over the methods and checks, each named as it starts.
    let steps = methods.len() + usize::from(args.sanity) + usize::from(args.faithfulness);
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(steps as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}, {elapsed} so far")
            .expect("a valid template"),
    );
    let mut started = 0;
    let results = report::run_methods(
        &mut engine,
        inputs.view(),
        &targets,
        &methods,
        &args.out,
        &mut |name| {
            bar.set_position(started);
            bar.set_message(name.to_string());
            started += 1;
        },
    )?;
    bar.set_position(started);
    bar.suspend(|| {
        for (_, s) in &results {
            eprintln!(
                "{:<22} {:>8.3} s  {}{}",
                s.method,
                s.seconds,
                args.out.join(&s.file).display(),
                gap_note(s)
            );
        }
    });
    let (attributions, methods_summary): (Vec<_>, Vec<_>) = results.into_iter().unzip();
    let summary = Summary {
        model: args.model.clone(),
        data: data_spec.path.clone(),
        names: rows.iter().map(|&r| Name::of(&ids[r])).collect(),
        examples: indices,
        labels,
        predicted: Targets::resolve(
            &mut engine,
            inputs.view(),
            TargetSpec::Predicted,
            None,
            Score::Logit,
        )?
        .classes,
        targets: targets.classes.clone(),
        target: spec.to_string(),
        score: if args.score == "probability" {
            "probability"
        } else {
            "logit"
        }
        .to_string(),
        layout: engine.model().info().layout,
        methods: methods_summary,
    };
    report::write_json(&args.out.join("explain.json"), &summary)?;

    let sanity = if args.sanity {
        bar.set_message("sanity check");
        let sanity = sanity::cascading_randomisation(
            &engine,
            inputs.view(),
            &targets,
            &methods,
            &attributions,
            args.seed,
        )?;
        report::write_json(&args.out.join("sanity.json"), &sanity)?;
        for m in &sanity.methods {
            let last = m.mean_spearman_abs.last().copied().flatten();
            eprintln!(
                "sanity {:<15} rank correlation (abs) after randomising all {} layers: {}",
                m.method,
                sanity.layers.len(),
                last.map_or("-".into(), |r| format!("{r:.3}"))
            );
        }
        Some(sanity)
    } else {
        None
    };
    bar.inc(u64::from(args.sanity));
    let curves = if args.faithfulness {
        bar.set_message("deletion and insertion curves");
        let curve_options = CurveOptions {
            steps: args.curve_steps,
            fill: args.fill,
            blur_sigma: geometry.default_blur(),
            seed: args.seed,
        };
        let maps: Vec<_> = methods
            .iter()
            .zip(&attributions)
            .map(|(m, a)| (m.name(), a, m.kind()))
            .collect();
        let curves =
            faithfulness::curves(&mut engine, inputs.view(), &targets, &maps, curve_options)?;
        report::write_json(&args.out.join("faithfulness.json"), &curves)?;
        for m in &curves.methods {
            eprintln!(
                "faithfulness {:<15} deletion AUC {:.3}  insertion AUC {:.3}",
                m.method, m.deletion.mean_auc, m.insertion.mean_auc
            );
        }
        Some(curves)
    } else {
        None
    };
    bar.finish_and_clear();
    let checks = Checks {
        sanity: sanity.as_ref(),
        faithfulness: curves.as_ref(),
    };
    let drawing = Drawing {
        stretch: args.stretch,
        shared_scale: args.shared_scale,
    };
    let notes = report::write_figures(
        &args.out,
        &geometry,
        display.view(),
        &summary,
        &attributions,
        checks,
        &drawing,
    )?;
    for note in notes {
        eprintln!("note: {note}");
    }
    out.finish()?;
    eprintln!("wrote {}", args.out.join("explain.html").display());
    Ok(())
}

/// The rows of the kept examples to explain: those at `indices` (positions
/// in the data file, checked against the examples kept), the first `limit`
/// kept, or all.
fn select(
    positions: &[usize],
    total: usize,
    indices: Option<&[usize]>,
    limit: Option<usize>,
    data: &Path,
) -> Result<Vec<usize>> {
    let chosen: Vec<usize> = match (indices, limit) {
        (Some(list), _) => list
            .iter()
            .map(|&i| {
                positions.binary_search(&i).map_err(|_| {
                    let reason = if i < total {
                        format!(
                            "example {i} of {} was left out (--only or --skip-bad); choose another",
                            data.display()
                        )
                    } else {
                        format!(
                            "{} has {total} examples (indices 0 to {})",
                            data.display(),
                            total.saturating_sub(1)
                        )
                    };
                    invalid(format!("example index {i}"), reason)
                })
            })
            .collect::<Result<_>>()?,
        (None, Some(n)) => (0..n.min(positions.len())).collect(),
        (None, None) => (0..positions.len()).collect(),
    };
    if chosen.is_empty() {
        return Err(invalid("the examples to explain", "none were chosen"));
    }
    Ok(chosen)
}

/// `--baseline`: a name, `blur:SIGMA`, or a .npy file.
fn baseline(
    text: &str,
    engine: &Engine,
    inputs: ArrayViewD<f32>,
    total: usize,
    indices: &[usize],
    seed: u64,
) -> Result<Baseline> {
    Ok(match text {
        "zeros" => Baseline::Zeros,
        "noise" => Baseline::Noise { seed },
        "blur" => Baseline::Blur {
            sigma: Geometry::of(engine.model(), "a blurred baseline")?.default_blur(),
        },
        _ if text.starts_with("blur:") => {
            let sigma = text["blur:".len()..]
                .parse::<f32>()
                .ok()
                .filter(|v| *v >= 0.0);
            Baseline::Blur {
                sigma: sigma.ok_or_else(|| {
                    invalid(
                        format!("--baseline {text}"),
                        "blur:SIGMA needs a sigma >= 0 in pixels",
                    )
                })?,
            }
        }
        file => {
            let values: ArrayD<f32> = sensie::data::read_array(Path::new(file))?;
            // One baseline per example of the data file: keep the chosen ones.
            let example_rank = engine.model().info().input.shape.len() - 1;
            let baseline =
                if values.ndim() == example_rank + 1 && values.shape()[0] == total && total > 1 {
                    Baseline::Array(values.select(Axis(0), indices))
                } else {
                    Baseline::Array(values)
                };
            // Checked now, before any method runs, with the file named.
            baseline.for_inputs(engine, inputs).map_err(|e| match e {
                Error::InvalidInput { what, reason } => Error::Data {
                    path: file.into(),
                    reason: format!("{what}: {reason}"),
                },
                other => other,
            })?;
            baseline
        }
    })
}

/// `--box LOW,HIGH`.
fn bounds(text: &str) -> std::result::Result<(f32, f32), String> {
    let values: Vec<Option<f32>> = text.split(',').map(|v| v.trim().parse().ok()).collect();
    match values[..] {
        [Some(low), Some(high)] if low < high => Ok((low, high)),
        _ => Err(format!(
            "'{text}': expected LOW,HIGH, two numbers with LOW < HIGH"
        )),
    }
}

fn gap_note(s: &MethodSummary) -> String {
    match &s.relative_completeness_gap {
        Some(g) => format!(
            "  (completeness gap up to {:.3}% of f(x) - f(baseline))",
            100.0 * g.iter().fold(0.0f32, |m, v| m.max(v.abs()))
        ),
        None => String::new(),
    }
}

fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::InvalidInput {
        what: what.into(),
        reason: reason.into(),
    }
}
