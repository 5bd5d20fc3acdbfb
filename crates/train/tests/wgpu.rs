//! The GPU code path on every change: a CIFAR ResNet on wgpu (Mesa's lavapipe in CI) gives the
//! same logits as on the CPU backend and trains.
//!
//! Without any Vulkan/Metal/DX12 adapter the test reports that it skipped, unless
//! `SKIPNET_REQUIRE_WGPU=1` (set by `.ci/run`, which installs lavapipe) makes that a failure.
#![cfg(all(feature = "wgpu", feature = "flex"))]

use std::panic::{AssertUnwindSafe, catch_unwind};

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor, Tolerance};
use skipnet_models::{CifarResNetConfig, ShortcutOption};
use skipnet_train::Backend;

/// The wgpu device, if an adapter answers.
fn wgpu_device() -> Option<Device> {
    let device = Backend::Wgpu.device().expect("wgpu is compiled in");
    let probe = catch_unwind(AssertUnwindSafe(|| {
        let x = Tensor::<1>::from_floats([1.0, 2.0], &device);
        let sum: f32 = x.sum().into_scalar();
        sum
    }));
    match probe {
        Ok(sum) if (sum - 3.0).abs() < 1e-6 => Some(device),
        outcome => {
            let required = std::env::var("SKIPNET_REQUIRE_WGPU").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "SKIPNET_REQUIRE_WGPU=1 but no wgpu adapter works: {outcome:?}"
            );
            eprintln!("SKIPPED: no wgpu adapter on this machine (install mesa-vulkan-drivers)");
            None
        }
    }
}

#[test]
fn cifar_resnet_on_wgpu_matches_cpu_and_trains() {
    let Some(gpu) = wgpu_device() else { return };
    let cpu = Backend::Flex.device().unwrap();

    let net = CifarResNetConfig::new(8)
        .with_shortcut(ShortcutOption::A)
        .with_num_classes(4)
        .init(&cpu);
    let x = Tensor::<4>::random([2, 3, 8, 8], Distribution::Default, &cpu);
    let expected = net.forward(x.clone());

    // Same weights, same input, on the GPU (inference: BN uses running statistics).
    let net_gpu = net.to_device(&gpu);
    let logits = net_gpu.forward(x.to_device(&gpu));
    logits
        .into_data()
        .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-3));

    // A training step on the GPU: every parameter gets a finite gradient.
    let gpu_ad = gpu.autodiff();
    let net_ad = net_gpu.to_device(&gpu_ad).train();
    let x = Tensor::<4>::random([2, 3, 8, 8], Distribution::Default, &gpu_ad);
    let loss = net_ad.forward(x).powi_scalar(2).mean();
    let grads = loss.backward();
    let grad = net_ad
        .conv1
        .weight
        .val()
        .grad(&grads)
        .expect("stem gradient");
    let finite: bool = grad.is_finite().all().into_scalar();
    assert!(finite);
    let fc_grad = net_ad
        .fc
        .weight
        .val()
        .grad(&grads)
        .expect("classifier gradient");
    assert_eq!(fc_grad.dims(), [64, 4]);
}
