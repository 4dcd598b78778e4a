//! WAV in and out with `hound`: read any common PCM or float WAV, mix it to
//! mono and resample it to the G.711 rate; write 8 kHz 16-bit mono.

use std::io::{Read, Seek, Write};
use std::path::Path;

use hound::{SampleFormat, WavReader, WavSpec, WavWriter};
use thiserror::Error;

use super::resample::resample;

/// The rate of G.711 audio, and of the WAV files written.
pub const G711_RATE: u32 = 8000;

/// Why a WAV file could not be read or written.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum WavError {
    /// The file is not a WAV `hound` can read, or an I/O error.
    #[error("WAV: {0}")]
    Wav(#[from] hound::Error),
    /// A sample format or bit depth this crate does not read.
    #[error("unsupported WAV format: {bits}-bit {format}")]
    Unsupported {
        /// Bits per sample.
        bits: u16,
        /// "integer" or "float".
        format: &'static str,
    },
}

/// Mono audio at some rate, samples in [-1, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct MonoAudio {
    /// Samples per second.
    pub rate: u32,
    /// The samples.
    pub samples: Vec<f32>,
}

impl MonoAudio {
    /// Resampled to `rate`.
    pub fn resampled(&self, rate: u32) -> Self {
        Self {
            rate,
            samples: resample(&self.samples, self.rate, rate),
        }
    }

    /// As 16-bit PCM, clipped.
    pub fn to_i16(&self) -> Vec<i16> {
        self.samples
            .iter()
            .map(|s| (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
            .collect()
    }
}

/// Reads a WAV (8/16/24/32-bit integer or 32-bit float, any rate, any
/// number of channels) and mixes it to mono.
pub fn read_wav<R: Read>(reader: R) -> Result<MonoAudio, WavError> {
    let mut reader = WavReader::new(reader)?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let interleaved: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (SampleFormat::Float, 32) => reader.samples::<f32>().collect::<Result<_, _>>()?,
        (SampleFormat::Int, bits @ 8..=32) => {
            let scale = 1.0 / f64::from(1u32 << (bits - 1));
            reader
                .samples::<i32>()
                .map(|s| s.map(|s| (f64::from(s) * scale) as f32))
                .collect::<Result<_, _>>()?
        }
        (format, bits) => {
            return Err(WavError::Unsupported {
                bits,
                format: if format == SampleFormat::Float {
                    "float"
                } else {
                    "integer"
                },
            });
        }
    };
    let samples = interleaved
        .chunks(channels)
        .map(|frame| frame.iter().sum::<f32>() / channels as f32)
        .collect();
    Ok(MonoAudio {
        rate: spec.sample_rate,
        samples,
    })
}

/// Reads a WAV and returns it as 8 kHz 16-bit mono, ready for G.711.
pub fn read_wav_8k<R: Read>(reader: R) -> Result<Vec<i16>, WavError> {
    Ok(read_wav(reader)?.resampled(G711_RATE).to_i16())
}

/// Reads a WAV file as 8 kHz 16-bit mono.
pub fn read_wav_file_8k(path: impl AsRef<Path>) -> Result<Vec<i16>, WavError> {
    let file = std::fs::File::open(path).map_err(hound::Error::IoError)?;
    read_wav_8k(std::io::BufReader::new(file))
}

/// The format of the WAV files written: 8 kHz, 16-bit, mono.
fn spec_8k() -> WavSpec {
    WavSpec {
        channels: 1,
        sample_rate: G711_RATE,
        bits_per_sample: 16,
        sample_format: SampleFormat::Int,
    }
}

/// Writes 8 kHz 16-bit mono samples as a WAV.
pub fn write_wav<W: Write + Seek>(writer: W, samples: &[i16]) -> Result<(), WavError> {
    let mut wav = WavWriter::new(writer, spec_8k())?;
    for sample in samples {
        wav.write_sample(*sample)?;
    }
    wav.finalize()?;
    Ok(())
}

/// Writes 8 kHz 16-bit mono samples to a WAV file.
pub fn write_wav_file(path: impl AsRef<Path>, samples: &[i16]) -> Result<(), WavError> {
    let file = std::fs::File::create(path).map_err(hound::Error::IoError)?;
    write_wav(std::io::BufWriter::new(file), samples)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::super::{ToneGenerator, dominant_frequency, rms_dbfs};
    use super::*;

    #[test]
    fn write_read_detects_1khz_tone() {
        let tone = ToneGenerator::new(1000.0, G711_RATE, -6.0).samples(8000);
        let mut file = Cursor::new(Vec::new());
        write_wav(&mut file, &tone).unwrap();
        let back = read_wav_8k(Cursor::new(file.into_inner())).unwrap();
        assert_eq!(back, tone);
        let f = dominant_frequency(&back, G711_RATE);
        assert!((f - 1000.0).abs() <= 10.0, "{f}");
        // A sine 6 dB below full scale: -6 - 3.01 dBFS RMS.
        let level = rms_dbfs(&back);
        assert!((level + 9.01).abs() < 0.1, "{level}");
    }

    fn stereo_44k1_tone(frequency: f32) -> Vec<u8> {
        let spec = WavSpec {
            channels: 2,
            sample_rate: 44_100,
            bits_per_sample: 24,
            sample_format: SampleFormat::Int,
        };
        let mut file = Cursor::new(Vec::new());
        let mut wav = WavWriter::new(&mut file, spec).unwrap();
        let mut tone = ToneGenerator::new(frequency, 44_100, -6.0);
        for s in tone.samples(44_100) {
            // 24-bit: scale the 16-bit tone up; the right channel is silent.
            wav.write_sample(i32::from(s) << 8).unwrap();
            wav.write_sample(0).unwrap();
        }
        wav.finalize().unwrap();
        file.into_inner()
    }

    #[test]
    fn resamples_44k1_stereo_24bit_to_8k_mono() {
        let samples = read_wav_8k(Cursor::new(stereo_44k1_tone(1000.0))).unwrap();
        assert!(
            (samples.len() as i64 - 8000).abs() <= 1,
            "{}",
            samples.len()
        );
        let f = dominant_frequency(&samples, G711_RATE);
        assert!((f - 1000.0).abs() <= 10.0, "{f}");
        // Mixing with a silent channel halves the amplitude: -6 dB more.
        let middle = &samples[1000..7000];
        let level = rms_dbfs(middle);
        assert!((level + 15.03).abs() < 0.3, "{level}");
    }

    #[test]
    fn downsampling_removes_tones_above_the_new_nyquist() {
        let samples = read_wav_8k(Cursor::new(stereo_44k1_tone(6000.0))).unwrap();
        let level = rms_dbfs(&samples[1000..7000]);
        assert!(level < -60.0, "{level}");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(read_wav(Cursor::new(b"RIFF\0\0\0\0WAVEjunk".to_vec())).is_err());
    }
}
