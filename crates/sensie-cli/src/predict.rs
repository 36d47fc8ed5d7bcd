//! `sensie predict`: the model's outputs for every example. Images are read
//! and prepared as `probe` reads them (the same data flags); a model whose
//! input is not an image takes a `.npy` in its own shape as it is.

use std::path::{Path, PathBuf};

use ndarray::Array2;

use sensie::data::{self, DataSpec};
use sensie::engine::{Engine, EngineOptions};
use sensie::explain::Geometry;
use sensie::model::Model;
use sensie::preprocess::Preprocess;
use sensie::runtime::Runtime;
use sensie::{Error, ResultExt};

use crate::data_args::DataArgs;
use crate::flags::{Compute, ModelArg};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArg,
    #[command(flatten)]
    input: DataArgs,
    /// Where to write the outputs (.npy, float32, one row per example of the data file).
    #[arg(long)]
    out: PathBuf,
    /// Replace an existing --out file.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    compute: Compute,
}

pub fn run(args: Args) -> sensie::Result<()> {
    let (mut spec, mut preprocess) = (DataSpec::default(), Preprocess::default());
    args.input.merge(&mut spec, &mut preprocess)?;
    check_out(
        &args.out,
        args.force,
        &[
            &args.model.path,
            &spec.path,
            spec.labels.as_deref().unwrap_or(&spec.path),
            spec.metadata.as_deref().unwrap_or(&spec.path),
        ],
    )?;
    let model = Model::load(&args.model.path)?;
    // Each example's row in the output (its position in the data file), and its id.
    let (x, rows, ids, total) = match Geometry::of(&model, "predict") {
        Ok(geometry) => {
            let images = data::load_images(&spec)?;
            if let Some(warning) = preprocess.check_fit(
                (images.images.dim().2, images.images.dim().3),
                (geometry.height, geometry.width),
            )? {
                eprintln!("WARNING: {warning}");
            }
            let x = preprocess
                .apply(
                    images.images.view(),
                    Some((geometry.height, geometry.width)),
                    geometry.layout,
                )?
                .into_dyn();
            (x, images.positions, images.ids, images.total)
        }
        Err(_) if spec.path.as_os_str().is_empty() => {
            return Err(Error::invalid("data", "no data path given (--data)"));
        }
        Err(_) => {
            let x = sensie::data::read_array(&spec.path)?;
            let n = x.shape().first().copied().unwrap_or(0);
            (
                x,
                (0..n).collect(),
                (0..n).map(|i| i.to_string()).collect(),
                n,
            )
        }
    };
    let mut engine = Engine::new(
        Runtime::new()?,
        model,
        EngineOptions {
            batch_size: args.compute.batch_size,
            threads: args.compute.threads.count,
        },
    )?;
    let y = engine
        .predict(x.view())
        .with_context(|| spec.path.display().to_string())?;
    // NaN rows are what examples left out get: a NaN the model gave (its
    // arithmetic overflowed, as with --scale 1e38) would read as one.
    if let Some(i) = y
        .rows()
        .into_iter()
        .position(|r| r.iter().any(|v| v.is_nan()))
    {
        return Err(Error::data(
            &spec.path,
            format!(
                "the model's output for {} is NaN; check that example's pixels (extreme or saturated values) and the preprocessing \
                 (--scale, --mean, --std): the model may expect other units",
                sensie::data::name::describe(rows[i], &ids[i])
            ),
        ));
    }
    // Row i is example i of the data file; examples left out (--only, --skip-bad) get NaN rows.
    let mut all = Array2::from_elem((total, y.ncols()), f32::NAN);
    for (row, &at) in y.rows().into_iter().zip(&rows) {
        all.row_mut(at).assign(&row);
    }
    sensie::output::write_npy(&args.out, &all)?;
    let left_out = total - rows.len();
    let note = if left_out > 0 {
        format!("; {left_out} left out by --only or --skip-bad have NaN rows")
    } else {
        String::new()
    };
    eprintln!(
        "wrote {} ({total} examples x {} outputs{note})",
        args.out.display(),
        y.ncols()
    );
    Ok(())
}

/// Refuses an output that is one of the inputs, a directory, or an existing
/// file without `force`.
fn check_out(out: &Path, force: bool, inputs: &[&Path]) -> sensie::Result<()> {
    let what = || format!("--out {}", out.display());
    let same = |a: &Path, b: &Path| {
        a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
    };
    if let Some(input) = inputs.iter().find(|i| same(out, i)) {
        return Err(Error::invalid(
            what(),
            format!(
                "it is the input {}; choose another output file",
                input.display()
            ),
        ));
    }
    if out.is_dir() {
        return Err(Error::invalid(
            what(),
            "it is a directory; give a .npy file name",
        ));
    }
    if out.exists() && !force {
        return Err(Error::invalid(
            what(),
            "the file exists; choose another name or pass --force to replace it",
        ));
    }
    Ok(())
}
