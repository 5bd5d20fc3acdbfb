
#[cfg(test)]
mod microbench {
    use super::*;
    use burn_backend::TensorData;

    fn vals(n: usize) -> Vec<f32> {
        (0..n).map(|i| ((i * 7919 % 1000) as f32) / 500.0 - 1.0).collect()
    }

    #[test]
    #[ignore]
    fn microbench_forward() {
        let shapes: [([usize; 4], [usize; 4]); 7] = [
            ([128, 16, 32, 32], [16, 16, 3, 3]),
            ([128, 32, 16, 16], [32, 32, 3, 3]),
            ([128, 64, 8, 8], [64, 64, 3, 3]),
            ([16, 64, 56, 56], [64, 64, 3, 3]),
            ([16, 128, 28, 28], [128, 128, 3, 3]),
            ([16, 256, 14, 14], [256, 256, 3, 3]),
            ([16, 512, 7, 7], [512, 512, 3, 3]),
        ];
        let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        for (xs, ws) in shapes {
            let x = vals(xs.iter().product());
            let w = vals(ws.iter().product());
            let t = |d: &Vec<f32>, s: &[usize; 4]| {
                FlexTensor::from_data(TensorData::new(d.clone(), s.to_vec()))
            };
            let mut line = format!("{xs:?} {ws:?}");
            let mut outs = vec![];
            for variant in ["off", "col", "colodd", "taps", "tapsodd"] {
                unsafe { std::env::set_var("FLEX_ROWPAD", variant.trim_end_matches("odd")) };
                if variant.ends_with("odd") {
                    unsafe { std::env::set_var("FLEX_ODD", "1") };
                } else {
                    unsafe { std::env::remove_var("FLEX_ODD") };
                }
                let mut times = vec![];
                let mut last = None;
                for _ in 0..9 {
                    let (xt, wt) = (t(&x, &xs), t(&w, &ws));
                    let start = std::time::Instant::now();
                    let y = conv2d::<f32>(xt, wt, None, &options);
                    times.push(start.elapsed().as_secs_f64() * 1e3);
                    last = Some(y);
                }
                times.sort_by(|a, b| a.partial_cmp(b).unwrap());
                line += &format!("  {variant}: {:.1} ms (min {:.1})", times[4], times[0]);
                outs.push(last.unwrap().into_data().to_vec::<f32>().unwrap());
            }
            let diff = |a: &[f32], b: &[f32]| a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
            line += &format!("  maxdiff col {:.2e} taps {:.2e}", diff(&outs[0], &outs[1]), diff(&outs[0], &outs[3]));
            println!("{line}");
        }
    }
}
