//! The SageMaker prices the cost sweeper needs, read from the AWS Price List
//! Query API's `GetProducts` answer (service code `AmazonSageMaker`).
//!
//! Each `PriceList` entry is a JSON document in a string: `product.attributes`
//! (with `usagetype` and `regionCode`) and `terms.OnDemand.<offer>` with
//! `effectiveDate` and `priceDimensions.<rate>.pricePerUnit.USD`. Usage types
//! carry a Region prefix (`USE1-`, `EUC1-`, ...) that is not needed here:
//!
//! | usage type | price |
//! | --- | --- |
//! | `<prefix>-Host:<instance type>` | real-time hosting, per instance-hour |
//! | `<prefix>-ServerlessInf:Mem-<N>GB` | on-demand serverless inference, per second at N GB |
//! | `...ProvisionedConcurrency:Usage-<N>GB` | provisioned concurrency, per second provisioned at N GB |
//! | `...ProvisionedConcurrency:Mem-<N>GB` | inference served by provisioned concurrency, per second at N GB |
//!
//! Items of other usage types are ignored; an item without an on-demand USD
//! price is ignored too (nothing is guessed: a missing price stays missing).

use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// Prices of one Region, as the price list gives them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SageMakerPrices {
    /// USD per instance-hour of real-time hosting, by instance type.
    pub instance_hourly: BTreeMap<String, f64>,
    /// USD per second of on-demand serverless inference, by memory (GB).
    pub serverless_second: BTreeMap<u32, f64>,
    /// USD per second of one provisioned-concurrency unit standing ready,
    /// used or not, by memory (GB).
    pub provisioned_standing_second: BTreeMap<u32, f64>,
    /// USD per second of inference served by provisioned concurrency (the
    /// reduced duration rate), by memory (GB).
    pub provisioned_duration_second: BTreeMap<u32, f64>,
    /// The newest `effectiveDate` among the prices read (ISO 8601), if any.
    pub effective_date: Option<String>,
}

impl SageMakerPrices {
    pub fn is_empty(&self) -> bool {
        self.instance_hourly.is_empty()
            && self.serverless_second.is_empty()
            && self.provisioned_standing_second.is_empty()
            && self.provisioned_duration_second.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("price list item {index} is not a price list document: {problem}")]
pub struct PriceListError {
    pub index: usize,
    pub problem: String,
}

#[derive(Debug, Deserialize)]
struct Item {
    product: Product,
    #[serde(default)]
    terms: Terms,
}

#[derive(Debug, Deserialize)]
struct Product {
    #[serde(default)]
    attributes: HashMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct Terms {
    #[serde(rename = "OnDemand", default)]
    on_demand: HashMap<String, Offer>,
}

#[derive(Debug, Deserialize)]
struct Offer {
    #[serde(rename = "effectiveDate")]
    effective_date: Option<String>,
    #[serde(rename = "priceDimensions", default)]
    price_dimensions: HashMap<String, Dimension>,
}

#[derive(Debug, Deserialize)]
struct Dimension {
    #[serde(rename = "beginRange")]
    begin_range: Option<String>,
    #[serde(rename = "pricePerUnit", default)]
    price_per_unit: HashMap<String, String>,
}

/// What a usage type prices.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Usage {
    Hosting(String),
    Serverless(u32),
    ProvisionedStanding(u32),
    ProvisionedDuration(u32),
}

/// `"Mem-2GB"` with prefix `"Mem-"` gives 2.
fn gigabytes(detail: &str, prefix: &str) -> Option<u32> {
    let n: u32 = detail
        .strip_prefix(prefix)?
        .strip_suffix("GB")?
        .parse()
        .ok()?;
    (n > 0).then_some(n)
}

fn classify(usage_type: &str) -> Option<Usage> {
    let (kind, detail) = usage_type.split_once(':')?;
    // "USE1-Host" -> "Host"; "ProvisionedConcurrency" has no prefix to drop.
    let kind = kind.rsplit('-').next()?;
    match kind {
        "Host" => {
            let valid = detail.strip_prefix("ml.").is_some_and(|rest| {
                !rest.is_empty()
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.')
            });
            valid.then(|| Usage::Hosting(detail.to_string()))
        }
        "ServerlessInf" => gigabytes(detail, "Mem-").map(Usage::Serverless),
        "ProvisionedConcurrency" => gigabytes(detail, "Usage-")
            .map(Usage::ProvisionedStanding)
            .or_else(|| gigabytes(detail, "Mem-").map(Usage::ProvisionedDuration)),
        _ => None,
    }
}

/// The on-demand USD price of an item and its effective date: the single
/// price its dimensions agree on, else the first tier's (`beginRange` 0).
fn on_demand_usd(terms: &Terms) -> Option<(f64, Option<&str>)> {
    let mut prices = Vec::new();
    for offer in terms.on_demand.values() {
        for dimension in offer.price_dimensions.values() {
            let Some(usd) = dimension.price_per_unit.get("USD") else {
                continue;
            };
            let Ok(price) = usd.trim().parse::<f64>() else {
                continue;
            };
            if price.is_finite() && price >= 0.0 {
                let first_tier = dimension.begin_range.as_deref().is_none_or(|b| b == "0");
                prices.push((price, first_tier, offer.effective_date.as_deref()));
            }
        }
    }
    let all_equal = prices.windows(2).all(|w| w[0].0 == w[1].0);
    let chosen = if all_equal {
        prices.first()
    } else {
        let mut first_tiers = prices.iter().filter(|p| p.1);
        match (first_tiers.next(), first_tiers.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    };
    chosen.map(|(price, _, date)| (*price, *date))
}

/// Reads the `PriceList` strings of `GetProducts` answers for `region`.
/// Items of another Region (by `regionCode`) are ignored; an entry that is
/// not a JSON price list document is an error.
pub fn parse_price_list(region: &str, items: &[String]) -> Result<SageMakerPrices, PriceListError> {
    let mut prices = SageMakerPrices::default();
    for (index, text) in items.iter().enumerate() {
        let item: Item = serde_json::from_str(text).map_err(|e| PriceListError {
            index,
            problem: e.to_string(),
        })?;
        let attributes = &item.product.attributes;
        if attributes.get("regionCode").is_some_and(|r| r != region) {
            continue;
        }
        let Some(usage) = attributes.get("usagetype").and_then(|u| classify(u)) else {
            continue;
        };
        let Some((price, date)) = on_demand_usd(&item.terms) else {
            continue;
        };
        match usage {
            Usage::Hosting(instance_type) => {
                prices.instance_hourly.insert(instance_type, price);
            }
            Usage::Serverless(gb) => {
                prices.serverless_second.insert(gb, price);
            }
            Usage::ProvisionedStanding(gb) => {
                prices.provisioned_standing_second.insert(gb, price);
            }
            Usage::ProvisionedDuration(gb) => {
                prices.provisioned_duration_second.insert(gb, price);
            }
        }
        if let Some(date) = date {
            if prices.effective_date.as_deref().is_none_or(|d| d < date) {
                prices.effective_date = Some(date.to_string());
            }
        }
    }
    Ok(prices)
}

#[cfg(test)]
#[path = "price_list_tests.rs"]
mod tests;
