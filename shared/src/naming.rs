//! SageMaker resource names.
//!
//! SageMaker names (models, endpoint configs, endpoints) must match
//! `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`: ASCII letters, digits and hyphens,
//! starting and ending with a letter or digit, at most 63 characters.

use sha2::{Digest, Sha256};

/// Longest name SageMaker accepts for models, endpoint configs and endpoints.
pub const MAX_NAME_LEN: usize = 63;

/// Hex digits of hash appended when a name has to be shortened.
const SHORTENED_HASH_LEN: usize = 8;

/// Hex digits of hash that identify a model / endpoint config revision.
const REVISION_HASH_LEN: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "endpoint_name {raw:?} cannot be made a valid SageMaker name: it has no ASCII letters or \
     digits (allowed: letters, digits and hyphens, 1 to 63 characters, starting and ending with \
     a letter or digit)"
)]
pub struct InvalidName {
    pub raw: String,
}

/// True when `name` already satisfies SageMaker's name rule.
pub fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_NAME_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
}

/// Turns a folder name (or a user-supplied name) into a valid endpoint name.
///
/// Every run of characters SageMaker does not allow becomes one hyphen, and
/// leading/trailing hyphens are dropped. A name longer than 63 characters is
/// cut and given a hash of the *whole* cleaned name, so two long names that
/// share a prefix never collapse into the same endpoint.
pub fn endpoint_name_from(raw: &str) -> Result<String, InvalidName> {
    let mut cleaned = String::with_capacity(raw.len());
    for ch in raw.chars() {
        if ch.is_ascii_alphanumeric() {
            cleaned.push(ch);
        } else if !cleaned.ends_with('-') {
            cleaned.push('-');
        }
    }
    let cleaned = cleaned.trim_matches('-');
    if cleaned.is_empty() {
        return Err(InvalidName {
            raw: raw.to_string(),
        });
    }
    if cleaned.len() <= MAX_NAME_LEN {
        return Ok(cleaned.to_string());
    }
    Ok(with_hash_suffix(
        cleaned,
        &short_hash(cleaned.as_bytes(), SHORTENED_HASH_LEN),
    ))
}

/// `<base>-<suffix>`, with `base` cut so the whole fits in 63 characters.
///
/// `suffix` must be non-empty ASCII alphanumerics; it carries the identity,
/// the base is only there for people reading the console.
pub fn with_hash_suffix(base: &str, suffix: &str) -> String {
    let room = MAX_NAME_LEN.saturating_sub(suffix.len() + 1);
    // Names are ASCII here, so byte slicing cannot split a character.
    let cut = base.get(..room.min(base.len())).unwrap_or(base);
    let cut = cut.trim_end_matches('-');
    if cut.is_empty() {
        suffix.to_string()
    } else {
        format!("{cut}-{suffix}")
    }
}

/// Lower-case hex of SHA-256 over `input`, first `len` digits.
pub fn short_hash(input: &[u8], len: usize) -> String {
    let digest = Sha256::digest(input);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex.truncate(len);
    hex
}

/// Hash of several parts, unambiguous: each part is length-prefixed so
/// ("ab", "c") and ("a", "bc") differ.
pub fn revision_hash(parts: &[&str]) -> String {
    let mut buf = Vec::new();
    for part in parts {
        buf.extend_from_slice(&(part.len() as u64).to_be_bytes());
        buf.extend_from_slice(part.as_bytes());
    }
    short_hash(&buf, REVISION_HASH_LEN)
}

/// Name of a model or endpoint config revision of `endpoint`.
pub fn revision_name(endpoint: &str, revision: &str) -> String {
    with_hash_suffix(endpoint, revision)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_pass_through() {
        assert_eq!(
            endpoint_name_from("fraud-detector").as_deref(),
            Ok("fraud-detector")
        );
        assert_eq!(endpoint_name_from("A1").as_deref(), Ok("A1"));
    }

    #[test]
    fn invalid_characters_become_single_hyphens() {
        assert_eq!(
            endpoint_name_from("fraud_detector v2").as_deref(),
            Ok("fraud-detector-v2")
        );
        assert_eq!(
            endpoint_name_from("__my..model__").as_deref(),
            Ok("my-model")
        );
        assert_eq!(endpoint_name_from("café").as_deref(), Ok("caf"));
    }

    #[test]
    fn names_without_letters_or_digits_are_refused() {
        let err = endpoint_name_from("___").unwrap_err();
        assert_eq!(err.raw, "___");
        assert!(err.to_string().contains("1 to 63 characters"));
        assert!(endpoint_name_from("").is_err());
        assert!(endpoint_name_from("日本語").is_err());
    }

    #[test]
    fn long_names_get_a_stable_hash_not_a_collision() {
        let base = "a".repeat(70);
        let one = endpoint_name_from(&format!("{base}-one")).unwrap();
        let two = endpoint_name_from(&format!("{base}-two")).unwrap();
        assert_eq!(one.len(), MAX_NAME_LEN);
        assert_eq!(two.len(), MAX_NAME_LEN);
        assert_ne!(one, two);
        assert!(is_valid_name(&one) && is_valid_name(&two));
        // Stable across calls (and so across Lambda invocations).
        assert_eq!(one, endpoint_name_from(&format!("{base}-one")).unwrap());
    }

    #[test]
    fn exactly_63_characters_is_kept_whole() {
        let name = "b".repeat(63);
        assert_eq!(endpoint_name_from(&name).unwrap(), name);
    }

    #[test]
    fn revision_names_fit_and_stay_valid() {
        let rev = revision_hash(&["bucket", "models/x/model.tar.gz", "v1"]);
        assert_eq!(rev.len(), 12);
        let long = "c".repeat(63);
        let name = revision_name(&long, &rev);
        assert!(name.len() <= MAX_NAME_LEN);
        assert!(is_valid_name(&name), "{name}");
        assert!(name.ends_with(&rev));
        // A cut that would leave a trailing hyphen is trimmed.
        let hyphen_at_cut = format!("{}-{}", "d".repeat(49), "e".repeat(13));
        assert!(is_valid_name(&revision_name(&hyphen_at_cut, &rev)));
    }

    #[test]
    fn revision_hash_is_unambiguous() {
        assert_ne!(revision_hash(&["ab", "c"]), revision_hash(&["a", "bc"]));
    }

    #[test]
    fn validity_check_matches_the_rule() {
        assert!(is_valid_name("a"));
        assert!(is_valid_name("a--b"));
        assert!(!is_valid_name("-a"));
        assert!(!is_valid_name("a-"));
        assert!(!is_valid_name("a_b"));
        assert!(!is_valid_name(&"a".repeat(64)));
    }
}
