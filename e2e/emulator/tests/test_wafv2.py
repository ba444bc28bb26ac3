"""WAFv2 as the firewall component uses it: CheckCapacity, DescribeManagedRuleGroup, the
capacity GetWebACL reports, unknown managed groups refused, deletion of an associated ACL
refused, lower-cased header names, lock tokens, and associations refused for a while
after an ACL is created (`wafv2.associate`)."""

from __future__ import annotations

import time

from awserror import fails_with

VIS = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "m"}


def group(name: str, priority: int, vendor: str = "AWS") -> dict:
    return {"Name": name, "Priority": priority, "Statement": {"ManagedRuleGroupStatement": {"VendorName": vendor, "Name": name}}, "OverrideAction": {"None": {}}, "VisibilityConfig": VIS}


def cron_rule() -> dict:
    path = {"ByteMatchStatement": {"SearchString": b"cron.php", "FieldToMatch": {"UriPath": {}}, "TextTransformations": [{"Priority": 0, "Type": "URL_DECODE"}, {"Priority": 1, "Type": "LOWERCASE"}], "PositionalConstraint": "CONTAINS"}}
    header = {"ByteMatchStatement": {"SearchString": b"token", "FieldToMatch": {"SingleHeader": {"Name": "X-Redcap-Cron-Token"}}, "TextTransformations": [{"Priority": 0, "Type": "NONE"}], "PositionalConstraint": "EXACTLY"}}
    return {"Name": "cron-token", "Priority": 20, "Statement": {"AndStatement": {"Statements": [path, {"NotStatement": {"Statement": header}}]}}, "Action": {"Block": {}}, "VisibilityConfig": VIS}


def acl(waf, rules: list[dict], name: str = "redcap") -> dict:
    return waf.create_web_acl(Name=name, Scope="REGIONAL", DefaultAction={"Allow": {}}, VisibilityConfig=VIS, Rules=rules)["Summary"]


def test_capacity_of_rules_and_managed_groups(aws):
    waf = aws("wafv2")
    rules = [group("AWSManagedRulesCommonRuleSet", 1), group("AWSManagedRulesSQLiRuleSet", 2), cron_rule()]
    # 700 + 200 + (CONTAINS 10 + two transformations 20) + (EXACTLY 2)
    assert waf.check_capacity(Scope="REGIONAL", Rules=rules)["Capacity"] == 932
    s = acl(waf, rules)
    got = waf.get_web_acl(Name="redcap", Scope="REGIONAL", Id=s["Id"])["WebACL"]
    assert got["Capacity"] == 932
    header = got["Rules"][2]["Statement"]["AndStatement"]["Statements"][1]["NotStatement"]["Statement"]["ByteMatchStatement"]
    assert header["FieldToMatch"]["SingleHeader"]["Name"] == "x-redcap-cron-token"
    assert header["SearchString"] == b"token"
    with fails_with("WAFNonexistentItemException"):
        waf.check_capacity(Scope="REGIONAL", Rules=[group("AWSManagedRulesNoSuchRuleSet", 1)])
    with fails_with("WAFNonexistentItemException"):
        acl(waf, [group("AWSManagedRulesNoSuchRuleSet", 1)], name="other")
    with fails_with("WAFNonexistentItemException"):
        waf.update_web_acl(Name="redcap", Scope="REGIONAL", Id=s["Id"], DefaultAction={"Allow": {}}, VisibilityConfig=VIS, Rules=[group("Nope", 1, vendor="Acme")], LockToken=s["LockToken"])


def test_describe_managed_rule_group_lists_labels(aws):
    waf = aws("wafv2")
    g = waf.describe_managed_rule_group(VendorName="AWS", Name="AWSManagedRulesSQLiRuleSet", Scope="REGIONAL")
    assert g["Capacity"] == 200
    labels = {label["Name"] for label in g["AvailableLabels"]}
    assert "awswaf:managed:aws:sql-database:SQLi_Body" in labels and "awswaf:managed:aws:sql-database:SQLi_QueryArguments" in labels
    assert {r["Name"] for r in g["Rules"]} >= {"SQLi_BODY", "SQLi_QUERYARGUMENTS"}
    with fails_with("WAFNonexistentItemException"):
        waf.describe_managed_rule_group(VendorName="AWS", Name="Missing", Scope="REGIONAL")


def test_associated_acl_is_not_deleted_and_lock_tokens_count(aws):
    waf, elb, ec2 = aws("wafv2"), aws("elbv2"), aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"] for i, z in ((1, "a"), (2, "b"))]
    lb = elb.create_load_balancer(Name="redcap", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    s = acl(waf, [cron_rule()])
    waf.associate_web_acl(WebACLArn=s["ARN"], ResourceArn=lb)
    lock = waf.get_web_acl(Name="redcap", Scope="REGIONAL", Id=s["Id"])["LockToken"]
    with fails_with("WAFAssociatedItemException"):
        waf.delete_web_acl(Name="redcap", Scope="REGIONAL", Id=s["Id"], LockToken=lock)
    waf.disassociate_web_acl(ResourceArn=lb)
    with fails_with("WAFOptimisticLockException"):
        waf.delete_web_acl(Name="redcap", Scope="REGIONAL", Id=s["Id"], LockToken="00000000-0000-0000-0000-000000000000")
    waf.delete_web_acl(Name="redcap", Scope="REGIONAL", Id=s["Id"], LockToken=lock)
    assert waf.list_web_acls(Scope="REGIONAL")["WebACLs"] == []


def test_association_is_refused_for_a_while_after_create(aws, control):
    waf, elb, ec2 = aws("wafv2"), aws("elbv2"), aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"] for i, z in ((1, "a"), (2, "b"))]
    lb = elb.create_load_balancer(Name="redcap", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    control.config(durations={"wafv2.associate": 1.5})
    s = acl(waf, [])
    with fails_with("WAFUnavailableEntityException"):
        waf.associate_web_acl(WebACLArn=s["ARN"], ResourceArn=lb)
    time.sleep(1.6)
    waf.associate_web_acl(WebACLArn=s["ARN"], ResourceArn=lb)
    assert waf.get_web_acl_for_resource(ResourceArn=lb)["WebACL"]["ARN"] == s["ARN"]

