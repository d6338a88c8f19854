//! Judging the endpoint's answers: every call must succeed with a
//! non-empty body within the serverless 4 MB limit, and the first answer
//! must meet the expectation recorded with the deployment.

use crate::invoke::{CallResult, Response};
use shared::settings::Expectation;
use shared::smoke::Verdict;

/// Serverless Inference caps responses at 4 MB.
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// The verdict and, when failed, every reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub verdict: Verdict,
    pub reasons: Vec<String>,
}

/// Checks one response against the fixed rules and the expectation.
pub fn check_response(response: &Response, expect: Option<&Expectation>) -> Vec<String> {
    let mut problems = Vec::new();
    if response.body.is_empty() {
        problems.push("the response body is empty".to_string());
    }
    if response.body.len() > MAX_RESPONSE_BYTES {
        problems.push(format!(
            "the response is {} bytes, over the serverless limit of {MAX_RESPONSE_BYTES}",
            response.body.len()
        ));
    }
    if let Some(expect) = expect {
        if let Err(problem) = expect.check(&response.body) {
            problems.push(problem);
        }
    }
    problems
}

/// Judges all calls: the cold call first, then the warm ones.
pub fn judge(calls: &[CallResult], expect: Option<&Expectation>) -> Judgement {
    let mut reasons = Vec::new();
    for (index, call) in calls.iter().enumerate() {
        let label = if index == 0 {
            "cold call".to_string()
        } else {
            format!("warm call {index}")
        };
        match &call.outcome {
            Ok(response) => {
                // The expectation is about the model's answer; checking it
                // once is enough, the others must just be sane.
                let expectation = if index == 0 { expect } else { None };
                reasons.extend(
                    check_response(response, expectation)
                        .into_iter()
                        .map(|p| format!("{label}: {p}")),
                );
            }
            Err(failure) => reasons.push(format!("{label}: {failure}")),
        }
    }
    if calls.is_empty() {
        reasons.push("no call was made".into());
    }
    Judgement {
        verdict: if reasons.is_empty() {
            Verdict::Passed
        } else {
            Verdict::Failed
        },
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoke::InvokeFailure;
    use serde_json::json;
    use shared::settings::SmokeTestRequest;
    use std::time::Duration;

    fn ok(body: &str) -> CallResult {
        CallResult {
            latency: Duration::from_millis(5),
            outcome: Ok(Response {
                body: body.as_bytes().to_vec(),
                content_type: Some("application/json".into()),
            }),
        }
    }

    fn expectation(value: serde_json::Value) -> Expectation {
        SmokeTestRequest::from_json(
            &json!({"content_type": "text/csv", "body": "1", "expect": value}),
        )
        .unwrap()
        .expect
        .unwrap()
    }

    #[test]
    fn good_answers_pass() {
        let judgement = judge(&[ok("{\"p\": 1}"), ok("{\"p\": 1}")], None);
        assert_eq!(
            judgement,
            Judgement {
                verdict: Verdict::Passed,
                reasons: vec![]
            }
        );
    }

    #[test]
    fn empty_and_oversized_bodies_fail() {
        assert_eq!(
            check_response(
                &Response {
                    body: vec![],
                    content_type: None
                },
                None
            ),
            vec!["the response body is empty"]
        );
        let huge = Response {
            body: vec![b'x'; MAX_RESPONSE_BYTES + 1],
            content_type: None,
        };
        assert!(check_response(&huge, None)[0].contains("over the serverless limit"));
    }

    #[test]
    fn the_expectation_is_checked_on_the_cold_answer() {
        let expect = expectation(json!({"json_pointer": "/probabilities"}));
        let judgement = judge(&[ok("{\"labels\": []}"), ok("{}")], Some(&expect));
        assert_eq!(judgement.verdict, Verdict::Failed);
        assert_eq!(
            judgement.reasons,
            vec!["cold call: body has no value at /probabilities"]
        );
    }

    #[test]
    fn model_errors_fail_the_test() {
        let failed = CallResult {
            latency: Duration::from_millis(5),
            outcome: Err(InvokeFailure::Model {
                message: "Received server error (500)".into(),
                original_status: Some(500),
            }),
        };
        let judgement = judge(&[ok("{}"), failed], None);
        assert_eq!(judgement.verdict, Verdict::Failed);
        assert!(
            judgement.reasons[0].starts_with("warm call 1: the model returned an error"),
            "{:?}",
            judgement.reasons
        );
    }

    #[test]
    fn no_calls_is_a_failure() {
        assert_eq!(judge(&[], None).verdict, Verdict::Failed);
    }
}
