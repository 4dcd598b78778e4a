//! A windowed-sinc resampler: for any pair of rates, each output sample is
//! the input convolved with a Blackman-windowed low-pass at the lower of the
//! two Nyquist frequencies. Slow next to a polyphase filter bank, but exact
//! for any ratio, and files are short.

use std::f64::consts::PI;

/// Zero crossings of the sinc kept on each side.
const ZERO_CROSSINGS: f64 = 16.0;
/// Cut-off as a fraction of the lower Nyquist frequency, leaving room for
/// the filter's transition band.
const CUTOFF: f64 = 0.94;

fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        1.0
    } else {
        (PI * x).sin() / (PI * x)
    }
}

/// Blackman window over [-1, 1].
fn blackman(x: f64) -> f64 {
    if x.abs() >= 1.0 {
        return 0.0;
    }
    let t = PI * (x + 1.0);
    0.42 - 0.5 * t.cos() + 0.08 * (2.0 * t).cos()
}

/// Resamples `input` from `from` Hz to `to` Hz.
pub fn resample(input: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || from == 0 || to == 0 || input.is_empty() {
        return input.to_vec();
    }
    let step = f64::from(from) / f64::from(to);
    let cutoff = CUTOFF * (f64::from(to) / f64::from(from)).min(1.0);
    let half_width = ZERO_CROSSINGS / cutoff;
    let out_len = (input.len() as f64 / step).floor() as usize;
    let last = input.len() as i64 - 1;
    (0..out_len)
        .map(|n| {
            let t = n as f64 * step;
            let lo = ((t - half_width).ceil() as i64).max(0);
            let hi = ((t + half_width).floor() as i64).min(last);
            let mut acc = 0.0;
            for k in lo..=hi {
                let x = t - k as f64;
                let h = cutoff * sinc(cutoff * x) * blackman(x / half_width);
                let sample = usize::try_from(k)
                    .ok()
                    .and_then(|k| input.get(k))
                    .copied()
                    .unwrap_or(0.0);
                acc += f64::from(sample) * h;
            }
            acc as f32
        })
        .collect()
}
