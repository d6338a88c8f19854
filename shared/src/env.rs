//! Reading a function's configuration from its environment, with errors
//! that name the variable and what it should hold.

use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("environment variable {name} is required: {why}")]
    Missing { name: String, why: String },
    #[error("environment variable {name}={value:?} is invalid: expected {expected}")]
    Invalid {
        name: String,
        value: String,
        expected: String,
    },
}

/// The variable's value, `None` when unset or blank.
pub fn optional(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The variable's value, or an error saying why it is needed.
pub fn required(name: &str, why: &str) -> Result<String, EnvError> {
    optional(name).ok_or_else(|| EnvError::Missing {
        name: name.to_string(),
        why: why.to_string(),
    })
}

/// Parses the variable when set.
pub fn parsed<T: FromStr>(name: &str, expected: &str) -> Result<Option<T>, EnvError> {
    optional(name)
        .map(|value| {
            value.parse::<T>().map_err(|_| EnvError::Invalid {
                name: name.to_string(),
                value: value.clone(),
                expected: expected.to_string(),
            })
        })
        .transpose()
}

/// An S3 key prefix as the functions use it: no leading slash, one
/// trailing slash, or empty for the whole bucket ("/models" -> "models/").
pub fn key_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_prefixes_are_normalized() {
        assert_eq!(key_prefix("/models/"), "models/");
        assert_eq!(key_prefix("a/b"), "a/b/");
        assert_eq!(key_prefix("/"), "");
    }
}
