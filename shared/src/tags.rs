//! Tags: the pipeline's own keys, and AWS's rules for tag text.

/// Marks every resource the pipeline created; the value is this constant.
pub const MANAGED_BY_KEY: &str = "managed-by";
pub const MANAGED_BY_VALUE: &str = "sagemaker-serverless-pipeline";
/// Prefix of every other tag the pipeline writes.
pub const PIPELINE_PREFIX: &str = "pipeline:";

pub const MAX_KEY_LEN: usize = 128;
pub const MAX_VALUE_LEN: usize = 256;
/// SageMaker allows 50 tags per resource; the pipeline needs up to 15.
pub const MAX_USER_TAGS: usize = 35;

/// Characters AWS allows in tag keys and values:
/// letters, digits, white space and `_ . : / = + - @`.
pub fn is_tag_text(text: &str) -> bool {
    text.chars().all(|c| {
        c.is_alphanumeric()
            || c.is_whitespace()
            || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
    })
}

/// Keys a user may not set: AWS reserves `aws:`, the pipeline reserves its own.
pub fn is_reserved_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    lower.starts_with("aws:") || lower == MANAGED_BY_KEY || lower.starts_with(PIPELINE_PREFIX)
}

/// Stores text that may contain characters tags do not allow (an S3 key)
/// as a tag value: verbatim when it can be, base64 behind `b64:` when not.
pub fn encode_value(text: &str) -> Option<String> {
    let value = if is_tag_text(text) && !text.starts_with("b64:") {
        text.to_string()
    } else {
        format!("b64:{}", aws_smithy_types::base64::encode(text))
    };
    (value.len() <= MAX_VALUE_LEN).then_some(value)
}

/// Reverses [`encode_value`].
pub fn decode_value(value: &str) -> Option<String> {
    match value.strip_prefix("b64:") {
        Some(encoded) => aws_smithy_types::base64::decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok()),
        None => Some(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_text_rule() {
        assert!(is_tag_text("models/fraud detector/v3/model.tar.gz"));
        assert!(is_tag_text("2026-11-28T10:00:00Z"));
        assert!(!is_tag_text("a(1)"));
        assert!(!is_tag_text("{\"x\":1}"));
    }

    #[test]
    fn values_round_trip_through_encoding() {
        for text in [
            "models/a/model.tar.gz",
            "models/a (copy)/model.tar.gz",
            "b64:looks-encoded",
        ] {
            let encoded = encode_value(text).unwrap();
            assert!(is_tag_text(&encoded));
            assert_eq!(decode_value(&encoded).as_deref(), Some(text));
        }
        assert_eq!(encode_value("plain/key").as_deref(), Some("plain/key"));
        assert!(encode_value(&"x".repeat(257)).is_none());
    }

    #[test]
    fn reserved_keys() {
        assert!(is_reserved_key("aws:cloudformation:stack-name"));
        assert!(is_reserved_key("Managed-By"));
        assert!(is_reserved_key("pipeline:previous-config"));
        assert!(!is_reserved_key("team"));
    }
}
