//! What an endpoint costs: the price table (embedded, per Region,
//! overridable by a JSON file) and the two cost formulas. A price that is
//! not in the table is `None`, never zero: an unknown cost must not look
//! like a saving.

use serde::Deserialize;
use std::collections::BTreeMap;

/// Hours in the month AWS's own calculators use (365 * 24 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;
const SECONDS_PER_HOUR: f64 = 3600.0;

/// The table compiled into the function (see `data/pricing.json`).
const EMBEDDED: &str = include_str!("../../data/pricing.json");

/// Serverless memory sizes AWS accepts, smallest first.
pub const SERVERLESS_MEMORY_SIZES_MB: [u32; 6] = [1024, 2048, 3072, 4096, 5120, 6144];

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceSpec {
    pub vcpu: u32,
    pub memory_gib: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionPrices {
    /// When these rates were last checked (a date, shown in the report).
    #[serde(default)]
    pub as_of: Option<String>,
    /// USD per GB-second of serverless inference (memory configured x duration).
    pub serverless_gb_second: Option<f64>,
    /// USD per GB-second of provisioned concurrency, billed whether used or not.
    pub provisioned_concurrency_gb_second: Option<f64>,
    /// USD per instance-hour, by instance type.
    #[serde(default)]
    pub instance_hourly: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub instance_types: BTreeMap<String, InstanceSpec>,
    #[serde(default)]
    pub regions: BTreeMap<String, RegionPrices>,
}

#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    #[error("pricing file {path}: cannot read it: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("pricing file {path}: not a price table ({source}); expected the format of functions/cost-sweeper/data/pricing.json")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("pricing file {path}: {problem}")]
    Invalid { path: String, problem: String },
}

impl PriceTable {
    /// The table compiled into the function.
    pub fn embedded() -> Self {
        // The embedded file is checked by a unit test; failing here would
        // mean a broken build, not bad input.
        serde_json::from_str(EMBEDDED).expect("embedded pricing.json is valid (unit-tested)")
    }

    /// The embedded table with `path`'s entries laid over it: a Region's
    /// rates and each instance price or spec in the file replace the
    /// embedded ones; everything else is kept.
    pub fn with_override_file(path: &str) -> Result<Self, PricingError> {
        let text = std::fs::read_to_string(path).map_err(|source| PricingError::Read {
            path: path.to_string(),
            source,
        })?;
        let overlay: PriceTable =
            serde_json::from_str(&text).map_err(|source| PricingError::Parse {
                path: path.to_string(),
                source,
            })?;
        let mut table = Self::embedded();
        table
            .merge(overlay)
            .map_err(|problem| PricingError::Invalid {
                path: path.to_string(),
                problem,
            })?;
        Ok(table)
    }

    fn merge(&mut self, overlay: PriceTable) -> Result<(), String> {
        for (name, spec) in overlay.instance_types {
            if spec.memory_gib <= 0.0 {
                return Err(format!("instance type {name}: memory_gib must be above 0"));
            }
            self.instance_types.insert(name, spec);
        }
        for (region, prices) in overlay.regions {
            let negative = prices.instance_hourly.iter().find(|(_, p)| **p < 0.0);
            if let Some((name, price)) = negative {
                return Err(format!("{region} {name}: price {price} is negative"));
            }
            let entry = self.regions.entry(region).or_insert(RegionPrices {
                as_of: None,
                serverless_gb_second: None,
                provisioned_concurrency_gb_second: None,
                instance_hourly: BTreeMap::new(),
            });
            if prices.as_of.is_some() {
                entry.as_of = prices.as_of;
            }
            if prices.serverless_gb_second.is_some() {
                entry.serverless_gb_second = prices.serverless_gb_second;
            }
            if prices.provisioned_concurrency_gb_second.is_some() {
                entry.provisioned_concurrency_gb_second = prices.provisioned_concurrency_gb_second;
            }
            entry.instance_hourly.extend(prices.instance_hourly);
        }
        if !overlay.source.is_empty() {
            self.source = format!("{} + {}", self.source, overlay.source);
        }
        Ok(())
    }

    pub fn instance_hourly(&self, region: &str, instance_type: &str) -> Option<f64> {
        self.regions
            .get(region)?
            .instance_hourly
            .get(instance_type)
            .copied()
    }

