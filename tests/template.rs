//! template.yaml against the code, without AWS or the emulator. From the
//! functions' own sources this derives the environment variables each one
//! reads (`shared::env::{optional,required,parsed}`, `std::env::var`), the
//! AWS operations each one calls (SDK calls in its crate, plus the shared
//! adapter methods it uses, each resolved to the SDK operations the adapter
//! makes; the operation names come from the SDK crates themselves), its
//! metric names and its trigger, and checks the template declares exactly
//! that: every variable set, every action granted with nothing much more
//! (each extra named below with its reason), mutations bound to the
//! pipeline's tags, and event filters that let through what the handlers
//! accept. What cannot be checked here (that AWS honours a condition key
//! for an action) is in docs/deploying.md. Needs no emulator: it is in the
//! plain `cargo test` tier.

mod code_scan;

use code_scan::*;
use regex_lite::Regex;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

// ---------------------------------------------------------------- the template

/// Converts YAML to JSON, short-form tags to their long form
/// (`!Ref X` -> `{"Ref": "X"}`, `!Sub s` -> `{"Fn::Sub": s}`).
fn to_json(value: &serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => json!(b),
        Y::Number(n) => serde_json::to_value(n).expect("a YAML number is a JSON number"),
        Y::String(s) => json!(s),
        Y::Sequence(items) => Value::Array(items.iter().map(to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s.clone(),
                        other => serde_yaml_ng::to_string(other).unwrap().trim().to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let tag = tag.trim_start_matches('!');
            let name = if tag == "Ref" {
                "Ref".to_string()
            } else {
                format!("Fn::{tag}")
            };
            json!({ name: to_json(&tagged.value) })
        }
    }
}

fn template() -> &'static Value {
    static TEMPLATE: OnceLock<Value> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let text = std::fs::read_to_string(root().join("template.yaml")).expect("template.yaml");
        let yaml: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&text).expect("template.yaml parses");
        to_json(&yaml)
    })
}

fn resources() -> &'static serde_json::Map<String, Value> {
    template()["Resources"].as_object().expect("Resources")
}

fn resource(name: &str) -> &'static Value {
    resources()
        .get(name)
        .unwrap_or_else(|| panic!("template has no resource {name}"))
}

/// A template function: its logical id, its cargo binary and its properties.
struct Function {
    id: String,
    binary: String,
    properties: &'static Value,
}

impl Function {
    fn crate_dir(&self) -> PathBuf {
        root().join("functions").join(&self.binary)
    }
}

fn functions() -> Vec<Function> {
    resources()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(id, r)| Function {
            id: id.clone(),
            binary: r["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_else(|| {
                    panic!("{id}: Metadata.BuildProperties.Binary names its cargo binary")
                })
                .to_string(),
            properties: &r["Properties"],
        })
        .collect()
}

fn function(binary: &str) -> Function {
    functions()
        .into_iter()
        .find(|f| f.binary == binary)
        .unwrap_or_else(|| panic!("template has no function built from {binary}"))
}

/// A property of a function, falling back to `Globals.Function`.
fn property<'a>(f: &'a Function, name: &str) -> &'a Value {
    match &f.properties[name] {
        Value::Null => &template()["Globals"]["Function"][name],
        v => v,
    }
}

/// A value as text: strings as they are, `!Ref X` as `${X}`,
/// `!GetAtt A.B` as `${A.B}`, `!Sub s` as `s`.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Object(map) if map.len() == 1 => {
            let (k, v) = map.iter().next().unwrap();
            match (k.as_str(), v) {
                ("Ref", Value::String(x)) => format!("${{{x}}}"),
                ("Fn::GetAtt", Value::String(x)) => format!("${{{x}}}"),
                ("Fn::GetAtt", Value::Array(parts)) => format!(
                    "${{{}}}",
                    parts.iter().map(text).collect::<Vec<_>>().join(".")
                ),
                ("Fn::Sub", Value::String(s)) => s.clone(),
                ("Fn::Sub", Value::Array(parts)) => text(&parts[0]),
                _ => value.to_string(),
            }
        }
        other => other.to_string(),
    }
}

fn one_or_many(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        v => vec![v],
    }
}

// ------------------------------------------------- environment the code reads

