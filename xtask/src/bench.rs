//! `cargo xtask bench`: training-step and inference throughput of the zoo's standard cases, with
//! peak memory and achieved GFLOP/s, optionally beside PyTorch eager (`bench/torch_reference.py`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use burn::module::Module;
use clap::Args;
use serde::{Deserialize, Serialize};
use skipnet_models::ModelConfig;
use skipnet_train::Backend;
use skipnet_train::timing::{median, time_inference, time_train_step};

use crate::cli::{BackendArg, ClosedSet, select_backend};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// auto (the fastest CPU backend compiled in), or a backend (rebuilds
    /// with its cargo feature when not compiled in).
    #[arg(long, default_value = "auto", value_parser = ClosedSet::<BackendArg>::new())]
    backend: BackendArg,
    /// Write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also run bench/torch_reference.py (PyTorch eager, same cases) and print the ratios.
    #[arg(long)]
    vs_torch: bool,
    /// Timed iterations per measurement (the median is reported).
    #[arg(long, default_value_t = 3)]
    iters: usize,
    /// Untimed iterations first.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Only these cases (e.g. `cifar-resnet56,resnet50`).
    #[arg(long, value_delimiter = ',')]
    cases: Vec<String>,
    /// Batch 2 at a quarter of each input side, one iteration: checks that every case runs
    /// (what CI does); the numbers mean nothing.
    #[arg(long)]
    tiny: bool,
    /// CPU threads on both sides, set explicitly and recorded: rayon's global pool for flex
    /// and ndarray, `OMP_NUM_THREADS` for tch, `torch.set_num_threads` for PyTorch.
    #[arg(long, alias = "torch-threads", default_value_t = 2)]
    threads: usize,
    /// Python that runs the PyTorch reference (needs torch and torchvision; e.g. a venv with
    /// torch 2.9.0 and torchvision 0.24.0 to compare against the libtorch the tch backend links).
    #[arg(long, default_value = "python3")]
    torch_python: PathBuf,
    /// With --vs-torch: measure each case this many times on both sides, the side that runs
    /// first alternating from round to round, and report the median ratio and its range.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// The device PyTorch runs on (`cpu`, or `cuda` beside the wgpu/cuda backends; see
    /// bench/gpu.sh).
    #[arg(long, default_value = "cpu")]
    torch_device: String,
    /// Run PyTorch with channels-last (NHWC) models and inputs instead of its default layout.
    #[arg(long)]
    torch_channels_last: bool,
}

/// skipnet ÷ PyTorch for one case and pair of modes, over the rounds.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    pub arch: String,
    pub mode: String,
    /// The PyTorch measurement it is compared with (`infer-folded` is compared with both
    /// PyTorch's own conv-BN fusion and its eager inference).
    pub torch_mode: String,
    pub batch: usize,
    pub input: [usize; 3],
    /// Medians over the rounds.
    pub ours_images_per_s: f64,
    pub torch_images_per_s: f64,
    /// Median of the per-round ratios (skipnet img/s ÷ PyTorch img/s; > 1: skipnet is faster).
    pub ratio: f64,
    pub min: f64,
    pub max: f64,
    /// Training: PyTorch's seconds ÷ ours for forward + loss, backward, update (medians).
    pub phases: Option<[f64; 3]>,
}

/// Which PyTorch measurement each of ours is compared with: the same mode, and folded inference
/// also with PyTorch eager's (unfolded) inference.
const COMPARED_MODES: [(&str, &str); 4] = [
    ("train", "train"),
    ("infer", "infer"),
    ("infer-folded", "infer-folded"),
    ("infer-folded", "infer"),
];

