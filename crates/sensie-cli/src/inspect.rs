//! `sensie inspect`.

use std::path::PathBuf;

use sensie::engine::{Engine, EngineOptions};
use sensie::inspect::{nodes, shape_text};
use sensie::model::Model;
use sensie::runtime::Runtime;

#[derive(clap::Args)]
pub struct Args {
    /// The ONNX model.
    #[arg(long)]
    model: PathBuf,
    /// Print JSON (every node) instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> sensie::Result<()> {
    let model = Model::load(&args.model)?;
    let info = model.info().clone();
    let mut engine = Engine::new(Runtime::new()?, model, EngineOptions::default())?;
    let nodes = nodes(&mut engine)?;
    if args.json {
        let doc =
            serde_json::json!({ "model": { "path": args.model, "info": info }, "nodes": nodes });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("serialisable")
        );
        return Ok(());
    }
    let dims = |s: &[Option<usize>]| {
        s.iter()
            .map(|d| d.map_or("N".into(), |d| d.to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("model   {}", args.model.display());
    println!(
        "format  opset {}, produced by {}",
        info.opset,
        if info.producer.is_empty() {
            "?"
        } else {
            &info.producer
        }
    );
    println!(
        "input   {} [{}]{}",
        info.input.name,
        dims(&info.input.shape),
        info.layout
            .map_or(String::new(), |l| format!(" {l:?}").to_uppercase())
    );
    for o in &info.outputs {
        println!("output  {} [{}]", o.name, dims(&o.shape));
    }
    println!(
        "scores  {:?}{}",
        info.output_kind,
        if info.output_kind_detected {
            " (detected)"
        } else {
            ""
        }
    );
    println!();
    println!("{:>4}  {:<20} {:<40} shape", "#", "op", "output");
    for n in &nodes {
        for (k, out) in n.outputs.iter().enumerate() {
            let op = if k == 0 {
                format!("{}{}", n.op, if n.convolutional { " [conv]" } else { "" })
            } else {
                String::new()
            };
            let index = if k == 0 {
                n.index.to_string()
            } else {
                String::new()
            };
            println!(
                "{index:>4}  {op:<20} {:<40} {}",
                out.name,
                shape_text(&out.shape)
            );
        }
    }
    Ok(())
}
