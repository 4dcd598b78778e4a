//! Audio helpers around the codec: WAV in and out, resampling, a tone
//! generator and a tone detector (for tests that check what was heard).

mod detect;
mod resample;
mod tone;
mod wav;

pub use detect::{dominant_frequency, goertzel_power, rms_dbfs};
pub use resample::resample;
pub use tone::ToneGenerator;
pub use wav::{
    G711_RATE, MonoAudio, WavError, read_wav, read_wav_8k, read_wav_file_8k, write_wav,
    write_wav_file,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_tones_across_the_band() {
        for f in [300.0f32, 697.0, 1000.0, 1633.0, 3400.0] {
            let tone = ToneGenerator::new(f, 8000, -20.0).samples(4000);
            let got = dominant_frequency(&tone, 8000);
            assert!((got - f).abs() <= 2.0, "{f} -> {got}");
        }
        assert_eq!(dominant_frequency(&[0; 800], 8000), 0.0);
        assert_eq!(rms_dbfs(&[]), f32::NEG_INFINITY);
    }

    #[test]
    fn detects_a_tone_at_48k() {
        let tone = ToneGenerator::new(440.0, 48_000, -3.0).samples(96_000);
        let got = dominant_frequency(&tone, 48_000);
        assert!((got - 440.0).abs() <= 2.0, "{got}");
    }
}
