//! Pretrained weights by name, as torchvision publishes them: `torchvision:resnet50` (the
//! architecture's default weights) or `torchvision:resnet50.IMAGENET1K_V2`, wherever a weights
//! file is accepted. [`TORCHVISION`] is torchvision 0.29.2's table for every zoo architecture
//! that has weights (file names, and in them the SHA-256 prefix torchvision checks);
//! [`Hub::fetch`] downloads a file once into a cache (`$SKIPNET_HOME/hub`, else
//! `~/.cache/skipnet/hub`), checks its hash before first use, and moves it into place only when
//! complete and checked (`skipnet_core::download`: a hidden temporary beside it until then), so
//! a partial download is never taken for the file.
//!
//! ```no_run
//! use skipnet_models::hub::{Hub, lookup};
//!
//! let weights = lookup("resnet50")?; // IMAGENET1K_V2, torchvision's default
//! let path = Hub::new().fetch(weights)?; // downloaded once, then read from the cache
//! # Ok::<(), skipnet_models::hub::HubError>(())
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use skipnet_core::download::{self, Checksum, DownloadError, Downloader};

/// Where torchvision's weights are published.
pub const TORCHVISION_URL: &str = "https://download.pytorch.org/models/";

/// The prefix that names hub weights where a weights path is expected.
pub const SCHEME: &str = "torchvision:";

/// One set of published weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HubWeights {
    /// The zoo architecture (torchvision's builder name).
    pub arch: &'static str,
    /// torchvision's name for the weights (`IMAGENET1K_V1`, `IMAGENET1K_V2`).
    pub tag: &'static str,
    /// The published file, `<name>-<first 8 hex digits of its SHA-256>.pth`.
    pub file: &'static str,
    /// torchvision's `DEFAULT` for the architecture.
    pub default: bool,
    /// Top-1 ImageNet-1k validation accuracy torchvision reports, %.
    pub top1: f64,
    /// Parameters (the zoo's count for the architecture).
    pub params: usize,
}

macro_rules! weights {
    ($arch:literal, $tag:literal, $file:literal, $default:literal, $top1:literal, $params:literal) => {
        HubWeights {
            arch: $arch,
            tag: $tag,
            file: $file,
            default: $default,
            top1: $top1,
            params: $params,
        }
    };
}

/// torchvision 0.29.2's ImageNet-1k weights for the zoo's architectures (from
/// `torchvision/models/resnet.py` and `densenet.py`: URL, `DEFAULT`, `acc@1`, `num_params`).
pub const TORCHVISION: [HubWeights; 16] = [
    weights!(
        "resnet18",
        "IMAGENET1K_V1",
        "resnet18-f37072fd.pth",
        true,
        69.758,
        11_689_512
    ),
    weights!(
        "resnet34",
        "IMAGENET1K_V1",
        "resnet34-b627a593.pth",
        true,
        73.314,
        21_797_672
    ),
    weights!(
        "resnet50",
        "IMAGENET1K_V1",
        "resnet50-0676ba61.pth",
        false,
        76.130,
        25_557_032
    ),
    weights!(
        "resnet50",
        "IMAGENET1K_V2",
        "resnet50-11ad3fa6.pth",
        true,
        80.858,
        25_557_032
    ),
    weights!(
        "resnet101",
        "IMAGENET1K_V1",
        "resnet101-63fe2227.pth",
        false,
        77.374,
        44_549_160
    ),
    weights!(
        "resnet101",
        "IMAGENET1K_V2",
        "resnet101-cd907fc2.pth",
        true,
        81.886,
        44_549_160
    ),
    weights!(
        "resnet152",
        "IMAGENET1K_V1",
        "resnet152-394f9c45.pth",
        false,
        78.312,
        60_192_808
    ),
    weights!(
        "resnet152",
        "IMAGENET1K_V2",
        "resnet152-f82ba261.pth",
        true,
        82.284,
        60_192_808
    ),
    weights!(
        "resnext50_32x4d",
        "IMAGENET1K_V1",
        "resnext50_32x4d-7cdf4587.pth",
        false,
        77.618,
        25_028_904
    ),
    weights!(
        "resnext50_32x4d",
        "IMAGENET1K_V2",
        "resnext50_32x4d-1a0047aa.pth",
        true,
        81.198,
        25_028_904
    ),
    weights!(
        "wide_resnet50_2",
        "IMAGENET1K_V1",
        "wide_resnet50_2-95faca4d.pth",
        false,
        78.468,
        68_883_240
    ),
    weights!(
        "wide_resnet50_2",
        "IMAGENET1K_V2",
        "wide_resnet50_2-9ba9bcbe.pth",
        true,
        81.602,
        68_883_240
    ),
    weights!(
        "densenet121",
        "IMAGENET1K_V1",
        "densenet121-a639ec97.pth",
        true,
        74.434,
        7_978_856
    ),
    weights!(
        "densenet161",
        "IMAGENET1K_V1",
        "densenet161-8d451a50.pth",
        true,
        77.138,
        28_681_000
    ),
    weights!(
        "densenet169",
        "IMAGENET1K_V1",
        "densenet169-b2777c0a.pth",
        true,
        75.600,
        14_149_480
    ),
    weights!(
        "densenet201",
        "IMAGENET1K_V1",
        "densenet201-c1103571.pth",
        true,
        76.896,
        20_013_928
    ),
];

