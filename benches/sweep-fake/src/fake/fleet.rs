//! The synthetic fleet: what endpoint `i` is, its name, variants, tags and
//! daily metrics, all computed from its index (no per-endpoint state).

use serde_json::{json, Value};

pub(crate) const ACCOUNT: &str = "123456789012";
/// A day, in seconds (creation times and daily datapoints).
pub(super) const DAY: i64 = 86_400;

/// What endpoint `i` is: a fixed mix, the same at every fleet size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One ml.m5.large, a few invocations a day: a migration candidate.
    IdleCpu,
    /// One ml.m5.large with no datapoints at all (no traffic).
    SilentCpu,
    /// 50,000 invocations a day: stays.
    BusyCpu,
    /// ml.g5.xlarge, idle: GPU, not migratable.
    Gpu,
    /// Two ml.c5.large variants, idle.
    MultiVariant,
    /// Already serverless.
    Serverless,
    /// Idle but tagged serverless-migration=exclude.
    OptedOut,
    /// Idle but created yesterday (inside the grace period).
    Young,
    /// Two ml.m5.xlarge instances, idle.
    IdleCpuTwoInstances,
}

const MIX: [Kind; 10] = [
    Kind::IdleCpu,
    Kind::SilentCpu,
    Kind::IdleCpu,
    Kind::BusyCpu,
    Kind::Gpu,
    Kind::MultiVariant,
    Kind::Serverless,
    Kind::OptedOut,
    Kind::Young,
    Kind::IdleCpuTwoInstances,
];

pub fn kind(index: usize) -> Kind {
    MIX[index % MIX.len()]
}

pub(super) fn name(index: usize) -> String {
    format!("bench-fleet-{index:05}")
}

pub fn index_of(name: &str) -> Option<usize> {
    name.strip_prefix("bench-fleet-")?.get(..5)?.parse().ok()
}

pub(super) struct VariantSpec {
    pub(super) name: &'static str,
    pub(super) instance_type: Option<&'static str>,
    pub(super) count: u32,
}

pub(super) fn variants(kind: Kind) -> Vec<VariantSpec> {
    let one = |instance_type, count| VariantSpec {
        name: "AllTraffic",
        instance_type,
        count,
    };
    match kind {
        Kind::Gpu => vec![one(Some("ml.g5.xlarge"), 1)],
        Kind::MultiVariant => vec![
            VariantSpec {
                name: "Blue",
                instance_type: Some("ml.c5.large"),
                count: 1,
            },
            VariantSpec {
                name: "Green",
                instance_type: Some("ml.c5.large"),
                count: 1,
            },
        ],
        Kind::Serverless => vec![one(None, 0)],
        Kind::IdleCpuTwoInstances => vec![one(Some("ml.m5.xlarge"), 2)],
        _ => vec![one(Some("ml.m5.large"), 1)],
    }
}

/// The tags of endpoint `i`.
pub(super) fn tags(i: usize) -> Vec<Value> {
    let mut tags = vec![
        json!({"Key": "team", "Value": "bench"}),
        json!({
            "Key": "serverless-migration:smoke-test",
            "Value": format!("s3://bench-models-{ACCOUNT}/smoke/{}.json", name(i)),
        }),
    ];
    if kind(i) == Kind::OptedOut {
        tags.push(json!({"Key": "serverless-migration", "Value": "exclude"}));
    }
    tags
}

/// The value of each daily bucket, or `None` for no datapoints.
pub(super) fn daily_value(kind: Kind, metric: &str) -> Option<f64> {
    let invocations = match kind {
        Kind::SilentCpu => return None,
        Kind::BusyCpu => 50_000.0,
        _ => 4.0,
    };
    match metric {
        "Invocations" => Some(invocations),
        "ModelLatency" => Some(if kind == Kind::BusyCpu {
            8_000.0
        } else {
            25_000.0
        }),
        "MemoryUtilization" => Some(35.0),
        _ => None,
    }
}
