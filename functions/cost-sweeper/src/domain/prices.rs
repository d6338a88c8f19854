//! The prices of one sweep: the AWS Price List API's answer for the
//! sweep's Region (read once per run), and the embedded table for any rate
//! that answer lacks, or for all of them when the API could not be read.
//! Every rate says which of the two gave it, so each report row can say
//! what priced it and how old that price is.

use crate::domain::instances::is_cpu_x86;
use crate::domain::pricing::{InstanceSpec, PriceTable};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use shared::price_list::SageMakerPrices;

/// Where one rate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    PriceList,
    Table,
}

/// A rate and where it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Priced {
    pub value: f64,
    pub source: Source,
}

/// Which sources priced a row (both when its rates came from each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PricedBy {
    pub price_list: bool,
    pub embedded_table: bool,
}

impl PricedBy {
    pub fn add(&mut self, source: Source) {
        match source {
            Source::PriceList => self.price_list = true,
            Source::Table => self.embedded_table = true,
        }
    }

    pub fn with(mut self, other: PricedBy) -> PricedBy {
        self.price_list |= other.price_list;
        self.embedded_table |= other.embedded_table;
        self
    }
}

/// The price list's answer for one Region, and when it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct LivePrices {
    pub region: String,
    pub prices: SageMakerPrices,
    pub fetched_at: DateTime<Utc>,
}

/// Where this run's prices came from, for the report.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct PriceOrigin {
    /// When the price list was read (RFC 3339), if it was.
    pub price_list_fetched_at: Option<String>,
    /// The newest `effectiveDate` among the price list's rates.
    pub price_list_effective: Option<String>,
    /// Why the price list could not price this run, if it could not.
    pub price_list_error: Option<String>,
    /// When the embedded table's rates for the Region were last checked.
    pub table_as_of: Option<String>,
}

impl PriceOrigin {
    /// How a row priced by `by` was priced, for people.
    pub fn describe(&self, by: PricedBy) -> String {
        let mut parts = Vec::new();
        if by.price_list {
            let at = self.price_list_fetched_at.as_deref().unwrap_or("unknown");
            parts.push(format!("price list (fetched {at})"));
        }
        if by.embedded_table {
            let as_of = self.table_as_of.as_deref().unwrap_or("unknown");
            parts.push(format!("embedded table (as of {as_of})"));
        }
        if parts.is_empty() {
            "-".into()
        } else {
            parts.join(" + ")
        }
    }
}

/// The run's prices: the live answer first, the table behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Prices {
    pub table: PriceTable,
    pub live: Option<LivePrices>,
    /// Why no live answer is used this run (`None` before a run reads it).
    pub live_error: Option<String>,
}

impl Prices {
    pub fn table_only(table: PriceTable) -> Self {
        Prices {
            table,
            live: None,
            live_error: None,
        }
    }

    /// These prices with the price list's answer for `region` in front.
    pub fn with_live(&self, live: LivePrices) -> Self {
        Prices {
            table: self.table.clone(),
            live: Some(live),
            live_error: None,
        }
    }

    /// These prices with the table alone, and why.
    pub fn without_live(&self, why: String) -> Self {
        Prices {
            table: self.table.clone(),
            live: None,
            live_error: Some(why),
        }
    }

    fn live_for(&self, region: &str) -> Option<&SageMakerPrices> {
        self.live
            .as_ref()
            .filter(|l| l.region == region)
            .map(|l| &l.prices)
    }

    pub fn origin(&self, region: &str) -> PriceOrigin {
        let live = self.live.as_ref().filter(|l| l.region == region);
        PriceOrigin {
            price_list_fetched_at: live
                .map(|l| l.fetched_at.to_rfc3339_opts(SecondsFormat::Secs, true)),
            price_list_effective: live.and_then(|l| l.prices.effective_date.clone()),
            price_list_error: self.live_error.clone(),
            table_as_of: self.table.as_of(region).map(str::to_string),
        }
    }

    /// USD per instance-hour of real-time hosting.
    pub fn instance_hourly(&self, region: &str, instance_type: &str) -> Option<Priced> {
        let live = self
            .live_for(region)
            .and_then(|p| p.instance_hourly.get(instance_type).copied());
        pick(live, || self.table.instance_hourly(region, instance_type))
    }

    /// USD per GB-second of on-demand serverless inference at `memory_mb`
    /// (the price list prices each memory size per second).
    pub fn serverless_gb_second(&self, region: &str, memory_mb: u32) -> Option<Priced> {
        let live = self
            .live_for(region)
            .and_then(|p| per_gb_second(&p.serverless_second, memory_mb));
        pick(live, || self.table.serverless_gb_second(region))
    }

    /// USD per GB-second of provisioned concurrency standing ready at `memory_mb`.
    pub fn provisioned_gb_second(&self, region: &str, memory_mb: u32) -> Option<Priced> {
        let live = self
            .live_for(region)
            .and_then(|p| per_gb_second(&p.provisioned_standing_second, memory_mb));
        pick(live, || self.table.provisioned_gb_second(region))
    }

    /// USD per GB-second of inference served by provisioned concurrency:
    /// only the price list has it (the table does not, and it is not guessed).
    pub fn provisioned_duration_gb_second(&self, region: &str, memory_mb: u32) -> Option<Priced> {
        let live = self
            .live_for(region)
            .and_then(|p| per_gb_second(&p.provisioned_duration_second, memory_mb));
        pick(live, || None)
    }

    pub fn instance(&self, instance_type: &str) -> Option<&InstanceSpec> {
        self.table.instance(instance_type)
    }

    /// The cheapest CPU instance with at least `memory_mb` of memory that
    /// has a price in `region` (and a known size): what a serverless
    /// endpoint would move to.
    pub fn cheapest_instance_with(&self, region: &str, memory_mb: u32) -> Option<(String, Priced)> {
        self.table
            .instance_types
            .iter()
            .filter(|(name, spec)| {
                is_cpu_x86(name) && spec.memory_gib * 1024.0 >= f64::from(memory_mb)
            })
            .filter_map(|(name, _)| Some((name.clone(), self.instance_hourly(region, name)?)))
            .min_by(|a, b| a.1.value.total_cmp(&b.1.value))
    }
}

fn pick(live: Option<f64>, table: impl FnOnce() -> Option<f64>) -> Option<Priced> {
    match live {
        Some(value) => Some(Priced {
            value,
            source: Source::PriceList,
        }),
        None => table().map(|value| Priced {
            value,
            source: Source::Table,
        }),
    }
}

/// A per-second price at a whole number of GB, as a per-GB-second rate.
fn per_gb_second(by_gb: &std::collections::BTreeMap<u32, f64>, memory_mb: u32) -> Option<f64> {
    if memory_mb == 0 || memory_mb % 1024 != 0 {
        return None;
    }
    let gb = memory_mb / 1024;
    by_gb.get(&gb).map(|price| price / f64::from(gb))
}

#[cfg(test)]
#[path = "prices_tests.rs"]
mod tests;
