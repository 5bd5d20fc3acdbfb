//! The compute backends a run can use. Each one is a cargo feature of this crate (and of
//! `xtask`); the model code is the same on all of them, only the [`Device`] differs.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

/// A Burn backend, selected at run time among those compiled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Burn's pure-Rust CPU backend (the default).
    Flex,
    /// The ndarray CPU backend (deprecated upstream, much slower; kept for comparison).
    Ndarray,
    /// GPU through wgpu (Vulkan, Metal, DX12; Mesa's lavapipe on machines without a GPU).
    Wgpu,
    /// NVIDIA GPU through CUDA.
    Cuda,
    /// LibTorch (PyTorch's C++ library) on the CPU, through burn-tch: PyTorch's own kernels
    /// under Burn's autodiff. Needs libtorch at build and run time (see docs/performance.md).
    Tch,
}

/// A backend that cannot be used in this build or on this machine.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BackendError {
    /// The name is not a backend.
    #[error("unknown backend '{0}'; valid backends: auto, flex, ndarray, wgpu, cuda, tch")]
    Unknown(String),
    /// More devices than the backend can offer.
    #[error(
        "backend '{backend}' has a single device; `devices` {asked} needs a GPU backend (wgpu or cuda)"
    )]
    SingleDevice {
        /// The backend asked for.
        backend: Backend,
        /// The number of devices asked for.
        asked: usize,
    },
    /// The backend's cargo feature was not enabled in this build.
    #[error(
        "backend '{backend}' is not compiled into this build; rebuild with `--features {feature}` \
         (compiled in: {compiled})"
    )]
    NotCompiled {
        /// The backend asked for.
        backend: Backend,
        /// The cargo feature that enables it.
        feature: &'static str,
        /// The backends this build has.
        compiled: String,
    },
}

impl Backend {
    /// Every backend, in the order the docs list them.
    pub const ALL: [Backend; 5] = [
        Backend::Flex,
        Backend::Ndarray,
        Backend::Wgpu,
        Backend::Cuda,
        Backend::Tch,
    ];

    /// The backend's name on the command line and its cargo feature.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
            Backend::Tch => "tch",
        }
    }

    /// Whether this build includes the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Flex => cfg!(feature = "flex"),
            Backend::Ndarray => cfg!(feature = "ndarray"),
            Backend::Wgpu => cfg!(any(feature = "wgpu", feature = "wgpu-unfused")),
            Backend::Cuda => cfg!(any(feature = "cuda", feature = "cuda-unfused")),
            Backend::Tch => cfg!(feature = "tch"),
        }
    }

    /// Whether the backend computes on the CPU (one device, memory in this process).
    pub fn is_cpu(self) -> bool {
        matches!(self, Backend::Flex | Backend::Ndarray | Backend::Tch)
    }

    /// The fastest CPU backend of this build, what `auto` means: LibTorch when the build has
    /// it (see docs/performance.md for the measurements), else flex, else ndarray. GPU backends are
    /// never picked automatically: on a machine without a GPU, wgpu falls back to a slow
    /// software rasteriser.
    pub fn auto() -> Backend {
        [Backend::Tch, Backend::Flex, Backend::Ndarray]
            .into_iter()
            .find(|b| b.is_compiled())
            .unwrap_or(Backend::Flex)
    }

    /// The backends this build includes.
    pub fn compiled() -> Vec<Backend> {
        Self::ALL.into_iter().filter(|b| b.is_compiled()).collect()
    }

    /// The default device of this backend (without autodiff; call `.autodiff()` to train).
    ///
    /// The GPU backends initialise lazily: a missing driver shows up at the first operation.
    pub fn device(self) -> Result<Device, BackendError> {
        if !self.is_compiled() {
            return Err(BackendError::NotCompiled {
                backend: self,
                feature: self.name(),
                compiled: Self::compiled()
                    .iter()
                    .map(|b| b.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Ok(self.compiled_device())
    }

    /// `count` devices of this backend (GPU indices `0..count`); CPU backends have one.
    pub fn devices(self, count: usize) -> Result<Vec<Device>, BackendError> {
        let first = self.device()?;
        if count <= 1 {
            return Ok(vec![first]);
        }
        if self.is_cpu() {
            return Err(BackendError::SingleDevice {
                backend: self,
                asked: count,
            });
        }
        match self {
            #[cfg(any(feature = "wgpu", feature = "wgpu-unfused"))]
            Backend::Wgpu => Ok((0..count)
                .map(|i| Device::wgpu(burn::tensor::DeviceKind::DiscreteGpu(i)))
                .collect()),
            #[cfg(any(feature = "cuda", feature = "cuda-unfused"))]
            Backend::Cuda => Ok((0..count).map(Device::cuda).collect()),
            #[allow(unreachable_patterns)]
            _ => Ok(vec![first]),
        }
    }

    fn compiled_device(self) -> Device {
        match self {
            #[cfg(feature = "flex")]
            Backend::Flex => Device::flex(),
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            Backend::Ndarray => Device::ndarray(),
            #[cfg(any(feature = "wgpu", feature = "wgpu-unfused"))]
            Backend::Wgpu => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
            #[cfg(any(feature = "cuda", feature = "cuda-unfused"))]
            Backend::Cuda => Device::cuda(0),
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            Backend::Tch => Device::libtorch(),
            #[allow(unreachable_patterns)]
            _ => unreachable!("device() checks is_compiled() first"),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = BackendError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Backend::auto());
        }
        Self::ALL
            .into_iter()
            .find(|b| b.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| BackendError::Unknown(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for backend in Backend::ALL {
            assert_eq!(backend.name().parse::<Backend>().unwrap(), backend);
        }
        assert_eq!("FLEX".parse::<Backend>().unwrap(), Backend::Flex);
        let auto = "auto".parse::<Backend>().unwrap();
        assert_eq!(auto, Backend::auto());
        assert!(auto.is_compiled() || !Backend::Flex.is_compiled());
        assert_eq!(
            auto,
            if cfg!(feature = "tch") {
                Backend::Tch
            } else {
                Backend::Flex
            }
        );
        let err = "tpu".parse::<Backend>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown backend 'tpu'; valid backends: auto, flex, ndarray, wgpu, cuda, tch"
        );
    }

    #[test]
    fn missing_backends_name_their_feature() {
        for backend in Backend::ALL {
            match backend.device() {
                Ok(_) => assert!(backend.is_compiled()),
                Err(err) => {
                    assert!(!backend.is_compiled());
                    assert!(
                        err.to_string()
                            .contains(&format!("--features {}", backend.name()))
                    );
                }
            }
        }
    }

    #[cfg(feature = "flex")]
    #[test]
    fn cpu_backends_have_one_device() {
        assert_eq!(Backend::Flex.devices(1).unwrap().len(), 1);
        let err = Backend::Flex.devices(2).unwrap_err().to_string();
        assert!(err.contains("`devices` 2 needs a GPU backend"), "{err}");
    }

    #[cfg(feature = "flex")]
    #[test]
    fn flex_trains_a_block() {
        use burn::tensor::{Distribution, Tensor};
        use skipnet_models::CifarResNetConfig;
        let device = Backend::Flex.device().unwrap().autodiff();
        let net = CifarResNetConfig::new(8).init(&device);
        let x = Tensor::random([2, 3, 8, 8], Distribution::Default, &device);
        let loss = net.forward(x).powi_scalar(2).mean();
        let grads = loss.backward();
        assert!(net.conv1.weight.val().grad(&grads).is_some());
    }
}
