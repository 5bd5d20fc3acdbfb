//! `--download` against an HTTP server on 127.0.0.1 that the test starts, serving small
//! archives in the real formats (a CIFAR-10 `.tar.gz` of `cifar-10-batches-bin/`, MNIST's four
//! `.gz` IDX files): a good download is unpacked where the readers look and is not downloaded
//! twice; a second mirror is tried when the first fails; a wrong checksum, a truncated or
//! hostile archive, contents that do not read, or a folder that is already there but incomplete
//! leave the data root as it was. (The byte-level cases — a truncated body, a stall, a 404 —
//! are the hub's tests of the same downloader.)
#![cfg(feature = "download")]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use md5::{Digest, Md5};
use skipnet_data::cifar::{CifarDataset, CifarKind};
use skipnet_data::download::{DatasetSource, Downloader, RemoteFile, Unpack, source};
use skipnet_data::idx::{IdxDataset, encode};
use skipnet_data::item::Split;
use skipnet_data::registry::DatasetKind;
use skipnet_data::{DataError, DatasetSpec};

/// A server answering `GET /<name>` with `files[name]`, anything else with 404; counts the
/// requests for files it has.
fn serve(files: HashMap<String, Vec<u8>>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    let files = Arc::new(files);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (files, counter) = (files.clone(), counter.clone());
            std::thread::spawn(move || answer(stream, &files, &counter));
        }
    });
    (base, served)
}

fn answer(mut stream: TcpStream, files: &HashMap<String, Vec<u8>>, served: &AtomicUsize) {
    let mut request = Vec::new();
    let mut byte = [0u8; 1];
    while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
        request.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&request);
    let path = text.split_whitespace().nth(1).unwrap_or("/");
    let _ = match files.get(path.trim_start_matches('/')) {
        Some(body) => {
            served.fetch_add(1, Ordering::SeqCst);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream
                .write_all(head.as_bytes())
                .and_then(|()| stream.write_all(body))
        }
        None => stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    };
}

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// `records` CIFAR-10 records: label `i % 10`, pixels a pattern of `i`.
fn cifar10_records(records: usize, salt: usize) -> Vec<u8> {
    (0..records)
        .flat_map(|i| {
            std::iter::once((i % 10) as u8)
                .chain((0..3072).map(move |p| ((p * 7 + i * 13 + salt) % 256) as u8))
        })
        .collect()
}

/// A `.tar.gz` of `entries` (`path`, bytes), paths written into the header as they are.
fn tar_gz(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, bytes) in entries {
        let mut header = tar::Header::new_old();
        let name = &mut header.as_old_mut().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, bytes.as_slice()).unwrap();
    }
    gzip(&builder.into_inner().unwrap())
}

/// CIFAR-10's binary archive in its real layout, 12 training records per batch and 7 test
/// records.
fn cifar10_archive() -> Vec<u8> {
    let mut entries: Vec<(String, Vec<u8>)> = (1..=5)
        .map(|b| {
            (
                format!("cifar-10-batches-bin/data_batch_{b}.bin"),
                cifar10_records(12, b),
            )
        })
        .collect();
    entries.push((
        "cifar-10-batches-bin/test_batch.bin".into(),
        cifar10_records(7, 9),
    ));
    entries.push((
        "cifar-10-batches-bin/batches.meta.txt".into(),
        b"airplane\nautomobile\n".to_vec(),
    ));
    let borrowed: Vec<(&str, Vec<u8>)> = entries
        .iter()
        .map(|(p, b)| (p.as_str(), b.clone()))
        .collect();
    tar_gz(&borrowed)
}

/// The real CIFAR-10 entry pointed at `base` with the MD5 of `archive`.
fn cifar10_source(base: &str, archive: &[u8]) -> DatasetSource {
    let mut source = source(DatasetKind::Cifar10).unwrap();
    source.mirrors = vec![base.to_string()];
    source.files[0].md5 = md5_hex(archive);
    source
}

fn quiet() -> Downloader {
    Downloader {
        timeout: Duration::from_secs(5),
        progress: false,
    }
}

/// Every entry under `root`, relative, sorted.
fn listing(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            out.push(path.strip_prefix(root).unwrap().display().to_string());
            if path.is_dir() {
                walk(&path, root, out);
            }
        }
    }
    let mut out = Vec::new();
    if root.exists() {
        walk(root, root, &mut out);
    }
    out.sort();
    out
}