/// Variables a function reads: its crate and the shared crate (except
/// shared/src/env.rs, which defines the readers).
fn env_vars_read(crate_dir: &Path) -> BTreeSet<String> {
    let helper = Regex::new(
        r#"\benv::(optional|required|parsed)\s*(::\s*<[^>]*>)?\s*\(\s*("([A-Za-z0-9_]+)")?"#,
    )
    .unwrap();
    let std_var = Regex::new(r#"\benv::var(_os)?\s*\(\s*("([A-Za-z0-9_]+)")?"#).unwrap();
    let env_rs = root().join("shared/src/env.rs");
    let mut vars = BTreeSet::new();
    let all = sources(&crate_dir.join("src"))
        .into_iter()
        .chain(sources(&root().join("shared/src")));
    for source in all.filter(|s| s.path != env_rs) {
        for caps in helper
            .captures_iter(&source.code)
            .chain(std_var.captures_iter(&source.code))
        {
            let name = caps.get(caps.len() - 1).unwrap_or_else(|| {
                panic!(
                    "{}: an environment read whose name is not a string literal ({}): \
                     the template check cannot see which variable it is",
                    source.path.display(),
                    &caps[0]
                )
            });
            vars.insert(name.as_str().to_string());
        }
    }
    vars
}

/// Read by a function but deliberately not set by the template, and why.
const NOT_SET_BY_TEMPLATE: &[(&str, &str, &str)] = &[(
    "cost-sweeper",
    "PRICING_FILE",
    "a path to a local price file overriding the embedded table; nothing ships such a file in the Lambda package",
)];

fn template_env(f: &Function) -> BTreeSet<String> {
    let mut vars: BTreeSet<String> = BTreeSet::new();
    for source in [
        &f.properties["Environment"]["Variables"],
        &template()["Globals"]["Function"]["Environment"]["Variables"],
    ] {
        if let Some(map) = source.as_object() {
            vars.extend(map.keys().cloned());
        }
    }
    vars
}

/// Granted without being called, because of something that is called.
const IMPLIED: &[(&str, &str, &str)] = &[
    (
        "s3:ListBucket",
        "s3:GetObject",
        "S3 answers 404 for a missing key only to callers that may list the bucket (403 otherwise); the adapters read 404 as absent",
    ),
    ("kms:Decrypt", "sns:Publish", "the topic is encrypted with the stack's KMS key"),
    ("kms:GenerateDataKey", "sns:Publish", "the topic is encrypted with the stack's KMS key"),
    ("iam:PassRole", "sagemaker:CreateModel", "CreateModel passes the models' execution role"),
];

/// Actions without resource-level permissions (Resource "*" is the only form).
const NO_RESOURCE_LEVEL: &[&str] = &[
    "sagemaker:ListEndpointConfigs",
    "sagemaker:ListModels",
    "sagemaker:ListEndpoints",
    "sagemaker:Search",
    "cloudwatch:GetMetricData",
    "pricing:GetProducts",
    "tag:GetResources",
    // The serverless quota reads (deployer pre-flight, sweeper recreate):
    // granted on "*", as the quota ARN scoping is not relied on.
    "servicequotas:GetServiceQuota",
    "servicequotas:GetAWSDefaultServiceQuota",
];

/// Tag-scoping exceptions, and why. Each must still limit the keys it may
/// write (`aws:TagKeys`).
const UNSCOPED_BY_TAG: &[(&str, &str, &str)] = &[(
    "cost-sweeper",
    "sagemaker:AddTags",
    "it records the migration's state on the original (not pipeline-managed) endpoint once the canary exists: only pipeline:migration-* keys, and never on an opted-out endpoint (DenyOptedOut)",
)];

/// The Allow statements of a function's inline policies (both branches of a
/// conditional statement).
fn statements(f: &Function) -> Vec<&'static Value> {
    all_statements(f)
        .into_iter()
        .filter(|s| s["Effect"] == "Allow")
        .collect()
}

/// The Allow and Deny statements of a function's inline policies.
fn all_statements(f: &Function) -> Vec<&'static Value> {
    let mut found = Vec::new();
    for policy in one_or_many(&f.properties["Policies"]) {
        let Some(list) = policy["Statement"].as_array() else {
            panic!(
                "{}: only inline policy documents are checked; found {policy}",
                f.id
            )
        };
        for statement in list {
            if let Some(branches) = statement["Fn::If"].as_array() {
                found.extend(branches[1..].iter().filter(|b| b["Effect"].is_string()));
            } else {
                found.push(statement);
            }
        }
    }
    for s in &found {
        assert!(
            s["Effect"] == "Allow" || s["Effect"] == "Deny",
            "{}: a statement without Effect Allow or Deny: {s}",
            f.id
        );
    }
    found
}

fn statement_actions(s: &Value) -> Vec<String> {
    one_or_many(&s["Action"]).into_iter().map(text).collect()
}

