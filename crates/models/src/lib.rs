//! # skipnet-models
//!
//! Residual and skip-connection networks as Burn modules, structurally identical to torchvision
//! where torchvision has them: ResNet-18…152, ResNeXt, Wide ResNet, DenseNet; plus the CIFAR
//! ResNets of He et al., their plain twins, U-Net and Highway networks.
//!
//! Every model is built from a `Config` with `init(&device)` and runs on any Burn backend.

pub mod error;
pub mod layers;
pub mod params;
pub mod resnet;
pub mod summary;

#[cfg(test)]
pub(crate) mod test_util;

pub use error::ModelError;
pub use params::trainable_params;
pub use resnet::*;
pub use summary::{ModelSummary, StageSummary};
