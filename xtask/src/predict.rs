//! `cargo xtask predict`: run a trained model on images or raw tensors.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use clap::Args;
use skipnet_data::image::{ImageU8, decode, save_png};
use skipnet_data::npy::{self, NpyArray};
use skipnet_data::transform::{Normalization, resize_bilinear, to_channels};
use skipnet_models::{Model, Task};
use skipnet_train::ModelRecipe;

use crate::cli::{BackendArg, ClosedSet};
use crate::weights::ModelArgs;

#[derive(Args, Debug)]
pub struct PredictArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Images to classify (top-5 printed), or, for unet, one image to segment.
    #[arg(long, num_args = 1..)]
    image: Vec<PathBuf>,
    /// Raw NCHW float32 input; the model runs in eval mode on it.
    #[arg(long)]
    input_npy: Option<PathBuf>,
    /// Where to write the raw outputs of --input-npy.
    #[arg(long)]
    output_npy: Option<PathBuf>,
    /// Mask PNG to write (unet).
    #[arg(long)]
    output: Option<PathBuf>,
    /// auto (the fastest CPU backend compiled in), or a backend (must be
    /// compiled in).
    #[arg(long, default_value = "auto", value_parser = ClosedSet::<BackendArg>::new())]
    backend: BackendArg,
}

fn run_raw(model: &Model, input: Tensor<4>) -> Result<(Vec<usize>, Vec<f32>)> {
    let data = match model.task() {
        Task::Classification => model
            .forward_classification(input)
            .expect("classifier")
            .into_data(),
        Task::Segmentation => model.forward_segmentation(input).expect("unet").into_data(),
    };
    let shape = data.shape().to_vec();
    let values = data
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok((shape, values))
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().cloned().fold(f32::MIN, f32::max);
    let exp: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.iter().map(|v| v / sum).collect()
}

fn classify(model: &Model, recipe: &ModelRecipe, paths: &[PathBuf], device: &Device) -> Result<()> {
    let [c, h, w] = recipe
        .input
        .unwrap_or_else(|| recipe.config.default_input());
    let norm = recipe.normalization.clone().unwrap_or(Normalization {
        mean: vec![0.5; c],
        std: vec![0.25; c],
    });
    for path in paths {
        let image = to_channels(&decode(path)?.to_u8(), c);
        let image = if (image.height, image.width) != (h, w) {
            resize_bilinear(&image, h, w)
        } else {
            image
        };
        let mut data = Vec::with_capacity(c * h * w);
        norm.apply(&image, &mut data);
        let input = Tensor::from_data(TensorData::new(data, [1, c, h, w]), device);
        let (_, logits) = run_raw(model, input)?;
        let probs = softmax(&logits);
        let mut ranked: Vec<(usize, f32)> = probs.into_iter().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        println!("{}", path.display());
        for (class, p) in ranked.into_iter().take(5) {
            println!("  class {class:>4}  {:6.2}%", p * 100.0);
        }
    }
    Ok(())
}

/// Segments an image of any size: tiles of at most `TILE` pixels with `OVERLAP` pixels of
/// context on each side, each tile's centre kept.
fn segment(model: &Model, path: &Path, output: &Path, device: &Device) -> Result<()> {
    const TILE: usize = 512;
    const OVERLAP: usize = 32;
    let Model::UNet(unet) = model else {
        bail!("segment needs a unet")
    };
    let channels = unet.in_channels();
    let raw = decode(path)?;
    let image = raw.normalised().with_channels(channels);
    let (h, w) = (image.height, image.width);
    let min = 1usize << unet.depth();
    if h < min || w < min {
        bail!(
            "{}: {w}×{h} is smaller than the {min}×{min} pixels U-Net of depth {} needs",
            path.display(),
            unet.depth()
        );
    }
    let mut mask = vec![0u8; h * w];
    let step = TILE - 2 * OVERLAP;
    for y0 in (0..h).step_by(step) {
        for x0 in (0..w).step_by(step) {
            let (ty, tx) = (y0.saturating_sub(OVERLAP), x0.saturating_sub(OVERLAP));
            let (th, tw) = (
                (y0 + step + OVERLAP).min(h) - ty,
                (x0 + step + OVERLAP).min(w) - tx,
            );
            let mut tile = Vec::with_capacity(channels * th * tw);
            for c in 0..channels {
                for y in ty..ty + th {
                    let row = c * h * w + y * w;
                    tile.extend_from_slice(&image.data[row + tx..row + tx + tw]);
                }
            }
            let logits = unet.forward(Tensor::from_data(
                TensorData::new(tile, [1, channels, th, tw]),
                device,
            ));
            let values = logits
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            for y in y0..(y0 + step).min(h) {
                for x in x0..(x0 + step).min(w) {
                    mask[y * w + x] = if values[(y - ty) * tw + (x - tx)] > 0.0 {
                        255
                    } else {
                        0
                    };
                }
            }
        }
    }
    save_png(
        &ImageU8 {
            channels: 1,
            height: h,
            width: w,
            data: mask,
        },
        output,
    )?;
    println!("wrote {} ({w}×{h})", output.display());
    Ok(())
}

pub fn run(args: &PredictArgs) -> Result<()> {
    let device = args.backend.backend().device()?;
    let (model, recipe, _) = args.model.load(&device)?;
    let model = model.valid();
    if let Some(input) = &args.input_npy {
        let Some(output) = &args.output_npy else {
            bail!("--input-npy needs --output-npy")
        };
        let array = npy::read(input)?;
        let [n, c, h, w] = <[usize; 4]>::try_from(array.shape.as_slice()).map_err(|_| {
            anyhow::anyhow!(
                "{}: expected an NCHW array, found shape {:?}",
                input.display(),
                array.shape
            )
        })?;
        let expected = recipe
            .input
            .map(|i| i[0])
            .unwrap_or_else(|| recipe.config.default_input()[0]);
        if c != expected {
            bail!(
                "{}: {c} channels but the model takes {expected}",
                input.display()
            );
        }
        let tensor = Tensor::from_data(TensorData::new(array.data, [n, c, h, w]), &device);
        let (shape, data) = run_raw(&model, tensor)?;
        npy::write(&NpyArray { shape, data }, output)?;
        println!("wrote {}", output.display());
        return Ok(());
    }
    if args.image.is_empty() {
        bail!("nothing to predict: give --image FILE... or --input-npy X.npy --output-npy Y.npy");
    }
    match model.task() {
        Task::Classification => classify(&model, &recipe, &args.image, &device),
        Task::Segmentation => {
            let [image] = args.image.as_slice() else {
                bail!("unet segments one --image at a time")
            };
            let output = args
                .output
                .clone()
                .context("unet needs --output MASK.png")?;
            segment(&model, image, &output, &device)
        }
    }
}
