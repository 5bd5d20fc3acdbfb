//! `cargo xtask predict`: run a trained model on images or raw tensors.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use clap::Args;
use skipnet_data::image::{ImageU8, decode, save_png};
use skipnet_data::npy::{self, NpyArray};
use skipnet_data::transform::Normalization;
use skipnet_data::{Preprocessing, Preset};
use skipnet_models::{Model, Task};
use skipnet_train::ModelRecipe;

use crate::cli::{BackendArg, ClosedSet};
use crate::weights::ModelArgs;

#[derive(Args, Debug)]
pub struct PredictArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Images to classify (top-5 printed with class names), or, for unet, one image to
    /// segment. Prepared as the run's preset says (ImageNet architectures without a run
    /// folder: resize 256, centre crop 224, ImageNet mean/std).
    #[arg(long, num_args = 1..)]
    image: Vec<PathBuf>,
    /// Raw NCHW input (float32/64/16, integers or bool; converted to float32), already
    /// prepared; the model runs in eval mode on it.
    #[arg(long)]
    input_npy: Option<PathBuf>,
    /// Where to write the raw outputs: of --input-npy, or of --image (classifiers: the logits
    /// `[images, classes]`; unet: the mask logits `[1, 1, height, width]`), float32.
    #[arg(long)]
    output_npy: Option<PathBuf>,
    /// Mask PNG to write (unet).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Instance-label PNG to write (unet): 16-bit, 0 = background, k = object k — the
    /// 8-connected components of the whole mask (tiles are joined first, so no object is cut
    /// at a tile seam); the object count is printed.
    #[arg(long)]
    instances: Option<PathBuf>,
    /// auto (the fastest CPU backend compiled in), or a backend (must be
    /// compiled in).
    #[arg(long, default_value = "auto", value_parser = ClosedSet::<BackendArg>::new())]
    backend: BackendArg,
}

fn run_raw(model: &Model, input: Tensor<4>) -> Result<(Vec<usize>, Vec<f32>)> {
    let data = model.forward(input).into_data();
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

/// How a classifier's images are prepared: the recipe's, else (a weights file of an
/// architecture without a known recipe) a resize to its usual input and mean 0.5, std 0.25,
/// said on stderr.
fn preprocessing_of(recipe: &ModelRecipe, weights: &Path) -> Preprocessing {
    if let Some(p) = &recipe.preprocessing {
        return p.clone();
    }
    let input = recipe
        .input
        .unwrap_or_else(|| recipe.config.default_input());
    let normalization = recipe.normalization.clone().unwrap_or(Normalization {
        mean: vec![0.5; input[0]],
        std: vec![0.25; input[0]],
    });
    eprintln!(
        "note: {} records no preprocessing: images are resized to {}×{} and normalised with \
         mean {:?}, std {:?} (a run folder records its own)",
        weights.display(),
        input[1],
        input[2],
        normalization.mean,
        normalization.std
    );
    Preprocessing {
        preset: Preset::None,
        input,
        normalization,
    }
}

/// Classifies `paths`, printing each one's top five (probability, name, label); returns the
/// logits, `[images, classes]`.
fn classify(
    model: &Model,
    recipe: &ModelRecipe,
    preprocessing: &Preprocessing,
    paths: &[PathBuf],
    device: &Device,
) -> Result<(Vec<usize>, Vec<f32>)> {
    let [c, h, w] = preprocessing.input;
    let mut all = Vec::new();
    for path in paths {
        let data = preprocessing.eval_tensor(&decode(path)?.to_u8());
        let input = Tensor::from_data(TensorData::new(data, [1, c, h, w]), device);
        let (_, logits) = run_raw(model, input)?;
        let probs = softmax(&logits);
        let mut ranked: Vec<(usize, f32)> = probs.into_iter().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        println!("{}", path.display());
        for (class, p) in ranked.into_iter().take(5) {
            println!(
                "  {:6.2}%  {} ({class})",
                p * 100.0,
                recipe.class_name(class)
            );
        }
        all.extend(logits);
    }
    let classes = all.len() / paths.len().max(1);
    Ok((vec![paths.len(), classes], all))
}

/// Segments an image of any size: tiles of at most `TILE` pixels with `OVERLAP` pixels of
/// context on each side, each tile's centre kept. Writes the mask PNG to `output` if given;
/// returns the mask logits, `[1, 1, height, width]`.
fn segment(
    model: &Model,
    path: &Path,
    output: Option<&Path>,
    device: &Device,
) -> Result<(Vec<usize>, Vec<f32>)> {
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
    let mut logits = vec![0f32; h * w];
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
            let tile_logits = unet.forward(Tensor::from_data(
                TensorData::new(tile, [1, channels, th, tw]),
                device,
            ));
            let values = tile_logits
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            for y in y0..(y0 + step).min(h) {
                for x in x0..(x0 + step).min(w) {
                    logits[y * w + x] = values[(y - ty) * tw + (x - tx)];
                }
            }
        }
    }
    if let Some(output) = output {
        let mask = logits
            .iter()
            .map(|&l| if l > 0.0 { 255 } else { 0 })
            .collect();
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
    }
    Ok((vec![1, 1, h, w], logits))
}

pub fn run(args: &PredictArgs) -> Result<()> {
    // Every flag must do something: refuse the combinations that would not.
    if args.input_npy.is_some() && !args.image.is_empty() {
        bail!("give --image FILE... or --input-npy X.npy, not both");
    }
    if args.input_npy.is_some() && (args.output.is_some() || args.instances.is_some()) {
        bail!(
            "--output and --instances write PNGs of a unet's --image; with --input-npy use \
             --output-npy"
        );
    }
    let device = args.backend.backend().device()?;
    let (model, recipe, weights) = args.model.load(&device)?;
    // Eval mode, batch norms folded into the convolutions before them (the same function,
    // fewer passes; `Model::fold_batch_norm`).
    let model = model.valid().fold_batch_norm();
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
        if n == 0 || h == 0 || w == 0 {
            bail!(
                "{}: an empty array, shape {:?}",
                input.display(),
                array.shape
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
    let (shape, data) = match model.task() {
        Task::Classification => {
            if args.output.is_some() || args.instances.is_some() {
                bail!(
                    "--output and --instances write a unet's mask and objects; a classifier \
                     prints its top five (save its logits with --output-npy)"
                );
            }
            let preprocessing = preprocessing_of(&recipe, &weights);
            classify(&model, &recipe, &preprocessing, &args.image, &device)?
        }
        Task::Segmentation => {
            let [image] = args.image.as_slice() else {
                bail!("unet segments one --image at a time")
            };
            if args.output.is_none() && args.instances.is_none() && args.output_npy.is_none() {
                bail!(
                    "unet needs --output MASK.png, --instances LABELS.png or --output-npy \
                     LOGITS.npy"
                );
            }
            let (shape, logits) = segment(&model, image, args.output.as_deref(), &device)?;
            if let Some(path) = &args.instances {
                let (h, w) = (shape[2], shape[3]);
                let (labels, count) = skipnet_train::instances::logit_objects(&logits, h, w);
                skipnet_data::image::save_label_png(&labels, h, w, path)?;
                println!(
                    "{count} objects; wrote {} (16-bit labels, {w}×{h})",
                    path.display()
                );
            }
            (shape, logits)
        }
    };
    if let Some(output) = &args.output_npy {
        npy::write(&NpyArray { shape, data }, output)?;
        println!("wrote {}", output.display());
    }
    Ok(())
}
