//! Inference code settings, taken the way the SageMaker Python SDK takes
//! them (`entry_point`, `source_dir`, `dependencies`), with locations that
//! make sense for an artifact in S3 instead of a laptop's folders.

use super::{SettingsError, SettingsLayer};
use serde::Serialize;

/// Where a folder of code, or a packed archive of it, is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum CodeLocation {
    /// A folder beside the artifact: a key prefix relative to the artifact's
    /// folder, ending with `/` (`code/` for `models/<name>/v3/code/`).
    Beside { prefix: String },
    /// Every object below `s3://bucket/prefix` (prefix ends with `/`).
    S3Folder { bucket: String, prefix: String },
    /// A `.tar.gz` the SDK would take as `source_dir="s3://..."`.
    S3Tarball { bucket: String, key: String },
}

impl CodeLocation {
    /// The folder's last name, as the SDK names a dependency inside the
    /// archive (`os.path.basename`); `None` for a tarball.
    pub fn folder_name(&self) -> Option<&str> {
        let prefix = match self {
            CodeLocation::Beside { prefix } | CodeLocation::S3Folder { prefix, .. } => prefix,
            CodeLocation::S3Tarball { .. } => return None,
        };
        prefix.trim_end_matches('/').rsplit('/').next()
    }
}

/// The inference code to ship with the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InferenceCode {
    /// The script: relative to `source_dir` when there is one, else
    /// relative to the artifact's folder.
    pub entry_point: String,
    pub source_dir: Option<CodeLocation>,
    pub dependencies: Vec<CodeLocation>,
}

impl InferenceCode {
    /// The entry point's file name (the SDK's `os.path.basename`).
    pub fn entry_file_name(&self) -> &str {
        self.entry_point
            .rsplit('/')
            .next()
            .unwrap_or(&self.entry_point)
    }
}

/// The code settings of the first layer that names any, validated.
pub(super) fn code_from(layers: &[&SettingsLayer]) -> Result<Option<InferenceCode>, SettingsError> {
    let Some(layer) = layers.iter().find(|l| l.names_code()) else {
        return Ok(None);
    };
    let Some(entry_point) = &layer.entry_point else {
        let field = if layer.source_dir.is_some() {
            "source_dir"
        } else {
            "dependencies"
        };
        return Err(SettingsError::Missing {
            field: "entry_point".into(),
            why: format!("{field} was given without the script to run, e.g. \"entry_point\": \"inference.py\""),
        });
    };
    let entry_point = relative_path("entry_point", entry_point, false)?;
    let source_dir = layer
        .source_dir
        .as_deref()
        .map(|s| location("source_dir", s, true))
        .transpose()?;
    let dependencies = layer
        .dependencies
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, d)| location(&format!("dependencies[{i}]"), d, false))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(InferenceCode {
        entry_point,
        source_dir,
        dependencies,
    }))
}

/// A relative path inside the artifact's folder or a code folder: no `..`,
/// no leading `/`, no empty or `.` parts. `folder` adds a trailing `/`.
fn relative_path(field: &str, raw: &str, folder: bool) -> Result<String, SettingsError> {
    let allowed = if folder {
        "a folder beside the artifact such as \"code/\", an s3://bucket/prefix/ folder, or an s3://bucket/key.tar.gz archive"
    } else {
        "a relative path such as \"inference.py\" or \"src/inference.py\" (no \"..\", no leading \"/\")"
    };
    let trimmed = if folder {
        raw.trim_end_matches('/')
    } else {
        raw
    };
    let parts: Vec<&str> = trimmed.split('/').collect();
    let bad = trimmed.is_empty()
        || raw.contains('\\')
        || parts
            .iter()
            .any(|p| p.is_empty() || *p == "." || *p == "..")
        || raw.chars().any(char::is_control);
    if bad {
        return Err(SettingsError::invalid(field, format!("{raw:?}"), allowed));
    }
    Ok(if folder {
        format!("{trimmed}/")
    } else {
        trimmed.to_string()
    })
}

fn location(field: &str, raw: &str, tarball_allowed: bool) -> Result<CodeLocation, SettingsError> {
    let Some(rest) = raw.strip_prefix("s3://") else {
        return Ok(CodeLocation::Beside {
            prefix: relative_path(field, raw, true)?,
        });
    };
    let allowed = if tarball_allowed {
        "s3://bucket/prefix/ (a folder) or s3://bucket/key.tar.gz"
    } else {
        "s3://bucket/prefix/ (a folder; the SDK takes dependencies as folders)"
    };
    let bad = || SettingsError::invalid(field, format!("{raw:?}"), allowed);
    let (bucket, key) = rest.split_once('/').ok_or_else(bad)?;
    if bucket.is_empty() || key.is_empty() {
        return Err(bad());
    }
    if key.ends_with(".tar.gz") {
        if !tarball_allowed {
            return Err(bad());
        }
        return Ok(CodeLocation::S3Tarball {
            bucket: bucket.to_string(),
            key: key.to_string(),
        });
    }
    let prefix = relative_path(field, key, true).map_err(|_| bad())?;
    Ok(CodeLocation::S3Folder {
        bucket: bucket.to_string(),
        prefix,
    })
}
