//! Checked downloads: a URL streamed into a hidden temporary beside its destination, hashed as
//! it arrives, and moved into place ([`atomic::commit`](crate::atomic::commit)) only when the
//! body is complete and its checksum is the published one — a partial or wrong download is
//! never taken for the file. Progress goes to stderr: one rewritten line on a terminal (bytes,
//! rate, time left), else a line per 10 %.
//!
//! ureq 2 (blocking, rustls): small, no async runtime, and a per-read timeout that bounds a
//! stalled server.
//!
//! ```no_run
//! use skipnet_core::download::{Checksum, Downloader};
//!
//! Downloader::new().fetch(
//!     &["https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz".into()],
//!     "data/cifar-10-binary.tar.gz".as_ref(),
//!     &Checksum::Md5("c32a1d4ab5d03f1284b67883e8d87530".into()),
//! )?;
//! # Ok::<(), skipnet_core::download::DownloadError>(())
//! ```

use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use md5::Md5;
use sha2::{Digest, Sha256};

use crate::atomic;

/// The checksum a downloaded file must have, as its publisher gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checksum {
    /// The file's SHA-256 starts with these hex digits (torchvision's weights carry 8 in their
    /// names).
    Sha256Prefix(String),
    /// The file's MD5, 32 hex digits (torchvision's and the datasets' own pages).
    Md5(String),
}

impl Checksum {
    /// `SHA-256` or `MD5`.
    pub fn algorithm(&self) -> &'static str {
        match self {
            Checksum::Sha256Prefix(_) => "SHA-256",
            Checksum::Md5(_) => "MD5",
        }
    }

    /// The published digits.
    pub fn expected(&self) -> &str {
        match self {
            Checksum::Sha256Prefix(hex) | Checksum::Md5(hex) => hex,
        }
    }

    /// Whether `hex`, a whole digest in this algorithm, matches.
    pub fn matches(&self, hex: &str) -> bool {
        let expected = self.expected().to_ascii_lowercase();
        match self {
            Checksum::Sha256Prefix(_) => !expected.is_empty() && hex.starts_with(&expected),
            Checksum::Md5(_) => hex == expected,
        }
    }

    fn hasher(&self) -> Hasher {
        match self {
            Checksum::Sha256Prefix(_) => Hasher::Sha256(Sha256::new()),
            Checksum::Md5(_) => Hasher::Md5(Md5::new()),
        }
    }
}

enum Hasher {
    Sha256(Sha256),
    Md5(Md5),
}

impl Hasher {
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Md5(h) => h.update(bytes),
        }
    }

    fn hex(self) -> String {
        let digest = match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Md5(h) => h.finalize().to_vec(),
        };
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What can go wrong downloading a file.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The body did not arrive whole: offline, unreachable, an HTTP error, a stall, a body
    /// shorter than announced.
    #[error("cannot download {url}: {problem}")]
    Http {
        /// The URL.
        url: String,
        /// What went wrong.
        problem: String,
    },
    /// The file is not the published one.
    #[error(
        "{} is not the published file: its {algorithm} is {got}, expected {expected} (from {url}); \
         it was not kept",
        path.display()
    )]
    Checksum {
        /// The file checked (for a download, the destination it was meant for).
        path: PathBuf,
        /// Where it came from (or `by hand` for a file that was already there).
        url: String,
        /// `SHA-256` or `MD5`.
        algorithm: &'static str,
        /// The published digits.
        expected: String,
        /// The file's own digits (as many as were published).
        got: String,
    },
    /// A file could not be read or written (a full disk, no permission).
    #[error("{}: {problem}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        problem: String,
    },
}

impl DownloadError {
    /// An I/O error about `path`.
    pub fn io(path: &Path, e: std::io::Error) -> Self {
        DownloadError::Io {
            path: path.to_path_buf(),
            problem: e.to_string(),
        }
    }
}

/// How downloads are made: how long a silent connection is waited for, and whether progress is
/// printed.
#[derive(Debug, Clone)]
pub struct Downloader {
    /// How long connecting, or waiting for the next bytes, may take before giving up.
    pub timeout: Duration,
    /// Print progress (to stderr).
    pub progress: bool,
}

