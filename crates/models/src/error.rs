//! Errors a model configuration can report before anything is built.

/// Everything that can be wrong with a request for a model: an unknown name, a depth or width
/// the architecture cannot have, an input too small for the network.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    /// The architecture name is not in the registry.
    #[error("unknown architecture '{name}'{hint}; valid names: {valid}")]
    UnknownArchitecture {
        /// The name that was asked for.
        name: String,
        /// ", did you mean ...?" or empty.
        hint: String,
        /// Every valid name, comma separated.
        valid: String,
    },
    /// A depth that the family cannot be built with.
    #[error("invalid depth {depth} for {family}: {expected}")]
    InvalidDepth {
        /// The architecture family (`cifar-resnet`, `highway-mlp`...).
        family: String,
        /// The depth that was asked for.
        depth: usize,
        /// What depths are allowed.
        expected: String,
    },
    /// Any other configuration value out of range.
    #[error("invalid {field} = {value} for {family}: {expected}")]
    InvalidConfig {
        /// The architecture family.
        family: String,
        /// The configuration field.
        field: String,
        /// Its value, as given.
        value: String,
        /// What is allowed.
        expected: String,
    },
    /// The input is too small (or has the wrong channel count) for the network.
    #[error("input [{c}, {h}, {w}] does not fit {family}: {expected}", c = input[0], h = input[1], w = input[2])]
    InvalidInput {
        /// The architecture family.
        family: String,
        /// The input shape `[channels, height, width]`.
        input: [usize; 3],
        /// What the network needs.
        expected: String,
    },
}

impl ModelError {
    pub(crate) fn config(
        family: &str,
        field: &str,
        value: impl std::fmt::Display,
        expected: &str,
    ) -> Self {
        ModelError::InvalidConfig {
            family: family.to_string(),
            field: field.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }

    pub(crate) fn input(family: &str, input: [usize; 3], expected: impl Into<String>) -> Self {
        ModelError::InvalidInput {
            family: family.to_string(),
            input,
            expected: expected.into(),
        }
    }
}

/// Fails with [`ModelError::InvalidConfig`] unless `value > 0`.
pub(crate) fn ensure_positive(family: &str, field: &str, value: usize) -> Result<(), ModelError> {
    if value == 0 {
        Err(ModelError::config(
            family,
            field,
            value,
            "must be at least 1",
        ))
    } else {
        Ok(())
    }
}
