//! What the SDK computes at run time with Python's `re` and `packaging`,
//! precomputed by the SDK itself: `scripts/refresh-image-uris` runs its code
//! and writes `image_uri_config/resolver-data.json`, which this module reads.
//!
//! - The ECR hostname of a Region: the SDK asks botocore's
//!   `EndpointResolver.construct_endpoint("ecr", region)` (partition Region
//!   patterns), with a fallback for il-central-1.
//! - The version `retrieve()` picks when none is given: the `latest` alias,
//!   else the newer of the first and last version keys by PEP 440.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

const RESOLVER_DATA_JSON: &str = include_str!("../../image_uri_config/resolver-data.json");

#[derive(Debug, Deserialize)]
struct ResolverData {
    /// Framework -> the version the SDK defaults to (`null`: it has none).
    newest_versions: BTreeMap<String, Option<String>>,
    /// Region -> ECR hostname, for every Region a framework config or
    /// botocore names and botocore resolves.
    ecr_hostnames: BTreeMap<String, String>,
}

fn data() -> Result<&'static ResolverData, &'static str> {
    static DATA: OnceLock<Result<ResolverData, String>> = OnceLock::new();
    DATA.get_or_init(|| {
        serde_json::from_str(RESOLVER_DATA_JSON).map_err(|e| format!("resolver-data.json: {e}"))
    })
    .as_ref()
    .map_err(String::as_str)
}

/// Outcome of the hostname lookup; the caller turns failures into `ImageUriError`s.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Hostname {
    Found(&'static str),
    /// No partition claims the Region (the SDK fails with a `TypeError`).
    NotFound,
    /// The bundled data is unusable.
    Invalid(String),
}

pub(super) fn ecr_hostname(region: &str) -> Hostname {
    match data() {
        Ok(d) => d
            .ecr_hostnames
            .get(region)
            .map_or(Hostname::NotFound, |h| Hostname::Found(h.as_str())),
        Err(e) => Hostname::Invalid(e.to_string()),
    }
}

/// The version the SDK picks for `framework` when none is requested:
/// `Ok(None)` if it finds none, `Err` if the bundled data does not say.
pub(super) fn newest_version(framework: &str) -> Result<Option<&'static str>, String> {
    let d = data().map_err(str::to_string)?;
    d.newest_versions
        .get(framework)
        .map(Option::as_deref)
        .ok_or_else(|| format!("resolver-data.json has no newest version for {framework}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_dns_suffixes() {
        let h = |r: &str| match ecr_hostname(r) {
            Hostname::Found(h) => h,
            other => panic!("{r}: {other:?}"),
        };
        assert_eq!(h("us-east-1"), "ecr.us-east-1.amazonaws.com");
        assert_eq!(h("il-central-1"), "ecr.il-central-1.amazonaws.com");
        assert_eq!(h("me-west-1"), "ecr.me-west-1.amazonaws.com");
        assert_eq!(h("cn-northwest-1"), "ecr.cn-northwest-1.amazonaws.com.cn");
        assert_eq!(h("us-gov-west-1"), "ecr.us-gov-west-1.amazonaws.com");
        assert_eq!(h("us-iso-east-1"), "ecr.us-iso-east-1.c2s.ic.gov");
        assert_eq!(h("us-isob-east-1"), "ecr.us-isob-east-1.sc2s.sgov.gov");
        assert_eq!(h("us-isof-south-1"), "ecr.us-isof-south-1.csp.hci.ic.gov");
        assert_eq!(h("eu-isoe-west-1"), "ecr.eu-isoe-west-1.cloud.adc-e.uk");
        assert_eq!(ecr_hostname("mars-north-1"), Hostname::NotFound);
        // Lookups are exact, like the SDK's.
        assert_eq!(ecr_hostname("US-EAST-1"), Hostname::NotFound);
        assert_eq!(ecr_hostname("us-east-1 "), Hostname::NotFound);
    }

    #[test]
    fn newest_versions_of_the_bundled_frameworks() {
        for framework in super::super::SUPPORTED_FRAMEWORKS {
            let newest = newest_version(framework).unwrap();
            assert!(newest.is_some_and(|v| !v.is_empty()), "{framework}");
        }
        assert!(newest_version("mxnet").is_err());
    }
}
