//! The smoke-test request recorded with a deployment (`smoke_test` in
//! deploy.json): what to send to a new endpoint and what a good answer
//! looks like. Parsed and validated at deploy time, so a broken regular
//! expression is refused then, not discovered by the smoke tester.

use super::layer::json_string;
use super::SettingsError;
use serde::Serialize;
use serde_json::Value;

const SMOKE_TEST_FIELDS: &str = "content_type, accept, body, body_s3_key, expect";
const EXPECT_FIELDS: &str = "body_regex, json_pointer, json_number";
const NUMBER_FIELDS: &str = "pointer, min, max";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SmokeTestRequest {
    pub content_type: String,
    /// Optional `Accept` header.
    pub accept: Option<String>,
    pub body: SmokeTestBody,
    pub expect: Option<Expectation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SmokeTestBody {
    /// The body itself, as text.
    Inline(String),
    /// A key, in the bucket of the document that holds the request, whose
    /// content is the body.
    S3Key(String),
}

/// What the response must satisfy beyond "success, non-empty, <= 4 MB".
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Expectation {
    /// The body (as UTF-8 text) must match this regular expression.
    pub body_regex: Option<String>,
    /// The body must be JSON with a value at this JSON Pointer (RFC 6901).
    pub json_pointer: Option<String>,
    /// The body must be JSON with a number in range at a pointer.
    pub json_number: Option<NumberRange>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NumberRange {
    pub pointer: String,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

fn fields<'v>(
    path: &str,
    value: &'v Value,
) -> Result<&'v serde_json::Map<String, Value>, SettingsError> {
    value
        .as_object()
        .ok_or_else(|| SettingsError::wrong_type(path, "an object", value))
}

fn unknown(path: String, allowed: &str) -> SettingsError {
    SettingsError::UnknownField {
        field: path,
        allowed: allowed.into(),
    }
}

fn pointer(path: &str, value: &Value) -> Result<String, SettingsError> {
    let text = json_string(path, value)?;
    if !text.is_empty() && !text.starts_with('/') {
        return Err(SettingsError::invalid(
            path,
            format!("{text:?}"),
            "a JSON Pointer such as \"/predictions/0\"",
        ));
    }
    Ok(text)
}

impl SmokeTestRequest {
    pub fn from_json(value: &Value) -> Result<Self, SettingsError> {
        let mut content_type = None;
        let mut accept = None;
        let mut body = None;
        let mut body_s3_key = None;
        let mut expect = None;
        for (name, field) in fields("smoke_test", value)? {
            let path = format!("smoke_test.{name}");
            match name.as_str() {
                "content_type" => content_type = Some(json_string(&path, field)?),
                "accept" => accept = Some(json_string(&path, field)?),
                "body" => body = Some(json_string(&path, field)?),
                "body_s3_key" => body_s3_key = Some(json_string(&path, field)?),
                "expect" => expect = Some(Expectation::from_json(field)?),
                _ => return Err(unknown(path, SMOKE_TEST_FIELDS)),
            }
        }
        let content_type = content_type
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| SettingsError::Missing {
                field: "smoke_test.content_type".into(),
                why: "the endpoint needs to know how to read the body, e.g. \"text/csv\"".into(),
            })?;
        let body =
            match (body, body_s3_key) {
                (Some(inline), None) => SmokeTestBody::Inline(inline),
                (None, Some(key)) if !key.is_empty() => SmokeTestBody::S3Key(key),
                (Some(_), Some(_)) => return Err(SettingsError::invalid(
                    "smoke_test",
                    "both body and body_s3_key",
                    "exactly one of body (inline text) or body_s3_key (a key in the models bucket)",
                )),
                _ => {
                    return Err(SettingsError::Missing {
                        field: "smoke_test.body".into(),
                        why: "give body (inline text) or body_s3_key (a key in the models bucket)"
                            .into(),
                    })
                }
            };
        Ok(SmokeTestRequest {
            content_type,
            accept,
            body,
            expect,
        })
    }
}

impl Expectation {
    fn from_json(value: &Value) -> Result<Self, SettingsError> {
        let mut expect = Expectation::default();
        for (name, field) in fields("smoke_test.expect", value)? {
            let path = format!("smoke_test.expect.{name}");
            match name.as_str() {
                "body_regex" => {
                    let pattern = json_string(&path, field)?;
                    regex_lite::Regex::new(&pattern).map_err(|e| {
                        SettingsError::invalid(
                            &path,
                            format!("{pattern:?}"),
                            format!("a valid regular expression ({e})"),
                        )
                    })?;
                    expect.body_regex = Some(pattern);
                }
                "json_pointer" => expect.json_pointer = Some(pointer(&path, field)?),
                "json_number" => expect.json_number = Some(NumberRange::from_json(field)?),
                _ => return Err(unknown(path, EXPECT_FIELDS)),
            }
        }
        Ok(expect)
    }

