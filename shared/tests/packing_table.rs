//! `shared::packing` against the SageMaker SDK: every case in
//! `tests/data/packing_cases.json` is what `<Framework>Model(...).deploy(
//! serverless_inference_config=...)` sent and uploaded (see
//! `scripts/generate_packing_cases.py`). The same inputs, laid out in S3
//! terms and packed here in memory, must give the same image, mode,
//! environment and archive members (names, kinds, file contents).

use serde::Deserialize;
use sha2::{Digest, Sha256};
use shared::packing::layout::{layout, Listed, ListedCode, ObjectRef};
use shared::packing::{environment, mode_for, uses_given_tarball, write_archive, Mode};
use shared::settings::{resolve, CodeLocation, SettingsLayer};
use std::collections::BTreeMap;
use std::io::{self, Read};

#[derive(Debug, Deserialize)]
struct Table {
    cases: Vec<Case>,
}

#[derive(Debug, Clone, Deserialize)]
struct Case {
    name: String,
    framework: String,
    framework_version: String,
    py_version: Option<String>,
    source: String,
    entry_point: Option<String>,
    #[serde(default)]
    dependencies: bool,
    #[serde(default)]
    user_environment: BTreeMap<String, String>,
    /// The container environment the SDK produced.
    environment: BTreeMap<String, String>,
    region: String,
    image_uri: String,
    mode: String,
    model_data: String,
    archive: Option<Vec<Entry>>,
    inputs: Inputs,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    path: String,
    #[serde(rename = "type")]
    kind: String,
    sha256: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Inputs {
    model: BTreeMap<String, String>,
    code: BTreeMap<String, String>,
    dependencies: BTreeMap<String, String>,
}

const BUCKET: &str = "models-bucket";
const FOLDER: &str = "models/demo/v1/";

fn load() -> Vec<Case> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/packing_cases.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let table: Table = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    table.cases
}

fn tar_gz(files: &BTreeMap<String, String>) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (path, text) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, path, text.as_bytes())
            .expect("append");
    }
    builder.into_inner().expect("tar").finish().expect("gzip")
}

fn entries(tar_gz: &[u8]) -> Vec<Entry> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tar_gz));
    let mut out = Vec::new();
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let raw = entry.path().expect("path").to_string_lossy().into_owned();
        let Some(path) = shared::packing::archive::normalize(&raw) else {
            continue;
        };
        let kind = entry.header().entry_type();
        let (kind, sha256) = if kind.is_dir() {
            ("dir", None)
        } else if kind.is_file() {
            let mut data = Vec::new();
            entry.read_to_end(&mut data).expect("read");
            ("file", Some(format!("{:x}", Sha256::digest(&data))))
        } else {
            ("other", None)
        };
        out.push(Entry {
            path,
            kind: kind.to_string(),
            sha256,
        });
    }
    out.sort();
    out
}

fn object(key: &str, data: &[u8]) -> ObjectRef {
    ObjectRef {
        bucket: BUCKET.into(),
        key: key.into(),
        size: data.len() as u64,
        version: format!("{:x}", Sha256::digest(data)),
    }
}

/// The deploy.json a user of the pipeline writes for this case.
fn deploy_json(case: &Case) -> serde_json::Value {
    let mut v = serde_json::json!({
        "framework": case.framework,
        "framework_version": case.framework_version,
        "entry_point": case.entry_point.clone().unwrap_or("inference.py".into()),
        "environment": case.user_environment,
    });
    if let Some(py) = &case.py_version {
        v["py_version"] = py.clone().into();
    }
    match case.source.as_str() {
        "folder" => v["source_dir"] = "code/".into(),
        "tarball" => v["source_dir"] = format!("s3://{BUCKET}/{FOLDER}code.tar.gz").into(),
        _ => {}
    }
    if case.dependencies {
        v["dependencies"] = serde_json::json!(["deps/mylib/"]);
    }
    v
}

