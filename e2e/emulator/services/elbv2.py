"""Elastic Load Balancing v2: the targets ECS registers for its services.

moto registers no target when an ECS service names a target group in `loadBalancers`. Its
tasks (services/ecs/deployments.py) are listed by DescribeTargetHealth next to the targets
registered by hand: `ip` targets (an address in the task's subnet, the container port, the
subnet's Availability Zone) that are `initial`, then `healthy` or `unhealthy`
(Target.FailedHealthChecks), `draining` when their task stops, `unused` (Target.NotInUse)
while the target group has no load balancer. The answer is built along botocore's elbv2
model (query protocol, XML). Target groups without such targets are moto's answer, as is.

moto lists a listener's SNI certificates (AddListenerCertificates) in DescribeListeners'
`Certificates`; AWS lists the default certificate only there (the others are in
DescribeListenerCertificates, which moto answers right).
"""

from __future__ import annotations

from typing import Any
from xml.dom import minidom

from ..core import model, wire, xmlser
from ..core.hooks import Registry
from ..core.model import ModelDrift
from ..core.util import account_id
from .ecs import deployments


def install(reg: Registry) -> None:
    reg.before("elbv2", {"DescribeTargetHealth"})(_describe_target_health)
    reg.after("elbv2", {"DescribeListeners", "CreateListener", "ModifyListener"})(_default_certificate_only)


def _default_certificate_only(call: wire.Call, resp: wire.Response) -> wire.Response:
    status, headers, body = resp
    if status != 200:
        return resp
    try:
        doc = minidom.parseString(body)
    except Exception:
        return resp
    changed = False
    for listener in doc.getElementsByTagName("Listeners"):
        for member in [c for c in listener.childNodes if c.nodeType == c.ELEMENT_NODE]:
            for certs in [c for c in member.childNodes if c.nodeType == c.ELEMENT_NODE and c.tagName == "Certificates"]:
                extra = [c for c in certs.childNodes if c.nodeType == c.ELEMENT_NODE][1:]
                for c in extra:
                    certs.removeChild(c)
                    changed = True
    return (status, headers, doc.toxml(encoding="utf-8")) if changed else resp


def _moto_target(tg: Any, target: dict[str, Any], ec2: Any) -> dict[str, Any]:
    h = tg.health_for(target, ec2)
    out: dict[str, Any] = {"Target": {"Id": h.instance_id, "Port": int(h.port)}, "TargetHealth": {"State": h.status}}
    if h.health_check_port:
        out["HealthCheckPort"] = str(h.health_check_port)
    if h.reason:
        out["TargetHealth"]["Reason"] = h.reason
    if h.description:
        out["TargetHealth"]["Description"] = h.description
    return out


def _describe_target_health(call: wire.Call) -> wire.Response | None:
    op = model.service_model("elbv2").operation_model("DescribeTargetHealth")
    params = model.parse_input(op, xmlser.query_params(call, op.input_shape))
    from moto.elbv2.models import elbv2_backends

    account, region = account_id(call), call.region
    backend = elbv2_backends[account][region]
    tg = backend.target_groups.get(params["TargetGroupArn"])
    if tg is None:
        return None  # moto's TargetGroupNotFound
    ours = deployments.target_health(account, region, tg.arn, bool(tg.load_balancer_arns))
    if not ours:
        return None
    wanted = params.get("Targets") or []
    if wanted:
        result = []
        for target in wanted:
            mine = [d for d in ours if d["Target"]["Id"] == target["Id"] and target.get("Port") in (None, d["Target"]["Port"])]
            result.extend(mine or [_moto_target(tg, target, backend.ec2_backend)])
    else:
        result = [_moto_target(tg, t, backend.ec2_backend) for t in tg.targets.values()] + ours
    out = {"TargetHealthDescriptions": result}
    errors = model.validate(out, op.output_shape, patterns=False)
    if errors:
        raise ModelDrift("DescribeTargetHealth output does not match the model: " + "; ".join(errors))
    return xmlser.query_response(call, op, out)