#[test]
fn cifar10_is_downloaded_unpacked_where_the_reader_looks_and_kept() {
    let archive = cifar10_archive();
    let (base, served) = serve(HashMap::from([(
        "cifar-10-binary.tar.gz".to_string(),
        archive.clone(),
    )]));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let source = cifar10_source(&base, &archive);
    let folder = source.fetch(&root, &quiet()).unwrap();
    assert_eq!(folder, root.join("cifar-10-batches-bin"));
    let train = CifarDataset::open(&root, CifarKind::Cifar10, Split::Train).unwrap();
    let test = CifarDataset::open(&root, CifarKind::Cifar10, Split::Test).unwrap();
    assert_eq!((train.labels().count(), test.labels().count()), (60, 7));
    // ... and what a run opens.
    let spec = DatasetSpec::new(DatasetKind::Cifar10).with_root(&root);
    assert_eq!(skipnet_data::registry::open(&spec).unwrap().lens(), [60, 7]);
    assert_eq!(
        std::fs::read(root.join("cifar-10-binary.tar.gz")).unwrap(),
        archive,
        "the archive is kept, as torchvision keeps it"
    );
    let files = listing(&root);
    assert!(
        files.iter().all(|f| !f.contains(".tmp")),
        "no temporary left: {files:?}"
    );
    // Already there: nothing is downloaded again.
    source.fetch(&root, &quiet()).unwrap();
    assert_eq!(served.load(Ordering::SeqCst), 1);
    assert_eq!(listing(&root), files);

    // The archive alone (put there by hand): checked and unpacked without a request.
    std::fs::remove_dir_all(root.join("cifar-10-batches-bin")).unwrap();
    source.fetch(&root, &quiet()).unwrap();
    assert_eq!(served.load(Ordering::SeqCst), 1);
    assert_eq!(listing(&root), files);
}