impl Default for Downloader {
    fn default() -> Self {
        Self::new()
    }
}

impl Downloader {
    /// A 30 s timeout, progress on.
    pub fn new() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            progress: true,
        }
    }

    /// Downloads `urls[0]` (else the next mirror, on a download error) into `dest`, checked
    /// against `checksum`; returns the whole hex digest. Nothing is left at `dest` or beside it
    /// on any error; a checksum mismatch is final (the mirrors serve the same file).
    pub fn fetch(
        &self,
        urls: &[String],
        dest: &Path,
        checksum: &Checksum,
    ) -> Result<String, DownloadError> {
        let mut failures = Vec::new();
        for url in urls {
            match self.fetch_one(url, dest, checksum) {
                Err(DownloadError::Http { url, problem }) => failures.push((url, problem)),
                done => return done,
            }
        }
        let mut problem = failures
            .first()
            .map_or_else(|| "no URL to download from".to_string(), |f| f.1.clone());
        for (url, other) in failures.iter().skip(1) {
            problem.push_str(&format!("; also tried {url}: {other}"));
        }
        Err(DownloadError::Http {
            url: failures.first().map_or_else(String::new, |f| f.0.clone()),
            problem,
        })
    }

    fn fetch_one(
        &self,
        url: &str,
        dest: &Path,
        checksum: &Checksum,
    ) -> Result<String, DownloadError> {
        // The project's atomic write: a hidden temporary beside the file, unique to this process
        // and call, committed (synced, renamed) only when complete and checked.
        let partial = atomic::temp_path(dest);
        let result = self.stream(url, &partial, checksum).and_then(|got| {
            if checksum.matches(&got) {
                Ok(got)
            } else {
                Err(mismatch(dest, url, checksum, &got))
            }
        });
        match result {
            Ok(got) => {
                atomic::commit(&partial, dest).map_err(|e| DownloadError::io(dest, e))?;
                Ok(got)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                Err(e)
            }
        }
    }

    /// Streams `url` into `partial`, hashing as it goes; the hex digest of what arrived.
    fn stream(
        &self,
        url: &str,
        partial: &Path,
        checksum: &Checksum,
    ) -> Result<String, DownloadError> {
        let failed = |problem: String| DownloadError::Http {
            url: url.to_string(),
            problem,
        };
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(self.timeout)
            .timeout_read(self.timeout)
            .build();
        let response = agent.get(url).call().map_err(|e| match e {
            ureq::Error::Status(code, r) => failed(format!("HTTP {code} {}", r.status_text())),
            // Its Display repeats the URL; the kind and the message are what is new.
            ureq::Error::Transport(t) => failed(match t.message() {
                Some(message) => format!("{}: {message}", t.kind()),
                None => t.kind().to_string(),
            }),
        })?;
        let total: Option<u64> = response
            .header("Content-Length")
            .and_then(|l| l.parse().ok());
        let mut body = response.into_reader();
        let mut file = File::create(partial).map_err(|e| DownloadError::io(partial, e))?;
        let mut hasher = checksum.hasher();
        let mut buffer = vec![0u8; 1 << 16];
        let mut progress = Progress::new(self.progress, total);
        loop {
            let n = match body.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(failed(format!("after {} bytes: {e}", progress.bytes))),
            };
            hasher.update(&buffer[..n]);
            file.write_all(&buffer[..n])
                .map_err(|e| DownloadError::io(partial, e))?;
            progress.add(n as u64);
        }
        progress.finish();
        if let Some(total) = total
            && progress.bytes != total
        {
            return Err(failed(format!(
                "the body ended after {} of {total} bytes",
                progress.bytes
            )));
        }
        Ok(hasher.hex())
    }
}

/// Checks a file already on disk (put there by hand, or downloaded earlier) against
/// `checksum`; returns its whole hex digest.
pub fn verify(path: &Path, checksum: &Checksum) -> Result<String, DownloadError> {
    let mut file = File::open(path).map_err(|e| DownloadError::io(path, e))?;
    let mut hasher = checksum.hasher();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DownloadError::io(path, e)),
        }
    }
    let got = hasher.hex();
    if checksum.matches(&got) {
        Ok(got)
    } else {
        Err(mismatch(path, "by hand", checksum, &got))
    }
}