#[test]
fn every_packing_case_matches_the_sdk() {
    let cases = load();
    assert!(cases.len() >= 10, "too few cases");
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(why) = check(case) {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn check(case: &Case) -> Result<(), String> {
    let layer = SettingsLayer::from_deploy_json(deploy_json(case).to_string().as_bytes())
        .map_err(|e| e.to_string())?;
    let settings = resolve(&[&layer], Some("demo"), &case.region).map_err(|e| e.to_string())?;
    if settings.container.image_uri != case.image_uri {
        return Err(format!(
            "image {} != sdk {}",
            settings.container.image_uri, case.image_uri
        ));
    }
    let code = settings.code.clone().ok_or("no code settings")?;
    let mode = mode_for(&case.framework, &case.framework_version);

    // The objects in S3: the artifact, the code and the dependencies.
    let mut store: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let model = tar_gz(&case.inputs.model);
    let artifact = object(&format!("{FOLDER}model.tar.gz"), &model);
    store.insert(artifact.key.clone(), model);
    let listed_folder =
        |prefix: &str, files: &BTreeMap<String, String>, store: &mut BTreeMap<String, Vec<u8>>| {
            let objects = files
                .iter()
                .map(|(rel, text)| {
                    let key = format!("{prefix}{rel}");
                    store.insert(key.clone(), text.clone().into_bytes());
                    object(&key, text.as_bytes())
                })
                .collect();
            Listed::Folder {
                uri: format!("s3://{BUCKET}/{prefix}"),
                prefix: prefix.to_string(),
                objects,
            }
        };
    let mut listed = ListedCode {
        entry_file: None,
        source_dir: None,
        dependencies: vec![],
    };
    match &code.source_dir {
        Some(CodeLocation::Beside { prefix }) => {
            listed.source_dir = Some(listed_folder(
                &format!("{FOLDER}{prefix}"),
                &case.inputs.code,
                &mut store,
            ));
        }
        Some(CodeLocation::S3Tarball { key, .. }) => {
            let data = tar_gz(&case.inputs.code);
            let members = shared::packing::member_names(&data[..]).map_err(|e| e.to_string())?;
            let o = object(key, &data);
            store.insert(key.clone(), data);
            listed.source_dir = Some(Listed::Tarball { object: o, members });
        }
        Some(other) => return Err(format!("unexpected source_dir {other:?}")),
        None => {
            let (rel, text) = case.inputs.code.iter().next().ok_or("no entry file")?;
            let key = format!("{FOLDER}{rel}");
            store.insert(key.clone(), text.clone().into_bytes());
            listed.entry_file = Some(object(&key, text.as_bytes()));
        }
    }
    if case.dependencies {
        // deps/mylib/<file>: the SDK's dependency folder "mylib".
        let files: BTreeMap<String, String> = case
            .inputs
            .dependencies
            .iter()
            .map(|(k, v)| (k.strip_prefix("mylib/").unwrap_or(k).to_string(), v.clone()))
            .collect();
        let dep = listed_folder(&format!("{FOLDER}deps/mylib/"), &files, &mut store);
        let name = code.dependencies[0]
            .folder_name()
            .ok_or("dependency name")?
            .to_string();
        listed.dependencies.push((name, dep));
    }

    let ours_uri = "s3://models-bucket/packed/demo/abc/sourcedir.tar.gz";
    let repacked_uri = "s3://models-bucket/packed/demo/abc/model.tar.gz";
    let given = uses_given_tarball(mode, &code);
    let (our_mode, archive, sourcedir_uri) = match (mode, &given) {
        (Mode::SourceDir, Some(uri)) => ("none", None, uri.clone()),
        _ => {
            let plan = layout(mode, &code, &listed).map_err(|e| e.to_string())?;
            let mut open = |o: &ObjectRef| -> io::Result<Box<dyn Read>> {
                Ok(Box::new(io::Cursor::new(
                    store.get(&o.key).cloned().unwrap_or_default(),
                )))
            };
            let model_bytes = store[&artifact.key].clone();
            let mut model_reader = &model_bytes[..];
            let model: Option<&mut dyn Read> = match mode {
                Mode::Repack { .. } => Some(&mut model_reader),
                Mode::SourceDir => None,
            };
            let (out, _) =
                write_archive(Vec::new(), &plan, model, &mut open).map_err(|e| e.to_string())?;
            let name = if matches!(mode, Mode::SourceDir) {
                "sourcedir"
            } else {
                "repack"
            };
            (name, Some(entries(&out)), ours_uri.to_string())
        }
    };
    if our_mode != case.mode {
        return Err(format!("mode {our_mode} != sdk {}", case.mode));
    }
    let env = environment(
        &settings.environment,
        mode,
        &code,
        &sourcedir_uri,
        &case.region,
    );
    let expected: BTreeMap<String, String> = case
        .environment
        .iter()
        .map(|(k, v)| {
            let v = match v.as_str() {
                "{sourcedir}" => ours_uri.to_string(),
                "{source_tarball}" => format!("s3://{BUCKET}/{FOLDER}code.tar.gz"),
                _ => v.clone(),
            };
            (k.clone(), v)
        })
        .collect();
    if env != expected {
        return Err(format!("environment\n  ours {env:?}\n  sdk  {expected:?}"));
    }
    let model_data = match mode {
        Mode::Repack { .. } => "{repacked}",
        Mode::SourceDir => "{artifact}",
    };
    if model_data != case.model_data {
        return Err(format!(
            "model data {model_data} != sdk {}",
            case.model_data
        ));
    }
    let _ = repacked_uri;
    let mut sdk = case.archive.clone();
    if let Some(a) = sdk.as_mut() {
        a.sort();
    }
    if archive != sdk {
        return Err(format!("archive\n  ours {archive:#?}\n  sdk  {sdk:#?}"));
    }
    Ok(())
}
