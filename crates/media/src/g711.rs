//! G.711 (ITU-T G.711) µ-law and A-law, by bit arithmetic on 16-bit linear
//! PCM (the classic Sun reference algorithm).

/// µ-law bias added before finding the segment.
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude µ-law can code once the bias is added.
const ULAW_CLIP: i32 = 32635;

/// Which G.711 law, with its static RTP payload type (RFC 3551).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum G711 {
    /// µ-law, PCMU, payload type 0.
    Ulaw,
    /// A-law, PCMA, payload type 8.
    Alaw,
}

impl G711 {
    /// The static RTP payload type.
    pub fn payload_type(self) -> u8 {
        match self {
            Self::Ulaw => 0,
            Self::Alaw => 8,
        }
    }

    /// The SDP encoding name.
    pub fn encoding_name(self) -> &'static str {
        match self {
            Self::Ulaw => "PCMU",
            Self::Alaw => "PCMA",
        }
    }

    /// Encodes one sample.
    pub fn encode_sample(self, sample: i16) -> u8 {
        match self {
            Self::Ulaw => linear_to_ulaw(sample),
            Self::Alaw => linear_to_alaw(sample),
        }
    }

    /// Decodes one byte.
    pub fn decode_sample(self, byte: u8) -> i16 {
        match self {
            Self::Ulaw => ulaw_to_linear(byte),
            Self::Alaw => alaw_to_linear(byte),
        }
    }

    /// Encodes samples, appending one byte per sample to `out`.
    pub fn encode(self, samples: &[i16], out: &mut Vec<u8>) {
        out.extend(samples.iter().map(|s| self.encode_sample(*s)));
    }

    /// Decodes bytes, appending one sample per byte to `out`.
    pub fn decode(self, bytes: &[u8], out: &mut Vec<i16>) {
        out.extend(bytes.iter().map(|b| self.decode_sample(*b)));
    }
}

/// Index of the highest set bit (`value` > 0).
fn top_bit(value: i32) -> i32 {
    31 - value.leading_zeros() as i32
}

/// 16-bit linear to µ-law.
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let mut pcm = i32::from(sample);
    let sign = if pcm < 0 {
        pcm = -pcm;
        0x80
    } else {
        0
    };
    pcm = pcm.min(ULAW_CLIP) + ULAW_BIAS;
    let exponent = top_bit(pcm) - 7;
    let mantissa = (pcm >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

/// µ-law to 16-bit linear.
pub fn ulaw_to_linear(byte: u8) -> i16 {
    let u = !byte;
    let exponent = (u >> 4) & 0x07;
    let mantissa = i32::from(u & 0x0F);
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    (if u & 0x80 != 0 { -magnitude } else { magnitude }) as i16
}

/// 16-bit linear to A-law.
pub fn linear_to_alaw(sample: i16) -> u8 {
    // A-law codes 13-bit magnitudes.
    let mut pcm = i32::from(sample) >> 3;
    let mask = if pcm >= 0 {
        0xD5
    } else {
        pcm = -pcm - 1;
        0x55
    };
    let segment = if pcm < 0x20 { 0 } else { top_bit(pcm) - 4 };
    let code = if segment >= 8 {
        0x7F
    } else {
        let shift = if segment < 2 { 1 } else { segment };
        (segment << 4) as u8 | ((pcm >> shift) & 0x0F) as u8
    };
    code ^ mask
}

/// A-law to 16-bit linear.
pub fn alaw_to_linear(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let mut value = i32::from(a & 0x0F) << 4;
    let segment = (a & 0x70) >> 4;
    match segment {
        0 => value += 8,
        1 => value += 0x108,
        _ => value = (value + 0x108) << (segment - 1),
    }
    (if a & 0x80 != 0 { value } else { -value }) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // ITU-T G.711 / reference implementation values.
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(linear_to_ulaw(-1), 0x7F);
        assert_eq!(linear_to_alaw(-1), 0x55);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        assert_eq!(linear_to_alaw(i16::MAX), 0xAA);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2A);
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
        assert_eq!(linear_to_ulaw(1000), 0xCE);
        assert_eq!(ulaw_to_linear(0xCE), 988);
    }

    #[test]
    fn every_code_decodes_and_reencodes_to_itself() {
        for byte in 0..=255u8 {
            let u = ulaw_to_linear(byte);
            // 0x7F and 0xFF both decode to 0, which encodes as 0xFF.
            if byte != 0x7F {
                assert_eq!(linear_to_ulaw(u), byte, "µ-law {byte:#x}");
            }
            assert_eq!(
                linear_to_alaw(alaw_to_linear(byte)),
                byte,
                "A-law {byte:#x}"
            );
        }
    }

    #[test]
    fn round_trip_error_is_within_half_a_step() {
        for sample in i16::MIN..=i16::MAX {
            let x = i32::from(sample);
            let bound = x.abs() / 32 + 16;
            let u = i32::from(ulaw_to_linear(linear_to_ulaw(sample)));
            // Beyond the µ-law clip level the error grows to the clip distance.
            let clip = (x.abs() - 32635).max(0);
            assert!((u - x).abs() <= bound + clip, "µ-law {sample} -> {u}");
            let a = i32::from(alaw_to_linear(linear_to_alaw(sample)));
            assert!((a - x).abs() <= bound, "A-law {sample} -> {a}");
        }
    }
}
