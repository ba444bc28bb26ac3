"""AWS WAFv2: ListResourcesForWebACL (moto 5.2.5 lacks it), App Runner ARNs checked on
association, AWS's code for a duplicate name.

* ListResourcesForWebACL lists the associated ARNs of the requested resource type.
* AssociateWebACL refuses App Runner ARNs of services that do not exist (moto accepted any
  ARN); other associations are moto's.
* A duplicate name answers WAFDuplicateItemException (moto: WafV2DuplicateItem).
Inputs and outputs go through botocore's wafv2 model.
"""

from __future__ import annotations

from typing import Any

from ..core import model, wire
from ..core.errors import replace_code
from ..core.hooks import Registry
from ..core.model import ApiError
from ..core.util import account_id
from . import apprunner


def install(reg: Registry) -> None:
    reg.before("wafv2", {"ListResourcesForWebACL", "AssociateWebACL"})(_web_acl_resources)
    reg.after("wafv2")(_duplicate)


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
