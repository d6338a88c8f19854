#!/usr/bin/env python3
"""Unit tests of the policy evaluator, the template resolver and the call recorder's mapping.

    .venv/bin/python tests/policy/test_policy.py    (scripts/test runs it)

The expected decisions follow AWS's documented evaluation logic (IAM User Guide,
"Policy evaluation logic" and "Condition operators"); each case names the rule.
"""

from __future__ import annotations

import os
import sys
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "emulator"))

import iam_eval  # noqa: E402
import template_policies  # noqa: E402

ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud"


def allow(action="sagemaker:AddTags", resource="arn:aws:sagemaker:us-east-1:123456789012:endpoint/*",
          condition=None, sid="S", effect="Allow"):
    s = {"Sid": sid, "Effect": effect, "Action": action, "Resource": resource}
    if condition:
        s["Condition"] = condition
    return s


def decide(statements, action="sagemaker:AddTags", resource=ARN, **context):
    context = {k.replace("__", "/").replace("_", ":", 1) if "__" in k or k.startswith("aws_") else k: v
               for k, v in context.items()}
    return iam_eval.evaluate(statements, {"action": action, "resource": resource, "context": context}).effect


class Matching(unittest.TestCase):
    def test_action_is_case_insensitive_and_resource_is_not(self):
        s = [allow(action="SageMaker:addtags")]
        self.assertEqual(decide(s), "allow")
        self.assertEqual(decide(s, resource=ARN.replace("endpoint", "Endpoint")), "implicit-deny")

    def test_wildcards(self):
        s = [allow(resource="arn:aws:s3:::bucket/reports/*")]
        self.assertEqual(decide(s, resource="arn:aws:s3:::bucket/reports/2026/x.md"), "allow")
        self.assertEqual(decide(s, resource="arn:aws:s3:::bucket/models/x"), "implicit-deny")
        self.assertEqual(decide([allow(action="s3:Get?bject", resource="*")], action="s3:GetObject"), "allow")

    def test_not_action_and_not_resource(self):
        s = [allow(action=None, resource=None) | {"NotAction": "s3:*", "NotResource": "arn:aws:s3:::x"}]
        del s[0]["Action"], s[0]["Resource"]
        self.assertEqual(decide(s, action="sagemaker:AddTags", resource=ARN), "allow")
        self.assertEqual(decide(s, action="s3:GetObject", resource=ARN), "implicit-deny")

    def test_explicit_deny_wins_over_any_allow(self):
        s = [allow(), allow(effect="Deny", sid="D")]
        self.assertEqual(decide(s), "explicit-deny")

    def test_nothing_matching_is_an_implicit_deny(self):
        self.assertEqual(decide([], action="s3:GetObject"), "implicit-deny")


