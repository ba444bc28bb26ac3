"""AWS WAFv2: what moto 5.2.5 lacks or gets wrong for the operator's web ACL.

* ListResourcesForWebACL lists the associated ARNs of the requested resource type.
* AssociateWebACL refuses App Runner ARNs of services that do not exist (moto accepted any
  ARN); other associations are moto's. For `wafv2.associate` seconds after a web ACL was
  created, AssociateWebACL answers WAFUnavailableEntityException, as AWS does while a new
  ACL propagates.
* A duplicate name answers WAFDuplicateItemException (moto: WafV2DuplicateItem).
* CheckCapacity (moto has none) and the `Capacity` of GetWebACL count capacity units from
  the statements (AWS's published costs, below) and a static table of the AWS managed rule
  groups; a group not in the table is WAFNonexistentItemException (moto accepted any name),
  for CheckCapacity, CreateWebACL and UpdateWebACL alike.
* DescribeManagedRuleGroup (moto has none) answers the table: capacity, rules and the
  labels the group adds (what label-scoped rules match on).
* DeleteWebACL of an ACL that is still associated answers WAFAssociatedItemException (moto
  deleted it).
* GetWebACL reports SingleHeader names in lower case, as AWS stores them.
Inputs and outputs go through botocore's wafv2 model; moto already enforces lock tokens.
"""

from __future__ import annotations

from typing import Any

import time

from ..core import model, wire
from ..core.config import CONFIG
from ..core.errors import replace_code
from ..core.hooks import Registry
from ..core.model import ApiError
from ..core.util import account_id
from . import apprunner


def install(reg: Registry) -> None:
    reg.before("wafv2", {"ListResourcesForWebACL", "AssociateWebACL"})(_web_acl_resources)
    reg.before("wafv2", {"CheckCapacity"})(_check_capacity)
    reg.before("wafv2", {"DescribeManagedRuleGroup"})(_describe_managed_rule_group)
    reg.before("wafv2", {"CreateWebACL", "UpdateWebACL"})(_known_groups)
    reg.before("wafv2", {"DeleteWebACL"})(_delete_associated)
    reg.after("wafv2", {"CreateWebACL"})(_created)
    reg.after("wafv2", {"GetWebACL"})(_get_web_acl)
    reg.after("wafv2")(_duplicate)
    reg.on_reset(_CREATED.clear)


# When each web ACL (by ARN) was created, for `wafv2.associate`.
_CREATED: dict[str, float] = {}