    pub fn serverless_gb_second(&self, region: &str) -> Option<f64> {
        self.regions.get(region)?.serverless_gb_second
    }

    pub fn provisioned_gb_second(&self, region: &str) -> Option<f64> {
        self.regions.get(region)?.provisioned_concurrency_gb_second
    }

    pub fn instance(&self, instance_type: &str) -> Option<&InstanceSpec> {
        self.instance_types.get(instance_type)
    }

    /// When `region`'s rates were last checked.
    pub fn as_of(&self, region: &str) -> Option<&str> {
        self.regions.get(region)?.as_of.as_deref()
    }
}

/// Monthly cost of an instance-based variant: hourly rate x count x 730 h.
pub fn persistent_monthly(hourly: f64, instance_count: u32) -> f64 {
    hourly * f64::from(instance_count) * HOURS_PER_MONTH
}

/// Monthly invocations from `invocations` seen over `days` (the lookback,
/// or the endpoint's age when it is younger).
pub fn monthly_invocations(invocations: f64, days: f64) -> f64 {
    invocations * HOURS_PER_MONTH / (days * 24.0)
}

/// Provisioned concurrency of a serverless endpoint, with its prices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Provisioned {
    pub count: u32,
    /// USD per GB-second provisioned, billed around the clock.
    pub standing_gb_second: f64,
    /// USD per GB-second of inference served by provisioned concurrency
    /// (the reduced duration rate), when the price list gives one.
    pub duration_gb_second: Option<f64>,
}

/// Monthly cost of serverless inference: invocations x average duration x
/// memory (GB) x price per GB-second, plus provisioned concurrency (billed
/// per GB-second provisioned around the clock) when configured. Requests
/// provisioned concurrency serves are billed at its reduced duration rate:
/// it serves the share count / average concurrency of them (all when the
/// average concurrency is within the count; bursts over it are not
/// modelled); without a known reduced rate they are billed on demand (an
/// upper bound). Data processing ($ per GB in/out) is not included:
/// CloudWatch has no payload size metric to estimate it from.
pub fn serverless_monthly(
    invocations_per_month: f64,
    average_seconds: f64,
    memory_mb: u32,
    gb_second_price: f64,
    provisioned: Option<Provisioned>,
) -> f64 {
    let gb = f64::from(memory_mb) / 1024.0;
    let busy_seconds = invocations_per_month * average_seconds;
    let Some(pc) = provisioned else {
        return busy_seconds * gb * gb_second_price;
    };
    let month_seconds = HOURS_PER_MONTH * SECONDS_PER_HOUR;
    let standing = f64::from(pc.count) * gb * month_seconds * pc.standing_gb_second;
    let served_share = match pc.duration_gb_second {
        Some(_) if busy_seconds > 0.0 => {
            (f64::from(pc.count) / (busy_seconds / month_seconds)).min(1.0)
        }
        _ => 0.0,
    };
    let reduced = pc.duration_gb_second.unwrap_or(gb_second_price);
    let duration =
        busy_seconds * gb * (served_share * reduced + (1.0 - served_share) * gb_second_price);
    standing + duration
}

/// Serverless memory for a migration when the endpoint's memory use is
/// unknown (no `MemoryUtilization` datapoint): the instance's memory
/// rounded down to a size serverless offers, at least 1024 MB and at most
/// 6144 MB (the serverless maximum). The model fits in the instance's
/// memory today, so giving it as much (up to the cap) is the choice least
/// likely to break it; the smoke test then proves it loads. Overridable
/// per endpoint by tag.
pub fn serverless_memory_for(memory_gib: f64) -> u32 {
    let mb = (memory_gib * 1024.0).floor() as u32;
    SERVERLESS_MEMORY_SIZES_MB
        .iter()
        .rev()
        .copied()
        .find(|size| *size <= mb)
        .unwrap_or(SERVERLESS_MEMORY_SIZES_MB[0])
}

/// Memory kept free above the peak use seen, as a share of that use.
pub const MEMORY_HEADROOM: f64 = 0.25;

/// `used_mb` with its headroom: what a serverless size must hold.
pub fn memory_needed(used_mb: f64) -> f64 {
    used_mb * (1.0 + MEMORY_HEADROOM)
}