/// Pairs round k of ours with round k of PyTorch's for every case and pair of modes.
fn ratios(ours: &[Measurement], torch: &[Measurement]) -> Vec<Ratio> {
    let mut out: Vec<Ratio> = Vec::new();
    for m in ours {
        for &(mode, torch_mode) in COMPARED_MODES.iter().filter(|(mode, _)| *mode == m.mode) {
            if out
                .iter()
                .any(|r| r.arch == m.arch && r.mode == mode && r.torch_mode == torch_mode)
            {
                continue;
            }
            let a: Vec<&Measurement> = ours
                .iter()
                .filter(|x| x.arch == m.arch && x.mode == mode)
                .collect();
            let b: Vec<&Measurement> = torch
                .iter()
                .filter(|x| x.arch == m.arch && x.mode == torch_mode)
                .collect();
            if b.is_empty() {
                continue;
            }
            let per_round: Vec<f64> = a
                .iter()
                .zip(&b)
                .map(|(a, b)| a.images_per_s / b.images_per_s)
                .collect();
            let phase = |i: usize| {
                let v: Vec<f64> = a
                    .iter()
                    .zip(&b)
                    .filter_map(|(a, b)| Some(b.phases?[i] / a.phases?[i]))
                    .collect();
                (!v.is_empty()).then(|| median(v))
            };
            let phases = match (phase(0), phase(1), phase(2)) {
                (Some(f), Some(b), Some(u)) => Some([f, b, u]),
                _ => None,
            };
            out.push(Ratio {
                arch: m.arch.clone(),
                mode: mode.into(),
                torch_mode: torch_mode.into(),
                batch: m.batch,
                input: m.input,
                ours_images_per_s: median(a.iter().map(|m| m.images_per_s).collect()),
                torch_images_per_s: median(b.iter().map(|m| m.images_per_s).collect()),
                ratio: median(per_round.clone()),
                min: per_round.iter().copied().fold(f64::INFINITY, f64::min),
                max: per_round.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                phases,
            });
        }
    }
    out
}

/// One benchmark case: a model, a batch shape, and which measurements.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Case {
    pub arch: String,
    pub batch: usize,
    pub input: [usize; 3],
    pub train: bool,
}

/// The cases of the issue: CIFAR ResNets at batch 128, ImageNet ResNets and DenseNet at 16,
/// U-Net at 4 × 3×128×128.
pub fn standard_cases() -> Vec<Case> {
    let case = |arch: &str, batch, input, train| Case {
        arch: arch.into(),
        batch,
        input,
        train,
    };
    vec![
        case("cifar-resnet20", 128, [3, 32, 32], true),
        case("cifar-resnet56", 128, [3, 32, 32], true),
        case("resnet18", 16, [3, 224, 224], true),
        case("resnet50", 16, [3, 224, 224], true),
        case("densenet121", 16, [3, 224, 224], false),
        case("unet", 4, [3, 128, 128], true),
    ]
}

/// One measurement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measurement {
    pub arch: String,
    /// `train` (forward + loss + backward + SGD update) or `infer` (eval-mode forward).
    pub mode: String,
    pub batch: usize,
    pub input: [usize; 3],
    /// Median seconds per iteration.
    pub seconds: f64,
    pub images_per_s: f64,
    /// Forward MACs per image × 2 (× 3 for a training step).
    pub gflop_per_s: f64,
    /// Peak resident memory of the process during the measurement (CPU backends).
    pub peak_rss_mb: Option<f64>,
    /// Training steps: median seconds of forward + loss, backward, and the optimiser update.
    #[serde(default)]
    pub phases: Option<[f64; 3]>,
    /// PyTorch's measurements: `torch.__version__`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Resets the kernel's peak-RSS counter of this process (Linux; a no-op elsewhere).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Measures `cases` on `backend`.
pub fn measure(
    cases: &[Case],
    backend: Backend,
    warmup: usize,
    iters: usize,
) -> Result<Vec<Measurement>> {
    let device = backend.device()?;
    device.seed(0);
    let mut out = Vec::new();
    for case in cases {
        let config = ModelConfig::from_name(&case.arch)?;
        // Built once for inference; its summary gives the MACs.
        let inference_model = config.init(&device)?.valid();
        let macs = inference_model.summary(&case.arch, case.input)?.flops;
        // `infer-folded`: the same eval-mode forward with batch norms folded into the
        // convolutions (`Model::fold_batch_norm`, what predict and eval run).
        let folded_model = inference_model.clone().fold_batch_norm();
        let modes: &[&str] = if case.train {
            &["train", "infer", "infer-folded"]
        } else {
            &["infer", "infer-folded"]
        };
        for &mode in modes {
            reset_peak_rss();
            let (seconds, phases) = if mode == "train" {
                let autodiff = device.clone().autodiff();
                let model = config.init(&autodiff)?;
                let t = time_train_step(model, &autodiff, case.batch, case.input, warmup, iters)?;
                (t.seconds, Some([t.forward, t.backward, t.update]))
            } else {
                let model = if mode == "infer" {
                    &inference_model
                } else {
                    &folded_model
                };
                let s = time_inference(model, &device, case.batch, case.input, warmup, iters)?;
                (s, None)
            };
            let flop_factor = if mode == "train" { 6.0 } else { 2.0 };
            let images_per_s = case.batch as f64 / seconds;
            let m = Measurement {
                arch: case.arch.clone(),
                mode: mode.into(),
                batch: case.batch,
                input: case.input,
                seconds,
                images_per_s,
                gflop_per_s: images_per_s * macs as f64 * flop_factor / 1e9,
                peak_rss_mb: backend.is_cpu().then(peak_rss_mb).flatten(),
                phases,
                version: None,
            };
            println!(
                "{:<16} {:<12} batch {:>3} {:>3}×{:>3}×{:>3}  {:>8.3} s  {:>8.1} img/s  {:>6.1} GFLOP/s  {}",
                m.arch,
                m.mode,
                m.batch,
                m.input[0],
                m.input[1],
                m.input[2],
                m.seconds,
                m.images_per_s,
                m.gflop_per_s,
                m.peak_rss_mb
                    .map_or("".into(), |mb| format!("peak RSS {mb:.0} MB"))
            );
            if let Some([f, b, u]) = m.phases {
                println!(
                    "{:<22} forward+loss {f:.3} s, backward {b:.3} s, update {u:.3} s",
                    ""
                );
            }
            out.push(m);
        }
    }
    Ok(out)
}

