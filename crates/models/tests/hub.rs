//! The hub's downloads against an HTTP server on 127.0.0.1 that the test starts: a good file,
//! a wrong hash, a truncated body, a 404, a server that stalls, no server at all; after each,
//! what the cache holds (nothing on failure; a second call makes no request), and a file put in
//! the cache by hand is checked on first use. The real table is checked structurally.
#![cfg(feature = "hub")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use skipnet_models::ModelConfig;
use skipnet_models::hub::{Hub, HubError, HubWeights, TORCHVISION, lookup};

/// The body every "good" path serves.
fn body() -> Vec<u8> {
    (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A server answering by path: `/good-*` the body, `/truncated-*` half of it under the full
/// length, `/stall-*` a few bytes then silence, anything else 404. Counts requests.
fn serve() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || answer(stream));
        }
    });
    (base, requests)
}

fn answer(mut stream: TcpStream) {
    let mut request = Vec::new();
    let mut byte = [0u8; 1];
    while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
        request.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&request);
    let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
    let body = body();
    let head = |len: usize| {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
    };
    if path.starts_with("/good-") || path.starts_with("/wrong-") {
        let _ = stream.write_all(head(body.len()).as_bytes());
        let _ = stream.write_all(&body);
    } else if path.starts_with("/truncated-") {
        let _ = stream.write_all(head(body.len()).as_bytes());
        let _ = stream.write_all(&body[..body.len() / 2]);
    } else if path.starts_with("/stall-") {
        let _ = stream.write_all(head(body.len()).as_bytes());
        let _ = stream.write_all(&body[..10]);
        let _ = stream.flush();
        std::thread::sleep(Duration::from_secs(10));
    } else {
        let _ = stream.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
        );
    }
}

/// Weights whose file is `<stem>-<hash prefix>.pth`.
fn weights(stem: &str, prefix: &str) -> HubWeights {
    HubWeights {
        arch: "resnet18",
        tag: "TEST",
        file: Box::leak(format!("{stem}-{prefix}.pth").into_boxed_str()),
        default: false,
        top1: 0.0,
        params: 0,
    }
}

fn hub(base: &str, cache: &Path) -> Hub {
    Hub {
        base_url: base.to_string(),
        cache: cache.to_path_buf(),
        timeout: Duration::from_secs(1),
        progress: false,
    }
}

/// The files in the cache folder (none when it does not exist).
fn cached(cache: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(cache)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_good_download_is_cached_once_and_read_from_the_cache_after() {
    let (base, requests) = serve();
    let cache = tempfile::tempdir().unwrap();
    let prefix = &sha256_hex(&body())[..8];
    let good = weights("good", prefix);
    let path = hub(&base, cache.path()).fetch(&good).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), body());
    assert_eq!(
        cached(cache.path()),
        [
            good.file.to_string(),
            format!("{}.sha256-checked", good.file)
        ]
    );
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    let again = hub(&base, cache.path()).fetch(&good).unwrap();
    assert_eq!(again, path);
    assert_eq!(requests.load(Ordering::SeqCst), 1, "no second request");
}

#[test]
fn failed_downloads_leave_nothing_in_the_cache() {
    let (base, _) = serve();
    let prefix = &sha256_hex(&body())[..8];
    let cases: [(&str, &str, &str); 4] = [
        ("wrong", "00000000", "is not the published file"),
        ("truncated", prefix, "after 100000 bytes"),
        ("missing", prefix, "HTTP 404"),
        ("stall", prefix, "cannot download"),
    ];
    for (stem, prefix, message) in cases {
        let cache = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let err = hub(&base, cache.path())
            .fetch(&weights(stem, prefix))
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains(message), "{stem}: {text}");
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{stem}: bounded by the timeout"
        );
        assert!(
            cached(cache.path()).is_empty(),
            "{stem}: {:?}",
            cached(cache.path())
        );
        if stem != "wrong" {
            assert!(matches!(err, HubError::Download { .. }), "{stem}: {err:?}");
            assert!(
                text.contains(&format!("{base}{stem}-")),
                "{stem}: names the URL"
            );
            assert!(text.contains("put it at"), "{stem}: says where by hand");
        }
    }
}

#[test]
fn no_server_is_a_clear_error_naming_the_url_and_the_place_by_hand() {
    // Bind and drop: nothing listens on that port any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cache = tempfile::tempdir().unwrap();
    let base = format!("http://127.0.0.1:{port}/");
    let w = weights("offline", "abcdef01");
    let text = hub(&base, cache.path()).fetch(&w).unwrap_err().to_string();
    assert!(
        text.contains(&format!("cannot download {base}offline-abcdef01.pth")),
        "{text}"
    );
    assert!(
        text.contains(&cache.path().join(w.file).display().to_string()),
        "{text}"
    );
    assert!(cached(cache.path()).is_empty());
}

#[test]
fn a_file_put_in_the_cache_by_hand_is_checked_on_first_use() {
    let cache = tempfile::tempdir().unwrap();
    let prefix = &sha256_hex(&body())[..8];
    let w = weights("by-hand", prefix);
    // Nothing listens here: the file must come from the cache.
    let offline = hub("http://127.0.0.1:9/", cache.path());
    std::fs::write(cache.path().join(w.file), b"not the weights").unwrap();
    let err = offline.fetch(&w).unwrap_err();
    assert!(matches!(err, HubError::Hash { .. }), "{err:?}");
    assert_eq!(
        cached(cache.path()),
        [w.file.to_string()],
        "no checked mark"
    );
    std::fs::write(cache.path().join(w.file), body()).unwrap();
    let path = offline.fetch(&w).unwrap();
    assert_eq!(path, cache.path().join(w.file));
    assert!(
        cache
            .path()
            .join(format!("{}.sha256-checked", w.file))
            .is_file()
    );
}

#[test]
fn every_zoo_architecture_torchvision_publishes_weights_for_has_an_entry() {
    for name in skipnet_models::registry::all_names() {
        let config = ModelConfig::from_name(&name).unwrap();
        let published = config.is_imagenet() && !name.starts_with("plain");
        assert_eq!(lookup(&name).is_ok(), published, "{name}");
    }
    for w in &TORCHVISION {
        let config = ModelConfig::from_name(w.arch).unwrap();
        assert!(config.is_imagenet(), "{}", w.arch);
        assert_eq!(config.num_classes(), 1000, "{}", w.arch);
        assert!(w.top1 > 60.0 && w.top1 < 90.0, "{}", w.arch);
    }
}