/// The smallest serverless size holding `used_mb` with its headroom,
/// rounded up; `None` when even 6144 MB is too small.
pub fn serverless_size_for_use(used_mb: f64) -> Option<u32> {
    let needed = memory_needed(used_mb);
    SERVERLESS_MEMORY_SIZES_MB
        .iter()
        .copied()
        .find(|size| f64::from(*size) >= needed)
}

/// The smallest serverless size holding `used_mb` with its headroom, at
/// most 6144 MB (advice for an endpoint already serverless).
pub fn smallest_memory_for_use(used_mb: f64) -> u32 {
    serverless_size_for_use(used_mb).unwrap_or(SERVERLESS_MEMORY_SIZES_MB[5])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn the_embedded_table_parses_and_knows_us_east_1() {
        let table = PriceTable::embedded();
        assert_eq!(table.serverless_gb_second("us-east-1"), Some(0.00002));
        assert!(table.instance_hourly("us-east-1", "ml.m5.large").is_some());
        // Every priced instance has a spec (memory is needed to size serverless).
        for prices in table.regions.values() {
            for name in prices.instance_hourly.keys() {
                assert!(
                    table.instance(name).is_some(),
                    "{name} has a price but no spec"
                );
            }
        }
    }

    #[test]
    fn unknown_prices_are_none_not_zero() {
        let table = PriceTable::embedded();
        assert_eq!(table.instance_hourly("us-east-1", "ml.m7i.48xlarge"), None);
        assert_eq!(table.instance_hourly("ap-nowhere-1", "ml.m5.large"), None);
        assert_eq!(table.serverless_gb_second("ap-nowhere-1"), None);
    }

    #[test]
    fn the_seed_example_1000_a_day_200ms_2gb_against_m5_large_at_0_134() {
        let persistent = persistent_monthly(0.134, 1);
        assert!(close(persistent, 97.82), "{persistent}");
        // 1,000 a day seen over a 7-day lookback.
        let per_month = monthly_invocations(7_000.0, 7.0);
        assert!(close(per_month, 1_000.0 * 730.0 / 24.0), "{per_month}");
        let serverless = serverless_monthly(per_month, 0.200, 2048, 0.00002, None);
        // 30,416.67 x 0.2 s x 2 GB x $0.00002 = $0.2433
        assert!(
            close(serverless, 30_416.666_666 * 0.2 * 2.0 * 0.00002),
            "{serverless}"
        );
        assert!((serverless - 0.2433).abs() < 0.0001);
        assert!((persistent - serverless - 97.5767).abs() < 0.0001);
    }

    #[test]
    fn us_east_1_rates_match_the_price_list() {
        let table = PriceTable::embedded();
        let hourly = |t: &str| table.instance_hourly("us-east-1", t);
        assert_eq!(hourly("ml.m6i.large"), Some(0.115));
        assert_eq!(hourly("ml.m6i.xlarge"), Some(0.23));
        // ProvisionedConcurrency:Usage, per GB-second provisioned.
        assert_eq!(table.provisioned_gb_second("us-east-1"), Some(0.000005));
    }

    #[test]
    fn the_seed_example_from_the_current_us_east_1_rates() {
        // 1,000 requests a day, 200 ms, 2 GB serverless vs one ml.m5.large.
        let table = PriceTable::embedded();
        let hourly = table.instance_hourly("us-east-1", "ml.m5.large").unwrap();
        let gb_second = table.serverless_gb_second("us-east-1").unwrap();
        assert_eq!((hourly, gb_second), (0.115, 0.00002));
        let persistent = persistent_monthly(hourly, 1);
        assert!(close(persistent, 83.95), "{persistent}");
        let per_month = monthly_invocations(7_000.0, 7.0);
        let serverless = serverless_monthly(per_month, 0.200, 2048, gb_second, None);
        // 30,416.67 x 0.2 s x 2 GB x $0.00002 = $0.2433
        assert!((serverless - 0.2433).abs() < 0.0001, "{serverless}");
        assert!((persistent - serverless - 83.7067).abs() < 0.0001);
    }

    #[test]
    fn instance_count_multiplies_the_persistent_cost() {
        assert!(close(persistent_monthly(0.115, 3), 0.115 * 3.0 * 730.0));
        assert_eq!(persistent_monthly(0.115, 0), 0.0);
    }

    #[test]
    fn provisioned_concurrency_is_billed_around_the_clock() {
        let pc = |duration_gb_second| Provisioned {
            count: 2,
            standing_gb_second: 0.000005,
            duration_gb_second,
        };
        let idle = serverless_monthly(0.0, 0.0, 1024, 0.00002, Some(pc(None)));
        assert!(close(idle, 2.0 * 1.0 * 730.0 * 3600.0 * 0.000005), "{idle}");
        assert_eq!(serverless_monthly(0.0, 0.3, 6144, 0.00002, None), 0.0);
        // 100,000 calls of 1 s on 2 GB: average concurrency 0.038, within
        // the 2 provisioned: all of them at the reduced rate, when known.
        let standing = 2.0 * 2.0 * 730.0 * 3600.0 * 0.000005;
        let reduced = serverless_monthly(100_000.0, 1.0, 2048, 0.00002, Some(pc(Some(0.000004))));
        assert!(
            close(reduced, standing + 100_000.0 * 2.0 * 0.000004),
            "{reduced}"
        );
        let unknown = serverless_monthly(100_000.0, 1.0, 2048, 0.00002, Some(pc(None)));
        assert!(
            close(unknown, standing + 100_000.0 * 2.0 * 0.00002),
            "{unknown}"
        );
        // 2 units against an average concurrency of 4: half of the duration reduced.
        let busy = 4.0 * 730.0 * 3600.0;
        let half = serverless_monthly(busy, 1.0, 1024, 0.00002, Some(pc(Some(0.000004))));
        let expected = standing / 2.0 + busy * (0.5 * 0.000004 + 0.5 * 0.00002);
        assert!(close(half, expected), "{half} vs {expected}");
    }

    #[test]
    fn memory_rule_rounds_down_to_a_serverless_size_within_limits() {
        assert_eq!(serverless_memory_for(4.0), 4096); // ml.c5.large
        assert_eq!(serverless_memory_for(3.75), 3072); // ml.c4.large
        assert_eq!(serverless_memory_for(8.0), 6144); // ml.m5.large: capped
        assert_eq!(serverless_memory_for(0.5), 1024); // never below the minimum
    }

    #[test]
    fn memory_from_use_rounds_up_and_has_no_size_above_6_gb() {
        assert_eq!(serverless_size_for_use(819.2), Some(1024));
        assert_eq!(serverless_size_for_use(2867.2), Some(4096));
        assert_eq!(serverless_size_for_use(4915.2), Some(6144));
        assert_eq!(serverless_size_for_use(4916.0), None);
    }

    #[test]
    fn shrink_suggestion_keeps_a_quarter_headroom() {
        assert_eq!(smallest_memory_for_use(700.0), 1024);
        assert_eq!(smallest_memory_for_use(900.0), 2048);
        assert_eq!(smallest_memory_for_use(9000.0), 6144);
    }

    #[test]
    fn an_override_file_replaces_only_what_it_names() {
        let dir = std::env::temp_dir().join(format!("pricing-override-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("prices.json");
        std::fs::write(
            &path,
            r#"{"regions": {"us-east-1": {"instance_hourly": {"ml.m5.large": 0.134}},
                            "ap-south-2": {"serverless_gb_second": 0.00003}}}"#,
        )
        .unwrap();
        let table = PriceTable::with_override_file(path.to_str().unwrap()).unwrap();
        assert_eq!(
            table.instance_hourly("us-east-1", "ml.m5.large"),
            Some(0.134)
        );
        assert_eq!(
            table.instance_hourly("us-east-1", "ml.c5.large"),
            Some(0.102)
        );
        assert_eq!(table.serverless_gb_second("us-east-1"), Some(0.00002));
        assert_eq!(table.serverless_gb_second("ap-south-2"), Some(0.00003));

        std::fs::write(
            &path,
            r#"{"regions": {"us-east-1": {"instance_hourly": {"ml.m5.large": -1}}}}"#,
        )
        .unwrap();
        let err = PriceTable::with_override_file(path.to_str().unwrap()).unwrap_err();
        assert!(err.to_string().contains("negative"), "{err}");
        std::fs::write(&path, r#"{"regoins": {}}"#).unwrap();
        assert!(matches!(
            PriceTable::with_override_file(path.to_str().unwrap()),
            Err(PricingError::Parse { .. })
        ));
    }
}