/// Condition keys of a statement with their values (`aws:RequestTag/x` -> ["v"]).
fn condition_keys(s: &Value) -> BTreeMap<String, Vec<String>> {
    let mut keys = BTreeMap::new();
    if let Some(ops) = s["Condition"].as_object() {
        for (_, pairs) in ops {
            for (k, v) in pairs.as_object().unwrap() {
                keys.insert(k.clone(), one_or_many(v).into_iter().map(text).collect());
            }
        }
    }
    keys
}

// -------------------------------------------------------------------- tests

#[test]
fn every_function_crate_is_in_the_template_built_the_same_way() {
    let in_template: BTreeSet<String> = functions().into_iter().map(|f| f.binary).collect();
    let crates: BTreeSet<String> = std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(in_template, crates, "template functions vs functions/*");
    for f in functions() {
        let meta = &resource(&f.id)["Metadata"];
        assert_eq!(meta["BuildMethod"], "rust-cargolambda", "{}", f.id);
        assert_eq!(text(property(&f, "Runtime")), "provided.al2023", "{}", f.id);
        assert_eq!(text(property(&f, "Handler")), "bootstrap", "{}", f.id);
        assert_eq!(property(&f, "Architectures"), &json!(["arm64"]), "{}", f.id);
        assert_eq!(text(property(&f, "Tracing")), "Active", "{}", f.id);
        assert_eq!(
            f.properties["LoggingConfig"]["LogFormat"], "JSON",
            "{}",
            f.id
        );
        assert!(
            f.properties["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"]
                .is_object(),
            "{}: failed asynchronous invocations need an on-failure destination",
            f.id
        );
        let cargo = std::fs::read_to_string(f.crate_dir().join("Cargo.toml")).unwrap();
        assert!(
            cargo.contains(&format!("name = \"{}\"", f.binary)),
            "{}: functions/{}/Cargo.toml builds no binary of that name",
            f.id,
            f.binary
        );
    }
}

#[test]
fn every_variable_a_function_reads_is_set_and_nothing_else() {
    for f in functions() {
        let read = env_vars_read(&f.crate_dir());
        let set = template_env(&f);
        let exempt: BTreeSet<String> = NOT_SET_BY_TEMPLATE
            .iter()
            .filter(|(bin, _, _)| *bin == f.binary)
            .map(|(_, var, _)| var.to_string())
            .collect();
        let missing: Vec<_> = read
            .difference(&set)
            .filter(|v| !exempt.contains(*v))
            .collect();
        assert!(
            missing.is_empty(),
            "{}: read but not set in template.yaml: {missing:?}",
            f.id
        );
        let unread: Vec<_> = set.difference(&read).collect();
        assert!(
            unread.is_empty(),
            "{}: set in template.yaml but never read: {unread:?}",
            f.id
        );
        let stale: Vec<_> = exempt.difference(&read).collect();
        assert!(
            stale.is_empty(),
            "{}: NOT_SET_BY_TEMPLATE names unread {stale:?}",
            f.id
        );
    }
}

#[test]
fn the_source_scan_finds_what_the_functions_are_known_to_do() {
    // Guards the scanner itself: if these go missing, it has stopped seeing.
    let deployer = actions_called(&root().join("functions/deployer"));
    for a in [
        "sagemaker:CreateEndpoint",
        "sagemaker:UpdateEndpoint",
        "sagemaker:DeleteModel",
        "s3:GetObject",
        "s3:GetObjectVersion",
    ] {
        assert!(
            deployer.contains(a),
            "deployer: {a} not found in {deployer:?}"
        );
    }
    let smoke = actions_called(&root().join("functions/smoke-tester"));
    for a in [
        "sagemaker:InvokeEndpoint",
        "sns:Publish",
        "sagemaker:AddTags",
    ] {
        assert!(
            smoke.contains(a),
            "smoke tester: {a} not found in {smoke:?}"
        );
    }
    assert!(!smoke.contains("sagemaker:CreateModel"), "{smoke:?}");
    let vars = env_vars_read(&root().join("functions/deployer"));
    for v in [
        "EXECUTION_ROLE_ARN",
        "MODELS_PREFIX",
        "DEFAULT_MEMORY_SIZE_MB",
    ] {
        assert!(vars.contains(v), "deployer reads {v}: {vars:?}");
    }
    // The adapters' operations all map to actions the scan knows.
    let adapters = adapter_methods();
    for (method, actions) in [
        ("describe_endpoint", "sagemaker:DescribeEndpoint"),
        ("notify", "sns:Publish"),
        ("head", "s3:GetObject"),
        ("get_small", "s3:GetObject"),
    ] {
        assert!(
            adapters[method].contains(actions),
            "{method}: {:?}",
            adapters[method]
        );
    }
    assert_eq!(pascal("list_objects_v2"), "ListObjectsV2");
}

