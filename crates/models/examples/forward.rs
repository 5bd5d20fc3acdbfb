//! Build any zoo model by name, load PyTorch (or Burn) weights into it, run a forward pass.
//!
//! `cargo run --release -p skipnet-models --example forward -- ARCH [WEIGHTS [INPUT.npy [OUTPUT.npy]]]`
//!
//! Without weights the model keeps its random initialisation; without an input it runs on a
//! random batch of two of the model's default input size.
use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use skipnet_data::npy::{NpyArray, read, write};
use skipnet_models::{ModelConfig, interop};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arch = args
        .first()
        .ok_or("usage: forward ARCH [WEIGHTS [INPUT.npy [OUTPUT.npy]]]")?;
    let device = Device::flex();
    let config = ModelConfig::from_name(arch)?; // unknown names suggest the nearest ones
    let mut model = config.init(&device)?;
    if let Some(weights) = args.get(1) {
        // .pth / .pt / .safetensors with PyTorch's keys, or .bpk; strict: every key must match.
        model = interop::load_weights(model, Path::new(weights))?;
    }
    let model = model.valid(); // eval mode: batch norm uses its running statistics
    let input = match args.get(2) {
        Some(path) => {
            let array = read(Path::new(path))?;
            Tensor::from_data(TensorData::new(array.data, array.shape), &device)
        }
        None => {
            let [c, h, w] = config.default_input();
            Tensor::random([2, c, h, w], Distribution::Default, &device)
        }
    };
    let output = match model.forward_classification(input.clone()) {
        Some(logits) => logits.into_data(),
        None => model
            .forward_segmentation(input)
            .ok_or("not a zoo task")?
            .into_data(),
    };
    let shape = output.shape().to_vec();
    let data = output
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| format!("{e:?}"))?;
    println!(
        "{arch}: {} parameters, output {shape:?}",
        model.trainable_params()
    );
    println!("first values: {:?}", &data[..data.len().min(5)]);
    if let Some(path) = args.get(3) {
        write(&NpyArray { shape, data }, Path::new(path))?;
        println!("wrote {path}");
    }
    Ok(())
}
