//! A string that holds a secret value (step: plan; pure, no I/O).
//!
//! `Debug` and `Display` print `<redacted>`, so a secret that ends up in a log line, an
//! error, an Event or a status message shows nothing. The value is only reachable through
//! [`SecretString::expose`], which makes every place that uses it easy to find. The bytes
//! are overwritten when the value is dropped (best effort: copies made by the SDK or
//! serde are outside this type's reach).

use std::fmt;

/// A secret value. Compare with `==` only in tests and plans, never print it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself: only for the AWS request or the Kubernetes Secret that stores it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        // `black_box` keeps the compiler from removing writes to memory about to be freed.
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        for b in bytes.iter_mut() {
            *b = 0;
        }
        std::hint::black_box(&bytes);
    }
}

/// Random characters from `[A-Za-z0-9]`, drawn from rand's thread-local CSPRNG (ChaCha,
/// seeded from the operating system). 64 characters carry about 381 bits.
pub fn random_alphanumeric(len: usize) -> SecretString {
    use rand::RngExt;
    const CHARSET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let value: String =
        (0..len).map(|_| char::from(CHARSET[rng.random_range(0..CHARSET.len())])).collect();
    SecretString(value)
}

/// A password REDCap accepts (at least one lower-case letter, one upper-case letter and
/// one digit; `len` at least 9): random alphanumerics, drawn again until all three
/// classes are present.
pub fn random_password(len: usize) -> SecretString {
    loop {
        let candidate = random_alphanumeric(len.max(9));
        let text = candidate.expose();
        if text.chars().any(|c| c.is_ascii_lowercase())
            && text.chars().any(|c| c.is_ascii_uppercase())
            && text.chars().any(|c| c.is_ascii_digit())
        {
            return candidate;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = SecretString::new("hunter2-very-secret");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(("x", s.clone()))), r#"Some(("x", <redacted>))"#);
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn random_values_have_the_length_and_charset_and_differ() {
        let a = random_alphanumeric(64);
        let b = random_alphanumeric(64);
        assert_eq!(a.len(), 64);
        assert!(a.expose().bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}