#[test]
fn every_action_a_function_calls_is_granted_and_little_more() {
    for f in functions() {
        let called = actions_called(&f.crate_dir());
        let granted: BTreeSet<String> = statements(&f)
            .iter()
            .flat_map(|s| statement_actions(s))
            .collect();
        let missing: Vec<_> = called.difference(&granted).collect();
        assert!(
            missing.is_empty(),
            "{}: calls but is not granted {missing:?}",
            f.id
        );
        let extra: Vec<_> = granted
            .difference(&called)
            .filter(|a| {
                !IMPLIED
                    .iter()
                    .any(|(implied, by, _)| implied == a && called.contains(*by))
            })
            .collect();
        assert!(
            extra.is_empty(),
            "{}: granted but never called (remove, or add to IMPLIED with the reason): {extra:?}",
            f.id
        );
    }
}

#[test]
fn grants_are_scoped_to_resources_and_tags() {
    let tag_keys_in_code: String = sources(&root().join("functions"))
        .into_iter()
        .chain(sources(&root().join("shared/src")))
        .map(|s| s.code)
        .collect();
    for f in functions() {
        for s in statements(&f) {
            let actions = statement_actions(s);
            let resources: Vec<String> =
                one_or_many(&s["Resource"]).into_iter().map(text).collect();
            let conditions = condition_keys(s);
            assert!(
                !resources.is_empty(),
                "{}: statement without Resource: {s}",
                f.id
            );
            for action in &actions {
                assert!(!action.contains('*'), "{}: wildcard action {action}", f.id);
                if resources.iter().any(|r| r == "*") {
                    assert!(
                        NO_RESOURCE_LEVEL.contains(&action.as_str()),
                        "{}: {action} on Resource \"*\"",
                        f.id
                    );
                }
                if action.starts_with("sagemaker:") {
                    for r in resources.iter().filter(|r| *r != "*") {
                        assert!(
                            r.contains(":sagemaker:${AWS::Region}:${AWS::AccountId}:"),
                            "{}: {action} on {r}: scope it to the stack's Region and account",
                            f.id
                        );
                    }
                }
                let name = action.trim_start_matches("sagemaker:");
                let request_tag = conditions.keys().any(|k| k.starts_with("aws:RequestTag/"));
                let resource_tag = conditions.keys().any(|k| k.starts_with("aws:ResourceTag/"));
                let exempt = UNSCOPED_BY_TAG
                    .iter()
                    .any(|(bin, a, _)| *bin == f.binary && a == action);
                // For CreateEndpoint/UpdateEndpoint a config is only the
                // target; the endpoint's own statement carries the tag rule.
                let only_configs = resources.iter().all(|r| r.contains(":endpoint-config/"));
                let target_config =
                    only_configs && matches!(name, "CreateEndpoint" | "UpdateEndpoint");
                if action.starts_with("sagemaker:") && !exempt && !target_config {
                    if name.starts_with("Create") {
                        assert!(
                            request_tag,
                            "{}: {action} without an aws:RequestTag condition",
                            f.id
                        );
                    }
                    if name.starts_with("Update")
                        || name.starts_with("Delete")
                        || name == "InvokeEndpoint"
                    {
                        assert!(
                            resource_tag,
                            "{}: {action} without an aws:ResourceTag condition",
                            f.id
                        );
                    }
                    if name == "AddTags" {
                        assert!(
                            request_tag || resource_tag,
                            "{}: AddTags without a tag condition",
                            f.id
                        );
                    }
                }
                if action == "iam:PassRole" {
                    assert_eq!(
                        conditions.get("iam:PassedToService"),
                        Some(&vec!["sagemaker.amazonaws.com".to_string()]),
                        "{}: iam:PassRole must be conditioned on iam:PassedToService",
                        f.id
                    );
                    for r in &resources {
                        assert!(
                            r == "${SageMakerExecutionRole.Arn}"
                                || r == "${MigratableModelRoleArns}",
                            "{}: iam:PassRole on {r}",
                            f.id
                        );
                    }
                }
            }
            // Tag conditions name the tags the code writes.
            for (key, values) in &conditions {
                let Some(tag) = key
                    .strip_prefix("aws:RequestTag/")
                    .or_else(|| key.strip_prefix("aws:ResourceTag/"))
                else {
                    continue;
                };
                assert!(
                    tag_keys_in_code.contains(&format!("\"{tag}\"")),
                    "{}: condition on tag {tag:?}, which the code never writes",
                    f.id
                );
                if tag == shared::tags::MANAGED_BY_KEY {
                    assert_eq!(
                        values,
                        &vec![shared::tags::MANAGED_BY_VALUE.to_string()],
                        "{}",
                        f.id
                    );
                }
            }
        }
    }
}

