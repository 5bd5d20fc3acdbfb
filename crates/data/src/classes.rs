//! Class names: what a label means, for every built-in dataset and for ImageNet-1k.
//!
//! Runs record their dataset's names in `config.json`; predict and eval print them. Models
//! with 1000 classes and no run folder (PyTorch weights) use [`imagenet`].

/// CIFAR-10's classes, in label order (`batches.meta.txt` of the binary version).
pub const CIFAR10: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// CIFAR-100's fine classes, in label order (`fine_label_names.txt`: alphabetical).
pub const CIFAR100_FINE: [&str; 100] = [
    "apple",
    "aquarium_fish",
    "baby",
    "bear",
    "beaver",
    "bed",
    "bee",
    "beetle",
    "bicycle",
    "bottle",
    "bowl",
    "boy",
    "bridge",
    "bus",
    "butterfly",
    "camel",
    "can",
    "castle",
    "caterpillar",
    "cattle",
    "chair",
    "chimpanzee",
    "clock",
    "cloud",
    "cockroach",
    "couch",
    "crab",
    "crocodile",
    "cup",
    "dinosaur",
    "dolphin",
    "elephant",
    "flatfish",
    "forest",
    "fox",
    "girl",
    "hamster",
    "house",
    "kangaroo",
    "keyboard",
    "lamp",
    "lawn_mower",
    "leopard",
    "lion",
    "lizard",
    "lobster",
    "man",
    "maple_tree",
    "motorcycle",
    "mountain",
    "mouse",
    "mushroom",
    "oak_tree",
    "orange",
    "orchid",
    "otter",
    "palm_tree",
    "pear",
    "pickup_truck",
    "pine_tree",
    "plain",
    "plate",
    "poppy",
    "porcupine",
    "possum",
    "rabbit",
    "raccoon",
    "ray",
    "road",
    "rocket",
    "rose",
    "sea",
    "seal",
    "shark",
    "shrew",
    "skunk",
    "skyscraper",
    "snail",
    "snake",
    "spider",
    "squirrel",
    "streetcar",
    "sunflower",
    "sweet_pepper",
    "table",
    "tank",
    "telephone",
    "television",
    "tiger",
    "tractor",
    "train",
    "trout",
    "tulip",
    "turtle",
    "wardrobe",
    "whale",
    "willow_tree",
    "wolf",
    "woman",
    "worm",
];

/// Fashion-MNIST's classes, in label order (Xiao et al. 2017).
pub const FASHION_MNIST: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// MNIST's classes: the digits.
pub const MNIST: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// The ImageNet-1k class names in label order, one per line (torchvision's
/// `_IMAGENET_CATEGORIES`, written by `scripts/make_preprocess_fixture.py`).
const IMAGENET_FILE: &str = include_str!("imagenet_classes.txt");

/// The 1000 ImageNet-1k class names, index = label of torchvision's (and timm's) weights.
pub fn imagenet() -> Vec<String> {
    IMAGENET_FILE.lines().map(str::to_string).collect()
}

/// The names as owned strings.
pub fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// The name of `label`, or `class <label>` when there is none.
pub fn name_of(names: Option<&[String]>, label: usize) -> String {
    names
        .and_then(|n| n.get(label))
        .cloned()
        .unwrap_or_else(|| format!("class {label}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_lists_have_one_distinct_name_per_class() {
        for (names, count) in [
            (&CIFAR10[..], 10),
            (&CIFAR100_FINE[..], 100),
            (&FASHION_MNIST[..], 10),
            (&MNIST[..], 10),
        ] {
            assert_eq!(names.len(), count);
            let distinct: std::collections::BTreeSet<_> = names.iter().collect();
            assert_eq!(distinct.len(), count);
        }
        // The fine label names file is alphabetical.
        assert!(CIFAR100_FINE.windows(2).all(|w| w[0] < w[1]));
        let imagenet = imagenet();
        assert_eq!(imagenet.len(), 1000);
        assert_eq!(
            (imagenet[0].as_str(), imagenet[281].as_str()),
            ("tench", "tabby")
        );
        assert_eq!(imagenet[999], "toilet tissue");
        assert_eq!(name_of(Some(&imagenet), 285), "Egyptian cat");
        assert_eq!(name_of(None, 7), "class 7");
    }
}