# The AWS managed rule groups the emulator knows: capacity, rules (name, action) and the
# labels they add. Capacities and label keys as AWS documents them
# (docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-list.html).
_SQLI = "awswaf:managed:aws:sql-database:"
_COMMON = "awswaf:managed:aws:core-rule-set:"
_BAD = "awswaf:managed:aws:known-bad-inputs:"
_REP = "awswaf:managed:aws:amazon-ip-list:"
MANAGED_GROUPS: dict[str, dict[str, Any]] = {
    "AWSManagedRulesCommonRuleSet": {
        "capacity": 700,
        "rules": {
            "NoUserAgent_HEADER": _COMMON + "NoUserAgent_Header",
            "UserAgent_BadBots_HEADER": _COMMON + "BadBots_Header",
            "SizeRestrictions_QUERYSTRING": _COMMON + "SizeRestrictions_QueryString",
            "SizeRestrictions_Cookie_HEADER": _COMMON + "SizeRestrictions_Cookie_Header",
            "SizeRestrictions_BODY": _COMMON + "SizeRestrictions_Body",
            "SizeRestrictions_URIPATH": _COMMON + "SizeRestrictions_URIPath",
            "EC2MetaDataSSRF_BODY": _COMMON + "EC2MetaDataSSRF_Body",
            "EC2MetaDataSSRF_COOKIE": _COMMON + "EC2MetaDataSSRF_Cookie",
            "EC2MetaDataSSRF_URIPATH": _COMMON + "EC2MetaDataSSRF_URIPath",
            "EC2MetaDataSSRF_QUERYARGUMENTS": _COMMON + "EC2MetaDataSSRF_QueryArguments",
            "GenericLFI_QUERYARGUMENTS": _COMMON + "GenericLFI_QueryArguments",
            "GenericLFI_URIPATH": _COMMON + "GenericLFI_URIPath",
            "GenericLFI_BODY": _COMMON + "GenericLFI_Body",
            "RestrictedExtensions_URIPATH": _COMMON + "RestrictedExtensions_URIPath",
            "RestrictedExtensions_QUERYARGUMENTS": _COMMON + "RestrictedExtensions_QueryArguments",
            "GenericRFI_QUERYARGUMENTS": _COMMON + "GenericRFI_QueryArguments",
            "GenericRFI_BODY": _COMMON + "GenericRFI_Body",
            "GenericRFI_URIPATH": _COMMON + "GenericRFI_URIPath",
            "CrossSiteScripting_COOKIE": _COMMON + "CrossSiteScripting_Cookie",
            "CrossSiteScripting_QUERYARGUMENTS": _COMMON + "CrossSiteScripting_QueryArguments",
            "CrossSiteScripting_BODY": _COMMON + "CrossSiteScripting_Body",
            "CrossSiteScripting_URIPATH": _COMMON + "CrossSiteScripting_URIPath",
        },
    },
    "AWSManagedRulesKnownBadInputsRuleSet": {
        "capacity": 200,
        "rules": {
            "JavaDeserializationRCE_HEADER": _BAD + "JavaDeserializationRCE_Header",
            "JavaDeserializationRCE_BODY": _BAD + "JavaDeserializationRCE_Body",
            "JavaDeserializationRCE_URIPATH": _BAD + "JavaDeserializationRCE_URIPath",
            "JavaDeserializationRCE_QUERYSTRING": _BAD + "JavaDeserializationRCE_QueryString",
            "Host_localhost_HEADER": _BAD + "Host_Localhost_Header",
            "PROPFIND_METHOD": _BAD + "Propfind_Method",
            "ExploitablePaths_URIPATH": _BAD + "ExploitablePaths_URIPath",
            "Log4JRCE_HEADER": _BAD + "Log4JRCE_Header",
            "Log4JRCE_QUERYSTRING": _BAD + "Log4JRCE_QueryString",
            "Log4JRCE_BODY": _BAD + "Log4JRCE_Body",
            "Log4JRCE_URIPATH": _BAD + "Log4JRCE_URIPath",
        },
    },
    "AWSManagedRulesSQLiRuleSet": {
        "capacity": 200,
        "rules": {
            "SQLi_QUERYARGUMENTS": _SQLI + "SQLi_QueryArguments",
            "SQLiExtendedPatterns_QUERYARGUMENTS": _SQLI + "SQLiExtendedPatterns_QueryArguments",
            "SQLi_BODY": _SQLI + "SQLi_Body",
            "SQLiExtendedPatterns_BODY": _SQLI + "SQLiExtendedPatterns_Body",
            "SQLi_COOKIE": _SQLI + "SQLi_Cookie",
            "SQLi_URIPATH": _SQLI + "SQLi_URIPath",
        },
    },
    "AWSManagedRulesAmazonIpReputationList": {
        "capacity": 25,
        "rules": {
            "AWSManagedIPReputationList": _REP + "AWSManagedIPReputationList",
            "AWSManagedReconnaissanceList": _REP + "AWSManagedReconnaissanceList",
            "AWSManagedIPDDoSList": _REP + "AWSManagedIPDDoSList",
        },
    },
    "AWSManagedRulesAnonymousIpList": {"capacity": 50, "rules": {"AnonymousIPList": "awswaf:managed:aws:anonymous-ip-list:AnonymousIPList", "HostingProviderIPList": "awswaf:managed:aws:anonymous-ip-list:HostingProviderIPList"}},
    "AWSManagedRulesLinuxRuleSet": {"capacity": 200, "rules": {"LFI_URIPATH": "awswaf:managed:aws:linux-os:LFI_URIPath", "LFI_QUERYSTRING": "awswaf:managed:aws:linux-os:LFI_QueryString", "LFI_HEADER": "awswaf:managed:aws:linux-os:LFI_Header"}},
    "AWSManagedRulesPHPRuleSet": {"capacity": 100, "rules": {"PHPHighRiskMethodsVariables_HEADER": "awswaf:managed:aws:php-app:PHPHighRiskMethodsVariables_Header", "PHPHighRiskMethodsVariables_QUERYSTRING": "awswaf:managed:aws:php-app:PHPHighRiskMethodsVariables_QueryString", "PHPHighRiskMethodsVariables_BODY": "awswaf:managed:aws:php-app:PHPHighRiskMethodsVariables_Body"}},
    "AWSManagedRulesAdminProtectionRuleSet": {"capacity": 100, "rules": {"AdminProtection_URIPATH": "awswaf:managed:aws:admin-protection:AdminProtection_URIPath"}},
}


