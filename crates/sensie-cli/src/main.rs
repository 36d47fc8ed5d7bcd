//! `sensie`: probe trained neural networks from the command line. A thin
//! layer over the `sensie` library: each subcommand parses its options, calls
//! the library, and prints or writes what it returns.

mod compare;
mod data_args;
mod explain;
mod flags;
mod inspect;
mod merge;
mod perturbations;
mod predict;
mod probe;
mod visualize;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "sensie",
    version,
    about = "Probe trained neural networks (ONNX): sensitivity, explanations, visualisation"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show a model's inputs, outputs and every node with its output shape.
    Inspect(inspect::Args),
    /// Run a model on a data set and write its outputs.
    #[command(allow_negative_numbers = true)]
    Predict(Box<predict::Args>),
    /// See what a model has learned: kernels, feature maps, activation maximisation, Deep Dream.
    Visualize(Box<visualize::Args>),
    /// Sensitivity tests: perturbation sweeps, properties of the data, classes.
    #[command(allow_negative_numbers = true)]
    Probe(Box<probe::Args>),
    /// Join the parts of a sharded probe run (--shard K/N) into its results.
    Merge(merge::Args),
    /// Overlay finished probe runs of the same tests and test how their effects differ.
    Compare(compare::Args),
    /// Every perturbation, its parameter, unit and options.
    Perturbations(perturbations::Args),
    /// Attribution maps (saliency, Integrated Gradients, Grad-CAM, occlusion, ...)
    /// for chosen examples, with optional sanity and faithfulness checks.
    #[command(allow_negative_numbers = true)]
    Explain(Box<explain::Args>),
}

fn main() {
    // Rust ignores SIGPIPE, so printing into a closed pipe (`sensie inspect
    // --json | head -1`) would panic; end quietly instead, as Unix tools do.
    // SAFETY: restoring a signal's default disposition before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // ONNX Runtime's telemetry off unless the user asked for it (see
    // sensie::runtime): it cost start-up time and sends usage data.
    if std::env::var_os(sensie::runtime::TELEMETRY_OFF).is_none() {
        // SAFETY: no other thread exists yet to read the environment.
        unsafe { std::env::set_var(sensie::runtime::TELEMETRY_OFF, "1") };
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => inspect::run(args),
        Command::Predict(args) => predict::run(*args),
        Command::Visualize(args) => visualize::run(*args),
        Command::Probe(args) => probe::run(*args),
        Command::Merge(args) => merge::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Perturbations(args) => perturbations::run(args),
        Command::Explain(args) => explain::run(*args),
    };
    let code = match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    };
    exit_now(code)
}

/// Ends the process without running the C++ destructors that ONNX Runtime
/// registers with `atexit`: they free its kernel and operator registries
/// piece by piece, 4-5% of a short probe's time, for memory the system takes
/// back at once anyway. Every command has closed (and renamed into place)
/// the files it wrote by the time it returns; stdout is flushed here, and
/// stderr is not buffered.
fn exit_now(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // SAFETY: _exit only ends the process; nothing of ours is left to run.
    unsafe { libc::_exit(code) }
}
