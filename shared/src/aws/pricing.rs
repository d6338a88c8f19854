//! The AWS Price List Query API (`GetProducts`), for SageMaker's prices in
//! one Region. The API is served from us-east-1 whatever the Region whose
//! prices are asked for; the answer is read by `crate::price_list`.

use super::{AwsError, AwsErrorKind};
use crate::price_list::{parse_price_list, SageMakerPrices};
use aws_config::SdkConfig;
use aws_sdk_pricing::types::{Filter, FilterType};
use aws_sdk_pricing::Client;

/// Where the Price List Query API is called (it also answers in
/// ap-south-1 and eu-central-1; us-east-1 is the documented default).
pub const PRICE_LIST_REGION: &str = "us-east-1";
pub const SERVICE_CODE: &str = "AmazonSageMaker";
/// Largest page `GetProducts` returns.
const PAGE_SIZE: i32 = 100;

/// One query per kind of usage type the sweeper prices (see
/// `crate::price_list`): hosting, serverless, provisioned concurrency.
const USAGE_TYPE_QUERIES: [&str; 3] = ["Host:ml.", "ServerlessInf", "ProvisionedConcurrency"];

#[derive(Debug, Clone)]
pub struct PriceList {
    client: Client,
}

impl PriceList {
    /// A client for the Price List Query API in `PRICE_LIST_REGION`, with
    /// the credentials, retries and endpoint of `config`.
    pub fn new(config: &SdkConfig) -> Self {
        let conf = aws_sdk_pricing::config::Builder::from(config)
            .region(aws_sdk_pricing::config::Region::new(PRICE_LIST_REGION))
            .build();
        Self::from_client(Client::from_conf(conf))
    }

    pub fn from_client(client: Client) -> Self {
        PriceList { client }
    }

    /// The Region the client calls.
    pub fn region(&self) -> Option<&str> {
        self.client.config().region().map(|r| r.as_ref())
    }

    /// Every `PriceList` document of `region` the sweeper reads, all pages.
    pub async fn sagemaker_documents(&self, region: &str) -> Result<Vec<String>, AwsError> {
        let mut documents = Vec::new();
        for usage_type in USAGE_TYPE_QUERIES {
            let mut next_token: Option<String> = None;
            loop {
                let page = self
                    .client
                    .get_products()
                    .service_code(SERVICE_CODE)
                    .format_version("aws_v1")
                    .filters(filter(FilterType::TermMatch, "regionCode", region)?)
                    .filters(filter(FilterType::Contains, "usagetype", usage_type)?)
                    .max_results(PAGE_SIZE)
                    .set_next_token(next_token.take())
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("GetProducts", e))?;
                documents.extend(page.price_list().iter().cloned());
                match page.next_token() {
                    Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
                    _ => break,
                }
            }
        }
        Ok(documents)
    }

    /// SageMaker's prices in `region`, read from the price list. A
    /// document that is not a price list item fails the whole answer (as
    /// a transient fault of the service: the next run asks again).
    pub async fn sagemaker_prices(&self, region: &str) -> Result<SageMakerPrices, AwsError> {
        let documents = self.sagemaker_documents(region).await?;
        parse_price_list(region, &documents).map_err(|e| AwsError {
            operation: "GetProducts",
            kind: AwsErrorKind::Transient,
            code: None,
            message: e.to_string(),
        })
    }
}

fn filter(kind: FilterType, field: &str, value: &str) -> Result<Filter, AwsError> {
    Filter::builder()
        .r#type(kind)
        .field(field)
        .value(value)
        .build()
        .map_err(|e| AwsError {
            operation: "GetProducts",
            kind: AwsErrorKind::Rejected,
            code: None,
            message: e.to_string(),
        })
}