impl HubWeights {
    /// `torchvision:<arch>.<tag>`.
    pub fn name(&self) -> String {
        format!("{SCHEME}{}.{}", self.arch, self.tag)
    }

    /// The download URL.
    pub fn url(&self) -> String {
        format!("{TORCHVISION_URL}{}", self.file)
    }

    /// The hex prefix of the file's SHA-256 that its name carries (torchvision's
    /// `check_hash`): the part after the last `-` and before `.pth`.
    pub fn hash_prefix(&self) -> &'static str {
        let stem = self.file.strip_suffix(".pth").unwrap_or(self.file);
        stem.rsplit_once('-').map_or("", |(_, hash)| hash)
    }
}

/// What can go wrong getting hub weights.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// No such architecture or weights in the table.
    #[error("unknown weights '{name}'; valid: {valid}")]
    Unknown {
        /// What was asked for.
        name: String,
        /// Every valid name.
        valid: String,
    },
    /// The download did not complete (offline, unreachable, an HTTP error, a stall, a
    /// truncated body).
    #[error(
        "cannot download {url}: {problem}. Without network access, download it elsewhere and \
         put it at {} (the cache; $SKIPNET_HOME/hub overrides it)",
        by_hand.display()
    )]
    Download {
        /// The URL.
        url: String,
        /// What went wrong.
        problem: String,
        /// Where the file can be put by hand.
        by_hand: PathBuf,
    },
    /// The file's SHA-256 does not start with the prefix its name carries.
    #[error(
        "{} is not the published file: its SHA-256 starts {got}, torchvision's file name says \
         {expected} (from {url}); it was not kept",
        path.display()
    )]
    Hash {
        /// The file checked.
        path: PathBuf,
        /// The URL it came from.
        url: String,
        /// The prefix in the file name.
        expected: String,
        /// The first hex digits of the file's hash.
        got: String,
    },
    /// The cache could not be read or written.
    #[error("{}: {problem}", path.display())]
    Cache {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        problem: String,
    },
}

/// The weights named `name`: `resnet50` (the architecture's default) or `resnet50.IMAGENET1K_V2`
/// (the tag in any case), with or without the `torchvision:` prefix.
pub fn lookup(name: &str) -> Result<&'static HubWeights, HubError> {
    let bare = name.strip_prefix(SCHEME).unwrap_or(name);
    let found = match bare.split_once('.') {
        Some((arch, tag)) => TORCHVISION
            .iter()
            .find(|w| w.arch == arch && w.tag.eq_ignore_ascii_case(tag)),
        None => TORCHVISION.iter().find(|w| w.arch == bare && w.default),
    };
    found.ok_or_else(|| HubError::Unknown {
        name: name.to_string(),
        valid: valid_names(),
    })
}

/// Every accepted name: `torchvision:<arch>` for each architecture, then every
/// `torchvision:<arch>.<tag>`.
pub fn valid_names() -> String {
    let defaults = TORCHVISION
        .iter()
        .filter(|w| w.default)
        .map(|w| format!("{SCHEME}{}", w.arch));
    let mut names: Vec<String> = defaults.collect();
    names.dedup();
    names.extend(TORCHVISION.iter().map(HubWeights::name));
    names.dedup();
    names.join(", ")
}

/// Whether `path` names hub weights (`torchvision:…`) rather than a file.
pub fn is_hub_name(path: &Path) -> bool {
    path.to_str().is_some_and(|p| p.starts_with(SCHEME))
}

/// `path` itself, or for a hub name the cached file (downloaded first if needed).
pub fn resolve(path: &Path) -> Result<PathBuf, HubError> {
    match path.to_str() {
        Some(name) if name.starts_with(SCHEME) => Hub::new().fetch(lookup(name)?),
        _ => Ok(path.to_path_buf()),
    }
}

