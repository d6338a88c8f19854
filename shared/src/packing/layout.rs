//! Which files go where in the archive, decided from S3 listings before
//! any byte is read: the SDK's `tar_and_upload_dir` (source-dir mode) and
//! `_create_or_update_code_dir` (repack mode), with S3 folders in place of
//! local ones.

use super::Mode;
use crate::settings::InferenceCode;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// One S3 object, pinned to the version that was listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    /// ETag (or version id): part of the output's name, so changed code
    /// gives a new archive.
    pub version: String,
}

impl ObjectRef {
    pub fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// A code location after listing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed {
    /// The objects below `prefix` (in `bucket`).
    Folder {
        uri: String,
        prefix: String,
        objects: Vec<ObjectRef>,
    },
    /// A `.tar.gz` and the names of its members (read in a first pass).
    Tarball {
        object: ObjectRef,
        members: Vec<String>,
    },
}

/// The code as found in S3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedCode {
    /// The entry point object, when there is no source_dir.
    pub entry_file: Option<ObjectRef>,
    pub source_dir: Option<Listed>,
    /// Each dependency folder: its name in the archive and its listing.
    pub dependencies: Vec<(String, Listed)>,
}

/// Something to write into the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    File {
        path: String,
        object: ObjectRef,
    },
    /// Every member of a `.tar.gz`, below `prefix`.
    Tarball {
        prefix: String,
        object: ObjectRef,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub mode: Mode,
    pub inputs: Vec<Input>,
    /// Repack mode: model-archive members to leave out because the new
    /// code replaces them (all of `code/` when source_dir is a folder).
    replace_code_dir: bool,
    replaced: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error(
        "entry_point {entry_point:?} is not in source_dir {source_dir} (no object {expected})"
    )]
    EntryPointMissing {
        entry_point: String,
        source_dir: String,
        expected: String,
    },
    #[error("entry_point {0} does not exist")]
    EntryFileMissing(String),
    #[error("{field} {uri} holds no objects")]
    EmptyFolder { field: String, uri: String },
}

impl Layout {
    /// True when a model-archive member at `path` is replaced by new code.
    pub fn replaces(&self, path: &str) -> bool {
        (self.replace_code_dir && (path == "code" || path.starts_with("code/")))
            || self.replaced.contains(path)
    }

    /// A name for the result that depends only on what goes in: same
    /// inputs (and artifact version), same name; any change, a new one.
    pub fn fingerprint(&self, code: &InferenceCode, artifact: Option<&ObjectRef>) -> String {
        let mut h = Sha256::new();
        // Bump when the archive format produced for the same inputs changes.
        h.update(b"packing-v1\0");
        h.update(format!("{:?}\0{}\0", self.mode, code.entry_point).as_bytes());
        let object = |h: &mut Sha256, o: &ObjectRef| {
            h.update(format!("{}\0{}\0{}\0{}\0", o.bucket, o.key, o.version, o.size).as_bytes())
        };
        if let Some(a) = artifact {
            object(&mut h, a);
        }
        for input in &self.inputs {
            match input {
                Input::File { path, object: o } => {
                    h.update(format!("file\0{path}\0").as_bytes());
                    object(&mut h, o);
                }
                Input::Tarball { prefix, object: o } => {
                    h.update(format!("tarball\0{prefix}\0").as_bytes());
                    object(&mut h, o);
                }
            }
        }
        let digest = h.finalize();
        digest.iter().take(10).map(|b| format!("{b:02x}")).collect()
    }
}

/// Where each file goes, per mode:
/// - source-dir: source_dir's contents at the root (or the entry point
///   alone, by file name), each dependency folder at the root by its name;
/// - repack: the same below `code/`, dependencies below `code/lib/`.
pub fn layout(
    mode: Mode,
    code: &InferenceCode,
    listed: &ListedCode,
) -> Result<Layout, LayoutError> {
    let (root, lib_root) = match mode {
        Mode::SourceDir => ("", ""),
        Mode::Repack { .. } => ("code/", "code/lib/"),
    };
    let mut inputs = Vec::new();
    let mut replace_code_dir = false;
    let mut replaced = BTreeSet::new();
    match &listed.source_dir {
        Some(Listed::Folder {
            uri,
            prefix,
            objects,
        }) => {
            let expected = format!("{prefix}{}", code.entry_point);
            if !objects.iter().any(|o| o.key == expected) {
                return Err(LayoutError::EntryPointMissing {
                    entry_point: code.entry_point.clone(),
                    source_dir: uri.clone(),
                    expected,
                });
            }
            folder_inputs(&mut inputs, "source_dir", uri, prefix, objects, root)?;
            replace_code_dir = true;
        }
        Some(Listed::Tarball { object, members }) => {
            replaced.extend(
                members
                    .iter()
                    .filter_map(|m| super::archive::normalize(m))
                    .map(|m| format!("{root}{m}")),
            );
            inputs.push(Input::Tarball {
                prefix: root.to_string(),
                object: object.clone(),
            });
        }
        None => {
            let object = listed
                .entry_file
                .clone()
                .ok_or_else(|| LayoutError::EntryFileMissing(code.entry_point.clone()))?;
            inputs.push(Input::File {
                path: format!("{root}{}", code.entry_file_name()),
                object,
            });
        }
    }
    for (name, dependency) in &listed.dependencies {
        if let Listed::Folder {
            uri,
            prefix,
            objects,
        } = dependency
        {
            let base = format!("{lib_root}{name}/");
            folder_inputs(&mut inputs, "dependencies", uri, prefix, objects, &base)?;
        }
    }
    for input in &inputs {
        if let Input::File { path, .. } = input {
            replaced.insert(path.clone());
        }
    }
    Ok(Layout {
        mode,
        inputs,
        replace_code_dir: replace_code_dir && root == "code/",
        replaced,
    })
}

fn folder_inputs(
    inputs: &mut Vec<Input>,
    field: &str,
    uri: &str,
    prefix: &str,
    objects: &[ObjectRef],
    base: &str,
) -> Result<(), LayoutError> {
    let before = inputs.len();
    for object in objects {
        // Zero-byte "folder/" markers (the S3 console's folders) are not files.
        let Some(rel) = object
            .key
            .strip_prefix(prefix)
            .filter(|r| !r.ends_with('/') && !r.is_empty())
        else {
            continue;
        };
        inputs.push(Input::File {
            path: format!("{base}{rel}"),
            object: object.clone(),
        });
    }
    if inputs.len() == before {
        return Err(LayoutError::EmptyFolder {
            field: field.to_string(),
            uri: uri.to_string(),
        });
    }
    Ok(())
}