#[test]
fn bucket_arns_all_name_the_models_bucket() {
    let bucket = text(&resource("ModelsBucket")["Properties"]["BucketName"]);
    let all = template().to_string();
    let arn = Regex::new(r":s3:::([^/\x22*]+)").unwrap();
    let mut seen = 0;
    for caps in arn.captures_iter(&all) {
        let name = &caps[1];
        // ${Buckets}: the SmokeTestBuckets the operator lists (the smoke
        // tester reads migrations' requests there).
        assert!(
            name == bucket || name == "${ModelsBucket}" || name == "${Buckets}",
            "an S3 ARN names {name:?}, not the models bucket {bucket:?}"
        );
        seen += 1;
    }
    assert!(seen > 3, "expected S3 ARNs in the policies");
}

#[test]
fn the_deployer_is_notified_of_exactly_the_uploads_it_acts_on() {
    let f = function("deployer");
    assert_eq!(
        f.properties["Environment"]["Variables"]["MODELS_PREFIX"],
        json!({"Ref": "ModelsPrefix"})
    );
    let prefix = template()["Parameters"]["ModelsPrefix"]["Default"]
        .as_str()
        .unwrap()
        .to_string();
    let mut suffixes = BTreeSet::new();
    let sample: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("events/s3-put-model.json")).unwrap(),
    )
    .unwrap();
    let queue_arn = json!({"Fn::GetAtt": "DeployQueue.Arn"});
    let notifications = &resource("ModelsBucket")["Properties"]["NotificationConfiguration"];
    assert!(
        notifications["LambdaConfigurations"].is_null(),
        "uploads reach the deployer only through the deploy queue"
    );
    for (i, n) in notifications["QueueConfigurations"]
        .as_array()
        .expect("the bucket notifies the deploy queue")
        .iter()
        .enumerate()
    {
        assert_eq!(n["Queue"], queue_arn, "notification {i}");
        assert_eq!(n["Event"], "s3:ObjectCreated:*", "notification {i}");
        let rules: BTreeMap<String, &Value> = n["Filter"]["S3Key"]["Rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["Name"].as_str().unwrap().to_string(), &r["Value"]))
            .collect();
        assert_eq!(rules["prefix"], &json!({"Ref": "ModelsPrefix"}), "{i}");
        let suffix = rules["suffix"].as_str().unwrap().to_string();
        // What passes this filter is a record the handler acts on.
        let mut event = sample.clone();
        event["Records"][0]["eventName"] = json!("ObjectCreated:Put");
        event["Records"][0]["s3"]["object"]["key"] = json!(format!("{prefix}fraud/v1/{suffix}"));
        let record =
            shared::s3_event::parse_record(0, &shared::s3_event::records(&event).unwrap()[0])
                .unwrap();
        assert!(
            record.role().is_some(),
            "{i}: the deployer ignores {}",
            record.key
        );
        suffixes.insert(suffix);
    }
    let handled: BTreeSet<String> = [
        shared::s3_event::ARTIFACT_FILE,
        shared::s3_event::SIDECAR_FILE,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(
        suffixes, handled,
        "notification suffixes vs the files the deployer acts on"
    );

    // The queue is the deployer's only trigger, with batch item failures,
    // and the deployer postpones messages on that same queue.
    let events = f.properties["Events"].as_object().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let (name, event) = events.iter().next().unwrap();
    assert_eq!(event["Type"], "SQS", "{name}");
    assert_eq!(event["Properties"]["Queue"], queue_arn, "{name}");
    assert_eq!(
        event["Properties"]["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"]),
        "{name}: without it one busy endpoint fails its whole batch"
    );
    assert_eq!(
        f.properties["Environment"]["Variables"]["DEPLOY_QUEUE_URL"],
        json!({"Ref": "DeployQueue"})
    );
    let batch: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("events/sqs-deploy-queue.json")).unwrap(),
    )
    .unwrap();
    assert!(deployer::queue::is_queue_batch(&batch));
    assert!(!deployer::queue::is_queue_batch(&sample));
    let body: Value = serde_json::from_str(batch["Records"][0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body, sample, "the sample batch carries the sample S3 event");

    // Messages are hidden at least as long as one invocation runs, and
    // reach the dead-letter queue only after the longest allowed wait.
    let queue = &resource("DeployQueue")["Properties"];
    let timeout = property(&f, "Timeout").as_u64().unwrap();
    assert!(queue["VisibilityTimeout"].as_u64().unwrap() >= 6 * timeout);
    assert_eq!(
        queue["RedrivePolicy"]["deadLetterTargetArn"],
        json!({"Fn::GetAtt": "DeadLetterQueue.Arn"})
    );
    let longest_wait = template()["Parameters"]["MaxDeployWaitMinutes"]["MaxValue"]
        .as_u64()
        .unwrap()
        * 60;
    let (mut receives, mut waited) = (1u32, 0u64);
    while waited < longest_wait {
        waited += deployer::retry::backoff(receives).as_secs();
        receives += 1;
    }
    let max_receives = queue["RedrivePolicy"]["maxReceiveCount"].as_u64().unwrap();
    assert!(
        u64::from(receives) < max_receives,
        "{receives} receives fit in MaxDeployWaitMinutes' maximum; maxReceiveCount is {max_receives}"
    );
    assert!(
        queue["MessageRetentionPeriod"].as_u64().unwrap() > longest_wait,
        "messages must outlive the longest wait"
    );
    assert_eq!(
        f.properties["Environment"]["Variables"]["MAX_DEPLOY_WAIT_MINUTES"],
        json!({"Ref": "MaxDeployWaitMinutes"})
    );
    assert_eq!(
        template()["Parameters"]["MaxDeployWaitMinutes"]["Default"].as_u64(),
        Some(deployer::retry::DEFAULT_MAX_DEPLOY_WAIT.as_secs() / 60)
    );
}

