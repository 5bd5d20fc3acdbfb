//! # skipnet-models
//!
//! Residual and skip-connection networks as Burn modules, structurally identical to torchvision
//! where torchvision has them: ResNet-18…152, ResNeXt, Wide ResNet, DenseNet; plus the CIFAR
//! ResNets of He et al., their plain twins, the CIFAR Wide ResNets, U-Net and Highway networks.
//!
//! Every model is built from a `Config` with `init(&device)` and runs on any Burn backend.

#![warn(missing_docs)]

pub mod cifar;
pub mod densenet;
pub mod error;
pub mod fold;
pub mod highway;
#[cfg(feature = "hub")]
pub mod hub;
pub mod init;
#[cfg(feature = "interop")]
pub mod interop;
pub mod layers;
pub mod output;
pub mod params;
pub mod registry;
pub mod resnet;
pub mod summary;
pub mod unet;
pub mod wide_resnet;

#[cfg(test)]
pub(crate) mod test_util;

pub use cifar::{CifarResNet, CifarResNetConfig};
pub use densenet::{DenseNet, DenseNetConfig, DenseStem};
pub use error::ModelError;
pub use highway::{
    HighwayConv, HighwayConvConfig, HighwayLayer, HighwayMlp, HighwayMlpConfig, TransformGate,
};
pub use init::{WeightInit, torch_default_convolutions};
pub use params::trainable_params;
pub use registry::{Architecture, Family, Model, ModelConfig, ModelOutput, ZooModel};
pub use resnet::*;
pub use skipnet_core::Task;
/// Atomic file writes (from `skipnet-core`, where the data crate uses them too).
pub use skipnet_core::atomic;
pub use summary::{ModelSummary, StageSummary};
pub use unet::{UNet, UNetConfig};
pub use wide_resnet::{CifarWideResNet, CifarWideResNetConfig, WideBlock};

/// This crate's README (its crates.io page), whose example compiles as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct CrateReadmeDoctests;