class Conditions(unittest.TestCase):
    def ctx(self, statements, **context):
        return iam_eval.evaluate(statements, {"action": "sagemaker:AddTags", "resource": ARN,
                                              "context": context}).effect

    def test_string_equals_on_a_request_tag(self):
        s = [allow(condition={"StringEquals": {"aws:RequestTag/managed-by": "p"}})]
        self.assertEqual(self.ctx(s, **{"aws:RequestTag/managed-by": "p"}), "allow")
        self.assertEqual(self.ctx(s, **{"aws:RequestTag/managed-by": "q"}), "implicit-deny")
        self.assertEqual(self.ctx(s), "implicit-deny", "a missing key fails a plain operator")

    def test_condition_keys_are_case_insensitive(self):
        s = [allow(condition={"StringEquals": {"aws:requesttag/Managed-By": "p"}})]
        self.assertEqual(self.ctx(s, **{"aws:RequestTag/managed-by": "p"}), "allow")

    def test_values_are_or_keys_and_operators_are_and(self):
        s = [allow(condition={"StringEquals": {"sagemaker:TaggingAction": ["CreateModel", "CreateEndpoint"],
                                               "aws:RequestTag/managed-by": "p"}})]
        ok = {"sagemaker:TaggingAction": "CreateEndpoint", "aws:RequestTag/managed-by": "p"}
        self.assertEqual(self.ctx(s, **ok), "allow")
        self.assertEqual(self.ctx(s, **{"sagemaker:TaggingAction": "CreateEndpoint"}), "implicit-deny")

    def test_negated_operator_holds_when_the_key_is_missing(self):
        s = [allow(condition={"StringNotEquals": {"aws:ResourceTag/serverless-migration": "exclude"}})]
        self.assertEqual(self.ctx(s), "allow")
        self.assertEqual(self.ctx(s, **{"aws:ResourceTag/serverless-migration": "exclude"}), "implicit-deny")
        self.assertEqual(self.ctx(s, **{"aws:ResourceTag/serverless-migration": "other"}), "allow")

    def test_string_like(self):
        s = [allow(condition={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}})]
        self.assertEqual(self.ctx(s, **{"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}), "allow")
        self.assertEqual(self.ctx(s, **{"cloudwatch:namespace": "Custom"}), "implicit-deny")

    def test_null(self):
        present = [allow(condition={"Null": {"aws:RequestTag/pipeline:migration-state": "false"}})]
        self.assertEqual(self.ctx(present, **{"aws:RequestTag/pipeline:migration-state": "canary"}), "allow")
        self.assertEqual(self.ctx(present), "implicit-deny")
        absent = [allow(condition={"Null": {"sagemaker:TaggingAction": "true"}})]
        self.assertEqual(self.ctx(absent), "allow")
        self.assertEqual(self.ctx(absent, **{"sagemaker:TaggingAction": "CreateModel"}), "implicit-deny")

    def test_for_all_values_on_tag_keys(self):
        s = [allow(condition={"ForAllValues:StringLike": {"aws:TagKeys": ["pipeline:*"]}})]
        self.assertEqual(self.ctx(s, **{"aws:TagKeys": ["pipeline:a", "pipeline:b"]}), "allow")
        self.assertEqual(self.ctx(s, **{"aws:TagKeys": ["pipeline:a", "managed-by"]}), "implicit-deny")
        self.assertEqual(self.ctx(s), "allow", "ForAllValues holds for a missing key (why Null is paired)")

    def test_for_any_value(self):
        s = [allow(condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["managed-by"]}})]
        self.assertEqual(self.ctx(s, **{"aws:TagKeys": ["x", "managed-by"]}), "allow")
        self.assertEqual(self.ctx(s), "implicit-deny")

    def test_if_exists(self):
        s = [allow(condition={"StringEqualsIfExists": {"iam:PassedToService": "sagemaker.amazonaws.com"}})]
        self.assertEqual(self.ctx(s), "allow")
        self.assertEqual(self.ctx(s, **{"iam:PassedToService": "lambda.amazonaws.com"}), "implicit-deny")

    def test_deny_with_a_resource_tag_condition(self):
        s = [allow(), allow(effect="Deny", sid="D",
                            condition={"StringEquals": {"aws:ResourceTag/serverless-migration": "exclude"}})]
        self.assertEqual(self.ctx(s), "allow")
        self.assertEqual(self.ctx(s, **{"aws:ResourceTag/serverless-migration": "exclude"}), "explicit-deny")

    def test_unknown_keys_and_operators_are_errors_not_mismatches(self):
        with self.assertRaises(iam_eval.PolicyError):
            self.ctx([allow(condition={"StringEquals": {"aws:SourceIp": "1.2.3.4"}})])
        with self.assertRaises(iam_eval.PolicyError):
            self.ctx([allow(condition={"NumericLessThan": {"s3:prefix": "1"}})])
        with self.assertRaises(iam_eval.PolicyError):
            self.ctx([allow(condition={"StringLike": {"aws:TagKeys": "pipeline:*"}})],
                     **{"aws:TagKeys": ["pipeline:a"]})


class Resolver(unittest.TestCase):
    TEMPLATE = {
        "Parameters": {"Prefix": {"Type": "String", "Default": "p"},
                       "Roles": {"Type": "CommaDelimitedList", "Default": ""}},
        "Conditions": {"HasRoles": {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "Roles"}]}, ""]}]}},
        "Resources": {"Bucket": {"Type": "AWS::S3::Bucket",
                                 "Properties": {"BucketName": {"Fn::Sub": "${Prefix}-${AWS::AccountId}-models"}}},
                      "Topic": {"Type": "AWS::SNS::Topic"}, "Role": {"Type": "AWS::IAM::Role"}},
    }

    def resolver(self, **parameters):
        return template_policies.Resolver(self.TEMPLATE, "stk", "us-east-1", parameters)

    def test_refs_subs_and_conventions(self):
        r = self.resolver()
        self.assertEqual(r.resolve({"Ref": "Bucket"}), "p-123456789012-models")
        self.assertEqual(r.resolve({"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}/*"}),
                         "arn:aws:s3:::p-123456789012-models/*")
        self.assertEqual(r.resolve({"Ref": "Topic"}), "arn:aws:sns:us-east-1:123456789012:stk-Topic")
        self.assertEqual(r.resolve({"Fn::GetAtt": ["Role", "Arn"]}), "arn:aws:iam::123456789012:role/stk-Role")
        self.assertEqual(r.resolve({"Fn::Sub": "${!Literal}"}), "${Literal}")

    def test_conditions_and_no_value(self):
        statement = {"Fn::If": ["HasRoles", {"Resource": {"Ref": "Roles"}}, {"Ref": "AWS::NoValue"}]}
        self.assertEqual(self.resolver().resolve([statement]), [])
        self.assertEqual(self.resolver(Roles="a,b").resolve([statement]), [{"Resource": ["a", "b"]}])

    def test_split_join_sub_with_variables(self):
        r = self.resolver(Roles="x,y")
        value = {"Fn::Split": [",", {"Fn::Sub": ["arn:aws:s3:::${B}/*", {
            "B": {"Fn::Join": ["/*,arn:aws:s3:::", {"Ref": "Roles"}]}}]}]}
        self.assertEqual(r.resolve(value), ["arn:aws:s3:::x/*", "arn:aws:s3:::y/*"])

    def test_unknown_parameters_and_intrinsics_are_errors(self):
        with self.assertRaises(ValueError):
            self.resolver(Nope="1")
        with self.assertRaises(ValueError):
            self.resolver().resolve({"Fn::ImportValue": "x"})


