use std::f64::consts::TAU;

/// A sine tone generator that keeps its phase across frames, so a tone
/// can be produced 20 ms at a time without clicks.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    phase: f64,
    step: f64,
    amplitude: f64,
}

impl ToneGenerator {
    /// A tone of `frequency` Hz at `rate` samples a second, with its peak
    /// at `level_dbfs` (0 dBFS = full scale peak).
    pub fn new(frequency: f32, rate: u32, level_dbfs: f32) -> Self {
        Self {
            phase: 0.0,
            step: TAU * f64::from(frequency) / f64::from(rate.max(1)),
            amplitude: 32767.0 * 10f64.powf(f64::from(level_dbfs) / 20.0),
        }
    }

    /// Fills `out` with the next samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        for sample in out {
            *sample = (self.amplitude * self.phase.sin())
                .round()
                .clamp(-32768.0, 32767.0) as i16;
            self.phase = (self.phase + self.step) % TAU;
        }
    }

    /// The next `count` samples.
    pub fn samples(&mut self, count: usize) -> Vec<i16> {
        let mut out = vec![0; count];
        self.fill(&mut out);
        out
    }
}
