use super::*;
use shared::price_list::parse_price_list;

/// The recorded GetProducts pages for `region` (shared/tests/data/price_list/).
fn recorded(region: &str) -> SageMakerPrices {
    let pages = [
        include_str!("../../../../shared/tests/data/price_list/hosting_eu_central_1.json"),
        include_str!("../../../../shared/tests/data/price_list/serverless_eu_central_1.json"),
        include_str!("../../../../shared/tests/data/price_list/hosting_us_east_1.page1.json"),
        include_str!("../../../../shared/tests/data/price_list/hosting_us_east_1.page2.json"),
        include_str!("../../../../shared/tests/data/price_list/serverless_us_east_1.json"),
    ];
    let mut items = Vec::new();
    for page in pages {
        let page: serde_json::Value = serde_json::from_str(page).unwrap();
        for item in page["PriceList"].as_array().unwrap() {
            items.push(item.as_str().unwrap().to_string());
        }
    }
    parse_price_list(region, &items).unwrap()
}

fn live(region: &str) -> Prices {
    Prices::table_only(PriceTable::embedded()).with_live(LivePrices {
        region: region.into(),
        prices: recorded(region),
        fetched_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
    })
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn a_region_outside_the_table_is_priced_from_the_price_list() {
    let prices = live("eu-central-1");
    let m5 = prices
        .instance_hourly("eu-central-1", "ml.m5.large")
        .unwrap();
    assert_eq!((m5.value, m5.source), (0.138, Source::PriceList));
    // EUC1-ServerlessInf:Mem-6GB is $0.000144 per second: per GB-second / 6.
    let serverless = prices.serverless_gb_second("eu-central-1", 6144).unwrap();
    assert!(close(serverless.value, 0.000024), "{serverless:?}");
    assert_eq!(serverless.source, Source::PriceList);
    let standing = prices.provisioned_gb_second("eu-central-1", 2048).unwrap();
    assert!(close(standing.value, 0.000006), "{standing:?}");
    // In neither the answer nor the table: unknown, not zero.
    assert_eq!(prices.instance_hourly("eu-central-1", "ml.r5.large"), None);
    // Not a size serverless offers.
    assert_eq!(prices.serverless_gb_second("eu-central-1", 1536), None);
    // The table does not know eu-central-1: without the answer, nothing.
    let table = prices.without_live("GetProducts failed".into());
    assert_eq!(table.instance_hourly("eu-central-1", "ml.m5.large"), None);
    assert_eq!(table.serverless_gb_second("eu-central-1", 6144), None);
}

#[test]
fn a_rate_the_answer_lacks_comes_from_the_table_and_says_so() {
    let prices = live("us-east-1");
    let listed = prices.instance_hourly("us-east-1", "ml.m5.large").unwrap();
    assert_eq!(listed.source, Source::PriceList);
    let unlisted = prices.instance_hourly("us-east-1", "ml.m5.xlarge").unwrap();
    assert_eq!((unlisted.value, unlisted.source), (0.23, Source::Table));
    // No ProvisionedConcurrency:Mem item in the answer, none in the table.
    assert_eq!(
        prices.provisioned_duration_gb_second("us-east-1", 2048),
        None
    );
    // An answer for another Region is never used.
    let other = live("eu-central-1");
    let m5 = other.instance_hourly("us-east-1", "ml.m5.large").unwrap();
    assert_eq!(m5.source, Source::Table);
}

#[test]
fn the_reduced_provisioned_duration_rate_only_from_the_price_list() {
    let mut prices = live("us-east-1");
    if let Some(l) = prices.live.as_mut() {
        l.prices.provisioned_duration_second.insert(2, 0.000008);
    }
    let rate = prices
        .provisioned_duration_gb_second("us-east-1", 2048)
        .unwrap();
    assert!(close(rate.value, 0.000004), "{rate:?}");
    assert_eq!(rate.source, Source::PriceList);
}

#[test]
fn the_origin_says_which_source_and_how_old() {
    let prices = live("eu-central-1");
    let origin = prices.origin("eu-central-1");
    assert_eq!(
        origin.price_list_fetched_at.as_deref(),
        Some("2027-01-15T08:00:00Z")
    );
    assert_eq!(
        origin.price_list_effective.as_deref(),
        Some("2025-11-01T00:00:00Z")
    );
    let both = PricedBy {
        price_list: true,
        embedded_table: true,
    };
    let table = prices.without_live("GetProducts failed (AccessDenied)".into());
    let us = table.origin("us-east-1");
    assert_eq!(us.table_as_of.as_deref(), Some("2026-12-02"));
    assert_eq!(
        us.price_list_error.as_deref(),
        Some("GetProducts failed (AccessDenied)")
    );
    assert_eq!(
        us.describe(both),
        "price list (fetched unknown) + embedded table (as of 2026-12-02)"
    );
    assert_eq!(
        origin.describe(PricedBy {
            price_list: true,
            embedded_table: false
        }),
        "price list (fetched 2027-01-15T08:00:00Z)"
    );
    assert_eq!(origin.describe(PricedBy::default()), "-");
}

#[test]
fn the_cheapest_cpu_instance_with_enough_memory() {
    let table = Prices::table_only(PriceTable::embedded());
    let (name, _) = table.cheapest_instance_with("us-east-1", 6144).unwrap();
    assert_eq!(name, "ml.t2.large");
    let (name, price) = table.cheapest_instance_with("us-east-1", 2048).unwrap();
    assert_eq!(name, "ml.t2.medium");
    assert_eq!(price.source, Source::Table);
    // From the answer where it has the rate (ml.t2.medium: $0.065 in eu-central-1).
    let eu = live("eu-central-1");
    let (name, price) = eu.cheapest_instance_with("eu-central-1", 2048).unwrap();
    assert_eq!((name.as_str(), price.value), ("ml.t2.medium", 0.065));
    assert_eq!(price.source, Source::PriceList);
}
