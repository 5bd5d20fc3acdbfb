//! A corpus of hostile files through every reader, `data inspect` and `predict`: each must end
//! in an error that names the file, with exit code 1 — never a panic, never a crash — and
//! within a bounded address space (the commands run under `ulimit -v`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::text;

/// Address-space cap for each command: far below what the lying headers ask for.
const ADDRESS_SPACE_KIB: u64 = 6 * 1024 * 1024;

/// Exit code 1 with a message naming `name`; no panic, no signal.
fn assert_clean_error(out: &Output, name: &str, what: &str) {
    let said = text(out);
    assert_eq!(out.status.code(), Some(1), "{what}: {said}");
    assert!(!said.contains("panicked"), "{what}: {said}");
    assert!(
        said.contains(name),
        "{what}: message does not name {name}: {said}"
    );
}

fn xtask_bounded(args: &[&str], cwd: &Path) -> Output {
    common::run(args, cwd, Some(ADDRESS_SPACE_KIB))
}

fn pseudo_random(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2654435761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// CRC-32 as PNG chunks use it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG whose header claims `width × height` RGBA pixels (with a valid CRC) and whose data
/// is a few bytes: a decoder that trusts the header allocates `4·w·h` bytes.
fn absurd_png(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let chunk = |png: &mut Vec<u8>, kind: &[u8], data: &[u8]| {
        png.extend((data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend(data);
        png.extend(&body);
        png.extend(crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 6, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &[0x78, 0x9c, 0x63, 0, 0, 0, 1, 0, 1]);
    chunk(&mut png, b"IEND", &[]);
    png
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A valid 8×8 PNG, to truncate.
fn small_png(dir: &Path) -> Vec<u8> {
    let path = dir.join("valid.png");
    let image = skipnet_data::image::ImageU8 {
        channels: 3,
        height: 8,
        width: 8,
        data: (0..192).map(|i| i as u8).collect(),
    };
    skipnet_data::image::save_png(&image, &path).unwrap();
    std::fs::read(&path).unwrap()
}

#[test]
fn hostile_data_files_through_inspect() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let png = small_png(d);
    let idx_lying = [
        0, 0, 8, 3, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0x7f, 0xff, 0, 0, 0x7f, 0xff,
    ];
    let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        ("zero.bin", Vec::new(), None),
        (
            "truncated_batch.bin",
            pseudo_random(3073 * 2 - 5, 1),
            Some("cifar10"),
        ),
        ("random.bin", pseudo_random(5000, 2), None),
        (
            "cifar100-random.bin",
            pseudo_random(3074 * 3, 3),
            Some("cifar100"),
        ),
        ("wrong-magic-idx3-ubyte", [9u8, 9, 9, 9].repeat(8), None),
        ("lying-idx3-ubyte", idx_lying.to_vec(), None),
        ("zero-idx1-ubyte", Vec::new(), None),
        (
            "garbage-idx3-ubyte.gz",
            [&[0x1f, 0x8b, 8, 0][..], &pseudo_random(200, 4)].concat(),
            None,
        ),
    ];
    for (name, bytes, format) in &cases {
        write(d, name, bytes);
        let mut args = vec!["data", "inspect", name];
        if let Some(f) = format {
            args.extend(["--format", f]);
        }
        assert_clean_error(&xtask_bounded(&args, d), name, name);
    }
    // Image folders: one hostile image in an otherwise good class folder.
    for (name, bytes) in [
        ("zero.png", Vec::new()),
        ("truncated.png", png[..png.len() / 2].to_vec()),
        (
            "wrong-magic.png",
            [b"GIF89a".as_slice(), &png[6..]].concat(),
        ),
        ("absurd.png", absurd_png(1 << 30, 1 << 30)),
        ("absurd-but-legal.png", absurd_png(60_000, 60_000)),
        ("random.jpg", pseudo_random(3000, 5)),
        (
            "truncated.jpg",
            b"\xff\xd8\xff\xe0\x00\x10JFIF\x00".to_vec(),
        ),
        ("bad.tif", b"II*\x00\xff\xff\xff\x7f".to_vec()),
    ] {
        let folder = d.join(format!("folder-{name}"));
        write(&folder, "a/good.png", &png);
        write(&folder, "b/good.png", &png);
        write(&folder, &format!("b/{name}"), &bytes);
        let out = xtask_bounded(&["data", "inspect", folder.to_str().unwrap()], d);
        assert_clean_error(&out, name, name);
    }
    // Segmentation folders: a mask of the wrong size, a missing mask.
    let seg = d.join("seg-size");
    write(&seg, "images/1.png", &png);
    write(&seg, "masks/1.png", &absurd_png(9, 9));
    assert_clean_error(
        &xtask_bounded(&["data", "inspect", seg.to_str().unwrap()], d),
        "1.png",
        "mask of another size",
    );
    let seg = d.join("seg-missing");
    write(&seg, "images/only-image.png", &png);
    std::fs::create_dir_all(seg.join("masks")).unwrap();
    assert_clean_error(
        &xtask_bounded(&["data", "inspect", seg.to_str().unwrap()], d),
        "only-image",
        "missing mask",
    );
}

#[test]
fn hostile_weights_images_and_tensors_through_predict() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let png = small_png(d);
    write(d, "cat.png", &png);
    // Good weights for cifar-resnet8 (exported with 100 classes: wrong shapes for 10).
    let device = burn::tensor::Device::flex();
    let good = skipnet_models::ModelConfig::from_name("cifar-resnet8")
        .unwrap()
        .init(&device)
        .unwrap();
    skipnet_models::interop::save_torch_safetensors(&good, &d.join("good.safetensors")).unwrap();
    let hundred = skipnet_models::ModelConfig::from_name("cifar-resnet8")
        .unwrap()
        .with_num_classes(100)
        .init(&device)
        .unwrap();
    skipnet_models::interop::save_torch_safetensors(&hundred, &d.join("c100.safetensors")).unwrap();
    let good_bytes = std::fs::read(d.join("good.safetensors")).unwrap();

    let weights: Vec<(&str, Vec<u8>)> = vec![
        ("zero.pth", Vec::new()),
        ("random.pth", pseudo_random(10_000, 6)),
        (
            "zip-magic.pt",
            [b"PK\x03\x04".as_slice(), &pseudo_random(500, 7)].concat(),
        ),
        (
            "pickle-magic.pth",
            [b"\x80\x02".as_slice(), &pseudo_random(500, 8)].concat(),
        ),
        ("zero.safetensors", Vec::new()),
        (
            "lying-header.safetensors",
            [&(1u64 << 40).to_le_bytes()[..], b"{}"].concat(),
        ),
        (
            "truncated.safetensors",
            good_bytes[..good_bytes.len() / 2].to_vec(),
        ),
        ("random.safetensors", pseudo_random(4096, 9)),
        ("random.bpk", pseudo_random(4096, 10)),
        ("zero.bpk", Vec::new()),
        (
            "c100.safetensors",
            std::fs::read(d.join("c100.safetensors")).unwrap(),
        ),
    ];
    for (name, bytes) in &weights {
        write(d, name, bytes);
        let out = xtask_bounded(
            &[
                "predict",
                "cifar-resnet8",
                "--weights",
                name,
                "--image",
                "cat.png",
            ],
            d,
        );
        assert_clean_error(&out, name, name);
    }
    let c100 = xtask_bounded(
        &[
            "predict",
            "cifar-resnet8",
            "--weights",
            "c100.safetensors",
            "--image",
            "cat.png",
        ],
        d,
    );
    assert!(
        text(&c100).contains("linear.weight: model has [10, 64], file has [100, 64]")
            || text(&c100).contains("shape mismatches"),
        "{}",
        text(&c100)
    );

    // Hostile images and tensors with good weights.
    for (name, bytes) in [
        ("zero.png", Vec::new()),
        ("absurd.png", absurd_png(1 << 30, 1 << 30)),
        ("truncated.png", png[..png.len() / 2].to_vec()),
        ("random.jpg", pseudo_random(2000, 11)),
    ] {
        write(d, name, &bytes);
        let out = xtask_bounded(
            &[
                "predict",
                "cifar-resnet8",
                "--weights",
                "good.safetensors",
                "--image",
                name,
            ],
            d,
        );
        assert_clean_error(&out, name, name);
    }
    let npy_header = |descr: &str, shape: &str| {
        let header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        // Header padded with spaces so that magic + length + header is a multiple of 64.
        let pad = (64 - (10 + header.len() + 1) % 64) % 64;
        let padded = format!("{header}{}\n", " ".repeat(pad));
        bytes.extend((padded.len() as u16).to_le_bytes());
        bytes.extend(padded.as_bytes());
        bytes
    };
    for (name, bytes) in [
        ("zero.npy", Vec::new()),
        (
            "lying-shape.npy",
            npy_header("<f4", "(100000, 3, 100000, 100000)"),
        ),
        (
            "complex64.npy",
            [npy_header("<c8", "(1, 3, 32, 32)"), vec![0; 8 * 3072]].concat(),
        ),
        (
            "float64-short.npy",
            [npy_header("<f8", "(1, 3, 32, 32)"), vec![0; 4 * 3072]].concat(),
        ),
        (
            "truncated.npy",
            [npy_header("<f4", "(1, 3, 32, 32)"), vec![0; 100]].concat(),
        ),
        (
            "wrong-rank.npy",
            [npy_header("<f4", "(3, 32, 32)"), vec![0; 4 * 3072]].concat(),
        ),
        ("random.npy", pseudo_random(1000, 12)),
        (
            "one-channel.npy",
            [npy_header("<f4", "(1, 1, 32, 32)"), vec![0; 4 * 1024]].concat(),
        ),
    ] {
        write(d, name, &bytes);
        let out = xtask_bounded(
            &[
                "predict",
                "cifar-resnet8",
                "--weights",
                "good.safetensors",
                "--input-npy",
                name,
                "--output-npy",
                "out.npy",
            ],
            d,
        );
        assert_clean_error(&out, name, name);
        assert!(!d.join("out.npy").exists(), "{name}: no output on error");
    }
}
