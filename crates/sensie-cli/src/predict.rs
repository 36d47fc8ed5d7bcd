//! `sensie predict`.

use std::path::PathBuf;

use sensie::engine::{Engine, EngineOptions};
use sensie::model::Model;
use sensie::runtime::Runtime;

#[derive(clap::Args)]
pub struct Args {
    /// The ONNX model.
    #[arg(long)]
    model: PathBuf,
    /// A .npy of inputs in the model's own layout, examples first.
    #[arg(long)]
    data: PathBuf,
    /// Where to write the outputs (.npy, float32, N x outputs).
    #[arg(long)]
    out: PathBuf,
    /// Examples per ONNX Runtime call.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Threads per operator (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

pub fn run(args: Args) -> sensie::Result<()> {
    let model = Model::load(&args.model)?;
    let x = sensie::npy::read_f32(&args.data)?;
    let mut engine = Engine::new(Runtime::new()?, model, EngineOptions { batch_size: args.batch_size, threads: args.threads })?;
    let y = engine.predict(x.view()).map_err(|e| match e {
        sensie::Error::InvalidInput { what, reason } => sensie::Error::InvalidInput { what: format!("{}: {what}", args.data.display()), reason },
        other => other,
    })?;
    sensie::npy::write(&args.out, &y)?;
    eprintln!("wrote {} ({} examples x {} outputs)", args.out.display(), y.nrows(), y.ncols());
    Ok(())
}