#[test]
fn mnist_files_come_from_the_second_mirror_when_the_first_fails() {
    let images = |n: usize| gzip(&encode(&[n, 28, 28], &vec![7u8; n * 28 * 28]));
    let labels = |n: usize| {
        gzip(&encode(
            &[n],
            &(0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>(),
        ))
    };
    let files = HashMap::from([
        ("m/train-images-idx3-ubyte.gz".to_string(), images(30)),
        ("m/train-labels-idx1-ubyte.gz".to_string(), labels(30)),
        ("m/t10k-images-idx3-ubyte.gz".to_string(), images(5)),
        ("m/t10k-labels-idx1-ubyte.gz".to_string(), labels(5)),
    ]);
    let mut source = source(DatasetKind::Mnist).unwrap();
    for file in &mut source.files {
        file.md5 = md5_hex(&files[&format!("m/{}", file.name)]);
    }
    let (base, served) = serve(files);
    source.mirrors = vec![format!("{base}gone/"), format!("{base}m/")];
    let dir = tempfile::tempdir().unwrap();
    let folder = source.fetch(dir.path(), &quiet()).unwrap();
    assert_eq!(folder, dir.path().join("mnist"));
    assert_eq!(served.load(Ordering::SeqCst), 4);
    let train = IdxDataset::mnist(dir.path(), Split::Train).unwrap();
    assert_eq!(train.labels().count(), 30);
    assert_eq!(
        IdxDataset::mnist(dir.path(), Split::Test)
            .unwrap()
            .labels()
            .count(),
        5
    );
}

/// `fetch` fails with an error whose message contains `expect`, and the root is as it was.
fn fails_leaving_nothing(source: &DatasetSource, root: &Path, expect: &str) -> DataError {
    let before = listing(root);
    let err = source.fetch(root, &quiet()).unwrap_err();
    assert!(err.to_string().contains(expect), "{err}");
    assert_eq!(listing(root), before, "{err}");
    err
}

#[test]
fn a_wrong_checksum_a_broken_or_hostile_archive_leave_nothing_behind() {
    let good = cifar10_archive();
    let truncated = good[..good.len() / 2].to_vec();
    let hostile = tar_gz(&[
        (
            "cifar-10-batches-bin/data_batch_1.bin",
            cifar10_records(2, 0),
        ),
        ("../escaped.bin", b"outside".to_vec()),
    ]);
    // Records of 3073 bytes cut short: the reader refuses the file.
    let unreadable = tar_gz(&[
        ("cifar-10-batches-bin/data_batch_1.bin", vec![1u8; 5000]),
        ("cifar-10-batches-bin/test_batch.bin", cifar10_records(2, 0)),
    ]);
    let (base, _) = serve(HashMap::from([
        ("good/cifar-10-binary.tar.gz".to_string(), good.clone()),
        (
            "truncated/cifar-10-binary.tar.gz".to_string(),
            truncated.clone(),
        ),
        (
            "hostile/cifar-10-binary.tar.gz".to_string(),
            hostile.clone(),
        ),
        (
            "unreadable/cifar-10-binary.tar.gz".to_string(),
            unreadable.clone(),
        ),
    ]));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");

    // The published checksum is not the file's: nothing is kept, not even the archive.
    let mut wrong = cifar10_source(&format!("{base}good/"), &good);
    wrong.files[0].md5 = "0".repeat(32);
    let err = fails_leaving_nothing(&wrong, &root, "is not the published file");
    assert!(err.to_string().contains(&md5_hex(&good)), "{err}");

    // Offline: the message says where to put the archive by hand.
    let offline = cifar10_source(&format!("{base}none/"), &good);
    fails_leaving_nothing(&offline, &root, "put cifar-10-binary.tar.gz into");

    // Archives whose checksum matches (a publisher's broken file): unpacking or reading fails,
    // no dataset folder appears, and nothing escapes the root.
    for (name, archive, expect) in [
        ("truncated", &truncated, "not a whole .tar.gz"),
        ("hostile", &hostile, "../escaped.bin"),
        ("unreadable", &unreadable, "data_batch_1.bin"),
    ] {
        let source = cifar10_source(&format!("{base}{name}/"), archive);
        let root = dir.path().join(name);
        std::fs::create_dir_all(&root).unwrap();
        let err = source.fetch(&root, &quiet()).unwrap_err();
        assert!(err.to_string().contains(expect), "{name}: {err}");
        assert!(!root.join("cifar-10-batches-bin").exists(), "{name}: {err}");
        assert!(!dir.path().join("escaped.bin").exists(), "{name}");
        let left: Vec<String> = listing(&root)
            .into_iter()
            .filter(|f| f != "cifar-10-binary.tar.gz")
            .collect();
        assert!(left.is_empty(), "{name}: left {left:?}");
    }
}

#[test]
fn a_folder_already_there_is_checked_and_never_overwritten() {
    let good = cifar10_archive();
    let (base, served) = serve(HashMap::from([(
        "cifar-10-binary.tar.gz".to_string(),
        good.clone(),
    )]));
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("cifar-10-batches-bin");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("data_batch_1.bin"), cifar10_records(3, 0)).unwrap();
    let err = fails_leaving_nothing(&cifar10_source(&base, &good), dir.path(), "move it away");
    assert!(err.to_string().contains("cifar-10-batches-bin"), "{err}");
    assert_eq!(served.load(Ordering::SeqCst), 0);
}

#[test]
fn the_table_is_well_formed_and_only_real_datasets_download() {
    for kind in skipnet_data::download::downloadable() {
        let source = source(kind).unwrap();
        assert!(
            !source.mirrors.is_empty() && !source.files.is_empty(),
            "{kind}"
        );
        for RemoteFile { name, md5 } in &source.files {
            assert_eq!(md5.len(), 32, "{kind} {name}");
            assert!(md5.bytes().all(|b| b.is_ascii_hexdigit()), "{kind} {name}");
        }
        assert!(source.mirrors.iter().all(|m| m.ends_with('/')), "{kind}");
        assert_eq!(
            source.unpack == Unpack::TarGz,
            matches!(kind, DatasetKind::Cifar10 | DatasetKind::Cifar100)
        );
    }
    let spec = DatasetSpec::new(DatasetKind::SyntheticShapes).with_root(PathBuf::from("x"));
    let err = skipnet_data::download::fetch(&spec, &quiet()).unwrap_err();
    assert!(
        err.to_string()
            .contains("--download takes cifar10, cifar100, mnist, fashion-mnist"),
        "{err}"
    );
}
