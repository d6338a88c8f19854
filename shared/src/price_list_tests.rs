use super::*;

/// The `PriceList` strings of recorded `GetProducts` pages.
fn recorded(files: &[&str]) -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/price_list");
    let mut items = Vec::new();
    for file in files {
        let path = format!("{dir}/{file}");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let page: serde_json::Value = serde_json::from_str(&text).unwrap();
        for item in page["PriceList"].as_array().unwrap() {
            items.push(item.as_str().unwrap().to_string());
        }
    }
    items
}

const US_EAST_1: [&str; 3] = [
    "hosting_us_east_1.page1.json",
    "hosting_us_east_1.page2.json",
    "serverless_us_east_1.json",
];

#[test]
fn hosting_per_instance_type_from_both_pages() {
    let prices = parse_price_list("us-east-1", &recorded(&US_EAST_1)).unwrap();
    let hourly: Vec<(&str, f64)> = prices
        .instance_hourly
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        hourly,
        [
            ("ml.c5.large", 0.102),
            ("ml.m5.large", 0.115),
            ("ml.m6i.large", 0.115),
            ("ml.m6i.xlarge", 0.23),
            ("ml.t2.medium", 0.056),
        ]
    );
    assert_eq!(
        prices.effective_date.as_deref(),
        Some("2025-11-01T00:00:00Z")
    );
}

#[test]
fn serverless_and_provisioned_concurrency_per_memory_size() {
    let prices = parse_price_list("us-east-1", &recorded(&US_EAST_1)).unwrap();
    let sizes: Vec<u32> = prices.serverless_second.keys().copied().collect();
    assert_eq!(sizes, [1, 2, 3, 4, 5, 6]);
    assert_eq!(prices.serverless_second[&1], 0.00002);
    assert_eq!(prices.serverless_second[&2], 0.00004);
    assert_eq!(prices.serverless_second[&6], 0.00012);
    assert_eq!(prices.provisioned_standing_second[&1], 0.000005);
    assert_eq!(prices.provisioned_standing_second[&4], 0.00002);
    // The recorded answer has no duration rate: it stays unknown.
    assert!(prices.provisioned_duration_second.is_empty());
}

#[test]
fn other_regions_usage_types_and_products_are_skipped() {
    let prices = parse_price_list("us-west-2", &recorded(&US_EAST_1)).unwrap();
    // Only the one us-west-2 item mixed into the us-east-1 pages.
    assert_eq!(prices.instance_hourly.len(), 1);
    assert_eq!(prices.instance_hourly["ml.m5.large"], 0.115);
    assert!(prices.serverless_second.is_empty());
    let nothing = parse_price_list("ap-nowhere-1", &recorded(&US_EAST_1)).unwrap();
    assert!(nothing.is_empty());
    assert_eq!(nothing.effective_date, None);
}

#[test]
fn usage_types_are_classified_without_their_region_prefix() {
    assert_eq!(
        classify("EUC1-Host:ml.m5.large"),
        Some(Usage::Hosting("ml.m5.large".into()))
    );
    assert_eq!(
        classify("Host:ml.c5.xlarge"),
        Some(Usage::Hosting("ml.c5.xlarge".into()))
    );
    assert_eq!(
        classify("USE1-ServerlessInf:Mem-3GB"),
        Some(Usage::Serverless(3))
    );
    assert_eq!(
        classify("USE1-ServerlessInf-ProvisionedConcurrency:Usage-2GB"),
        Some(Usage::ProvisionedStanding(2))
    );
    assert_eq!(
        classify("USE1-ProvisionedConcurrency:Mem-5GB"),
        Some(Usage::ProvisionedDuration(5))
    );
    for other in [
        "USE1-Train:ml.m5.large",
        "USE1-Host:ml.m5.large-Spot",
        "USE1-Host:",
        "USE1-Hst:Data-Bytes-Out",
        "USE1-ServerlessInf:Mem-0GB",
        "USE1-ServerlessInf:Mem-2MB",
        "ServerlessInf",
        "",
    ] {
        assert_eq!(classify(other), None, "{other}");
    }
}

/// One item in the documented shape, with the given price dimensions
/// (beginRange, USD); the figures are test inputs, not quotes.
fn item(usage_type: &str, dimensions: &[(&str, &str)], date: &str) -> String {
    let dims: serde_json::Map<String, serde_json::Value> = dimensions
        .iter()
        .enumerate()
        .map(|(i, (begin, usd))| {
            (
                format!("SKU.TERM.RATE{i}"),
                serde_json::json!({"unit": "Second", "beginRange": begin, "endRange": "Inf",
                                   "pricePerUnit": {"USD": usd}}),
            )
        })
        .collect();
    serde_json::json!({
        "product": {"productFamily": "ML Serverless", "sku": "SKU",
                    "attributes": {"regionCode": "eu-central-1", "usagetype": usage_type}},
        "terms": {"OnDemand": {"SKU.TERM": {"effectiveDate": date, "priceDimensions": dims}}}
    })
    .to_string()
}

#[test]
fn tiers_take_the_first_and_the_newest_date_is_kept() {
    let items = [
        item(
            "EUC1-ProvisionedConcurrency:Mem-2GB",
            &[("0", "0.0000200000"), ("1000000", "0.0000100000")],
            "2025-03-01T00:00:00Z",
        ),
        item(
            "EUC1-ServerlessInf:Mem-1GB",
            &[("0", "0.0000240000")],
            "2025-09-01T00:00:00Z",
        ),
        // No USD price, or one that is not a number: skipped, not zero.
        item("EUC1-ServerlessInf:Mem-2GB", &[], "2026-01-01T00:00:00Z"),
        item(
            "EUC1-ServerlessInf:Mem-3GB",
            &[("0", "n/a")],
            "2026-01-01T00:00:00Z",
        ),
    ];
    let prices = parse_price_list("eu-central-1", &items).unwrap();
    assert_eq!(prices.provisioned_duration_second[&2], 0.00002);
    assert_eq!(prices.serverless_second.len(), 1);
    assert_eq!(prices.serverless_second[&1], 0.000024);
    assert_eq!(
        prices.effective_date.as_deref(),
        Some("2025-09-01T00:00:00Z")
    );
}

#[test]
fn a_document_that_is_not_a_price_list_item_is_an_error() {
    let items = [
        item("EUC1-ServerlessInf:Mem-1GB", &[("0", "1")], "d"),
        "{".to_string(),
    ];
    let err = parse_price_list("eu-central-1", &items).unwrap_err();
    assert_eq!(err.index, 1);
    let err = parse_price_list("eu-central-1", &[r#"{"terms": {}}"#.to_string()]).unwrap_err();
    assert!(err.to_string().contains("product"), "{err}");
}
