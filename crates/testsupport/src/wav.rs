//! WAV files of the peers: the tones they play, and whether a recording
//! they write is complete.

use std::path::Path;

/// Writes an 8 kHz mono 16-bit WAV of a `hz` tone lasting `seconds`
/// (amplitude 9000: about -14 dBFS RMS).
pub fn tone_wav(path: &Path, hz: f64, seconds: u32) {
    let samples = 8000 * seconds;
    let mut out = Vec::with_capacity(44 + samples as usize * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + samples * 2).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&8000u32.to_le_bytes());
    out.extend_from_slice(&16000u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(samples * 2).to_le_bytes());
    for i in 0..samples {
        let v = 9000.0 * (2.0 * std::f64::consts::PI * hz * f64::from(i) / 8000.0).sin();
        out.extend_from_slice(&(v as i16).to_le_bytes());
    }
    std::fs::write(path, out).unwrap();
}

/// The number of 16-bit samples in the WAV at `path` when its header is
/// final: the RIFF size covers the whole file and the data chunk's size
/// the bytes that follow it. `None` while a writer that fills the sizes in
/// on close (libsndfile) is still writing, or when it is no WAV.
pub fn complete_wav_samples(path: &Path) -> Option<u64> {
    let bytes = std::fs::read(path).ok()?;
    let le32 = |at: usize| -> Option<u64> {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(u64::from(u32::from_le_bytes(b)))
    };
    let len = bytes.len() as u64;
    if bytes.get(..4)? != b"RIFF" || bytes.get(8..12)? != b"WAVE" || le32(4)? + 8 != len {
        return None;
    }
    let mut at = 12usize;
    while at + 8 <= bytes.len() {
        let size = le32(at + 4)?;
        let body = at as u64 + 8;
        if bytes.get(at..at + 4)? == b"data" {
            return (body + size <= len).then_some(size / 2);
        }
        // Chunks are padded to an even size.
        at = usize::try_from(body + size + size % 2).ok()?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dump whose header still holds the sizes written at open (0) is
    /// not complete, whatever follows it; once the sizes match the file
    /// it is, with its samples counted.
    #[test]
    fn a_wav_is_complete_only_when_its_header_sizes_match_the_file() {
        let dir = std::env::temp_dir().join(format!("sb-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tone.wav");
        tone_wav(&path, 440.0, 1);
        assert_eq!(complete_wav_samples(&path), Some(8000));
        let mut open = std::fs::read(&path).unwrap();
        open[4..8].copy_from_slice(&36u32.to_le_bytes());
        open[40..44].copy_from_slice(&0u32.to_le_bytes());
        std::fs::write(&path, &open).unwrap();
        assert_eq!(complete_wav_samples(&path), None);
        open.truncate(44);
        std::fs::write(&path, &open).unwrap();
        assert_eq!(complete_wav_samples(&path), Some(0));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
