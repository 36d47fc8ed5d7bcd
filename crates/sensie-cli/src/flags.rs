//! Flags several commands share, each declared once with its help and
//! default (the library's constants), and flattened into the commands that
//! take them. `sensie probe` declares its own: there every setting may also
//! come from a config file, so its flags are optional and its defaults are
//! [`sensie::probe::ProbeConfig`]'s (the same constants).

use std::path::PathBuf;

use sensie::engine::DEFAULT_BATCH_SIZE;
use sensie::limits::MAX_THREADS;

use crate::data_args::count;

/// `--model`: the ONNX model a command runs.
#[derive(clap::Args)]
pub struct ModelArg {
    /// The ONNX model.
    #[arg(long = "model", id = "model", value_name = "MODEL")]
    pub path: PathBuf,
}

/// `--threads`: ONNX Runtime's threads.
#[derive(clap::Args)]
pub struct Threads {
    /// Threads per operator (0: one per core).
    #[arg(long = "threads", id = "threads", value_name = "THREADS", default_value_t = 0, value_parser = count("threads", 0, MAX_THREADS))]
    pub count: usize,
}

/// `--batch-size` and `--threads`: how the model's passes run.
#[derive(clap::Args)]
pub struct Compute {
    /// The most examples per ONNX Runtime call.
    #[arg(long, default_value_t = DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    #[command(flatten)]
    pub threads: Threads,
}

/// `--out` and `--force`: the folder a command writes into.
#[derive(clap::Args)]
pub struct OutFlags {
    /// The output directory (what it holds: see the command's description).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace the earlier run in a non-empty --out.
    #[arg(long)]
    pub force: bool,
}
