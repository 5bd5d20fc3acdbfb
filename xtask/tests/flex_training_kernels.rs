//! flex's native training kernels (patches/burn-flex, PATCHES.md) against Burn's generic
//! compositions of the same operations, which the ndarray backend runs (it overrides none of
//! these hooks): conv2d's output and its input, weight and bias gradients (listed shapes —
//! strides 1–3, groups incl. depthwise, dilation 2, asymmetric padding, batch 1, odd sizes,
//! 1×1 and 7×7 kernels — and seeded random ones), batch norm in training mode (output,
//! statistics, three gradients) and in inference, each through Burn's autodiff exactly as a
//! training step runs them; then one training step of the default run's network (CIFAR
//! ResNet-20 with batch norm) parameter by parameter. Whole networks in f64:
//! `flex_training_networks_f64.rs`.
#![cfg(all(feature = "flex", feature = "ndarray"))]

mod backward_support;

use backward_support::{
    BATCH_NORM_PARTS, CONV_PARTS, ConvCase, assert_close, batch_norm_gradients, check_networks,
    compare_network, conv_case, conv_gradients, describe, flat, listed_conv_cases,
    random_conv_cases, tensor,
};
use burn::tensor::Device;
use burn::tensor::module::batch_norm;

/// flex (patched kernels) and ndarray (Burn's generic compositions), both under autodiff.
fn devices() -> [Device; 2] {
    [Device::flex().autodiff(), ndarray().autodiff()]
}

#[allow(deprecated)] // Burn 0.22 deprecates ndarray in favour of flex; here it is the reference
fn ndarray() -> Device {
    Device::ndarray()
}

fn check_conv(label: &str, case: &ConvCase, seed: u64) {
    let [flex, generic] = devices().map(|device| conv_gradients(case, seed, &device));
    for (part, name) in CONV_PARTS.iter().enumerate() {
        assert_close(
            &format!("{label} ({}, {name})", describe(case)),
            &flex[part],
            &generic[part],
        );
    }
}

#[test]
fn conv2d_and_its_gradients_match_the_generic_composition() {
    let mut cases = listed_conv_cases();
    cases.extend([
        // Batch 1: a CIFAR stage's 3×3, a 7×7 stem at stride 1, and a pointwise 1×1.
        conv_case(1, [16, 16], [8, 8], [3, 3], [1, 1], [(1, 1); 2], [1, 1], 1),
        conv_case(1, [3, 6], [13, 11], [7, 7], [1, 1], [(3, 3); 2], [1, 1], 1),
        conv_case(1, [12, 20], [7, 9], [1, 1], [1, 1], [(0, 0); 2], [1, 1], 1),
        // Many input channels (the gemm path, not flex's few-channel kernel), stride 3,
        // grouped and dilated together, and a batch larger than a weight-gradient chunk.
        conv_case(2, [32, 8], [17, 17], [3, 3], [3, 3], [(1, 1); 2], [1, 1], 1),
        conv_case(2, [8, 8], [12, 12], [3, 3], [1, 1], [(2, 2); 2], [2, 2], 2),
        conv_case(19, [8, 8], [6, 6], [3, 3], [1, 1], [(1, 1); 2], [1, 1], 1),
    ]);
    for (index, case) in cases.iter().enumerate() {
        check_conv(&format!("conv case {index}"), case, 100 + 10 * index as u64);
    }
}

#[test]
fn conv2d_gradients_match_on_random_shapes() {
    for (index, case) in random_conv_cases(16).iter().enumerate() {
        check_conv(
            &format!("random conv case {index}"),
            case,
            700 + 10 * index as u64,
        );
    }
}

#[test]
fn training_batch_norm_matches_the_generic_composition() {
    fn check<const D: usize>(shape: [usize; D], seed: u64) {
        let [flex, generic] = devices().map(|device| batch_norm_gradients(shape, seed, &device));
        for (part, name) in BATCH_NORM_PARTS.iter().enumerate() {
            assert_close(
                &format!("batch norm {shape:?} {name}"),
                &flex[part],
                &generic[part],
            );
        }
    }
    check([8, 16, 8, 8], 500);
    check([3, 5, 7, 9], 510);
    check([1, 4, 5, 5], 520);
    check([16, 64, 4, 4], 530);
    // Large enough to run on several threads; rank 2 (BatchNorm1d) and rank 3.
    check([32, 16, 32, 32], 540);
    check([64, 12], 550);
    check([4, 6, 17], 560);
}

#[test]
fn inference_batch_norm_matches_the_generic_composition() {
    let shape = [3, 6, 5, 7];
    let [flex, generic] = [Device::flex(), ndarray()].map(|device| {
        let mean = tensor(2, [6], &device);
        let variance = tensor(3, [6], &device).abs() + 0.1;
        flat(batch_norm(
            tensor(1, shape, &device),
            tensor(4, [6], &device),
            tensor(5, [6], &device),
            mean,
            variance,
            1e-5,
        ))
    });
    assert_close("inference batch norm", &flex, &generic);
}

/// One training step of `cargo xtask train`'s network (CIFAR ResNet-20, training-mode batch
/// norm, cross-entropy) in f32, the precision training runs in, against the generic
/// composition: the loss within 1e-4, every parameter's gradient within 1e-2 relative L2
/// (measured: 2.8e-3 at worst, a batch norm's β — far below what a wrong kernel gives, and
/// above the per-operation 1e-4 only because f32 rounding differences flip a few ReLUs near
/// zero between the two backends). The same check in f64, where no such flip happens, holds
/// to 1e-4 on three networks (`flex_training_networks_f64.rs`).
#[test]
fn default_network_training_step_matches_in_f32() {
    let [flex, generic] = devices();
    for (name, config, shape) in check_networks().into_iter().take(1) {
        let result = compare_network(name, &config, shape, [&flex, &generic]);
        assert_close(
            &format!("{name} loss"),
            &result.loss[..1],
            &result.loss[1..],
        );
        eprintln!(
            "{name} (f32): loss {} vs {}, largest per-parameter relative gradient difference \
             {:.2e} ({})",
            result.loss[0], result.loss[1], result.worst.0, result.worst.1
        );
        assert!(
            result.worst.0 <= 1e-2,
            "{name}: {}: ‖flex − generic‖ / ‖generic‖ = {:.2e}",
            result.worst.1,
            result.worst.0
        );
    }
}
