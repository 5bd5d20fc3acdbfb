//! Residual networks: the blocks ([`block`]) and the ImageNet networks built from them ([`net`]).

pub mod block;
pub mod net;

pub use block::{
    BasicBlock, BasicBlockConfig, Bottleneck, BottleneckConfig, Projection, ResidualBlock,
    Shortcut, ShortcutOption,
};
pub use net::{BlockKind, ResNet, ResNetConfig};
