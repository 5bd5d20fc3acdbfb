//! The ImageNet preset against torchvision: the tensor of a real photo after `Resize(256) +
//! CenterCrop(224) + ToTensor + Normalize`, as `scripts/make_preprocess_fixture.py` wrote it
//! with torchvision's PIL path.

use std::path::Path;

use image::imageops::FilterType;
use skipnet_data::image::decode;
use skipnet_data::npy;
use skipnet_data::preprocess::{
    Preprocessing, RESAMPLING, center_crop, imagenet_resize, resize_shorter_side_with,
};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/preprocess");

/// The largest |Δ| of each filter's tensor from torchvision's, and their mean.
fn deviations() -> Vec<(FilterType, f32, f32)> {
    let photo = decode(&Path::new(FIXTURE).join("chelsea.png"))
        .unwrap()
        .to_u8();
    let expected = npy::read(&Path::new(FIXTURE).join("imagenet.npy")).unwrap();
    assert_eq!(expected.shape, [3, 224, 224]);
    let preset = Preprocessing::imagenet(224);
    [
        FilterType::Triangle,
        FilterType::CatmullRom,
        FilterType::Lanczos3,
        FilterType::Gaussian,
    ]
    .into_iter()
    .map(|filter| {
        let resized = resize_shorter_side_with(&photo, imagenet_resize(224), filter);
        let mut ours = Vec::new();
        preset.normalise(&center_crop(&resized, 224, 224), &mut ours);
        let diffs: Vec<f32> = ours
            .iter()
            .zip(&expected.data)
            .map(|(a, b)| (a - b).abs())
            .collect();
        let max = diffs.iter().cloned().fold(0.0, f32::max);
        let mean = diffs.iter().sum::<f32>() / diffs.len() as f32;
        eprintln!("{filter:?}: max |Δ| {max:.5}, mean |Δ| {mean:.6}");
        (filter, max, mean)
    })
    .collect()
}

#[test]
fn the_imagenet_preset_matches_torchvision_on_a_real_photo() {
    let results = deviations();
    let (best, _, best_mean) = results
        .iter()
        .cloned()
        .min_by(|a, b| a.2.total_cmp(&b.2))
        .unwrap();
    assert_eq!(best, RESAMPLING, "the preset uses the closest filter");
    // One 8-bit level is 1 / 255 / 0.224 ≈ 0.0175 after normalisation: the two resamplers
    // round at different points (PIL keeps 8-bit between its passes), so a level apart is
    // the most they may differ anywhere.
    let (_, max, _) = results.iter().find(|r| r.0 == RESAMPLING).unwrap();
    assert!(*max <= 1.0 / 255.0 / 0.224 + 1e-4, "max |Δ| {max}");
    assert!(best_mean < 0.005, "mean |Δ| {best_mean}");
    // The preset's own path is the same tensor.
    let photo = decode(&Path::new(FIXTURE).join("chelsea.png"))
        .unwrap()
        .to_u8();
    let expected = npy::read(&Path::new(FIXTURE).join("imagenet.npy")).unwrap();
    let ours = Preprocessing::imagenet(224).eval_tensor(&photo);
    let max_preset = ours
        .iter()
        .zip(&expected.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert_eq!(max_preset, *max);
    // `SKIPNET_RESULTS=docs/results cargo test -p skipnet-data --test preprocess_parity`
    // records the measurement the README and the preset's docs quote.
    if let Some(dir) = std::env::var_os("SKIPNET_RESULTS") {
        let rows: Vec<String> = results
            .iter()
            .map(|(filter, max, mean)| {
                format!(
                    "    {{\"filter\": \"{filter:?}\", \"max_abs_diff\": {max:.6}, \"mean_abs_diff\": {mean:.6}}}"
                )
            })
            .collect();
        let manifest = std::fs::read_to_string(Path::new(FIXTURE).join("manifest.json")).unwrap();
        let json = format!(
            "{{\n  \"command\": \"SKIPNET_RESULTS=docs/results cargo test -p skipnet-data --test preprocess_parity\",\n  \"what\": \"skipnet's imagenet preset (image crate resampling, each filter) vs torchvision Resize(256)+CenterCrop(224)+ToTensor+Normalize on crates/data/tests/fixtures/preprocess/chelsea.png; |diff| over all 3x224x224 normalised values\",\n  \"chosen\": \"{RESAMPLING:?}\",\n  \"fixture\": {},\n  \"filters\": [\n{}\n  ]\n}}\n",
            manifest.trim().replace('\n', "\n  "),
            rows.join(",\n")
        );
        // Relative to the workspace root (tests run in the crate's folder).
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let path = root.join(dir).join("preprocess-parity.json");
        std::fs::write(&path, json).unwrap();
        eprintln!("wrote {}", path.display());
    }
}
