//! The Amazon SES SMTP password, derived from an IAM secret access key (step: plan; pure,
//! no I/O).
//!
//! SES authenticates SMTP clients with the access key id as user name and a password
//! derived from the secret access key with SigV4's key derivation: HMAC-SHA256 chained
//! over the fixed date `11111111`, the region, `ses`, `aws4_request` and the message
//! `SendRawEmail`, prefixed with the version byte `0x04`, base64-encoded (Amazon SES
//! Developer Guide, "Obtaining Amazon SES SMTP credentials", which publishes the reference
//! Python script). The password is region-specific. No Lambda is involved: the operator
//! derives it when it creates or rotates the key.

use hmac::digest::InvalidLength;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::secret::SecretString;

const DATE: &str = "11111111";
const SERVICE: &str = "ses";
const TERMINAL: &str = "aws4_request";
const MESSAGE: &str = "SendRawEmail";
const VERSION: u8 = 0x04;

/// HMAC-SHA256. HMAC takes keys of any length, so the error never happens; it is passed
/// on rather than unwrapped.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Result<[u8; 32], InvalidLength> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key)?;
    mac.update(message);
    Ok(mac.finalize().into_bytes().into())
}

/// The SES SMTP password for `secret_access_key` in `region`.
pub fn smtp_password(
    secret_access_key: &SecretString,
    region: &str,
) -> Result<SecretString, InvalidLength> {
    let mut key =
        hmac_sha256(format!("AWS4{}", secret_access_key.expose()).as_bytes(), DATE.as_bytes())?;
    for part in [region, SERVICE, TERMINAL, MESSAGE] {
        key = hmac_sha256(&key, part.as_bytes())?;
    }
    let mut versioned = Vec::with_capacity(33);
    versioned.push(VERSION);
    versioned.extend_from_slice(&key);
    Ok(SecretString::new(aws_smithy_types::base64::encode(&versioned)))
}

/// The SES SMTP endpoint of a region (port 587 with STARTTLS, or 465 with TLS).
pub fn smtp_endpoint(region: &str) -> String {
    format!("email-smtp.{region}.amazonaws.com")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors computed with the reference Python script of the SES Developer Guide
    /// (`calculate_key` with `hmac`/`hashlib`/`base64`), using the example secret key of
    /// the AWS documentation.
    #[test]
    fn matches_the_reference_implementation() {
        let example = SecretString::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        let cases = [
            (&example, "us-east-1", "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9"),
            (&example, "eu-west-1", "BMW5RDrXmmVs0lV7GpI4oLkHXpZ4stDsk6q91z1g38Pk"),
            (
                &SecretString::new("secret"),
                "us-west-2",
                "BMQ5+AuYZwRSjH10uApvqHc8LDV01PgHALZgrvT1SIWM",
            ),
        ];
        for (key, region, want) in cases {
            assert_eq!(smtp_password(key, region).expect("hmac").expose(), want, "{region}");
        }
    }

    #[test]
    fn password_is_44_characters_and_starts_with_the_version_byte() {
        let p = smtp_password(&SecretString::new("anything"), "ap-northeast-1").expect("hmac");
        assert_eq!(p.len(), 44);
        // 0x04 followed by any byte encodes to "B" then one of A-P.
        assert!(p.expose().starts_with('B'), "{}", p.expose());
    }

    #[test]
    fn endpoint_per_region() {
        assert_eq!(smtp_endpoint("eu-west-1"), "email-smtp.eu-west-1.amazonaws.com");
    }
}
