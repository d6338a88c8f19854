//! The vendored `image_uri_config/*.json` files: embedded in the binary and
//! parsed on first use, one framework at a time, keeping only the scope that
//! inference images come from.
//!
//! JSON object order matters to the SDK (the newest version is the first or
//! last key, error messages list keys in file order), so maps are read into
//! [`OrderedMap`] rather than serde_json's sorted map.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::OnceLock;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A JSON object with its keys in file order (a repeated key keeps its first
/// position and its last value, like Python's `json.load`).
#[derive(Debug, Clone)]
pub(super) struct OrderedMap<V>(pub(super) Vec<(String, V)>);

impl<V> OrderedMap<V> {
    pub(super) fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub(super) fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    pub(super) fn len(&self) -> usize {
        self.0.len()
    }
}

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        OrderedMap(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries: Vec<(String, V)> = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, V>()? {
                    match entries.iter_mut().find(|(k, _)| *k == key) {
                        Some(entry) => entry.1 = value,
                        None => entries.push((key, value)),
                    }
                }
                Ok(OrderedMap(entries))
            }
        }
        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}

/// The settings of one framework version (after the Python-version level,
/// if the file has one).
#[derive(Debug, Deserialize)]
pub(super) struct VersionConfig {
    pub(super) repository: String,
    pub(super) registries: OrderedMap<String>,
    #[serde(default)]
    pub(super) processors: Option<Vec<String>>,
    #[serde(default)]
    pub(super) py_versions: Option<Vec<String>>,
    #[serde(default)]
    pub(super) container_version: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub(super) tag_prefix: Option<String>,
    #[serde(default)]
    pub(super) processor_in_tag: Option<bool>,
}

/// A `versions` entry: either the settings themselves, or (older configs,
/// recognised by having no `repository`) one set of settings per Python
/// version.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum VersionEntry {
    Single(VersionConfig),
    PerPython(OrderedMap<VersionConfig>),
}

/// One image scope of a framework config (e.g. `inference`).
#[derive(Debug, Deserialize)]
pub(super) struct ScopeConfig {
    #[serde(default)]
    pub(super) processors: Option<Vec<String>>,
    #[serde(default)]
    pub(super) version_aliases: Option<OrderedMap<String>>,
    pub(super) versions: OrderedMap<VersionEntry>,
}

/// Top-level keys of a config file, and its `scope` list if it has one.
struct FileShape {
    keys: Vec<String>,
    scope: Option<Vec<String>>,
}

impl<'de> Deserialize<'de> for FileShape {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ShapeVisitor;
        impl<'de> Visitor<'de> for ShapeVisitor {
            type Value = FileShape;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FileShape, A::Error> {
                let mut shape = FileShape {
                    keys: Vec::new(),
                    scope: None,
                };
                while let Some(key) = map.next_key::<String>()? {
                    if key == "scope" {
                        shape.scope = Some(map.next_value()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                    if !shape.keys.contains(&key) {
                        shape.keys.push(key);
                    }
                }
                Ok(shape)
            }
        }
        deserializer.deserialize_map(ShapeVisitor)
    }
}

/// Deserializes only the value of one top-level key (the last one, if repeated).
struct PickKey<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for PickKey<'_> {
    type Value = Option<ScopeConfig>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PickKey<'_> {
    type Value = Option<ScopeConfig>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut picked = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == self.0 {
                picked = Some(map.next_value()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(picked)
    }
}

const IMAGE_SCOPE: &str = "inference";

/// Selects the scope like the SDK's `_config_for_framework_and_scope` does
/// for `image_scope="inference"` without an accelerator, and parses it: the
/// `inference` scope, or the only scope a file has (which the SDK then uses
/// whatever was asked for). A file with a `scope` list is a single `versions`
/// map shared by the scopes it lists.
fn load_inference_scope(text: &str) -> Result<ScopeConfig, String> {
    let shape: FileShape = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let flat = shape.scope.is_some();
    let available = shape.scope.unwrap_or(shape.keys);
    let scope_name = if available.len() == 1 {
        available[0].clone()
    } else if available.iter().any(|s| s == IMAGE_SCOPE) {
        IMAGE_SCOPE.to_string()
    } else {
        return Err(format!(
            "it has no {IMAGE_SCOPE} images (scopes: {})",
            available.join(", ")
        ));
    };
    if flat {
        serde_json::from_str(text).map_err(|e| e.to_string())
    } else {
        let mut de = serde_json::Deserializer::from_str(text);
        PickKey(&scope_name)
            .deserialize(&mut de)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("scope {scope_name} is missing"))
    }
}

