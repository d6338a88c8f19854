//! The AWS Price List Query API's `GetProducts` (AWS JSON 1.1,
//! `AWSPriceListService.GetProducts`) for the fake: pages in the
//! documented `aws_v1` format of the recorded answers in
//! shared/tests/data/price_list/, for us-east-1 only (the fleet's Region):
//! real-time hosting for every instance type SageMaker hosting accepts
//! (the SDK's `ProductionVariantInstanceType` list, so the answer is as
//! long as a real one), serverless inference and provisioned concurrency
//! at 1-6 GB. Rates are the sweeper's embedded table's where it has one,
//! so the fleet is decided as before; other types get a placeholder (bench
//! input, not a quote). Items are built per request and dropped: the fake
//! keeps nothing, the sweeper's own copy is what the RSS figure shows.

use aws_sdk_sagemaker::types::ProductionVariantInstanceType;
use cost_sweeper::domain::pricing::{PriceTable, RegionPrices};
use serde_json::{json, Value};

const REGION: &str = "us-east-1";
const PREFIX: &str = "USE1";
/// Per instance-hour, for types the embedded table does not price.
const PLACEHOLDER_HOURLY: f64 = 1.0;
const MAX_PAGE: usize = 100;

/// `(status, output)` for one Price List operation.
pub fn answer(op: &str, input: &Value) -> (u16, Value) {
    if op != "GetProducts" {
        return (
            400,
            json!({"__type": "UnknownOperationException", "message": format!("{op} is not faked")}),
        );
    }
    let filter = |field: &str| {
        input
            .get("Filters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|f| f.get("Field").and_then(Value::as_str) == Some(field))
            .and_then(|f| f.get("Value").and_then(Value::as_str))
            .unwrap_or_default()
            .to_string()
    };
    let (region, usage) = (filter("regionCode"), filter("usagetype"));
    let service = input.get("ServiceCode").and_then(Value::as_str);
    let items: Vec<String> = if region == REGION && service == Some("AmazonSageMaker") {
        catalogue()
            .into_iter()
            .filter(|(usage_type, _)| usage_type.contains(usage.as_str()))
            .map(|(_, item)| item)
            .collect()
    } else {
        Vec::new()
    };
    let size = input
        .get("MaxResults")
        .and_then(Value::as_u64)
        .map_or(MAX_PAGE, |n| (n as usize).clamp(1, MAX_PAGE));
    let from: usize = input
        .get("NextToken")
        .and_then(Value::as_str)
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let page: Vec<&String> = items.iter().skip(from).take(size).collect();
    let mut out = json!({"FormatVersion": "aws_v1", "PriceList": page});
    if from + size < items.len() {
        out["NextToken"] = json!((from + size).to_string());
    }
    (200, out)
}

/// Every item of the fake price list: (usage type, item as sent).
fn catalogue() -> Vec<(String, String)> {
    let table = PriceTable::embedded();
    let prices: Option<&RegionPrices> = table.regions.get(REGION);
    let mut items = Vec::new();
    for instance_type in ProductionVariantInstanceType::values() {
        let hourly = prices
            .and_then(|p| p.instance_hourly.get(*instance_type))
            .copied()
            .unwrap_or(PLACEHOLDER_HOURLY);
        let usage_type = format!("{PREFIX}-Host:{instance_type}");
        let attributes = json!({"instanceType": instance_type, "component": "Hosting"});
        items.push(item(&usage_type, "ML Instance", attributes, "Hrs", hourly));
    }
    // Per GB-second in the table; the price list quotes per second at N GB.
    let per_gb = [
        (
            "ServerlessInf:Mem",
            prices.and_then(|p| p.serverless_gb_second),
        ),
        (
            "ServerlessInf-ProvisionedConcurrency:Usage",
            prices.and_then(|p| p.provisioned_concurrency_gb_second),
        ),
    ];
    for gb in 1..=6u32 {
        for (usage, rate) in per_gb {
            let Some(rate) = rate else { continue };
            let usage_type = format!("{PREFIX}-{usage}-{gb}GB");
            let component = json!({"component": "Serverless Inference"});
            let price = rate * f64::from(gb);
            items.push(item(
                &usage_type,
                "ML Serverless",
                component,
                "Second",
                price,
            ));
        }
    }
    items
}

/// One price list item as the API sends it (a JSON document in a string).
fn item(usage_type: &str, family: &str, extra: Value, unit: &str, price: f64) -> (String, String) {
    // A stable SKU from the usage type (FNV-1a), as the real ones are opaque.
    let sku = format!(
        "{:016X}",
        usage_type.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    );
    let mut attributes = json!({
        "servicecode": "AmazonSageMaker",
        "servicename": "Amazon SageMaker",
        "regionCode": REGION,
        "location": "US East (N. Virginia)",
        "locationType": "AWS Region",
        "usagetype": usage_type,
        "operation": "RunInstance",
    });
    if let (Some(all), Some(more)) = (attributes.as_object_mut(), extra.as_object()) {
        all.extend(more.clone());
    }
    let (offer, rate) = (
        format!("{sku}.JRTCKXETXF"),
        format!("{sku}.JRTCKXETXF.6YS6EN2CT7"),
    );
    let usd = format!("{price:.10}");
    let document = json!({
        "product": {"productFamily": family, "attributes": attributes, "sku": sku},
        "serviceCode": "AmazonSageMaker",
        "terms": {"OnDemand": {offer.clone(): {
            "priceDimensions": {rate.clone(): {
                "unit": unit,
                "endRange": "Inf",
                "description": format!("${usd} per {unit} for {usage_type}"),
                "appliesTo": [],
                "rateCode": rate,
                "beginRange": "0",
                "pricePerUnit": {"USD": usd},
            }},
            "sku": sku,
            "effectiveDate": "2025-11-01T00:00:00Z",
            "offerTermCode": "JRTCKXETXF",
            "termAttributes": {},
        }}},
        "version": "20251101000000",
        "publicationDate": "2025-11-05T20:12:44Z",
    });
    (usage_type.to_string(), document.to_string())
}