def _group(vendor: str, name: str) -> dict[str, Any]:
    group = MANAGED_GROUPS.get(name) if vendor == "AWS" else None
    if group is None:
        raise ApiError("WAFNonexistentItemException", f"AWS WAF couldn't perform the operation because your resource doesn't exist: managed rule group {vendor}/{name}")
    return group


# Capacity units of one statement, after AWS's published costs: a byte match costs 2
# (CONTAINS and CONTAINS_WORD 10), each text transformation other than NONE adds 10;
# geo, IP set and label matches cost 1; a rate-based statement 2 plus its scope-down;
# AND / OR / NOT cost their statements.
def _statement_wcu(st: dict[str, Any]) -> int:
    if "ByteMatchStatement" in st:
        m = st["ByteMatchStatement"]
        base = 10 if m.get("PositionalConstraint") in ("CONTAINS", "CONTAINS_WORD") else 2
        return base + 10 * sum(1 for t in m.get("TextTransformations", []) if t.get("Type") != "NONE")
    if "GeoMatchStatement" in st or "IPSetReferenceStatement" in st or "LabelMatchStatement" in st:
        return 1
    if "RateBasedStatement" in st:
        scope = st["RateBasedStatement"].get("ScopeDownStatement")
        return 2 + (_statement_wcu(scope) if scope else 0)
    if "ManagedRuleGroupStatement" in st:
        g = st["ManagedRuleGroupStatement"]
        return _group(g.get("VendorName", ""), g.get("Name", ""))["capacity"]
    for key in ("AndStatement", "OrStatement"):
        if key in st:
            return sum(_statement_wcu(s) for s in st[key].get("Statements", []))
    if "NotStatement" in st:
        return _statement_wcu(st["NotStatement"]["Statement"])
    return 1


def capacity(rules: list[dict[str, Any]]) -> int:
    return sum(_statement_wcu(r.get("Statement", {})) for r in rules)


def _check_capacity(call: wire.Call) -> wire.Response:
    op = model.service_model("wafv2").operation_model("CheckCapacity")
    params = wire.json_params(call, op)
    return wire.json_response(call, model.build_output(op, {"Capacity": capacity(params.get("Rules", []))}))


def _describe_managed_rule_group(call: wire.Call) -> wire.Response:
    op = model.service_model("wafv2").operation_model("DescribeManagedRuleGroup")
    params = wire.json_params(call, op)
    group = _group(params["VendorName"], params["Name"])
    rules = [{"Name": n, "Action": {"Block": {}}} for n in group["rules"]]
    labels = [{"Name": label} for label in group["rules"].values()]
    prefix = next(iter(group["rules"].values())).rsplit(":", 1)[0] + ":"
    out = {"VersionName": "Version_1.0", "Capacity": group["capacity"], "Rules": rules, "LabelNamespace": prefix, "AvailableLabels": labels, "ConsumedLabels": []}
    return wire.json_response(call, model.build_output(op, out))


