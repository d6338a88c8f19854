//! `PriceList`: GetProducts for SageMaker in one Region, every page of each
//! usage-type query, read from answers in the documented format
//! (`tests/data/price_list/`).

use crate::support::{http, price_list, sagemaker_error, MAX_ATTEMPTS};
use aws_sdk_pricing::Client;
use aws_smithy_mocks::{mock, Rule};
use shared::aws::pricing::PriceList;
use shared::aws::AwsErrorKind;

fn page(file: &str) -> String {
    let path = format!(
        "{}/tests/data/price_list/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn answer(file: &'static str) -> Rule {
    mock!(Client::get_products).then_http_response(move || {
        http(
            200,
            &[("content-type", "application/x-amz-json-1.1")],
            &page(file),
        )
    })
}

fn empty() -> Rule {
    mock!(Client::get_products).then_http_response(|| {
        http(
            200,
            &[("content-type", "application/x-amz-json-1.1")],
            r#"{"FormatVersion": "aws_v1", "PriceList": []}"#,
        )
    })
}

#[tokio::test]
async fn reads_every_page_of_each_query_and_parses_the_prices() {
    let rules = [
        answer("hosting_us_east_1.page1.json"),
        answer("hosting_us_east_1.page2.json"),
        answer("serverless_us_east_1.json"),
        empty(),
    ];
    let (prices, sent) = price_list(&rules.iter().collect::<Vec<_>>());
    let got = prices.sagemaker_prices("us-east-1").await.unwrap();
    assert_eq!(got.instance_hourly["ml.m6i.xlarge"], 0.23);
    assert_eq!(got.serverless_second[&2], 0.00004);
    assert_eq!(got.provisioned_standing_second[&1], 0.000005);

    let requests = sent.requests();
    assert_eq!(requests.len(), 4);
    for r in &requests {
        assert_eq!(r.target.as_deref(), Some("AWSPriceListService.GetProducts"));
        let body = r.json();
        assert_eq!(body["ServiceCode"], "AmazonSageMaker");
        assert_eq!(
            body["Filters"][0],
            serde_json::json!({"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"})
        );
        assert_eq!(body["Filters"][1]["Type"], "CONTAINS");
        assert_eq!(body["Filters"][1]["Field"], "usagetype");
    }
    let usage = |i: usize| requests[i].json()["Filters"][1]["Value"].clone();
    assert_eq!(usage(0), "Host:ml.");
    // The second page is asked for with the first page's token.
    assert_eq!(requests[1].json()["NextToken"], "token-hosting_us_east_1-1");
    assert_eq!(usage(1), "Host:ml.");
    assert_eq!(usage(2), "ServerlessInf");
    assert_eq!(usage(3), "ProvisionedConcurrency");
}

#[tokio::test]
async fn a_document_that_is_not_a_price_list_item_fails_the_answer() {
    let broken = mock!(Client::get_products).then_http_response(|| {
        http(
            200,
            &[("content-type", "application/x-amz-json-1.1")],
            r#"{"FormatVersion": "aws_v1", "PriceList": ["not json"]}"#,
        )
    });
    let (prices, _) = price_list(&[&broken, &empty(), &empty()]);
    let err = prices.sagemaker_prices("us-east-1").await.unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Transient);
    assert!(err.message.contains("item 0"), "{err}");
}

#[tokio::test]
async fn throttling_after_the_retries_is_a_retryable_error() {
    let throttle = || sagemaker_error(400, "ThrottlingException", "Rate exceeded");
    let rules: Vec<Rule> = (0..MAX_ATTEMPTS)
        .map(|_| mock!(Client::get_products).then_http_response(throttle))
        .collect();
    let (prices, sent) = price_list(&rules.iter().collect::<Vec<_>>());
    let err = prices.sagemaker_prices("eu-central-1").await.unwrap_err();
    assert_eq!(
        (err.operation, err.kind),
        ("GetProducts", AwsErrorKind::Throttled)
    );
    assert!(err.is_retryable());
    assert_eq!(sent.requests().len(), MAX_ATTEMPTS as usize);
}

#[test]
fn the_client_calls_us_east_1_whatever_the_functions_region() {
    let config = aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("ap-southeast-2"))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let client = PriceList::new(&config);
    assert_eq!(client.region(), Some("us-east-1"));
}
