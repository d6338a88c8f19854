//! The ECR hostname for a Region, resolved like the SDK does: it asks
//! botocore's `EndpointResolver.construct_endpoint("ecr", region)` (legacy
//! partition data from `endpoints.json`), and falls back to
//! `ecr.il-central-1.amazonaws.com` for il-central-1 when that finds nothing.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::pyregex::Pattern;

const PARTITIONS_JSON: &str = include_str!("../../image_uri_config/botocore-partitions.json");

#[derive(Debug, Default, Deserialize)]
struct EndpointData {
    hostname: Option<String>,
    #[serde(rename = "dnsSuffix")]
    dns_suffix: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ServiceData {
    #[serde(default)]
    endpoints: BTreeMap<String, EndpointData>,
    #[serde(default)]
    defaults: EndpointData,
    #[serde(rename = "partitionEndpoint")]
    partition_endpoint: Option<String>,
    #[serde(rename = "isRegionalized")]
    is_regionalized: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct Partition {
    #[serde(rename = "dnsSuffix")]
    dns_suffix: String,
    #[serde(rename = "regionRegex")]
    region_regex: Option<String>,
    #[serde(default)]
    regions: Vec<String>,
    #[serde(default)]
    defaults: EndpointData,
    #[serde(default)]
    services: BTreeMap<String, ServiceData>,
    #[serde(skip)]
    compiled_regex: Option<Pattern>,
}

#[derive(Debug, Deserialize)]
struct PartitionFile {
    partitions: Vec<Partition>,
}

const SERVICE: &str = "ecr";

fn partitions() -> Result<&'static [Partition], &'static str> {
    static PARTITIONS: OnceLock<Result<Vec<Partition>, String>> = OnceLock::new();
    PARTITIONS
        .get_or_init(|| {
            let file: PartitionFile = serde_json::from_str(PARTITIONS_JSON)
                .map_err(|e| format!("botocore-partitions.json: {e}"))?;
            let mut partitions = file.partitions;
            for p in &mut partitions {
                p.compiled_regex = p.region_regex.as_deref().and_then(Pattern::compile);
            }
            Ok(partitions)
        })
        .as_deref()
        .map_err(String::as_str)
}

impl Partition {
    fn matches_region(&self, region: &str) -> bool {
        self.regions.iter().any(|r| r == region)
            || self
                .compiled_regex
                .as_ref()
                .is_some_and(|re| re.matches(region))
    }

    /// botocore's `_resolve` without endpoint variants (no FIPS, no dual-stack).
    fn resolve(&self, service: &ServiceData, endpoint_name: &str) -> Option<String> {
        let endpoint = service.endpoints.get(endpoint_name);
        // The DNS suffix comes from the endpoint itself or else the partition;
        // the hostname template from the endpoint, the service defaults, then
        // the partition defaults.
        let dns_suffix = endpoint
            .and_then(|e| e.dns_suffix.as_deref())
            .unwrap_or(&self.dns_suffix);
        let template = endpoint
            .and_then(|e| e.hostname.as_deref())
            .or(service.defaults.hostname.as_deref())
            .or(self.defaults.hostname.as_deref())?;
        Some(
            template
                .replace("{service}", SERVICE)
                .replace("{region}", endpoint_name)
                .replace("{dnsSuffix}", dns_suffix),
        )
    }
}

/// Outcome of the lookup; the caller turns failures into `ImageUriError`s.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Hostname {
    Found(String),
    /// No partition claims the Region (the SDK fails with a `TypeError`).
    NotFound,
    /// The vendored partition data is unusable.
    Invalid(String),
}

pub(super) fn ecr_hostname(region: &str) -> Hostname {
    match partitions() {
        Ok(partitions) => resolve_in(partitions, region),
        Err(e) => Hostname::Invalid(e.to_string()),
    }
}

/// botocore's `construct_endpoint` without a partition name: the first
/// partition that lists an `ecr` endpoint for the Region, or claims the
/// Region by name or pattern, resolves it.
fn resolve_in(partitions: &[Partition], region: &str) -> Hostname {
    let empty = ServiceData::default();
    for partition in partitions {
        let service = partition.services.get(SERVICE).unwrap_or(&empty);
        let endpoint_name = if service.endpoints.contains_key(region) {
            region
        } else if partition.matches_region(region) {
            match &service.partition_endpoint {
                Some(pe) if !service.is_regionalized.unwrap_or(true) => pe.as_str(),
                _ => region,
            }
        } else {
            continue;
        };
        return match partition.resolve(service, endpoint_name) {
            Some(h) => Hostname::Found(h),
            None => Hostname::Invalid(format!("no hostname template for {SERVICE} in {region}")),
        };
    }
    if region == "il-central-1" {
        return Hostname::Found(format!("{SERVICE}.{region}.amazonaws.com"));
    }
    Hostname::NotFound
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
    }

    #[test]
    fn service_endpoints_override_the_partition_defaults() {
        let json = r#"[
            {"partition": "a", "dnsSuffix": "a.example", "regionRegex": "^a\\-\\w+\\-\\d+$", "regions": ["a-one-1"],
             "defaults": {"hostname": "{service}.{region}.{dnsSuffix}"},
             "services": {"ecr": {"endpoints": {
                "a-one-1": {"hostname": "api.ecr.a-one-1.a.example"},
                "a-two-1": {"dnsSuffix": "other.example"},
                "b-one-1": {}}}}},
            {"partition": "b", "dnsSuffix": "b.example", "regions": ["b-one-1"],
             "defaults": {"hostname": "{service}.{region}.{dnsSuffix}"},
             "services": {"ecr": {"partitionEndpoint": "b-global", "isRegionalized": false,
                                  "defaults": {"hostname": "{service}-svc.{region}.{dnsSuffix}"}}}}
        ]"#;
        let mut partitions: Vec<Partition> = serde_json::from_str(json).unwrap();
        for p in &mut partitions {
            p.compiled_regex = p.region_regex.as_deref().and_then(Pattern::compile);
        }
        let h = |r: &str| resolve_in(&partitions, r);
        let found = |s: &str| Hostname::Found(s.to_string());
        assert_eq!(h("a-one-1"), found("api.ecr.a-one-1.a.example"));
        assert_eq!(h("a-two-1"), found("ecr.a-two-1.other.example"));
        assert_eq!(h("a-three-9"), found("ecr.a-three-9.a.example"));
        // Listed under partition a's ecr endpoints, so a resolves it.
        assert_eq!(h("b-one-1"), found("ecr.b-one-1.a.example"));
        assert_eq!(h("b-two-1"), Hostname::NotFound);
        partitions.remove(0);
        let h = |r: &str| resolve_in(&partitions, r);
        assert_eq!(h("b-one-1"), found("ecr-svc.b-global.b.example"));
    }
}
