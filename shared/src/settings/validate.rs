//! Merges settings sources by precedence and checks every value against
//! what SageMaker Serverless Inference accepts (../SAGEMAKER_FACTS.md).

use super::{
    code, Container, DeploySettings, SettingsError, SettingsLayer, DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MEMORY_SIZE_MB, MAX_CONCURRENCY_LIMIT, MEMORY_SIZES_MB,
};
use crate::{image_uri, naming, tags};
use std::collections::BTreeMap;

/// SageMaker's limits on a container's environment.
const MAX_ENV_ENTRIES: usize = 100;
const MAX_ENV_TEXT: usize = 1024;

/// Resolves the final settings from `layers`, highest precedence first.
///
/// `folder_endpoint_name` is the default endpoint name taken from the
/// artifact's folder; `region` is where the endpoint will run.
pub fn resolve(
    layers: &[&SettingsLayer],
    folder_endpoint_name: Option<&str>,
    region: &str,
) -> Result<DeploySettings, SettingsError> {
    let first =
        |pick: fn(&SettingsLayer) -> Option<&i64>| layers.iter().find_map(|l| pick(l)).copied();

    let raw_name = layers
        .iter()
        .find_map(|l| l.endpoint_name.as_deref())
        .or(folder_endpoint_name)
        .ok_or_else(|| SettingsError::Missing {
            field: "endpoint_name".into(),
            why: "the artifact is not in a folder below the models prefix, so set endpoint_name in deploy.json or metadata".into(),
        })?;
    let endpoint_name = naming::endpoint_name_from(raw_name)?;

    let container_layer =
        layers
            .iter()
            .find(|l| l.names_container())
            .ok_or_else(|| {
                SettingsError::Missing {
            field: "image_uri or framework + framework_version".into(),
            why: "no deploy.json, metadata or function default says which container runs the model"
                .into(),
        }
            })?;
    let container = container_from(container_layer, region)?;
    let code = code::code_from(layers)?;
    if code.is_some() && container.framework.is_none() {
        return Err(SettingsError::Missing {
            field: "framework + framework_version".into(),
            why: "entry_point needs a framework (sklearn, xgboost, pytorch or tensorflow) rather than image_uri: how the code is packed, and which variables the container gets, depend on the framework".into(),
        });
    }

    let memory_size_mb = memory_size(first(|l| l.memory_size_mb.as_ref()))?;
    let max_concurrency = in_range(
        "max_concurrency",
        first(|l| l.max_concurrency.as_ref()).unwrap_or(DEFAULT_MAX_CONCURRENCY.into()),
        1,
        MAX_CONCURRENCY_LIMIT,
    )?;
    let provisioned_concurrency = first(|l| l.provisioned_concurrency.as_ref())
        .map(|p| {
            in_range("provisioned_concurrency", p, 1, max_concurrency).map_err(|_| {
                SettingsError::invalid(
                    "provisioned_concurrency",
                    p,
                    format!("1..{max_concurrency} (at most max_concurrency = {max_concurrency}); omit it for on-demand only"),
                )
            })
        })
        .transpose()?;

    let environment = layers
        .iter()
        .find_map(|l| l.environment.clone())
        .unwrap_or_default();
    check_environment(&environment)?;
    let user_tags = layers
        .iter()
        .find_map(|l| l.tags.clone())
        .unwrap_or_default();
    check_tags(&user_tags)?;

    Ok(DeploySettings {
        endpoint_name,
        container,
        memory_size_mb,
        max_concurrency,
        provisioned_concurrency,
        environment,
        tags: user_tags,
        smoke_test: layers.iter().find_map(|l| l.smoke_test.clone()),
        code,
    })
}

fn container_from(layer: &SettingsLayer, region: &str) -> Result<Container, SettingsError> {
    match (&layer.image_uri, &layer.framework, &layer.framework_version) {
        (Some(_), None, None) if layer.py_version.is_some() => Err(SettingsError::invalid(
            "py_version",
            "set together with image_uri",
            "py_version only with framework + framework_version (image_uri names the image already)",
        )),
        (Some(uri), None, None) => {
            check_image_uri(uri, region)?;
            Ok(Container {
                image_uri: uri.clone(),
                framework: None,
                py_version: None,
                model_data_url: None,
            })
        }
        (Some(_), _, _) => Err(SettingsError::invalid(
            "image_uri",
            "set together with framework/framework_version",
            "either image_uri, or framework + framework_version, not both",
        )),
        (None, Some(framework), Some(version)) => {
            let py_version = layer.py_version.as_deref();
            let image_uri =
                image_uri::resolve_inference_image_py(framework, version, py_version, region)?;
            Ok(Container {
                image_uri,
                framework: Some((framework.clone(), version.clone())),
                py_version: layer.py_version.clone(),
                model_data_url: None,
            })
        }
        (None, Some(framework), None) => Err(SettingsError::Missing {
            field: "framework_version".into(),
            why: format!("framework {framework:?} needs a version, e.g. \"1.7-1\" for xgboost"),
        }),
        (None, None, None) => Err(SettingsError::Missing {
            field: "framework + framework_version".into(),
            why: "py_version was given without a framework and its version".into(),
        }),
        (None, None, _) => Err(SettingsError::Missing {
            field: "framework".into(),
            why: "framework_version was given without a framework (xgboost, sklearn, pytorch or tensorflow)".into(),
        }),
    }
}

