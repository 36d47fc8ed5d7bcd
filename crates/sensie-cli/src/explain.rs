//! `sensie explain`: attribution maps for chosen examples, written to a
//! directory, with the optional sanity and faithfulness checks. The flags
//! become an [`ExplainConfig`], the library's [`explain::run`] does the
//! work (data read and prepared for the model as `probe` does it; the maps
//! are of the prepared input, the pictures show the raw images) and
//! [`report::write_run`] writes the run; this file only parses and prints.

use std::io::IsTerminal;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use sensie::Result;
use sensie::autodiff::Composite;
use sensie::data::DataSpec;
use sensie::explain::figures::Drawing;
use sensie::explain::lrp::Lrp;
use sensie::explain::report::{self, MethodSummary};
use sensie::explain::run::{BaselineSpec, ExplainConfig, SCORES, Settings};
use sensie::explain::{self, Quadrature, TargetSpec};
use sensie::limits::MAX_STEPS;
use sensie::output;
use sensie::preprocess::Preprocess;
use sensie::render::Stretch;

use crate::data_args::{DataArgs, count, finite, index, positive};
use crate::flags::{Compute, ModelArg, OutFlags};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArg,
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
    #[arg(long, default_value = "logit", value_parser = SCORES)]
    score: String,
    /// The layer for Grad-CAM: a tensor, or a node standing for its output
    /// (default: the last convolutional layer; see `sensie inspect` for the
    /// tensor names).
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
    /// LRP: the z^B rule's input bounds LOW,HIGH, as the model sees its input (default: the
    /// whole data set's range after preprocessing). A negative LOW needs no `=`: `--box -1,1`.
    #[arg(long = "box", value_name = "LOW,HIGH", value_parser = bounds, allow_hyphen_values = true)]
    lrp_box: Option<(f32, f32)>,
    /// blur-saliency: the blur's Gaussian sigma, in pixels.
    #[arg(long, default_value_t = 3.0, value_parser = positive)]
    blur_sigma: f32,
    /// blur-saliency: the mask's Gaussian sigma, in pixels (its grid is --stride).
    #[arg(long, default_value_t = 5.0, value_parser = positive)]
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
    #[command(flatten)]
    compute: Compute,
    #[command(flatten)]
    output: OutFlags,
}

pub fn run(args: Args) -> Result<()> {
    let (mut data, mut preprocess) = (DataSpec::default(), Preprocess::default());
    args.input.merge(&mut data, &mut preprocess)?;
    let mut inputs = vec![
        args.model.path.as_path(),
        data.path.as_path(),
        Path::new(&args.baseline),
    ];
    inputs.extend(
        data.labels
            .as_deref()
            .into_iter()
            .chain(data.metadata.as_deref()),
    );
    let names = report::output_names(&args.method);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let out =
        output::prepare(&args.output.out, args.output.force, &inputs)?.claim(&names, |_| false)?;
    let config = ExplainConfig {
        model: args.model.path.clone(),
        data,
        preprocess,
        indices: args.indices.clone(),
        limit: args.limit,
        settings: Settings {
            methods: args.method.clone(),
            target: args.target,
            score: args.score.clone(),
            layer: args.layer.clone(),
            steps: args.steps,
            rule: args.rule,
            baseline: BaselineSpec::Named(args.baseline.clone()),
            samples: args.samples,
            noise: args.noise,
            window: args.window,
            stride: args.stride,
            fill: args.fill,
            lrp: Lrp {
                composite: args.lrp_composite,
                epsilon: args.epsilon,
                gamma: args.gamma,
                bounds: args.lrp_box,
            },
            blur_sigma: args.blur_sigma,
            mask_sigma: args.mask_sigma,
            seed: args.seed,
            sanity: args.sanity,
            faithfulness: args.faithfulness,
            curve_steps: args.curve_steps,
            batch_size: args.compute.batch_size,
            threads: args.compute.threads.count,
            stop: None,
        },
    };

    // A bar over the methods and checks, each named as it starts.
    let steps = args.method.len() + usize::from(args.sanity) + usize::from(args.faithfulness);
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
    let run = explain::run_with_progress(&config, &mut |name| {
        bar.set_position(started);
        bar.set_message(name.to_string());
        started += 1;
    });
    bar.finish_and_clear();
    let run = run?;
    for note in &run.notes {
        eprintln!("{note}");
    }
    for s in &run.summary.methods {
        eprintln!(
            "{:<22} {:>8.3} s  {}{}",
            s.method,
            s.seconds,
            args.output.out.join(&s.file).display(),
            gap_note(s)
        );
    }
    if let Some(sanity) = &run.sanity {
        for m in &sanity.methods {
            let last = m.mean_spearman_abs.last().copied().flatten();
            eprintln!(
                "sanity {:<15} rank correlation (abs) after randomising all {} layers: {}",
                m.method,
                sanity.layers.len(),
                last.map_or("-".into(), |r| format!("{r:.3}"))
            );
        }
    }
    if let Some(curves) = &run.faithfulness {
        for m in &curves.methods {
            eprintln!(
                "faithfulness {:<15} deletion AUC {:.3}  insertion AUC {:.3}",
                m.method, m.deletion.mean_auc, m.insertion.mean_auc
            );
        }
    }
    let drawing = Drawing {
        stretch: args.stretch,
        shared_scale: args.shared_scale,
    };
    for note in report::write_run(&args.output.out, &run, &drawing)? {
        eprintln!("note: {note}");
    }
    out.finish()?;
    eprintln!("wrote {}", args.output.out.join("explain.html").display());
    Ok(())
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
    s.completeness_note()
        .map_or(String::new(), |note| format!("  ({note})"))
}
