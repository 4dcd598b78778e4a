//! Random tokens from an injected RNG: tags, branches, Call-IDs, cnonces.
//! The one place every machine (endpoint, server, user agent) takes them
//! from.

use rand_core::RngCore;

const ALPHABET: &[u8; 62] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Appends `len` random alphanumeric characters (5.95 bits each) to `out`.
pub fn push_token(rng: &mut dyn RngCore, out: &mut String, len: usize) {
    out.reserve(len);
    for _ in 0..len {
        let i = (rng.next_u32() % 62) as usize;
        out.push(char::from(ALPHABET.get(i).copied().unwrap_or(b'x')));
    }
}

/// `len` random alphanumeric characters.
#[must_use]
pub fn token(rng: &mut dyn RngCore, len: usize) -> String {
    let mut out = String::new();
    push_token(rng, &mut out, len);
    out
}

/// A From or To tag (RFC 3261 §19.3: at least 32 random bits; 71 here).
#[must_use]
pub fn tag(rng: &mut dyn RngCore) -> String {
    token(rng, 12)
}

/// A Call-ID.
#[must_use]
pub fn call_id(rng: &mut dyn RngCore) -> String {
    token(rng, 24)
}

/// A Via branch with the RFC 3261 magic cookie.
#[must_use]
pub fn branch(rng: &mut dyn RngCore) -> String {
    let mut out = String::from(switchboard_proto::header::BRANCH_MAGIC_COOKIE);
    push_token(rng, &mut out, 20);
    out
}

/// A digest cnonce.
#[must_use]
pub fn cnonce(rng: &mut dyn RngCore) -> String {
    token(rng, 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A counter as RNG: the tokens are a function of the RNG alone.
    struct Counter(u32);

    impl RngCore for Counter {
        fn next_u32(&mut self) -> u32 {
            self.0 += 1;
            self.0
        }
        fn next_u64(&mut self) -> u64 {
            u64::from(self.next_u32())
        }
        fn fill_bytes(&mut self, dst: &mut [u8]) {
            for b in dst {
                *b = self.next_u32() as u8;
            }
        }
    }

    #[test]
    fn tokens_have_their_shape() {
        let mut rng = Counter(0);
        assert_eq!(tag(&mut rng), "123456789abc");
        let b = branch(&mut rng);
        assert!(b.starts_with("z9hG4bK") && b.len() == 27, "{b}");
        assert_eq!(call_id(&mut rng).len(), 24);
        assert!(cnonce(&mut rng).chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