    /// Checks a response body; `Err` says what did not hold.
    pub fn check(&self, body: &[u8]) -> Result<(), String> {
        let text = String::from_utf8_lossy(body);
        if let Some(pattern) = &self.body_regex {
            let regex =
                regex_lite::Regex::new(pattern).map_err(|e| format!("invalid body_regex: {e}"))?;
            if !regex.is_match(&text) {
                return Err(format!("body does not match /{pattern}/"));
            }
        }
        if self.json_pointer.is_none() && self.json_number.is_none() {
            return Ok(());
        }
        let json: Value =
            serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
        if let Some(pointer) = &self.json_pointer {
            if json.pointer(pointer).is_none() {
                return Err(format!("body has no value at {pointer}"));
            }
        }
        if let Some(range) = &self.json_number {
            let number = json
                .pointer(&range.pointer)
                .and_then(Value::as_f64)
                .ok_or_else(|| format!("body has no number at {}", range.pointer))?;
            let low = range.min.unwrap_or(f64::NEG_INFINITY);
            let high = range.max.unwrap_or(f64::INFINITY);
            if !(low..=high).contains(&number) {
                return Err(format!(
                    "{} = {number} is outside {low}..{high}",
                    range.pointer
                ));
            }
        }
        Ok(())
    }
}

impl NumberRange {
    fn from_json(value: &Value) -> Result<Self, SettingsError> {
        let mut pointer_text = None;
        let mut min = None;
        let mut max = None;
        for (name, field) in fields("smoke_test.expect.json_number", value)? {
            let path = format!("smoke_test.expect.json_number.{name}");
            let number = || {
                field
                    .as_f64()
                    .ok_or_else(|| SettingsError::wrong_type(&path, "a number", field))
            };
            match name.as_str() {
                "pointer" => pointer_text = Some(pointer(&path, field)?),
                "min" => min = Some(number()?),
                "max" => max = Some(number()?),
                _ => return Err(unknown(path, NUMBER_FIELDS)),
            }
        }
        let pointer = pointer_text.ok_or_else(|| SettingsError::Missing {
            field: "smoke_test.expect.json_number.pointer".into(),
            why: "say where the number is, e.g. \"/probabilities/0/0\"".into(),
        })?;
        if let (Some(low), Some(high)) = (min, max) {
            if low > high {
                return Err(SettingsError::invalid(
                    "smoke_test.expect.json_number",
                    format!("min {low} > max {high}"),
                    "min <= max",
                ));
            }
        }
        Ok(NumberRange { pointer, min, max })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expectation(value: Value) -> Expectation {
        SmokeTestRequest::from_json(
            &json!({"content_type": "text/csv", "body": "1", "expect": value}),
        )
        .unwrap()
        .expect
        .unwrap()
    }

    #[test]
    fn regex_expectations() {
        let e = expectation(json!({"body_regex": "^\\{\"probabilities\""}));
        assert!(e.check(br#"{"probabilities": [[0.9]]}"#).is_ok());
        assert_eq!(
            e.check(b"oops").unwrap_err(),
            "body does not match /^\\{\"probabilities\"/"
        );
    }

    #[test]
    fn json_expectations() {
        let e = expectation(
            json!({"json_pointer": "/probabilities", "json_number": {"pointer": "/probabilities/0/0", "min": 0, "max": 1}}),
        );
        assert!(e.check(br#"{"probabilities": [[0.25]]}"#).is_ok());
        assert!(e
            .check(br#"{"probabilities": [[1.5]]}"#)
            .unwrap_err()
            .contains("outside"));
        assert!(e
            .check(br#"{"labels": []}"#)
            .unwrap_err()
            .contains("no value at /probabilities"));
        assert!(e.check(b"not json").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn bad_expectations_are_refused_at_deploy_time() {
        let err = |v: Value| {
            SmokeTestRequest::from_json(&json!({"content_type": "a", "body": "1", "expect": v}))
                .unwrap_err()
                .to_string()
        };
        assert!(err(json!({"body_regex": "("})).contains("valid regular expression"));
        assert!(err(json!({"json_pointer": "probabilities"})).contains("JSON Pointer"));
        assert!(err(json!({"json_number": {"min": 1}})).contains("pointer is required"));
        assert!(
            err(json!({"json_number": {"pointer": "/x", "min": 2, "max": 1}}))
                .contains("min <= max")
        );
        assert!(err(json!({"status": 200})).contains("body_regex, json_pointer, json_number"));
    }
}
