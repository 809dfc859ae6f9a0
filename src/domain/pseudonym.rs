//! Pseudonymous keys of personal data: HMAC-SHA256 under the configured secret, so a key
//! can be matched again but not turned back into the (often guessable) value without it.

use hmac::{Hmac, Mac};

/// HMAC-SHA256 (lower-case hex) of `message` under `key`.
pub fn keyed(key: &[u8], message: &[u8]) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail.
    Hmac::<sha2::Sha256>::new_from_slice(key).map_or_else(
        |_| String::new(),
        |mut mac| {
            mac.update(message);
            hex::encode(mac.finalize().into_bytes())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_4231_test_case_2() {
        assert_eq!(
            keyed(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