const FILES: [(&str, &str); 4] = [
    (
        "xgboost",
        include_str!("../../image_uri_config/xgboost.json"),
    ),
    (
        "sklearn",
        include_str!("../../image_uri_config/sklearn.json"),
    ),
    (
        "pytorch",
        include_str!("../../image_uri_config/pytorch.json"),
    ),
    (
        "tensorflow",
        include_str!("../../image_uri_config/tensorflow.json"),
    ),
];

/// The parsed inference scope of a bundled framework, or `None` if there is
/// no bundled file for `framework`; `Some(Err(..))` if the file is unusable.
pub(super) fn inference_scope(
    framework: &str,
) -> Option<Result<&'static ScopeConfig, &'static str>> {
    static LOADED: [OnceLock<Result<ScopeConfig, String>>; FILES.len()] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    let index = FILES.iter().position(|(name, _)| *name == framework)?;
    let loaded = LOADED[index].get_or_init(|| load_inference_scope(FILES[index].1));
    Some(loaded.as_ref().map_err(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The repository of a scope's only (or first) version: says which scope was picked.
    fn first_repository(c: &ScopeConfig) -> &str {
        match &c.versions.0[0].1 {
            VersionEntry::Single(v) => &v.repository,
            VersionEntry::PerPython(m) => &m.0[0].1.repository,
        }
    }

    #[test]
    fn keeps_file_order_and_picks_the_inference_scope() {
        let text = r#"{"training": {"versions": {"9.0": {"repository": "t", "registries": {}}}}, "inference": {
            "version_aliases": {"b": "2.0", "a": "1.0"},
            "versions": {"2.0": {"repository": "r", "registries": {"z-1": "1", "a-1": "2"}},
                         "1.0": {"py2": {"repository": "r", "registries": {}},
                                 "py3": {"repository": "r", "registries": {}}}}}}"#;
        let c = load_inference_scope(text).unwrap();
        assert_eq!(first_repository(&c), "r");
        assert_eq!(c.versions.keys().collect::<Vec<_>>(), ["2.0", "1.0"]);
        let aliases = c.version_aliases.as_ref().unwrap();
        assert_eq!(aliases.keys().collect::<Vec<_>>(), ["b", "a"]);
        match c.versions.get("2.0").unwrap() {
            VersionEntry::Single(v) => {
                assert_eq!(v.registries.keys().collect::<Vec<_>>(), ["z-1", "a-1"])
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(c.versions.get("1.0"), Some(VersionEntry::PerPython(m)) if m.len() == 2));
    }

    #[test]
    fn single_scope_and_flat_files() {
        let only_training = r#"{"training": {"versions": {"1": {"repository": "training-repo", "registries": {}}}}}"#;
        assert_eq!(
            first_repository(&load_inference_scope(only_training).unwrap()),
            "training-repo"
        );
        let flat = r#"{"scope": ["training", "inference"], "versions": {"1": {"repository": "flat-repo", "registries": {}}}}"#;
        let c = load_inference_scope(flat).unwrap();
        assert_eq!(first_repository(&c), "flat-repo");
        assert_eq!(c.versions.len(), 1);
        let no_inference = r#"{"training": {"versions": {}}, "eia": {"versions": {}}}"#;
        assert!(load_inference_scope(no_inference).is_err());
    }

    #[test]
    fn bundled_files_parse() {
        for (name, text) in FILES {
            let c = inference_scope(name).unwrap().unwrap();
            assert!(c.versions.len() > 1, "{name}");
            // The inference scope, not another one with the same shape.
            let file: serde_json::Value = serde_json::from_str(text).unwrap();
            let inference = file["inference"]["versions"].as_object().unwrap();
            assert_eq!(c.versions.len(), inference.len(), "{name}");
            assert!(
                c.versions.keys().all(|k| inference.contains_key(k)),
                "{name}"
            );
        }
        assert!(inference_scope("mxnet").is_none());
    }
}
