//! `sensie predict`: the model's outputs for every example. Images are read
//! and prepared as `probe` reads them (the same data flags); a model whose
//! input is not an image takes a `.npy` in its own shape as it is.

use std::path::PathBuf;

use sensie::Error;
use sensie::data::{self, DataSpec};
use sensie::engine::{Engine, EngineOptions};
use sensie::explain::Geometry;
use sensie::model::Model;
use sensie::preprocess::Preprocess;
use sensie::runtime::Runtime;

use crate::data_args::DataArgs;

#[derive(clap::Args)]
pub struct Args {
    /// The ONNX model.
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    input: DataArgs,
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
    let (mut spec, mut preprocess) = (DataSpec::default(), Preprocess::default());
    args.input.merge(&mut spec, &mut preprocess);
    let x = match Geometry::of(&model, "predict") {
        Ok(geometry) => {
            let (images, _) = data::load_images(&spec)?;
            preprocess
                .apply(
                    images.view(),
                    Some((geometry.height, geometry.width)),
                    geometry.layout,
                )?
                .into_dyn()
        }
        Err(_) if spec.path.as_os_str().is_empty() => {
            return Err(Error::InvalidInput {
                what: "data".into(),
                reason: "no data path given (--data)".into(),
            });
        }
        Err(_) => sensie::data::read_array(&spec.path)?,
    };
    let mut engine = Engine::new(
        Runtime::new()?,
        model,
        EngineOptions {
            batch_size: args.batch_size,
            threads: args.threads,
        },
    )?;
    let y = engine.predict(x.view()).map_err(|e| match e {
        Error::InvalidInput { what, reason } => Error::InvalidInput {
            what: format!("{}: {what}", spec.path.display()),
            reason,
        },
        other => other,
    })?;
    sensie::npy::write(&args.out, &y)?;
    eprintln!(
        "wrote {} ({} examples x {} outputs)",
        args.out.display(),
        y.nrows(),
        y.ncols()
    );
    Ok(())
}
