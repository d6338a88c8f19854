//! Tags of many endpoints in few calls: the Resource Groups Tagging API's
//! `GetResources` with up to 100 ARNs per call (it reads every resource
//! type, SageMaker endpoints included), instead of one `ListTags` per
//! endpoint. A resource that was never tagged is not in the answer: no
//! tags.

use shared::aws::AwsError;
use std::collections::{BTreeMap, HashMap};

/// `GetResources` takes at most 100 ARNs per call.
const ARNS_PER_CALL: usize = 100;

#[derive(Clone, Debug)]
pub struct BulkTags {
    client: aws_sdk_resourcegroupstagging::Client,
}

impl BulkTags {
    pub fn new(client: aws_sdk_resourcegroupstagging::Client) -> Self {
        BulkTags { client }
    }

    /// The tags of each of `arns` (absent: none), ceil(arns / 100) calls
    /// plus a page where the service splits an answer.
    pub async fn tags_of(
        &self,
        arns: &[String],
    ) -> Result<HashMap<String, BTreeMap<String, String>>, AwsError> {
        let mut found = HashMap::with_capacity(arns.len());
        for chunk in arns.chunks(ARNS_PER_CALL) {
            let mut token: Option<String> = None;
            loop {
                let out = self
                    .client
                    .get_resources()
                    .set_resource_arn_list(Some(chunk.to_vec()))
                    .set_pagination_token(token.clone())
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("GetResources", e))?;
                for mapping in out.resource_tag_mapping_list() {
                    let Some(arn) = mapping.resource_arn() else {
                        continue;
                    };
                    let tags = mapping
                        .tags()
                        .iter()
                        .map(|t| (t.key().to_string(), t.value().to_string()))
                        .collect();
                    found.insert(arn.to_string(), tags);
                }
                token = out
                    .pagination_token()
                    .filter(|t| !t.is_empty())
                    .map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(found)
    }
}