/// EventBridge matching for patterns of exact values.
fn matches(pattern: &Value, event: &Value) -> bool {
    pattern.as_object().unwrap().iter().all(|(k, p)| match p {
        Value::Array(allowed) => {
            assert!(
                allowed.iter().all(|a| !a.is_object()),
                "content filters are not modelled: {p}"
            );
            allowed.contains(&event[k])
        }
        Value::Object(_) => matches(p, &event[k]),
        other => panic!("pattern value {other} is not an array or object"),
    })
}

#[test]
fn the_smoke_tester_receives_the_state_changes_it_acts_on() {
    use smoke_tester::trigger::{parse_trigger, DETAIL_TYPE, EVENT_SOURCE};
    let f = function("smoke-tester");
    let events = f.properties["Events"].as_object().unwrap();
    assert_eq!(events.len(), 1);
    let rule = events.values().next().unwrap();
    assert_eq!(rule["Type"], "EventBridgeRule");
    let pattern = &rule["Properties"]["Pattern"];
    assert_eq!(pattern["source"], json!([EVENT_SOURCE]));
    assert_eq!(pattern["detail-type"], json!([DETAIL_TYPE]));
    // Every status: FAILED (a failed create) and IN_SERVICE (a test, or an
    // update SageMaker rolled back) end deployments; the rest are ignored.
    assert!(
        pattern["detail"].get("EndpointStatus").is_none(),
        "every state change of a managed endpoint reaches the smoke tester"
    );
    assert_eq!(
        pattern["detail"]["Tags"],
        json!({ shared::tags::MANAGED_BY_KEY: [shared::tags::MANAGED_BY_VALUE] })
    );
    let read = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(root().join("events").join(name)).unwrap())
            .unwrap()
    };
    for acted_on in [
        "sagemaker-endpoint-in-service.json",
        "sagemaker-endpoint-failed.json",
    ] {
        let event = read(acted_on);
        assert!(
            matches(pattern, &event),
            "{acted_on} reaches the smoke tester"
        );
        assert!(parse_trigger(&event).is_ok(), "{acted_on} is acted on");
    }
    assert!(
        !matches(pattern, &read("sagemaker-endpoint-unmanaged.json")),
        "an unmanaged endpoint's events do not reach the smoke tester"
    );
}

#[test]
fn the_sweeper_runs_on_a_schedule_it_accepts() {
    let f = function("cost-sweeper");
    let events = f.properties["Events"].as_object().unwrap();
    assert_eq!(events.len(), 1);
    let schedule = events.values().next().unwrap();
    assert_eq!(schedule["Type"], "Schedule");
    assert_eq!(
        schedule["Properties"]["Schedule"],
        json!({"Ref": "SweepSchedule"})
    );
    assert!(
        schedule["Properties"]["Input"].is_null(),
        "a scheduled event must reach the sweeper as sent"
    );
    let event: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("events/scheduled-sweep.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        cost_sweeper::config::SweepRequest::from_event(&event).unwrap(),
        cost_sweeper::config::SweepRequest::default()
    );
    assert_eq!(
        template()["Parameters"]["DryRun"]["Default"],
        "true",
        "dry run is the default"
    );
}