fn mismatch(path: &Path, url: &str, checksum: &Checksum, got: &str) -> DownloadError {
    let digits = checksum.expected().len().min(got.len());
    DownloadError::Checksum {
        path: path.to_path_buf(),
        url: url.to_string(),
        algorithm: checksum.algorithm(),
        expected: checksum.expected().to_string(),
        got: got[..digits].to_string(),
    }
}

/// Download progress on stderr: one rewritten line on a terminal (bytes, rate, time left), else
/// a line per 10 %.
struct Progress {
    on: bool,
    terminal: bool,
    total: Option<u64>,
    bytes: u64,
    started: Instant,
    next_tenth: u64,
    last_draw: Instant,
}

impl Progress {
    fn new(on: bool, total: Option<u64>) -> Self {
        Self {
            on,
            terminal: std::io::stderr().is_terminal(),
            total,
            bytes: 0,
            started: Instant::now(),
            next_tenth: 1,
            last_draw: Instant::now(),
        }
    }

    fn add(&mut self, n: u64) {
        self.bytes += n;
        if !self.on {
            return;
        }
        if self.terminal {
            if self.last_draw.elapsed() >= Duration::from_millis(200) {
                self.last_draw = Instant::now();
                eprint!("\r{}", self.line());
            }
        } else if let Some(total) = self.total.filter(|t| *t > 0) {
            while self.next_tenth <= 10 && self.bytes * 10 >= total * self.next_tenth {
                eprintln!("{}", self.line());
                self.next_tenth += 1;
            }
        }
    }

    fn finish(&mut self) {
        if self.on && self.terminal {
            eprintln!("\r{}", self.line());
        }
    }

    fn line(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let rate = self.bytes as f64 / secs;
        let mb = |b: f64| b / 1e6;
        match self.total {
            Some(total) if total > 0 => {
                let left = (total.saturating_sub(self.bytes)) as f64 / rate.max(1.0);
                format!(
                    "download {:>5.1} / {:.1} MB ({:>3.0} %)  {:>6.1} MB/s  {:.0} s left",
                    mb(self.bytes as f64),
                    mb(total as f64),
                    100.0 * self.bytes as f64 / total as f64,
                    mb(rate),
                    left
                )
            }
            _ => format!(
                "download {:.1} MB  {:.1} MB/s",
                mb(self.bytes as f64),
                mb(rate)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_whole_md5s_and_sha256_prefixes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        // RFC 1321 and FIPS 180-2 test vectors for "abc".
        let md5 = "900150983cd24fb0d6963f7d28e17f72";
        let sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(verify(&path, &Checksum::Md5(md5.into())).unwrap(), md5);
        assert_eq!(
            verify(&path, &Checksum::Sha256Prefix("ba7816bf".into())).unwrap(),
            sha
        );
        assert!(Checksum::Md5(md5.to_uppercase()).matches(md5));
        assert!(
            !Checksum::Md5(md5[..8].into()).matches(md5),
            "an MD5 is whole"
        );
        assert!(!Checksum::Sha256Prefix(String::new()).matches(sha));
        let err = verify(&path, &Checksum::Md5("0".repeat(32))).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("its MD5 is {md5}, expected {}", "0".repeat(32))),
            "{err}"
        );
        let missing = verify(&dir.path().join("none"), &Checksum::Md5(md5.into()));
        assert!(matches!(missing, Err(DownloadError::Io { .. })));
    }

    #[test]
    fn no_server_is_a_download_error_naming_every_mirror() {
        let dir = tempfile::tempdir().unwrap();
        // A port nobody listens on: bound, then released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let urls = [
            format!("http://127.0.0.1:{port}/a"),
            format!("http://127.0.0.1:{port}/b"),
        ];
        let downloader = Downloader {
            timeout: Duration::from_secs(2),
            progress: false,
        };
        let dest = dir.path().join("f");
        let err = downloader
            .fetch(&urls, &dest, &Checksum::Md5("0".repeat(32)))
            .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("/a") && message.contains("/b"),
            "{message}"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
