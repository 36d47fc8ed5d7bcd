//! `sensie visualize`: kernels, feature maps, activation maximisation and
//! Deep Dream. Each subcommand parses its flags into a
//! `sensie::visualize::VisualizeConfig`, calls `visualize::run`, prints what
//! the run found and writes its report (PNGs, an HTML page, a JSON summary
//! and, for optimisation, `inputs.npy` in `--out`).

use std::path::{Path, PathBuf};

use sensie::Result;
use sensie::engine::Score;
use sensie::limits::{MAX_RESTARTS, MAX_STEPS};
use sensie::output::OutputDir;
use sensie::visualize::{
    self, DreamConfig, ExampleChoice, Kind, MaximizeConfig, Parameterisation, Target,
    VisualizeConfig, VisualizeRun,
};

use crate::data_args::{count, index};
use crate::flags::{ModelArg, OutFlags, Threads};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// A convolutional layer's kernels as a grid (the first layer's in colour when the input has 3 bands).
    Kernels(KernelsArgs),
    /// Every channel's activation map of a layer for chosen examples, most active first.
    Features(AtLayer),
    /// Optimise inputs to maximise a class score, or a layer, channel or neuron.
    #[command(allow_negative_numbers = true)]
    Maximize(MaximizeArgs),
    /// Deep Dream: amplify a layer's activations on given images, over octaves.
    #[command(allow_negative_numbers = true)]
    Dream(DreamArgs),
}

/// Options every subcommand takes.
#[derive(clap::Args)]
struct Common {
    #[command(flatten)]
    model: ModelArg,
    // --out: the folder for the pictures, the HTML page and the results.
    #[command(flatten)]
    output: OutFlags,
    #[command(flatten)]
    threads: Threads,
}

impl Common {
    /// The output directory made ready, before any work (see [`sensie::output`]).
    fn output(&self, data: Option<&Path>) -> Result<OutputDir> {
        let inputs: Vec<&Path> = std::iter::once(self.model.path.as_path())
            .chain(data)
            .collect();
        sensie::output::prepare(&self.output.out, self.output.force, &inputs)
    }

    /// The run of `kind` on this model.
    fn config(&self, kind: Kind) -> VisualizeConfig {
        VisualizeConfig {
            model: self.model.path.clone(),
            threads: self.threads.count,
            kind,
        }
    }
}

/// Where examples come from.
#[derive(clap::Args)]
struct Examples {
    /// A .npy of inputs in the model's own layout and value range, examples first.
    #[arg(long)]
    data: PathBuf,
    /// Which examples (0-based, comma-separated); the first four (or fewer) by default.
    #[arg(long, value_delimiter = ',', value_parser = index, allow_hyphen_values = true)]
    indices: Vec<usize>,
}

impl Examples {
    fn choice(&self) -> ExampleChoice {
        ExampleChoice {
            data: self.data.clone(),
            indices: self.indices.clone(),
        }
    }
}

#[derive(clap::Args)]
struct KernelsArgs {
    #[command(flatten)]
    common: Common,
    /// A convolution's node name, output tensor or weight (e.g. conv1.weight); the first convolution by default.
    #[arg(long)]
    layer: Option<String>,
}

/// A layer seen on chosen examples (features, dream).
#[derive(clap::Args)]
struct AtLayer {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    examples: Examples,
    /// The layer: a tensor or node name, as `sensie inspect` lists them.
    #[arg(long)]
    layer: String,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["class", "layer"])))]
