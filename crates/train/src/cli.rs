//! Command-line pieces for programs built on this crate (feature `clap`): value parsers for
//! closed sets and for the zoo's names, and the translation of spec field names in error
//! messages into the flags that set them.

use std::ffi::OsStr;
use std::fmt::Display;
use std::marker::PhantomData;
use std::str::FromStr;

use clap::ValueEnum;
use clap::builder::{PossibleValue, TypedValueParser};

/// A clap value parser for a closed set `T`: the values `--help` lists are `T`'s
/// `ValueEnum` variants, and a wrong value is refused with `T`'s own `FromStr` message (which
/// names the valid values).
#[derive(Clone)]
pub struct ClosedSet<T>(PhantomData<T>);

impl<T> ClosedSet<T> {
    /// The parser.
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

impl<T> Default for ClosedSet<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> TypedValueParser for ClosedSet<T>
where
    T: ValueEnum + FromStr + Clone + Send + Sync + 'static,
    T::Err: Display,
{
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<T, clap::Error> {
        let text = value.to_string_lossy();
        text.parse::<T>().map_err(|e| {
            clap::Error::raw(clap::error::ErrorKind::InvalidValue, format!("{e}\n")).with_cmd(cmd)
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            T::value_variants()
                .iter()
                .filter_map(ValueEnum::to_possible_value),
        ))
    }
}

/// An architecture argument (`--arch`, `summary <ARCH>`...): a name of the zoo's table
/// ([`skipnet_models::registry::FAMILIES`]), checked when the command line is parsed. An unknown
/// name is refused with the closest names and every valid name pattern.
#[derive(Clone, Copy, Debug, Default)]
pub struct ArchName;

impl TypedValueParser for ArchName {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        let text = value.to_string_lossy();
        skipnet_models::ModelConfig::from_name(&text)
            .map(|_| text.to_string())
            .map_err(|e| {
                clap::Error::raw(clap::error::ErrorKind::InvalidValue, format!("{e}\n"))
                    .with_cmd(cmd)
            })
    }
}

/// `message` with every spec or run-option field it names in backticks (`` `batch_size` ``,
/// `` `dataset.root` ``) replaced by the flag that sets it (`--batch-size`, `--data-dir`): the
/// library's errors name fields, a command line names flags.
pub fn fields_to_flags(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find('`') {
        let Some(len) = rest[start + 1..].find('`') else {
            break;
        };
        let field = &rest[start + 1..start + 1 + len];
        out.push_str(&rest[..start]);
        match flag_of(field) {
            Some(flag) => out.push_str(&flag),
            None => out.push_str(&rest[start..start + len + 2]),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// The flag of a spec or run-option field; `None` for anything else in backticks.
fn flag_of(field: &str) -> Option<String> {
    let flag = match field {
        "model" | "arch" => "arch",
        "dataset" | "dataset.kind" => "dataset",
        "dataset.root" => "data-dir",
        "model.base_width" => "width",
        "model.depth" => "unet-depth",
        "dir" => "out",
        _ => {
            let last = field.rsplit('.').next().unwrap_or(field);
            return FLAG_FIELDS
                .contains(&last)
                .then(|| format!("--{}", last.replace('_', "-")));
        }
    };
    Some(format!("--{flag}"))
}

/// Fields whose flag is their own name with dashes.
const FLAG_FIELDS: [&str; 27] = [
    "epochs",
    "batch_size",
    "lr",
    "optimizer",
    "schedule",
    "warmup_epochs",
    "weight_decay",
    "nesterov",
    "label_smoothing",
    "seed",
    "train_size",
    "valid_size",
    "image_size",
    "preprocess",
    "init_weights",
    "freeze_backbone_epochs",
    "border_weight",
    "border_sigma",
    "width",
    "unet_depth",
    "workers",
    "devices",
    "resume",
    "force",
    "name",
    "backend",
    "config",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_in_backticks_become_flags() {
        assert_eq!(
            fields_to_flags("`batch_size` 30 is shared by `devices` 4"),
            "--batch-size 30 is shared by --devices 4"
        );
        assert_eq!(
            fields_to_flags("`dataset.root` and `model` and `dataset.preprocess`"),
            "--data-dir and --arch and --preprocess"
        );
        // Anything else in backticks stays as it is, and an unpaired backtick too.
        assert_eq!(
            fields_to_flags("run `cargo xtask list` for `names"),
            "run `cargo xtask list` for `names"
        );
    }
}
