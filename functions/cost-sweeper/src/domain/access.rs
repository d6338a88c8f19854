//! What this stack's permissions let a migration use, checked before one
//! starts: the sweeper may pass only this stack's execution role and the
//! roles in `MigratableModelRoleArns` (it copies the model with the
//! original's role), and the smoke tester may read only the models bucket
//! and the buckets in `SmokeTestBuckets`. A migration that would be denied
//! half-way is never started; the reason names the parameter to change.

use crate::config::SweepConfig;
use crate::domain::fleet::user_tags;
use crate::domain::reasons::Reason;
use crate::domain::steps::CanarySpec;

/// ARNs or bucket names as a policy's Resource lists them: exact, or with
/// IAM's `*` (any run of characters) and `?` (one character) wildcards.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allowed(Vec<String>);

impl Allowed {
    /// A comma-separated list (as template.yaml joins it); blanks dropped.
    pub fn parse(list: &str) -> Self {
        Allowed(
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }

    pub fn allows(&self, value: &str) -> bool {
        self.0.iter().any(|pattern| wildcard_match(pattern, value))
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` exactly one.
fn wildcard_match(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    // Greedy match with backtracking to the last `*`.
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, vi));
            pi += 1;
        } else if let Some((star_p, star_v)) = star {
            pi = star_p + 1;
            vi = star_v + 1;
            star = Some((star_p, star_v + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Why `spec` could not be carried out with this stack's permissions
/// (empty: it can).
pub fn access_reasons(spec: &CanarySpec, config: &SweepConfig) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if !config.passable_roles.allows(&spec.execution_role_arn) {
        reasons.push(Reason::RoleNotPassable {
            role: spec.execution_role_arn.clone(),
        });
    }
    if let Some(source) = &spec.smoke_test_source {
        match shared::smoke::parse_source_uri(source) {
            Some((bucket, _, _)) if config.smoke_test_buckets.allows(&bucket) => {}
            Some((bucket, _, _)) => reasons.push(Reason::SmokeRequestUnreadable { bucket }),
            None => reasons.push(Reason::BadTag {
                key: user_tags::SMOKE_TEST.into(),
                value: source.clone(),
                expected: "s3://bucket/key.json[?versionId=...]".into(),
            }),
        }
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::eligibility::migration_settings;
    use crate::domain::steps::canary_spec;
    use crate::test_support::{config, persistent, tagged};

    fn codes(config: &SweepConfig, smoke: &str) -> Vec<&'static str> {
        let e = tagged(persistent("orders"), &[(user_tags::SMOKE_TEST, smoke)]);
        let settings = migration_settings(&e, &Default::default(), config)
            .unwrap()
            .unwrap();
        let spec = canary_spec(&e, &settings, config).unwrap();
        access_reasons(&spec, config)
            .iter()
            .map(Reason::code)
            .collect()
    }

    #[test]
    fn wildcards_match_as_in_iam() {
        let allowed = Allowed::parse(" arn:aws:iam::1:role/team-* , ,bucket-?,exact");
        assert!(allowed.allows("arn:aws:iam::1:role/team-a"));
        assert!(allowed.allows("arn:aws:iam::1:role/team-"));
        assert!(!allowed.allows("arn:aws:iam::1:role/other"));
        assert!(allowed.allows("bucket-1"));
        assert!(!allowed.allows("bucket-12"));
        assert!(allowed.allows("exact"));
        assert!(!allowed.allows("exactly"));
        assert!(!allowed.allows(""));
        assert!(Allowed::parse("a*b*c").allows("aXbYbc"));
        assert!(!Allowed::default().allows("anything"));
    }

    #[test]
    fn a_role_the_stack_may_not_pass_is_named_with_the_parameter_to_add_it_to() {
        let mut c = config();
        assert!(codes(&c, "s3://requests/smoke.json").is_empty());
        c.passable_roles = Allowed::parse("arn:aws:iam::123456789012:role/pipeline");
        assert_eq!(codes(&c, "s3://requests/smoke.json"), ["role-not-passable"]);
        let reason = Reason::RoleNotPassable {
            role: "arn:aws:iam::123456789012:role/exec".into(),
        };
        let text = reason.describe();
        assert!(
            text.contains("arn:aws:iam::123456789012:role/exec")
                && text.contains("MigratableModelRoleArns"),
            "{text}"
        );
    }

    #[test]
    fn a_smoke_request_outside_the_readable_buckets_is_refused() {
        let c = config();
        assert_eq!(
            codes(&c, "s3://elsewhere/smoke.json"),
            ["smoke-request-unreadable"]
        );
        assert_eq!(
            codes(&c, "s3://requests/a/b.json?versionId=v1"),
            [] as [&str; 0]
        );
        assert_eq!(codes(&c, "https://requests/smoke.json"), ["bad-tag"]);
        let text = Reason::SmokeRequestUnreadable {
            bucket: "elsewhere".into(),
        }
        .describe();
        assert!(
            text.contains("elsewhere") && text.contains("SmokeTestBuckets"),
            "{text}"
        );
    }
}
