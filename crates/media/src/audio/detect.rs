//! Tone analysis without an FFT: the Goertzel filter measures the power at
//! one frequency; a coarse scan then a fine one finds the dominant tone.

use std::f64::consts::TAU;

/// Longest stretch analysed (one second at 48 kHz): enough for 1 Hz
/// resolution, and it bounds the cost on long recordings.
const MAX_WINDOW: usize = 48_000;

/// Hann-windowed Goertzel power of `samples` at `frequency` Hz.
pub fn goertzel_power(samples: &[f32], rate: u32, frequency: f32) -> f64 {
    goertzel(&hann(samples), rate, frequency)
}

/// `samples` times a Hann window, which keeps a strong tone's leakage
/// from hiding the peak.
fn hann(samples: &[f32]) -> Vec<f32> {
    let scale = TAU / samples.len() as f64;
    samples
        .iter()
        .enumerate()
        .map(|(i, x)| (f64::from(*x) * (0.5 - 0.5 * (scale * i as f64).cos())) as f32)
        .collect()
}

/// Plain Goertzel power of (already windowed) samples.
fn goertzel(samples: &[f32], rate: u32, frequency: f32) -> f64 {
    if samples.is_empty() || rate == 0 {
        return 0.0;
    }
    let coeff = 2.0 * (TAU * f64::from(frequency) / f64::from(rate)).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for x in samples {
        let s0 = f64::from(*x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

/// The middle of a recording, at most [`MAX_WINDOW`] samples, as f32.
fn analysis_window(samples: &[i16]) -> Vec<f32> {
    let len = samples.len().min(MAX_WINDOW);
    let start = (samples.len() - len) / 2;
    samples
        .iter()
        .skip(start)
        .take(len)
        .map(|s| f32::from(*s))
        .collect()
}

/// The frequency with most power in `samples`, to about 0.5 Hz.
/// Returns 0 for silence or empty input.
pub fn dominant_frequency(samples: &[i16], rate: u32) -> f32 {
    let window = analysis_window(samples);
    if window.is_empty() || rate == 0 {
        return 0.0;
    }
    let nyquist = rate as f32 / 2.0;
    // Coarse: 1/8 of the window (8x wider bins), 5 Hz steps...
    let coarse_len = (window.len() / 8).max(64).min(window.len());
    let coarse_start = (window.len() - coarse_len) / 2;
    let coarse = window
        .get(coarse_start..coarse_start + coarse_len)
        .unwrap_or(&window);
    let coarse_step = (rate as f32 / coarse_len as f32 / 2.0).max(1.0);
    let best = scan(
        &hann(coarse),
        rate,
        coarse_step,
        nyquist - coarse_step,
        coarse_step,
    );
    // ...then fine: the whole window, 0.5 Hz steps around the coarse peak.
    let (lo, hi) = (
        (best - 2.0 * coarse_step).max(0.0),
        (best + 2.0 * coarse_step).min(nyquist),
    );
    let window = hann(&window);
    let best = scan(&window, rate, lo, hi, 0.5);
    if goertzel(&window, rate, best) <= f64::EPSILON {
        0.0
    } else {
        best
    }
}

/// The frequency in `[lo, hi]` (steps of `step`) with the most power.
fn scan(samples: &[f32], rate: u32, lo: f32, hi: f32, step: f32) -> f32 {
    let steps = ((hi - lo) / step).max(0.0) as usize;
    (0..=steps)
        .map(|i| lo + i as f32 * step)
        .map(|f| (f, goertzel(samples, rate, f)))
        .fold(
            (lo, f64::MIN),
            |best, cur| if cur.1 > best.1 { cur } else { best },
        )
        .0
}

/// RMS level in dBFS, where a full-scale square wave is 0 dBFS (a
/// full-scale sine is about -3.01). Silence or no samples is -inf.
pub fn rms_dbfs(samples: &[i16]) -> f32 {
    if samples.is_empty() {
        return f32::NEG_INFINITY;
    }
    let sum: f64 = samples.iter().map(|s| f64::from(*s).powi(2)).sum();
    let rms = (sum / samples.len() as f64).sqrt();
    (20.0 * (rms / 32768.0).log10()) as f32
}
