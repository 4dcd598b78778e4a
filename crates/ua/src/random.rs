//! Tags, branches, Call-IDs and cnonces from the injected RNG.

use rand_core::RngCore;

const ALPHABET: &[u8; 62] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// `len` random alphanumeric characters.
pub(crate) fn token(rng: &mut dyn RngCore, len: usize) -> String {
    let mut out = String::with_capacity(len);
    for _ in 0..len {
        let n = rng.next_u32() as usize % ALPHABET.len();
        out.push(char::from(ALPHABET.get(n).copied().unwrap_or(b'x')));
    }
    out
}

/// A From/To tag (RFC 3261 §19.3: at least 32 random bits).
pub(crate) fn tag(rng: &mut dyn RngCore) -> String {
    token(rng, 12)
}

/// A Call-ID.
pub(crate) fn call_id(rng: &mut dyn RngCore) -> String {
    token(rng, 24)
}

/// A Via branch with the RFC 3261 magic cookie.
pub(crate) fn branch(rng: &mut dyn RngCore) -> String {
    format!("z9hG4bK{}", token(rng, 20))
}

/// A digest cnonce.
pub(crate) fn cnonce(rng: &mut dyn RngCore) -> String {
    token(rng, 16)
}
