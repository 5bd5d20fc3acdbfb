//! Reads the real Fashion-MNIST that Debian's `dataset-fashion-mnist` installs: all 60,000
//! training and 10,000 test images, 6,000 / 1,000 per class.
//!
//! Skips (saying so) when the package is not installed, unless `SKIPNET_REQUIRE_DATASETS=1`
//! (set by `.ci/run`, which installs it).

use std::path::Path;

use burn::data::dataset::Dataset;
use skipnet_data::Split;
use skipnet_data::idx::{DEBIAN_FASHION_MNIST, IdxDataset};

#[test]
fn reads_every_real_fashion_mnist_image() {
    if !Path::new(DEBIAN_FASHION_MNIST).is_dir() {
        let required = std::env::var("SKIPNET_REQUIRE_DATASETS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "SKIPNET_REQUIRE_DATASETS=1 but {DEBIAN_FASHION_MNIST} is missing"
        );
        eprintln!(
            "SKIPPED: {DEBIAN_FASHION_MNIST} not installed (apt-get install dataset-fashion-mnist)"
        );
        return;
    }
    // An empty data root: the reader falls back to Debian's folder.
    let root = tempfile::tempdir().unwrap();
    for (split, total, per_class) in [(Split::Train, 60_000, 6_000), (Split::Test, 10_000, 1_000)] {
        let data = IdxDataset::fashion_mnist(root.path(), split).unwrap();
        assert_eq!(data.len(), total);
        assert_eq!(data.image_size(), [28, 28]);
        let mut counts = [0usize; 10];
        for label in data.labels() {
            counts[label] += 1;
        }
        assert_eq!(counts, [per_class; 10], "{split:?}");
        let last = data.get(total - 1).unwrap();
        assert_eq!(last.image.data.len(), 784);
        let ink: u32 = last.image.data.iter().map(|&v| v as u32).sum();
        assert!(ink > 0, "real images are not blank");
    }
}