class RecorderMapping(unittest.TestCase):
    """What call_recorder.py says a SageMaker call authorizes (no moto needed for these)."""

    def setUp(self):
        try:
            import call_recorder
        except ImportError as exc:  # moto not importable: run with .venv/bin/python
            self.skipTest(str(exc))
        self.rec = call_recorder

    def test_create_with_tags_needs_add_tags_for_that_create(self):
        tags = {"arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/c": {"managed-by": "p"}}
        requests = self.rec.sagemaker_requests(
            "CreateEndpoint", {"EndpointName": "e", "EndpointConfigName": "c",
                               "Tags": [{"Key": "managed-by", "Value": "p"}]},
            "us-east-1", lambda arn: tags.get(arn, {}))
        by = {(r["action"], r["resource"].rsplit(":", 1)[1]): r["context"] for r in requests}
        self.assertEqual(set(by), {("sagemaker:CreateEndpoint", "endpoint/e"),
                                   ("sagemaker:CreateEndpoint", "endpoint-config/c"),
                                   ("sagemaker:AddTags", "endpoint/e")})
        self.assertEqual(by[("sagemaker:AddTags", "endpoint/e")]["sagemaker:TaggingAction"], "CreateEndpoint")
        self.assertEqual(by[("sagemaker:CreateEndpoint", "endpoint-config/c")]["aws:ResourceTag/managed-by"], "p")
        self.assertEqual(by[("sagemaker:CreateEndpoint", "endpoint/e")]["aws:TagKeys"], ["managed-by"])

    def test_create_model_passes_its_role(self):
        requests = self.rec.sagemaker_requests(
            "CreateModel", {"ModelName": "m", "ExecutionRoleArn": "arn:aws:iam::1:role/r"}, "us-east-1",
            lambda arn: {})
        self.assertIn({"action": "iam:PassRole", "resource": "arn:aws:iam::1:role/r",
                       "context": {"iam:PassedToService": "sagemaker.amazonaws.com"}}, requests)
        self.assertNotIn("sagemaker:AddTags", [r["action"] for r in requests])

    def test_add_tags_on_an_existing_resource_carries_its_tags_and_no_tagging_action(self):
        [request] = self.rec.sagemaker_requests(
            "AddTags", {"ResourceArn": ARN, "Tags": [{"Key": "pipeline:x", "Value": "1"}]}, "us-east-1",
            lambda arn: {"managed-by": "p"})
        self.assertEqual(request["context"], {"aws:ResourceTag/managed-by": "p", "aws:RequestTag/pipeline:x": "1",
                                              "aws:TagKeys": ["pipeline:x"]})

    def test_s3_versions_and_listing(self):
        [get] = self.rec.s3_requests("GET", "GetObject", "b", "k/x", {"versionId": ["1"]})
        self.assertEqual((get["action"], get["resource"]), ("s3:GetObjectVersion", "arn:aws:s3:::b/k/x"))
        [head] = self.rec.s3_requests("HEAD", "HeadObject", "b", "k", {})
        self.assertEqual(head["action"], "s3:GetObject")
        [lst] = self.rec.s3_requests("GET", "ListObjectsV2", "b", "", {"prefix": ["models/"]})
        self.assertEqual((lst["action"], lst["resource"], lst["context"]),
                         ("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "models/"}))


    def test_a_multipart_upload_is_authorized_as_put_object_and_its_abort_on_its_own(self):
        from request_counter import _s3_operation
        ops = [_s3_operation("POST", "/b/p/k", {"uploads": [""]}),
               _s3_operation("PUT", "/b/p/k", {"partNumber": ["1"], "uploadId": ["u"]}),
               _s3_operation("POST", "/b/p/k", {"uploadId": ["u"]}),
               _s3_operation("DELETE", "/b/p/k", {"uploadId": ["u"]})]
        self.assertEqual(ops, ["CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload",
                               "AbortMultipartUpload"])
        actions = [self.rec.s3_requests("X", op, "b", "p/k", {})[0]["action"] for op in ops]
        self.assertEqual(actions, ["s3:PutObject"] * 3 + ["s3:AbortMultipartUpload"])
        self.assertEqual(_s3_operation("DELETE", "/b/p/k", {}), "DeleteObject")


if __name__ == "__main__":
    unittest.main()
