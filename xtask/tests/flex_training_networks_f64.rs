//! Whole networks on flex's native training kernels (patches/burn-flex) against Burn's generic
//! compositions (the ndarray backend), in f64: one training step of a CIFAR ResNet-20 with
//! training-mode batch norm and cross-entropy (the network of `cargo xtask train`), ResNet-18
//! and a small U-Net, with the same weights and batch on both sides — the loss within 1e-4 and
//! every parameter's gradient within 1e-4 relative L2, parameter by parameter. f64 because in
//! f32 the two backends' rounding differences flip the odd ReLU input or max-pool pair that
//! sits within rounding of a tie, which routes a gradient elsewhere (measured up to 2e-2 on
//! ResNet-18's stem in some random inits); in f64 the differences are ~1e-13 and nothing flips,
//! so the check sees only the kernels. Its own test binary: a device's default dtype is set
//! once per process, before any tensor exists.
#![cfg(all(feature = "flex", feature = "ndarray"))]

mod backward_support;

use backward_support::{check_networks, compare_network};
use burn::tensor::{Device, FloatDType};

#[test]
fn whole_network_gradients_match_parameter_by_parameter_in_f64() {
    let mut flex = Device::flex();
    #[allow(deprecated)] // Burn 0.22 deprecates ndarray in favour of flex; here it is the reference
    let mut generic = Device::ndarray();
    flex.configure(FloatDType::F64).unwrap();
    generic.configure(FloatDType::F64).unwrap();
    let [flex, generic] = [flex.autodiff(), generic.autodiff()];
    for (name, config, shape) in check_networks() {
        let result = compare_network(name, &config, shape, [&flex, &generic]);
        let loss_diff = (result.loss[0] - result.loss[1]).abs() / result.loss[1].abs().max(1.0);
        eprintln!(
            "{name} (f64): {} parameters ({} with an analytically zero gradient), loss {} vs {}, \
             largest per-parameter relative gradient difference {:.2e} ({})",
            result.parameters,
            result.zero,
            result.loss[0],
            result.loss[1],
            result.worst.0,
            result.worst.1
        );
        assert!(
            loss_diff <= 1e-4,
            "{name}: loss {} vs {}",
            result.loss[0],
            result.loss[1]
        );
        assert!(
            result.worst.0 <= 1e-4,
            "{name}: {}: ‖flex − generic‖ / ‖generic‖ = {:.2e}",
            result.worst.1,
            result.worst.0
        );
    }
}