/// The cache folder: `$SKIPNET_HOME/hub`, else `$HOME/.cache/skipnet/hub`, else
/// `.skipnet/hub`.
pub fn cache_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("SKIPNET_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(home).join("hub");
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home).join(".cache/skipnet/hub"),
        None => PathBuf::from(".skipnet/hub"),
    }
}

/// Downloads into a cache: where from, where to, how long a silent connection is waited for.
#[derive(Debug, Clone)]
pub struct Hub {
    /// The URL the file names are appended to.
    pub base_url: String,
    /// The cache folder.
    pub cache: PathBuf,
    /// How long connecting, or waiting for the next bytes, may take before giving up.
    pub timeout: Duration,
    /// Print progress (to stderr).
    pub progress: bool,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    /// torchvision's URL, [`cache_dir`], a 30 s timeout, progress on.
    pub fn new() -> Self {
        Self {
            base_url: TORCHVISION_URL.to_string(),
            cache: cache_dir(),
            timeout: Duration::from_secs(30),
            progress: true,
        }
    }

    /// The cached file of `weights`, downloading and checking it first when it is not there
    /// yet. A file put in the cache by hand is checked once, on first use.
    pub fn fetch(&self, weights: &HubWeights) -> Result<PathBuf, HubError> {
        let path = self.cache.join(weights.file);
        let checked = self.cache.join(format!("{}.sha256-checked", weights.file));
        let url = format!("{}{}", self.base_url, weights.file);
        let checksum = Checksum::Sha256Prefix(weights.hash_prefix().to_string());
        let hub_error = |e| hub_error(e, &url, &path);
        if path.is_file() {
            if !checked.is_file() {
                let got = download::verify(&path, &checksum).map_err(hub_error)?;
                write_marker(&checked, &got)?;
            }
            return Ok(path);
        }
        std::fs::create_dir_all(&self.cache).map_err(|e| cache_error(&self.cache, e))?;
        let downloader = Downloader {
            timeout: self.timeout,
            progress: self.progress,
        };
        let got = downloader
            .fetch(std::slice::from_ref(&url), &path, &checksum)
            .map_err(hub_error)?;
        write_marker(&checked, &got)?;
        Ok(path)
    }
}

/// A download's error in the hub's terms (the cache file, where to put it by hand).
fn hub_error(e: DownloadError, url: &str, path: &Path) -> HubError {
    match e {
        DownloadError::Http { url, problem } => HubError::Download {
            url,
            problem,
            by_hand: path.to_path_buf(),
        },
        DownloadError::Checksum {
            path,
            expected,
            got,
            ..
        } => HubError::Hash {
            path,
            url: url.to_string(),
            expected,
            got,
        },
        DownloadError::Io { path, problem } => HubError::Cache { path, problem },
    }
}

fn cache_error(path: &Path, e: std::io::Error) -> HubError {
    HubError::Cache {
        path: path.to_path_buf(),
        problem: e.to_string(),
    }
}

fn write_marker(path: &Path, hash: &str) -> Result<(), HubError> {
    skipnet_core::atomic::write_bytes(path, format!("{hash}\n").as_bytes())
        .map_err(|e| cache_error(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_to_the_default_or_the_tag() {
        assert_eq!(lookup("torchvision:resnet50").unwrap().tag, "IMAGENET1K_V2");
        assert_eq!(
            lookup("resnet50.imagenet1k_v1").unwrap().file,
            "resnet50-0676ba61.pth"
        );
        assert_eq!(lookup("densenet121").unwrap().hash_prefix(), "a639ec97");
        let err = lookup("torchvision:resnet51").unwrap_err().to_string();
        assert!(
            err.contains("unknown weights 'torchvision:resnet51'"),
            "{err}"
        );
        assert!(err.contains("torchvision:resnet50.IMAGENET1K_V2"), "{err}");
        assert!(lookup("resnet18.IMAGENET1K_V2").is_err());
        assert!(is_hub_name(Path::new("torchvision:resnet18")));
        assert!(!is_hub_name(Path::new("weights/resnet18.pth")));
    }

    #[test]
    fn the_table_is_well_formed() {
        for w in &TORCHVISION {
            let prefix = w.hash_prefix();
            assert_eq!(prefix.len(), 8, "{}", w.file);
            assert!(prefix.bytes().all(|b| b.is_ascii_hexdigit()), "{}", w.file);
            assert!(w.file.starts_with(&format!("{}-", w.arch)), "{}", w.file);
            assert!(w.url().starts_with("https://download.pytorch.org/models/"));
            assert_eq!(
                TORCHVISION
                    .iter()
                    .filter(|o| o.arch == w.arch && o.default)
                    .count(),
                1,
                "one default for {}",
                w.arch
            );
        }
    }
}