/// Metric names a crate emits (`.metric("Name", ...)`).
fn metrics_emitted(crate_dir: &Path) -> BTreeSet<String> {
    let re = Regex::new(r#"\.metric\(\s*"([A-Za-z0-9]+)""#).unwrap();
    sources(&crate_dir.join("src"))
        .iter()
        .flat_map(|s| {
            re.captures_iter(&s.code)
                .map(|c| c[1].to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn alarms_and_dashboard_read_metrics_the_functions_emit() {
    let smoke = metrics_emitted(&root().join("functions/smoke-tester"));
    let sweeper = metrics_emitted(&root().join("functions/cost-sweeper"));
    assert!(
        smoke.contains("SmokeTestPassed") && sweeper.contains("MigrationsCompleted"),
        "{smoke:?} {sweeper:?}"
    );
    assert_eq!(
        template()["Parameters"]["MetricsNamespace"]["Default"],
        shared::emf::DEFAULT_NAMESPACE
    );
    let alarm = text(&resource("SmokeTestFailedAlarm")["Properties"]["Metrics"][0]["Expression"]);
    let select =
        Regex::new(r"SELECT \w+\((\w+)\) FROM SCHEMA\(.\$\{MetricsNamespace\}., EndpointName\)")
            .unwrap();
    let name = &select
        .captures(&alarm)
        .unwrap_or_else(|| panic!("alarm query: {alarm}"))[1];
    assert!(smoke.contains(name), "alarm reads {name}, not emitted");

    let body = text(&resource("Dashboard")["Properties"]["DashboardBody"]);
    let placeholders = Regex::new(r"\$\{[^}]+\}").unwrap();
    let body: Value =
        serde_json::from_str(&placeholders.replace_all(&body, "NS")).expect("dashboard JSON");
    let search = Regex::new(r#"\{NS,EndpointName\} MetricName="(\w+)""#).unwrap();
    let mut checked = 0;
    for widget in body["widgets"].as_array().unwrap() {
        for line in widget["properties"]["metrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let line = line.as_array().unwrap();
            if let Some(expr) = line[0]["expression"].as_str() {
                let caps = search.captures(expr).unwrap_or_else(|| panic!("{expr}"));
                assert!(
                    smoke.contains(&caps[1]),
                    "dashboard reads {}, not emitted",
                    &caps[1]
                );
                checked += 1;
            } else if line[0] == "NS" {
                assert!(
                    sweeper.contains(line[1].as_str().unwrap()),
                    "dashboard reads {}",
                    line[1]
                );
                checked += 1;
            } else {
                let ns = line[0].as_str().unwrap();
                assert!(
                    ns.starts_with("AWS/"),
                    "dashboard namespace {ns} is neither AWS's nor the pipeline's"
                );
            }
        }
    }
    assert!(checked >= 6, "dashboard metric lines checked: {checked}");
}

#[test]
fn every_checkov_skip_is_justified() {
    for (id, r) in resources() {
        for skip in one_or_many(&r["Metadata"]["checkov"]["skip"]) {
            let comment = skip["comment"].as_str().unwrap_or_default();
            assert!(
                skip["id"].as_str().is_some_and(|i| i.starts_with("CKV")) && comment.len() > 20,
                "{id}: checkov skip {skip} needs an id and a justification"
            );
        }
    }
}

#[test]
fn the_sweeper_never_changes_an_opted_out_endpoint() {
    let f = function("cost-sweeper");
    let denies: Vec<&Value> = all_statements(&f)
        .into_iter()
        .filter(|s| s["Effect"] == "Deny")
        .collect();
    assert_eq!(denies.len(), 1, "{denies:?}");
    let deny = denies[0];
    let actions: BTreeSet<String> = statement_actions(deny).into_iter().collect();
    for action in [
        "sagemaker:UpdateEndpoint",
        "sagemaker:DeleteEndpoint",
        "sagemaker:AddTags",
    ] {
        assert!(actions.contains(action), "{action} not denied: {actions:?}");
    }
    // The opt-out tag the sweeper's eligibility reads (fleet.rs).
    assert_eq!(
        condition_keys(deny).get("aws:ResourceTag/serverless-migration"),
        Some(&vec!["exclude".to_string()])
    );
    assert!(deny["Condition"]["StringEquals"].is_object(), "{deny}");
    // Tag writes that no resource tag limits are limited by key.
    for s in statements(&f) {
        let conditions = condition_keys(s);
        let tags_only_by_key = statement_actions(s) == ["sagemaker:AddTags"]
            && !conditions
                .keys()
                .any(|k| k.starts_with("aws:RequestTag/") || k.starts_with("aws:ResourceTag/"))
            && !conditions.contains_key("sagemaker:TaggingAction");
        if tags_only_by_key {
            let keys: Vec<String> =
                one_or_many(&s["Condition"]["ForAllValues:StringLike"]["aws:TagKeys"])
                    .into_iter()
                    .map(text)
                    .collect();
            assert!(
                !keys.is_empty(),
                "{}: AddTags limited neither by tag nor by key: {s}",
                f.id
            );
            assert!(
                keys.iter()
                    .all(|k| k.starts_with(shared::tags::PIPELINE_PREFIX)),
                "{keys:?}"
            );
        }
    }
}

/// Issue 10, "the stack fails to redeploy": a resource with a fixed physical
/// name that is retained after a failed first create makes the retry fail
/// with "already exists", so such resources use `RetainExceptOnCreate`; and
/// a bucket name built from the stack name breaks on uppercase stack names,
/// so every parameter in it must only accept what S3 accepts.
#[test]
fn named_resources_do_not_block_a_redeploy() {
    const NAME_PROPERTIES: [&str; 4] = ["BucketName", "TableName", "QueueName", "TopicName"];
    let parameters = template()["Parameters"].as_object().expect("Parameters");
    let reference = regex_lite::Regex::new(r"\$\{([A-Za-z0-9:]+)\}").expect("regex");
    let mut named = 0;
    for (id, r) in resources() {
        for property in NAME_PROPERTIES {
            let Some(value) = r["Properties"].get(property) else {
                continue;
            };
            named += 1;
            let policy = r["DeletionPolicy"].as_str().unwrap_or("Delete");
            assert_ne!(
                policy, "Retain",
                "{id}: a fixed {property} kept after a failed first create blocks the retry (use RetainExceptOnCreate)"
            );
            let name = text(value);
            for captured in reference.captures_iter(&name) {
                let referenced = &captured[1];
                assert_ne!(
                    referenced, "AWS::StackName",
                    "{id}: stack names may be uppercase, {property} may not"
                );
                if referenced.starts_with("AWS::") {
                    continue;
                }
                let pattern = parameters[referenced]["AllowedPattern"]
                    .as_str()
                    .unwrap_or_else(|| {
                        panic!("{id}: {referenced} in {property} has no AllowedPattern")
                    });
                let allowed = regex_lite::Regex::new(pattern).expect("AllowedPattern is a regex");
                assert!(allowed.is_match("ml-team"), "{referenced}: {pattern}");
                assert!(
                    !allowed.is_match("MlTeam"),
                    "{id}: {referenced} accepts uppercase, which {property} may not hold"
                );
            }
        }
    }
    assert!(named > 0, "the models bucket has a fixed name");
}

/// Issue 13: an endpoint's lease in the ledger lasts until its holder's
/// invocation deadline plus a margin (`shared::lease`), capped at Lambda's
/// longest timeout. Every function that takes it must therefore time out
/// within that cap, or a long run (a repack) would outlive its lease; and a
/// queued message must come back only once the attempt that had it can no
/// longer hold the lease, or its retry would only wait on that lease (AWS
/// recommends a visibility timeout of six times the function's timeout,
/// checked above, which is more).
#[test]
fn the_ledger_lease_covers_every_invocation_that_takes_it() {
    let takers: Vec<Function> = functions()
        .into_iter()
        .filter(|f| {
            sources(&f.crate_dir().join("src"))
                .iter()
                .any(|s| s.code.contains(".take_lease("))
        })
        .collect();
    let mut names: Vec<&str> = takers.iter().map(|f| f.binary.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        ["deployer", "smoke-tester"],
        "functions taking the lease"
    );
    for f in &takers {
        let timeout = property(f, "Timeout").as_u64().expect("Timeout");
        assert!(
            timeout <= shared::lease::LONGEST_INVOCATION.as_secs(),
            "{}: Timeout {timeout} s outlives the longest lease",
            f.id
        );
    }
    let deployer = function("deployer");
    let timeout = property(&deployer, "Timeout").as_u64().expect("Timeout");
    let visibility = resource("DeployQueue")["Properties"]["VisibilityTimeout"]
        .as_u64()
        .expect("VisibilityTimeout");
    assert!(
        visibility >= timeout + shared::lease::DEADLINE_MARGIN.as_secs(),
        "a message is visible again after {visibility} s, while the attempt that had it may hold the lease for {timeout} s + the margin"
    );
}