struct MaximizeArgs {
    #[command(flatten)]
    common: Common,
    /// Maximise this class's score.
    #[arg(long, conflicts_with = "layer")]
    class: Option<usize>,
    /// Maximise this layer's mean activation (or, with --channel, a channel's).
    #[arg(long)]
    layer: Option<String>,
    /// The channel (or unit, for a layer of units) of --layer to maximise.
    #[arg(long, requires = "layer")]
    channel: Option<usize>,
    /// Maximise one neuron of --channel: its row and column in the maps, as Y,X.
    #[arg(long, requires = "channel", value_name = "Y,X", value_parser = pair::<usize>)]
    neuron: Option<(usize, usize)>,
    /// The class score maximised.
    #[arg(long, value_enum, default_value_t = ClassScore::Logit)]
    score: ClassScore,
    /// Adam steps.
    #[arg(long, default_value_t = 256, value_parser = count("steps", 1, MAX_STEPS))]
    steps: usize,
    /// Independent starts, optimised together as one batch.
    #[arg(long, default_value_t = 4, value_parser = count("restarts", 1, MAX_RESTARTS))]
    restarts: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 0.05)]
    lr: f32,
    /// How images are represented.
    #[arg(long, value_enum, default_value_t = Param::Fourier)]
    param: Param,
    /// The power of 1/frequency scaling Fourier coefficients.
    #[arg(long, default_value_t = 1.0)]
    decay: f32,
    /// Random shift per step, in pixels (default: the image size / 28, at least 1).
    #[arg(long)]
    jitter: Option<usize>,
    /// Random scale per step: a factor in [1 - s, 1 + s].
    #[arg(long, default_value_t = 0.1)]
    scale: f32,
    /// Random rotation per step, up to this many degrees either way.
    #[arg(long, default_value_t = 10.0)]
    rotate: f32,
    /// Strength of the L2 penalty (towards the data's mean, or the middle of the range).
    #[arg(long, default_value_t = 0.0)]
    l2: f32,
    /// Strength of the total-variation penalty.
    #[arg(long, default_value_t = 0.0)]
    tv: f32,
    /// Blur the images every this many steps (0: never).
    #[arg(long, default_value_t = 0)]
    blur_every: usize,
    /// The blur's standard deviation, in pixels.
    #[arg(long, default_value_t = 0.5)]
    blur_sigma: f32,
    /// Strength of the diversity term between restarts (around 100 for a logit).
    #[arg(long, default_value_t = 0.0)]
    diversity: f32,
    /// The layer whose Gram matrices diversity compares (default: the target's layer, or the last convolution).
    #[arg(long)]
    diversity_layer: Option<String>,
    /// The model's input range as LOW,HIGH (default: from --data, else 0,1).
    #[arg(long, value_name = "LOW,HIGH", value_parser = pair::<f32>, allow_hyphen_values = true)]
    range: Option<(f32, f32)>,
    /// A .npy of real inputs (model layout): the default range, the starting
    /// value (the data's mean per band) and the Fourier colour decorrelation.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Seed of the random draws (starting images, jitter, scale, rotation).
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ClassScore {
    Logit,
    Probability,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Param {
    /// Lucid's decorrelated Fourier space.
    Fourier,
    /// Plain pixels, clamped to the range.
    Pixel,
}

#[derive(clap::Args)]
struct DreamArgs {
    #[command(flatten)]
    at: AtLayer,
    /// Scales worked at, coarse to fine.
    #[arg(long, default_value_t = 4, value_parser = count("octaves", 1, MAX_STEPS))]
    octaves: usize,
    /// Size ratio between octaves.
    #[arg(long, default_value_t = 1.4)]
    octave_scale: f32,
    /// Gradient steps per octave.
    #[arg(long, default_value_t = 10, value_parser = count("steps", 1, MAX_STEPS))]
    steps: usize,
    /// Mean change of a pixel per step, as a fraction of the value range.
    #[arg(long, default_value_t = 1.5 / 255.0)]
    step_size: f32,
    /// Random shift per step, in pixels.
    #[arg(long, default_value_t = 1)]
    jitter: usize,
    /// The model's input range as LOW,HIGH (default: from --data).
    #[arg(long, value_name = "LOW,HIGH", value_parser = pair::<f32>, allow_hyphen_values = true)]
    range: Option<(f32, f32)>,
    /// Seed of the random draws (starting images, jitter, scale, rotation).
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub fn run(args: Args) -> Result<()> {
    match args.command {
        Command::Kernels(a) => kernels(a),
        Command::Features(a) => features(a),
        Command::Maximize(a) => maximize(a),
        Command::Dream(a) => dream(a),
    }
}

fn kernels(args: KernelsArgs) -> Result<()> {
    let out = args.common.output(None)?;
    let config = args.common.config(Kind::Kernels { layer: args.layer });
    finish(&visualize::run(&config)?, out)
}

fn features(args: AtLayer) -> Result<()> {
    let out = args.common.output(Some(&args.examples.data))?;
    let config = args.common.config(Kind::Features {
        examples: args.examples.choice(),
        layer: args.layer,
    });
    finish(&visualize::run(&config)?, out)
}

fn maximize(args: MaximizeArgs) -> Result<()> {
    let out = args.common.output(args.data.as_deref())?;
    let target = match (args.class, &args.layer, args.channel, args.neuron) {
        (Some(k), _, _, _) => Target::Class(k),
        (None, Some(layer), None, _) => Target::Layer {
            layer: layer.clone(),
        },
        (None, Some(layer), Some(channel), None) => Target::Channel {
            layer: layer.clone(),
            channel,
        },
        (None, Some(layer), Some(channel), Some((y, x))) => Target::Neuron {
            layer: layer.clone(),
            channel,
            y,
            x,
        },
        (None, None, _, _) => unreachable!("clap requires --class or --layer"),
    };
    let settings = MaximizeConfig {
        steps: args.steps,
        restarts: args.restarts,
        learning_rate: args.lr,
        parameterisation: match args.param {
            Param::Fourier => Parameterisation::Fourier { decay: args.decay },
            Param::Pixel => Parameterisation::Pixel,
        },
        class_score: match args.score {
            ClassScore::Logit => Score::Logit,
            ClassScore::Probability => Score::Probability,
        },
        jitter: args.jitter,
        scale: args.scale,
        rotate: args.rotate,
        l2: args.l2,
        tv: args.tv,
        blur_every: args.blur_every,
        blur_sigma: args.blur_sigma,
        diversity: args.diversity,
        diversity_layer: args.diversity_layer,
        range: args.range,
        data: args.data,
        seed: args.seed,
        ..MaximizeConfig::new(target)
    };
    let config = args.common.config(Kind::Maximize(settings));
    finish(&with_steps_bar(&config)?, out)
}

fn dream(args: DreamArgs) -> Result<()> {
    let at = args.at;
    let out = at.common.output(Some(&at.examples.data))?;
    let config = at.common.config(Kind::Dream(DreamConfig {
        examples: at.examples.choice(),
        layer: at.layer,
        octaves: args.octaves,
        octave_scale: args.octave_scale,
        steps: args.steps,
        step_size: args.step_size,
        jitter: args.jitter,
        range: args.range,
        seed: args.seed,
    }));
    finish(&with_steps_bar(&config)?, out)
}

/// Runs an optimisation (maximize, dream) with a bar of its steps.
fn with_steps_bar(config: &VisualizeConfig) -> Result<VisualizeRun> {
    let bar = steps_bar();
    let run = visualize::run_with_progress(config, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    run
}

/// Two comma-separated values, as in `--range 0,255` or `--neuron 7,7`.
fn pair<T: std::str::FromStr>(text: &str) -> std::result::Result<(T, T), String> {
    let parse = |part: &str| {
        part.trim()
            .parse::<T>()
            .map_err(|_| format!("'{part}' is not a number"))
    };
    match text.split_once(',') {
        Some((a, b)) => Ok((parse(a)?, parse(b)?)),
        None => Err(format!(
            "expected two values separated by a comma, got '{text}'"
        )),
    }
}

/// Prints what the run found, as each command always has, and writes it.
fn finish(run: &VisualizeRun, out: OutputDir) -> Result<()> {
    // The files' names are known once the run is (feature maps are named
    // by example): --force replaces an earlier run's, never a file of the
    // user's that has one of their names.
    let report = run.report()?;
    let files = report.files();
    let out = out.claim(
        &files.iter().map(String::as_str).collect::<Vec<_>>(),
        |_| false,
    )?;
    match run {
        VisualizeRun::Kernels(kernels) => eprintln!(
            "{}: kernels {:?}{}",
            kernels.layer,
            kernels.weights.shape(),
            if kernels.colour { " in colour" } else { "" }
        ),
        VisualizeRun::Features { maps, .. } => {
            eprintln!("{}: maps {:?}", maps.layer, maps.maps.shape())
        }
        VisualizeRun::Maximize { target, result } => {
            for (r, objective) in result.objective.iter().enumerate() {
                let probability = match target {
                    Target::Class(k) => format!(", probability {:.4}", result.probabilities[r][*k]),
                    _ => String::new(),
                };
                eprintln!("restart {r}: objective {objective:.4}{probability}");
            }
        }
        VisualizeRun::Dream { dreamed, examples } => {
            for (label, (before, after)) in examples
                .iter()
                .zip(dreamed.norm_before.iter().zip(&dreamed.norm_after))
            {
                eprintln!("{label}: |{}| {before:.4} -> {after:.4}", dreamed.layer);
            }
        }
    }
    for path in report.write(out.path())? {
        eprintln!("wrote {}", path.display());
    }
    out.finish()
}

/// A bar of optimisation steps on a terminal (maximize and dream run for
/// minutes on large models), hidden otherwise.
fn steps_bar() -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(0)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} steps, {eta} left")
            .expect("a valid template"),
    );
    bar
}
