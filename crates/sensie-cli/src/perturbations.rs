//! `sensie perturbations`: what `--perturb` accepts.

use sensie::perturb::builtins;

#[derive(clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> sensie::Result<()> {
    if args.json {
        let list: Vec<serde_json::Value> = builtins()
            .iter()
            .map(|b| {
                let options: Vec<serde_json::Value> =
                    b.options.iter().map(|o| serde_json::json!({ "name": o.name, "default": o.default, "help": o.help })).collect();
                serde_json::json!({
                    "name": b.name, "summary": b.summary, "parameter": b.parameter, "unit": b.unit,
                    "identity": b.identity, "options": options,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&list).expect("serialisable")
        );
        return Ok(());
    }
    for b in builtins() {
        println!(
            "{:<15} {} ({}); unchanged at {}",
            b.name, b.parameter, b.unit, b.identity
        );
        println!("{:<15} {}", "", b.summary);
        for o in b.options {
            let default = if o.default.is_empty() {
                String::new()
            } else {
                format!(" [default {}]", o.default)
            };
            println!("{:<15}   {}: {}{default}", "", o.name, o.help);
        }
    }
    println!();
    println!(
        "Use: --perturb NAME=a:b:n (n values from a to b) or NAME=v1,v2,...; options as NAME(key=value,...)=SPEC"
    );
    Ok(())
}