def _known_groups(call: wire.Call) -> None:
    op = model.service_model("wafv2").operation_model(call.operation or "")
    capacity(wire.json_params(call, op).get("Rules", []))  # raises for an unknown group
    return None


def _delete_associated(call: wire.Call) -> None:
    op = model.service_model("wafv2").operation_model("DeleteWebACL")
    params = wire.json_params(call, op)
    for arn, acl in _wafv2_backend(call).wacls.items():
        if arn.rsplit("/", 1)[-1] == params["Id"] and acl.associated_resources:
            raise ApiError("WAFAssociatedItemException", "AWS WAF couldn’t perform the operation because your resource is being used by another resource or it’s associated with another resource.")
    return None


def _created(call: wire.Call, resp: wire.Response) -> wire.Response:
    def note(doc: dict[str, Any]) -> None:
        arn = (doc.get("Summary") or {}).get("ARN")
        if arn:
            _CREATED[arn] = time.monotonic()

    return wire.rewrite_json(resp, note)


def _get_web_acl(call: wire.Call, resp: wire.Response) -> wire.Response:
    def fix(doc: dict[str, Any]) -> None:
        acl = doc.get("WebACL") or {}
        rules = acl.get("Rules") or []
        acl["Capacity"] = capacity(rules)

        def lower(node: Any) -> None:
            if isinstance(node, dict):
                header = node.get("SingleHeader")
                if isinstance(header, dict) and isinstance(header.get("Name"), str):
                    header["Name"] = header["Name"].lower()
                for v in node.values():
                    lower(v)
            elif isinstance(node, list):
                for v in node:
                    lower(v)

        lower(rules)

    return wire.rewrite_json(resp, fix)


def _duplicate(call: wire.Call, resp: wire.Response) -> wire.Response:
    return replace_code(resp, "WafV2DuplicateItem", "WAFDuplicateItemException") if resp[0] >= 400 else resp


RESOURCE_TYPES = {
    "APPLICATION_LOAD_BALANCER": ":elasticloadbalancing:",
    "API_GATEWAY": ":apigateway:",
    "APPSYNC": ":appsync:",
    "COGNITO_USER_POOL": ":cognito-idp:",
    "APP_RUNNER_SERVICE": ":apprunner:",
    "VERIFIED_ACCESS_INSTANCE": ":ec2:",
    "AMPLIFY": ":amplify:",
    "AGENTCORE_GATEWAY": ":bedrock-agentcore:",
}


def _wafv2_backend(call: wire.Call) -> Any:
    from moto.wafv2.models import wafv2_backends

    return wafv2_backends[account_id(call)][call.region]


def _web_acl_resources(call: wire.Call) -> wire.Response | None:
    op = model.service_model("wafv2").operation_model(call.operation or "")
    params = wire.json_params(call, op)
    if op.name == "AssociateWebACL":
        created = _CREATED.get(params["WebACLArn"])
        if created is not None and time.monotonic() - created < CONFIG.duration("wafv2.associate"):
            raise ApiError("WAFUnavailableEntityException", "AWS WAF couldn’t retrieve the resource that you requested. Retry your request.")
        arn = params["ResourceArn"]
        if ":apprunner:" in arn:
            if not apprunner.service_exists(account_id(call), call.region, arn):
                raise ApiError("WAFNonexistentItemException", f"AWS WAF couldn't perform the operation because your resource doesn't exist: {arn}")
        return None  # moto associates
    acl = _wafv2_backend(call).wacls.get(params["WebACLArn"])
    if acl is None:
        raise ApiError("WAFNonexistentItemException", "AWS WAF couldn't perform the operation because your resource doesn't exist.")
    marker = RESOURCE_TYPES[params.get("ResourceType") or "APPLICATION_LOAD_BALANCER"]
    arns = [a for a in acl.associated_resources if marker in a]
    return wire.json_response(call, model.build_output(op, {"ResourceArns": arns}))
