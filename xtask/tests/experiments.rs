//! Every experiment and the benchmark run end to end at their tiny (`--quick` / `--tiny`) size,
//! writing the report, the CSV and the plots they promise. No timing is asserted.

mod common;

use common::{text, xtask};

#[test]
fn every_experiment_writes_report_csv_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    for (name, csv_header, pngs) in [
        (
            "gradients",
            "net,bn,init,seed,step,layer,kind,grad_norm",
            &["gradients_init.png", "gradients_after.png"][..],
        ),
        (
            "degradation",
            "net,seed,step,epoch,train_error,valid_error",
            &["degradation.png"][..],
        ),
        (
            "bottleneck",
            "arch,block,params,macs_224,infer_img_s,train_img_s,valid_accuracy,seconds_per_epoch",
            &["bottleneck.png"][..],
        ),
        (
            "segmentation",
            "method,set,images,dice,iou,f1_iou50,dsb2018",
            &["segmentation.png"][..],
        ),
        (
            "compare",
            "arch,seed,epoch,train_loss,valid_accuracy,seconds_per_epoch",
            &["compare.png"][..],
        ),
        (
            "highway",
            "net,depth,params,lr,seed,epoch,train_loss,valid_loss,valid_accuracy",
            &["highway.png"][..],
        ),
    ] {
        let out_dir = dir.path().join(name);
        let out = xtask(
            &[
                "experiment",
                name,
                "--quick",
                "--out",
                out_dir.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert!(out.status.success(), "{name}: {}", text(&out));
        let report = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
        assert!(
            report.contains("## Results") && report.contains("| "),
            "{name}: {report}"
        );
        assert!(
            report.contains(&format!("cargo xtask experiment {name}")),
            "{report}"
        );
        assert!(text(&out).contains("## Results"), "{name}: table printed");
        let csv = std::fs::read_to_string(out_dir.join(format!("{name}.csv"))).unwrap();
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some(csv_header), "{name}");
        assert!(lines.count() > 0, "{name}: CSV has rows");
        for png in pngs {
            let bytes = std::fs::read(out_dir.join(png)).unwrap();
            assert!(bytes.starts_with(b"\x89PNG"), "{name}: {png}");
        }
        // Running it again does not silently replace the results.
        let again = xtask(
            &[
                "experiment",
                name,
                "--quick",
                "--out",
                out_dir.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert!(!again.status.success());
        assert!(text(&again).contains("--overwrite"), "{}", text(&again));
    }
    // The gradient CSV covers every layer of both nets, with and without BN, under both
    // initialisations, for two seeds; the last of the 8 layers (depth 8) is the classifier.
    let csv = std::fs::read_to_string(dir.path().join("gradients/gradients.csv")).unwrap();
    for net in ["resnet", "plain"] {
        for bn in ["true", "false"] {
            for init in ["torch-default", "he"] {
                for seed in ["0", "1"] {
                    let key = format!("{net},{bn},{init},{seed},");
                    assert!(
                        csv.lines()
                            .any(|l| l.starts_with(&key) && l.contains(",0,1,conv,"))
                    );
                    assert!(
                        csv.lines()
                            .any(|l| l.starts_with(&key) && l.contains(",2,8,fc,"))
                    );
                    assert!(
                        csv.lines()
                            .any(|l| l.starts_with(&key) && l.contains(",2,7,conv,"))
                    );
                }
            }
        }
    }
    let weights = std::fs::read_to_string(dir.path().join("gradients/weights.csv")).unwrap();
    assert!(weights.starts_with("net,bn,init,seed,step,layer,kind,weight_norm\n"));
    assert_eq!(weights.lines().count(), csv.lines().count());
    let report = std::fs::read_to_string(dir.path().join("gradients/report.md")).unwrap();
    assert!(report.contains("## What the numbers say"), "{report}");
}

#[test]
fn segmentation_experiment_scores_real_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let out = xtask(
        &[
            "data",
            "synth",
            "synthetic-cells",
            "--out",
            "real",
            "--count",
            "3",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = xtask(
        &[
            "experiment",
            "segmentation",
            "--quick",
            "--out",
            "seg",
            "--eval-dir",
            "real",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    // Three methods (Otsu, plain and border-weighted U-Net), each on the held-out synthetic
    // images and on the 3 real pairs.
    let csv = std::fs::read_to_string(dir.path().join("seg/segmentation.csv")).unwrap();
    let real: Vec<&str> = csv
        .lines()
        .filter(|l| l.contains(",real (real),"))
        .collect();
    assert_eq!(real.len(), 3, "{csv}");
    assert!(real.iter().all(|l| l.contains(",real (real),3,")), "{csv}");
    assert!(
        csv.starts_with("method,set,images,dice,iou,f1_iou50,dsb2018\n"),
        "{csv}"
    );
    assert!(dir.path().join("seg/overlays/w0-10-real_000.png").is_file());
    let missing = xtask(
        &[
            "experiment",
            "segmentation",
            "--quick",
            "--out",
            "s2",
            "--eval-dir",
            "nowhere",
        ],
        dir.path(),
    );
    assert!(!missing.status.success());
    assert!(text(&missing).contains("nowhere"), "{}", text(&missing));
}

#[test]
fn bench_runs_every_case_tiny() {
    let dir = tempfile::tempdir().unwrap();
    let out = xtask(&["bench", "--tiny", "--json", "bench.json"], dir.path());
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("bench.json")).unwrap())
            .unwrap();
    let measured = json["skipnet"].as_array().unwrap();
    assert_eq!(
        measured.len(),
        17,
        "5 train + 6 inference + 6 folded-inference measurements"
    );
    let folded = measured
        .iter()
        .filter(|m| m["mode"] == "infer-folded")
        .count();
    assert_eq!(folded, 6, "every case has a folded-inference row");
    for m in measured {
        assert!(m["images_per_s"].as_f64().unwrap() > 0.0, "{m}");
        assert!(m["gflop_per_s"].as_f64().unwrap() > 0.0, "{m}");
    }
    let bad = xtask(&["bench", "--tiny", "--cases", "resnet9"], dir.path());
    assert!(!bad.status.success());
    assert!(
        text(&bad).contains("unknown bench case 'resnet9'"),
        "{}",
        text(&bad)
    );
}
