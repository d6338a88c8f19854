//! The tag values the applier writes: migration states, timestamps, and
//! free text made fit for a tag.

use crate::domain::fleet::migration_tags as tags;
use crate::domain::state::MigrationState;
use chrono::{DateTime, SecondsFormat, Utc};
use shared::tags::MAX_VALUE_LEN;
use std::collections::BTreeMap;

/// Text made fit for a tag value (AWS allows letters, digits, spaces and
/// `_ . : / = + - @`), cut to 256 characters.
pub(crate) fn tag_text(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if shared::tags::is_tag_text(&c.to_string()) {
                c
            } else {
                ' '
            }
        })
        .collect();
    cleaned.chars().take(MAX_VALUE_LEN).collect()
}

pub(crate) fn stamp(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The migration-state tag set to `state`, with the `more` tags.
pub(crate) fn state_tags(state: MigrationState, more: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut map = tag_map(more);
    map.insert(tags::STATE.into(), state.as_str().into());
    map
}

pub(crate) fn tag_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_text_keeps_allowed_characters_and_fits() {
        assert_eq!(
            tag_text("canary x failed: \"OOM\" (exit 137)"),
            "canary x failed:  OOM   exit 137 "
        );
        assert_eq!(tag_text(&"y".repeat(300)).len(), 256);
    }
}
