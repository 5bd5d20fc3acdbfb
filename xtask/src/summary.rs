//! `cargo xtask summary` and `cargo xtask list`.

use crate::cli::ArchName;
use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use clap::Args;
use skipnet_models::ModelConfig;
use skipnet_models::registry::all_names;
use skipnet_models::summary::group_thousands;
use skipnet_train::Backend;

#[derive(Args)]
pub struct SummaryArgs {
    /// Architecture name (see `cargo xtask list`).
    #[arg(value_parser = ArchName)]
    arch: String,
    /// Input shape `C,H,W` (default: the architecture's usual input).
    #[arg(long, value_parser = parse_shape)]
    input: Option<[usize; 3]>,
    /// Number of classes (output channels for U-Net).
    #[arg(long)]
    num_classes: Option<usize>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ListArgs {
    /// Print a Markdown table (as in README).
    #[arg(long)]
    markdown: bool,
}

fn parse_shape(text: &str) -> Result<[usize; 3], String> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let values: Vec<usize> = parts
        .iter()
        .map(|p| p.parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("'{text}' is not C,H,W (three positive integers, e.g. 3,224,224)"))?;
    match values.as_slice() {
        [c, h, w] if *c > 0 && *h > 0 && *w > 0 => Ok([*c, *h, *w]),
        _ => Err(format!(
            "'{text}' is not C,H,W (three positive integers, e.g. 3,224,224)"
        )),
    }
}

/// A CPU device to build models on for counting (no computation happens on it).
pub fn any_device() -> Result<Device> {
    let backend = Backend::compiled()
        .into_iter()
        .next()
        .context("no backend compiled in; build with --features flex")?;
    Ok(backend.device()?)
}

pub fn run(args: &SummaryArgs) -> Result<()> {
    let mut config = ModelConfig::from_name(&args.arch)?;
    if let Some(n) = args.num_classes {
        if n == 0 {
            bail!("--num-classes must be at least 1");
        }
        config = config.with_num_classes(n);
    }
    let input = args.input.unwrap_or_else(|| config.default_input());
    config = config.with_input(input);
    let model = config.init(&any_device()?)?;
    let summary = model.summary(&args.arch, input)?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print!("{}", summary.to_table());
    }
    Ok(())
}

pub fn list(args: &ListArgs) -> Result<()> {
    let device = any_device()?;
    if args.markdown {
        println!("| name | params | input | paper |\n|---|---:|---|---|");
    }
    for name in all_names() {
        let config = ModelConfig::from_name(&name)?;
        let input = config.default_input();
        let params = config.init(&device)?.trainable_params();
        let shape = format!("{}×{}×{}", input[0], input[1], input[2]);
        if args.markdown {
            println!(
                "| `{name}` | {} | {shape} | {} |",
                group_thousands(params as u64),
                config.paper()
            );
        } else {
            println!(
                "{name:<22} {:>12}  {shape:<11} {}",
                group_thousands(params as u64),
                config.paper()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_shape;

    #[test]
    fn shapes_parse_or_explain() {
        assert_eq!(parse_shape("3,224,224").unwrap(), [3, 224, 224]);
        assert_eq!(parse_shape(" 1, 28 ,28").unwrap(), [1, 28, 28]);
        for bad in ["3,224", "3,0,4", "a,b,c", "", "3,4,5,6"] {
            assert!(parse_shape(bad).unwrap_err().contains("C,H,W"), "{bad}");
        }
    }
}