/// The cases after `--cases` and `--tiny`.
fn selected_cases(args: &BenchArgs) -> Result<Vec<Case>> {
    let mut cases = standard_cases();
    if !args.cases.is_empty() {
        for name in &args.cases {
            if !cases.iter().any(|c| &c.arch == name) {
                bail!(
                    "unknown bench case '{name}'; cases: {}",
                    standard_cases()
                        .iter()
                        .map(|c| c.arch.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        cases.retain(|c| args.cases.contains(&c.arch));
    }
    if args.tiny {
        for c in &mut cases {
            c.batch = 2;
            let side = (c.input[1] / 4).max(32);
            c.input = [c.input[0], side, side];
        }
    }
    Ok(cases)
}

/// PyTorch's numbers for the same cases, from `bench/torch_reference.py`.
fn run_torch(cases: &[Case], args: &BenchArgs) -> Result<Vec<Measurement>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/torch_reference.py");
    let cases_json = serde_json::to_string(cases)?;
    let python = &args.torch_python;
    let mut command = std::process::Command::new(python);
    command.arg(&script);
    if args.torch_channels_last {
        command.arg("--channels-last");
    }
    let output = command
        .args([
            "--cases-json",
            &cases_json,
            "--iters",
            &args.iters.to_string(),
            "--warmup",
            &args.warmup.to_string(),
            "--threads",
            &args.threads.to_string(),
            "--device",
            &args.torch_device,
        ])
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {} {}", python.display(), script.display()))?;
    if !output.status.success() {
        bail!(
            "{} failed ({}); is PyTorch installed (`pip install torch torchvision`)?",
            script.display(),
            output.status
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let json = text
        .lines()
        .rev()
        .find(|l| l.starts_with('['))
        .ok_or_else(|| anyhow!("{} printed no JSON result", script.display()))?;
    Ok(serde_json::from_str(json)?)
}

/// Sets the thread count skipnet's side runs with, before anything has started a pool.
fn set_threads(backend: Backend, threads: usize) -> Result<String> {
    if threads == 0 {
        bail!("--threads must be at least 1");
    }
    if backend == Backend::Tch {
        // libtorch sizes its intra-op pool from OMP_NUM_THREADS when it first starts, which
        // is after this (single-threaded) point.
        unsafe { std::env::set_var("OMP_NUM_THREADS", threads.to_string()) };
        return Ok(format!("{threads} (OMP_NUM_THREADS)"));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .map_err(|e| anyhow!("cannot set rayon's global pool to {threads} threads: {e}"))?;
    Ok(format!(
        "{} (rayon global pool)",
        rayon::current_num_threads()
    ))
}

/// `name version` of a package in the workspace's Cargo.lock as this binary was built, with
/// "(patched: patches/NAME)" when it is built from the vendored copy rather than crates.io.
fn locked_package(name: &str) -> String {
    let lock = include_str!("../../Cargo.lock");
    let Some(entry) = lock
        .split("[[package]]")
        .find(|entry| entry.contains(&format!("name = \"{name}\"\n")))
    else {
        return format!("{name} (not in Cargo.lock)");
    };
    let version = entry
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .map_or("?", |v| v.trim_end_matches('"'));
    if entry.contains("source = ") {
        format!("{name} {version}")
    } else {
        format!("{name} {version} (patched: patches/{name})")
    }
}

/// What skipnet's side ran: Burn's version, the backend crate and whether it is patched.
fn skipnet_build(backend: Backend) -> String {
    let crate_name = match backend {
        Backend::Tch => "burn-tch",
        Backend::Ndarray => "burn-ndarray",
        Backend::Wgpu => "burn-wgpu",
        Backend::Cuda => "burn-cuda",
        Backend::Flex => "burn-flex",
    };
    format!(
        "{}, {}; {}",
        locked_package("burn"),
        locked_package(crate_name),
        build_profile()
    )
}

/// The cargo profile this binary was built with, as far as it changes speed: the workspace's
/// dev profile builds dependencies optimised and without debug assertions (Cargo.toml), release
/// builds everything that way.
fn build_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "dev profile (dependencies opt-level 3, no debug assertions)"
    } else {
        "release profile"
    }
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let Some(backend) = select_backend(args.backend)? else {
        return Ok(());
    };
    let threads = if backend.is_cpu() {
        set_threads(backend, args.threads)?
    } else {
        "n/a (GPU)".into()
    };
    let build = skipnet_build(backend);
    let cases = selected_cases(args)?;
    let (warmup, iters) = if args.tiny {
        (0, 1)
    } else {
        (args.warmup, args.iters)
    };
    println!(
        "skipnet on {} ({build}; threads {threads}; {warmup} warm-up, median of {iters}{}):",
        backend.name(),
        if args.vs_torch {
            format!(
                "; each case also on PyTorch on {}{} with {} threads, {} round(s), the side that runs first alternating",
                args.torch_device,
                if args.torch_channels_last {
                    " (channels-last)"
                } else {
                    ""
                },
                args.threads,
                args.rounds
            )
        } else {
            String::new()
        }
    );
    // Without PyTorch: one pass over the cases. With it: each case on both sides, repeated
    // `--rounds` times, so both sides of a ratio see the same machine load; odd rounds run
    // skipnet first, even rounds PyTorch first, so neither side always inherits the other's
    // warm caches or thermal state.
    let mut ours = Vec::new();
    let mut torch = Vec::new();
    let rounds = if args.vs_torch { args.rounds.max(1) } else { 1 };
    for round in 1..=rounds {
        if rounds > 1 {
            println!(
                "round {round}/{rounds} ({} first)",
                if round % 2 == 1 { "skipnet" } else { "PyTorch" }
            );
        }
        for case in &cases {
            let one = std::slice::from_ref(case);
            if args.vs_torch && round % 2 == 0 {
                torch.extend(run_torch(one, args)?);
            }
            ours.extend(measure(one, backend, warmup, iters)?);
            if args.vs_torch && round % 2 == 1 {
                // The script prints its own lines (to stderr) as it measures.
                torch.extend(run_torch(one, args)?);
            }
        }
    }
    let ratios = ratios(&ours, &torch);
    if args.vs_torch {
        println!(
            "\n| case | mode | PyTorch mode | skipnet {} img/s | PyTorch img/s | ratio (median of {rounds}) | range | forward / backward / update ratio |\n|---|---|---|---|---|---|---|---|",
            backend.name()
        );
        for r in &ratios {
            println!(
                "| {} b{} {}×{} | {} | {} | {:.1} | {:.1} | {:.2} | {:.2}–{:.2} | {} |",
                r.arch,
                r.batch,
                r.input[1],
                r.input[2],
                r.mode,
                r.torch_mode,
                r.ours_images_per_s,
                r.torch_images_per_s,
                r.ratio,
                r.min,
                r.max,
                r.phases.map_or(String::new(), |[f, b, u]| format!(
                    "{f:.2} / {b:.2} / {u:.2}"
                ))
            );
        }
    }
    if let Some(path) = &args.json {
        let torch_version = torch.iter().find_map(|m| m.version.clone());
        let json = serde_json::json!({
            "backend": backend.name(),
            "warmup": warmup,
            "iters": iters,
            "rounds": rounds,
            "order": "each round runs every case on both sides; odd rounds skipnet first, even rounds PyTorch first",
            "skipnet_side": {
                "build": build,
                "threads": threads,
                "layout": if backend == Backend::Tch { "NCHW tensors, channels-last convolutions (patches/burn-tch)" } else { "NCHW" },
                "infer_folded": "Model::fold_batch_norm (every batch norm after a convolution folded into it)",
            },
            "torch_side": args.vs_torch.then(|| serde_json::json!({
                "version": torch_version,
                "device": args.torch_device,
                "threads": args.threads,
                "layout": if args.torch_channels_last { "channels-last" } else { "NCHW (default)" },
                "infer": "eager, eval mode, torch.no_grad",
                "infer_folded": "torch.fx.experimental.optimization.fuse (conv-BN fusion), eval mode, torch.no_grad",
            })),
            "skipnet": ours,
            "torch": args.vs_torch.then_some(&torch),
            "ratios": args.vs_torch.then_some(&ratios),
        });
        skipnet_data::image::write_bytes_atomically(
            path,
            serde_json::to_string_pretty(&json)?.as_bytes(),
        )
        .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))?;
        println!("results: {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(arch: &str, mode: &str, images_per_s: f64, phases: Option<[f64; 3]>) -> Measurement {
        Measurement {
            arch: arch.into(),
            mode: mode.into(),
            batch: 8,
            input: [3, 32, 32],
            seconds: 8.0 / images_per_s,
            images_per_s,
            gflop_per_s: 0.0,
            peak_rss_mb: None,
            phases,
            version: None,
        }
    }

    #[test]
    fn ratios_pair_rounds_case_by_case() {
        // Three rounds of two cases; PyTorch's speed changes between rounds (machine load).
        let ours = vec![
            m("a", "train", 10.0, Some([1.0, 2.0, 0.1])),
            m("a", "infer", 40.0, None),
            m("a", "train", 5.0, Some([2.0, 4.0, 0.2])),
            m("a", "infer", 40.0, None),
            m("a", "train", 10.0, Some([1.0, 2.0, 0.1])),
            m("a", "infer", 40.0, None),
        ];
        let torch = vec![
            m("a", "train", 20.0, Some([0.5, 1.0, 0.1])),
            m("a", "infer", 20.0, None),
            m("a", "train", 5.0, Some([2.0, 4.0, 0.1])),
            m("a", "infer", 80.0, None),
            m("a", "train", 10.0, Some([1.0, 1.0, 0.1])),
            m("a", "infer", 40.0, None),
        ];
        let r = ratios(&ours, &torch);
        assert_eq!(r.len(), 2);
        let train = &r[0];
        assert_eq!((train.arch.as_str(), train.mode.as_str()), ("a", "train"));
        // Per-round ratios 0.5, 1.0, 1.0.
        assert_eq!((train.ratio, train.min, train.max), (1.0, 0.5, 1.0));
        assert_eq!(train.ours_images_per_s, 10.0);
        assert_eq!(train.torch_images_per_s, 10.0);
        // Phase ratios are PyTorch's seconds ÷ ours: forward 0.5, 1, 1; backward 0.5, 1, 0.5.
        assert_eq!(train.phases, Some([1.0, 0.5, 1.0]));
        let infer = &r[1];
        assert_eq!((infer.ratio, infer.min, infer.max), (1.0, 0.5, 2.0));
        assert_eq!(infer.phases, None);
        // Without PyTorch numbers there is nothing to pair.
        assert!(ratios(&ours, &[]).is_empty());
    }

    #[test]
    fn folded_inference_is_compared_with_pytorch_fusion_and_eager() {
        let ours = vec![
            m("a", "infer", 40.0, None),
            m("a", "infer-folded", 60.0, None),
        ];
        // PyTorch eager only: folded inference is compared with eager inference.
        let eager = vec![m("a", "infer", 50.0, None)];
        let r = ratios(&ours, &eager);
        let pairs: Vec<(&str, &str)> = r
            .iter()
            .map(|r| (r.mode.as_str(), r.torch_mode.as_str()))
            .collect();
        assert_eq!(pairs, [("infer", "infer"), ("infer-folded", "infer")]);
        assert_eq!((r[0].ratio, r[1].ratio), (0.8, 1.2));
        // With PyTorch's own conv-BN fusion measured too: both comparisons.
        let both = vec![
            m("a", "infer", 50.0, None),
            m("a", "infer-folded", 75.0, None),
        ];
        let r = ratios(&ours, &both);
        let pairs: Vec<(&str, &str)> = r
            .iter()
            .map(|r| (r.mode.as_str(), r.torch_mode.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("infer", "infer"),
                ("infer-folded", "infer-folded"),
                ("infer-folded", "infer")
            ]
        );
        assert_eq!((r[1].ratio, r[1].torch_images_per_s), (0.8, 75.0));
        assert_eq!((r[2].ratio, r[2].torch_images_per_s), (1.2, 50.0));
    }

    #[test]
    fn the_lock_file_says_which_backend_crates_are_patched() {
        assert_eq!(
            locked_package("burn-flex"),
            "burn-flex 0.22.1 (patched: patches/burn-flex)"
        );
        assert_eq!(locked_package("burn"), "burn 0.22.1");
        assert!(locked_package("no-such-crate").contains("not in Cargo.lock"));
    }
}