/// Serverless endpoints pull only from Amazon ECR in their own Region.
fn check_image_uri(uri: &str, region: &str) -> Result<(), SettingsError> {
    let allowed = format!("an Amazon ECR image in {region}: <account>.dkr.ecr.{region}.amazonaws.com/<repository>[:tag|@sha256:digest]");
    let bad = || SettingsError::invalid("image_uri", format!("{uri:?}"), allowed.clone());
    let (host, repository) = uri.split_once('/').ok_or_else(bad)?;
    let mut parts = host.splitn(5, '.');
    let account = parts.next().unwrap_or_default();
    let (dkr, ecr, image_region) = (parts.next(), parts.next(), parts.next());
    let domain = parts.next().unwrap_or_default();
    let well_formed = account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && dkr == Some("dkr")
        && ecr == Some("ecr")
        && domain.starts_with("amazonaws.com")
        && !repository.is_empty()
        && !repository.contains(char::is_whitespace);
    if !well_formed {
        return Err(bad());
    }
    if image_region != Some(region) {
        return Err(bad());
    }
    Ok(())
}

fn memory_size(value: Option<i64>) -> Result<u32, SettingsError> {
    let value = value.unwrap_or(DEFAULT_MEMORY_SIZE_MB.into());
    MEMORY_SIZES_MB
        .iter()
        .copied()
        .find(|allowed| i64::from(*allowed) == value)
        .ok_or_else(|| {
            SettingsError::invalid(
                "memory_size_mb",
                value,
                "1024, 2048, 3072, 4096, 5120 or 6144",
            )
        })
}

fn in_range(field: &str, value: i64, low: u32, high: u32) -> Result<u32, SettingsError> {
    u32::try_from(value)
        .ok()
        .filter(|v| (low..=high).contains(v))
        .ok_or_else(|| SettingsError::invalid(field, value, format!("{low}..{high}")))
}

fn check_environment(environment: &BTreeMap<String, String>) -> Result<(), SettingsError> {
    if environment.len() > MAX_ENV_ENTRIES {
        return Err(SettingsError::invalid(
            "environment",
            format!("{} variables", environment.len()),
            format!("at most {MAX_ENV_ENTRIES} variables"),
        ));
    }
    for (name, value) in environment {
        let valid_name = name.len() <= MAX_ENV_TEXT
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return Err(SettingsError::invalid(
                "environment",
                format!("variable name {name:?}"),
                "names of letters, digits and _ not starting with a digit, up to 1024 characters",
            ));
        }
        if value.len() > MAX_ENV_TEXT {
            return Err(SettingsError::invalid(
                &format!("environment.{name}"),
                format!("{} characters", value.len()),
                "values up to 1024 characters",
            ));
        }
    }
    Ok(())
}

fn check_tags(user_tags: &BTreeMap<String, String>) -> Result<(), SettingsError> {
    if user_tags.len() > tags::MAX_USER_TAGS {
        return Err(SettingsError::invalid(
            "tags",
            format!("{} tags", user_tags.len()),
            format!(
                "at most {} (SageMaker allows 50, the pipeline uses the rest)",
                tags::MAX_USER_TAGS
            ),
        ));
    }
    for (key, value) in user_tags {
        if tags::is_reserved_key(key) {
            return Err(SettingsError::invalid(
                "tags",
                format!("key {key:?}"),
                format!(
                    "keys not starting with aws: or {} and not {}",
                    tags::PIPELINE_PREFIX,
                    tags::MANAGED_BY_KEY
                ),
            ));
        }
        let key_ok = !key.is_empty() && key.len() <= tags::MAX_KEY_LEN && tags::is_tag_text(key);
        let value_ok = value.len() <= tags::MAX_VALUE_LEN && tags::is_tag_text(value);
        if !key_ok || !value_ok {
            return Err(SettingsError::invalid(
                &format!("tags.{key}"),
                format!("{value:?}"),
                "keys of 1-128 and values of 0-256 letters, digits, spaces and _ . : / = + - @",
            ));
        }
    }
    Ok(())
}
