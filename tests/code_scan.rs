//! The functions' sources as tests/template.rs and tests/policy.rs read
//! them: the non-test Rust code of a crate, and the IAM actions of the AWS
//! SDK calls it makes (its own, and those of the shared adapters it uses).

use regex_lite::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

// ------------------------------------------------------------------- sources

/// Removes comments (keeping strings), so commented-out code is not read.
pub fn strip_comments(src: &str) -> String {
    let bytes = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < bytes.len() {
        if src[i..].starts_with("//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if src[i..].starts_with("/*") {
            let end = src[i + 2..]
                .find("*/")
                .map_or(bytes.len(), |p| i + 2 + p + 2);
            out.push(' ');
            i = end;
        } else if bytes[i] == b'"' {
            let end = string_end(src, i);
            out.push_str(&src[i..end]);
            i = end;
        } else if src[i..].starts_with("r\"") || src[i..].starts_with("r#") {
            let hashes = src[i + 1..].chars().take_while(|c| *c == '#').count();
            let close = format!("\"{}", "#".repeat(hashes));
            let body = i + 2 + hashes;
            let end = src[body..]
                .find(&close)
                .map_or(bytes.len(), |p| body + p + close.len());
            out.push_str(&src[i..end]);
            i = end;
        } else if bytes[i] == b'\'' {
            // A char literal ('x', '\n', '"'), or a lifetime ('a).
            let end = if src[i + 1..].starts_with('\\') {
                src[i + 2..].find('\'').map_or(i + 1, |p| i + 2 + p + 1)
            } else {
                match src[i + 1..].char_indices().nth(1) {
                    Some((p, '\'')) => i + 1 + p + 1,
                    _ => i + 1,
                }
            };
            out.push_str(&src[i..end]);
            i = end;
        } else {
            let c = src[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

pub fn string_end(src: &str, start: usize) -> usize {
    let bytes = src.as_bytes();
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Removes `#[cfg(test)] mod name { ... }` blocks (comments already gone).
pub fn strip_test_modules(src: &str) -> String {
    let re = Regex::new(r"#\[cfg\(test\)\]\s*(pub\s+)?mod\s+\w+\s*\{").unwrap();
    let mut out = src.to_string();
    while let Some(m) = re.find(&out) {
        let open = m.end() - 1;
        let mut depth = 0usize;
        let mut i = open;
        let bytes = out.as_bytes();
        let mut end = bytes.len();
        while i < bytes.len() {
            match bytes[i] {
                b'"' => {
                    i = string_end(&out, i);
                    continue;
                }
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        out.replace_range(m.start()..end, "");
    }
    out
}

pub struct Source {
    pub path: PathBuf,
    pub code: String,
}

/// The non-test Rust sources below `dir`.
pub fn sources(dir: &Path) -> Vec<Source> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                if name != "tests" {
                    stack.push(path);
                }
            } else if name.ends_with(".rs")
                && !name.ends_with("_tests.rs")
                && name != "tests.rs"
                && name != "test_support.rs"
            {
                let raw = std::fs::read_to_string(&path).unwrap();
                let code = strip_test_modules(&strip_comments(&raw));
                found.push(Source { path, code });
            }
        }
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}

// ---------------------------------------------------- AWS actions the code calls

/// IAM service prefix of each SDK crate the functions use.
pub const IAM_PREFIX: &[(&str, &str)] = &[
    ("aws_sdk_sagemaker", "sagemaker"),
    ("aws_sdk_sagemakerruntime", "sagemaker"),
    ("aws_sdk_s3", "s3"),
    ("aws_sdk_sns", "sns"),
    ("aws_sdk_cloudwatch", "cloudwatch"),
    ("aws_sdk_sqs", "sqs"),
    ("aws_sdk_dynamodb", "dynamodb"),
    ("aws_sdk_pricing", "pricing"),
    ("aws_sdk_resourcegroupstagging", "tag"),
    ("aws_sdk_servicequotas", "servicequotas"),
];

/// Operation names (snake case) of every `aws-sdk-*` crate in Cargo.lock,
/// read from the crates' own `src/operation/` folders in cargo's registry.
pub fn sdk_operations() -> &'static BTreeMap<String, BTreeSet<String>> {
    static OPS: OnceLock<BTreeMap<String, BTreeSet<String>>> = OnceLock::new();
    OPS.get_or_init(|| {
        let lock = std::fs::read_to_string(root().join("Cargo.lock")).expect("Cargo.lock");
        let package = Regex::new(r#"name = "(aws-sdk-[a-z0-9-]+)"\nversion = "([^"]+)""#).unwrap();
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cargo")
            });
        let registries: Vec<PathBuf> = std::fs::read_dir(cargo_home.join("registry/src"))
            .expect("cargo's registry sources")
            .map(|e| e.unwrap().path())
            .collect();
        let mut ops = BTreeMap::new();
        for caps in package.captures_iter(&lock) {
            let (name, version) = (&caps[1], &caps[2]);
            let dir = registries
                .iter()
                .map(|r| r.join(format!("{name}-{version}/src/operation")))
                .find(|d| d.is_dir())
                .unwrap_or_else(|| {
                    panic!("{name} {version}: sources not in {}", cargo_home.display())
                });
            let names: BTreeSet<String> = std::fs::read_dir(&dir)
                .unwrap()
                .filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect();
            assert!(
                !names.is_empty(),
                "{name} has no operations in {}",
                dir.display()
            );
            ops.entry(name.replace('-', "_"))
                .or_insert_with(BTreeSet::new)
                .extend(names);
        }
        ops
    })
}

pub fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// IAM actions of the SDK calls in `code` (one file, or one function of
/// it). The service is told by the SDK crates the file names.
pub fn actions_in(path: &Path, file_code: &str, code: &str) -> BTreeSet<String> {
    let crate_ref = Regex::new(r"\b(aws_sdk_[a-z0-9_]+)").unwrap();
    let services: BTreeSet<&str> = crate_ref
        .captures_iter(file_code)
        .map(|c| c.get(1).unwrap().as_str())
        .filter(|c| sdk_operations().contains_key(*c))
        .collect();
    let call = Regex::new(r"\.\s*([a-z][a-z0-9_]*)\s*\(\s*\)").unwrap();
    let mut actions = BTreeSet::new();
    for caps in call.captures_iter(code) {
        let op = &caps[1];
        let owners: Vec<&str> = services
            .iter()
            .copied()
            .filter(|s| sdk_operations()[*s].contains(op))
            .collect();
        let service = match owners.as_slice() {
            [] => continue,
            [one] => *one,
            many => panic!(
                "{}: `.{op}()` is an operation of {many:?}; keep one service per adapter file",
                path.display()
            ),
        };
        let prefix = IAM_PREFIX
            .iter()
            .find(|(c, _)| *c == service)
            .unwrap_or_else(|| panic!("{}: add the IAM prefix of {service}", path.display()))
            .1;
        let action = match (prefix, op) {
            // HeadObject is authorised as GetObject, a listing as
            // ListBucket, the parts of a multipart upload as PutObject.
            ("s3", "head_object") => "GetObject".to_string(),
            ("s3", "list_objects_v2") => "ListBucket".to_string(),
            ("s3", "create_multipart_upload" | "upload_part" | "complete_multipart_upload") => {
                "PutObject".to_string()
            }
            // IAM spells it with "AWS" in capitals (the SDK's method does not).
            ("servicequotas", "get_aws_default_service_quota") => {
                "GetAWSDefaultServiceQuota".to_string()
            }
            _ => pascal(op),
        };
        if prefix == "s3" && action == "GetObject" && code.contains("version_id(") {
            actions.insert("s3:GetObjectVersion".to_string());
        }
        actions.insert(format!("{prefix}:{action}"));
    }
    actions
}

/// The shared adapters: method name -> IAM actions it ends in (methods
/// calling other adapter methods included, across adapter files: the
/// outcome reporter ends in the ledger's and the notifier's calls).
pub fn adapter_methods() -> BTreeMap<String, BTreeSet<String>> {
    let fn_re = Regex::new(r"\bfn\s+([a-z_][a-z0-9_]*)").unwrap();
    let call_re = Regex::new(r"\.\s*([a-z_][a-z0-9_]*)\s*\(").unwrap();
    let mut direct: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for source in sources(&root().join("shared/src/aws")) {
        let starts: Vec<(usize, String)> = fn_re
            .captures_iter(&source.code)
            .map(|c| (c.get(0).unwrap().start(), c[1].to_string()))
            .collect();
        for (i, (start, name)) in starts.iter().enumerate() {
            let end = starts.get(i + 1).map_or(source.code.len(), |(s, _)| *s);
            let body = &source.code[*start..end];
            let entry = direct.entry(name.clone()).or_default();
            entry.0.extend(actions_in(&source.path, &source.code, body));
            entry
                .1
                .extend(call_re.captures_iter(body).map(|c| c[1].to_string()));
        }
    }
    // Close over calls between adapter methods.
    let mut resolved: BTreeMap<String, BTreeSet<String>> = direct
        .iter()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    loop {
        let mut changed = false;
        for (name, (_, calls)) in &direct {
            let extra: BTreeSet<String> = calls
                .iter()
                .filter(|c| *c != name)
                .filter_map(|c| resolved.get(c))
                .flatten()
                .cloned()
                .collect();
            let entry = resolved.get_mut(name).unwrap();
            let before = entry.len();
            entry.extend(extra);
            changed |= entry.len() != before;
        }
        if !changed {
            break;
        }
    }
    resolved
}

/// Every IAM action a function's code can call.
pub fn actions_called(crate_dir: &Path) -> BTreeSet<String> {
    let adapters = adapter_methods();
    let call_re = Regex::new(r"\.\s*([a-z_][a-z0-9_]*)\s*\(").unwrap();
    let mut actions = BTreeSet::new();
    for source in sources(&crate_dir.join("src")) {
        actions.extend(actions_in(&source.path, &source.code, &source.code));
        for caps in call_re.captures_iter(&source.code) {
            if let Some(adapter) = adapters.get(&caps[1]) {
                actions.extend(adapter.iter().cloned());
            }
        }
    }
    actions
}
