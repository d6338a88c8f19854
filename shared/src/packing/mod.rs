//! Inference code packed the way the SageMaker Python SDK packs it for
//! `<Framework>Model(...).deploy(serverless_inference_config=...)`
//! (sagemaker 2.x: `FrameworkModel._upload_code`, `fw_utils.tar_and_upload_dir`,
//! `utils.repack_model`, `_script_mode_env_vars`, and each framework's
//! `prepare_container_def`). `shared/tests/data/packing_cases.json` holds
//! what the SDK itself produced (scripts/generate_packing_cases.py).
//!
//! - Source-dir mode (scikit-learn, XGBoost, PyTorch before 1.2): the code
//!   goes up as a separate `sourcedir.tar.gz`; the artifact is used as is and
//!   `SAGEMAKER_SUBMIT_DIRECTORY` is the archive's S3 URI.
//! - Repack mode (PyTorch 1.2 and later, TensorFlow Serving): a new
//!   `model.tar.gz` with the code in `code/`.

pub mod archive;
pub mod layout;

use crate::settings::{CodeLocation, InferenceCode};
use archive::{ArchiveWriter, Counts};
use layout::{Input, Layout, ObjectRef};
use std::collections::BTreeMap;
use std::io::{self, Read, Write};

/// Opens one S3 object for reading (a stream, not the whole object).
pub type Opener<'a> = dyn FnMut(&ObjectRef) -> io::Result<Box<dyn Read>> + 'a;

pub const PROGRAM_VAR: &str = "SAGEMAKER_PROGRAM";
pub const SUBMIT_DIRECTORY_VAR: &str = "SAGEMAKER_SUBMIT_DIRECTORY";
pub const LOG_LEVEL_VAR: &str = "SAGEMAKER_CONTAINER_LOG_LEVEL";
pub const REGION_VAR: &str = "SAGEMAKER_REGION";
/// The SDK's default `container_log_level` (`logging.INFO`).
pub const DEFAULT_LOG_LEVEL: &str = "20";
/// Where a repacked archive's `code/` is inside the container.
pub const REPACKED_CODE_DIR: &str = "/opt/ml/model/code";
/// PyTorch images from this version on serve with MMS and load `code/`
/// from the model archive (the SDK's `PyTorchModel._LOWEST_MMS_VERSION`).
const PYTORCH_LOWEST_MMS: [u64; 3] = [1, 2, 0];

/// How a framework version takes its inference code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A separate `sourcedir.tar.gz`, named by `SAGEMAKER_SUBMIT_DIRECTORY`.
    SourceDir,
    /// The model archive repacked with `code/`. `script_env`: whether the
    /// container also gets the script-mode variables (PyTorch does,
    /// TensorFlow Serving gets only the user's environment).
    Repack { script_env: bool },
}

/// The SDK's choice for `framework` at `version` (as the user wrote it,
/// like the SDK compares `framework_version`).
pub fn mode_for(framework: &str, version: &str) -> Mode {
    match framework {
        "pytorch" if version_at_least(version, PYTORCH_LOWEST_MMS) => {
            Mode::Repack { script_env: true }
        }
        "tensorflow" => Mode::Repack { script_env: false },
        _ => Mode::SourceDir,
    }
}

/// `version >= minimum`, comparing dotted numbers (missing parts are 0);
/// an unparsable version counts as new, as aliases only name new versions.
fn version_at_least(version: &str, minimum: [u64; 3]) -> bool {
    let mut parts = [0u64; 3];
    for (slot, part) in parts.iter_mut().zip(version.split('.')) {
        match part.parse() {
            Ok(n) => *slot = n,
            Err(_) => return true,
        }
    }
    parts >= minimum
}

/// The container's environment: the user's, with the SDK's script-mode
/// variables on top (the SDK's `deploy_env.update(...)` overrides a user's
/// `SAGEMAKER_PROGRAM`). `sourcedir_uri` is where source-dir mode put the
/// code; repack mode points at the archive's `code/` instead.
pub fn environment(
    user: &BTreeMap<String, String>,
    mode: Mode,
    code: &InferenceCode,
    sourcedir_uri: &str,
    region: &str,
) -> BTreeMap<String, String> {
    let mut env = user.clone();
    let (program, directory) = match mode {
        Mode::Repack { script_env: false } => return env,
        Mode::Repack { script_env: true } => (
            code.entry_file_name().to_string(),
            REPACKED_CODE_DIR.to_string(),
        ),
        // Without a source_dir the SDK archives the script alone, at the
        // archive's root, under its file name.
        Mode::SourceDir => match code.source_dir {
            Some(_) => (code.entry_point.clone(), sourcedir_uri.to_string()),
            None => (
                code.entry_file_name().to_string(),
                sourcedir_uri.to_string(),
            ),
        },
    };
    env.insert(PROGRAM_VAR.into(), program);
    env.insert(SUBMIT_DIRECTORY_VAR.into(), directory);
    env.insert(LOG_LEVEL_VAR.into(), DEFAULT_LOG_LEVEL.into());
    env.insert(REGION_VAR.into(), region.into());
    env
}

/// `Some(uri)` when source-dir mode has nothing to upload: the user's
/// `.tar.gz` is used as it is (the SDK passes an `s3://` source_dir through).
pub fn uses_given_tarball(mode: Mode, code: &InferenceCode) -> Option<String> {
    match (mode, &code.source_dir) {
        (Mode::SourceDir, Some(CodeLocation::S3Tarball { bucket, key })) => {
            Some(format!("s3://{bucket}/{key}"))
        }
        _ => None,
    }
}

/// Writes the archive `layout` describes to `out`, streaming: in repack
/// mode `model` (the user's `model.tar.gz`) is copied member by member,
/// leaving out what the new code replaces, then the code is added.
pub fn write_archive<W: Write>(
    out: W,
    layout: &Layout,
    model: Option<&mut dyn Read>,
    open: &mut Opener<'_>,
) -> io::Result<(W, Counts)> {
    let mut writer = ArchiveWriter::new(out);
    if let Some(model) = model {
        writer.copy_archive(model, "", &|path| layout.replaces(path))?;
    }
    for input in &layout.inputs {
        match input {
            Input::File { path, object } => {
                let reader = open(object)?;
                writer.add_file(path, object.size, reader)?;
            }
            Input::Tarball { prefix, object } => {
                let reader = open(object)?;
                writer.copy_archive(reader, prefix, &|_| false)?;
            }
        }
    }
    let counts = writer.counts;
    Ok((writer.finish()?, counts))
}

/// The member names of a `.tar.gz`, read as a stream.
pub fn member_names(tar_gz: impl Read) -> io::Result<Vec<String>> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tar_gz));
    let mut names = Vec::new();
    for entry in archive.entries()? {
        let entry = entry?;
        if let Some(name) = archive::normalize(&entry.path()?.to_string_lossy()) {
            names.push(name);
        }
    }
    Ok(names)
}
