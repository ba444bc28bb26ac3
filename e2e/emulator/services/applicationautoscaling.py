"""Application Auto Scaling (awsJson 1.1, what the operator's Rust SDK speaks for ECS
service scaling): moto's, corrected.

* Answers carry `Content-Type: application/x-amz-json-1.1` and no JSON nulls (moto sent
  text/html and `"NextToken": null`).
* RegisterScalableTarget fills in what AWS returns: the ECS service-linked role ARN
  (RoleARN) and a SuspendedState with every flag false.
* DeregisterScalableTarget also deletes the target's scaling policies (with their alarms)
  and scheduled actions, as AWS does; a target or policy that does not exist is
  ObjectNotFoundException (moto: ValidationException).
* PutScalingPolicy needs a registered scalable target (ObjectNotFoundException); an update
  keeps the policy's ARN and replaces its alarms (moto made a new ARN and left the old
  alarms); ALBRequestCountPerTarget needs a ResourceLabel naming a target group of that
  load balancer.
* DescribeScalableTargets and DescribeScalingPolicies match ResourceId exactly (moto
  matched substrings), honour PolicyNames, and page with working NextTokens (50 and 10 per
  page at most, as AWS).
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..core import model, wire
from ..core.hooks import Registry
from ..core.model import ApiError
from ..core.util import account_id

SERVICE = "application-autoscaling"
SUSPENDED = {"DynamicScalingInSuspended": False, "DynamicScalingOutSuspended": False, "ScheduledScalingSuspended": False}
# The service-linked role Application Auto Scaling uses per namespace (the ones we meet).
ROLES = {"ecs": "ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService"}
LABEL = re.compile(r"^app/(?P<lb>[^/]+)/(?P<lb_id>[0-9a-f]+)/targetgroup/(?P<tg>[^/]+)/(?P<tg_id>[0-9a-f]+)$")


def install(reg: Registry) -> None:
    reg.patch(_patch_moto)
    reg.before(SERVICE, {"DescribeScalableTargets", "DescribeScalingPolicies"})(_describe)
    reg.before(SERVICE, {"PutScalingPolicy"})(_check_label)
    reg.after(SERVICE)(_wire_format)


def _wire_format(call: wire.Call, resp: wire.Response) -> wire.Response:
    status, headers, body = resp
    headers = [(k, v) for k, v in headers if k.lower() != "content-type"] + [("Content-Type", "application/x-amz-json-1.1")]
    if status == 200:
        try:
            body = json.dumps(_no_nulls(json.loads(body or b"{}"))).encode()
        except ValueError:
            pass
    return status, headers, body


def _no_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _no_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_no_nulls(v) for v in value]
    return value


def _not_found(message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError("ObjectNotFoundException", message)


def _patch_moto() -> None:
    from moto.applicationautoscaling import models as aas

    backend = aas.ApplicationAutoscalingBackend
    original_register = backend.register_scalable_target

    def register_scalable_target(self: Any, namespace: str, r_id: str, dimension: str, min_capacity: Any, max_capacity: Any, role_arn: Any, suspended_state: Any) -> Any:
        target = original_register(self, namespace, r_id, dimension, min_capacity, max_capacity, role_arn, suspended_state)
        if not target.role_arn and namespace in ROLES:
            target.role_arn = f"arn:aws:iam::{self.account_id}:role/aws-service-role/{ROLES[namespace]}"
        target.suspended_state = {**SUSPENDED, **(target.suspended_state or {})}
        return target

    backend.register_scalable_target = register_scalable_target

    def deregister_scalable_target(self: Any, namespace: str, r_id: str, dimension: str) -> None:
        if not self._scalable_target_exists(r_id, dimension):
            raise _not_found(f"No scalable target found for service namespace: {namespace}, resource ID: {r_id}, scalable dimension: {dimension}")
        del self.targets[dimension][r_id]
        for key, policy in list(self.policies.items()):
            if (policy.service_namespace, policy.resource_id, policy.scalable_dimension) == (namespace, r_id, dimension):
                policy.delete_alarms(self.account_id, self.region_name)
                del self.policies[key]
        self.scheduled_actions = [a for a in self.scheduled_actions if (a.service_namespace, a.resource_id, a.scalable_dimension) != (namespace, r_id, dimension)]

    backend.deregister_scalable_target = deregister_scalable_target

    original_put = backend.put_scaling_policy

    def put_scaling_policy(self: Any, policy_name: str, service_namespace: str, resource_id: str, scalable_dimension: str, policy_body: Any, policy_type: Any) -> Any:
        if not self._scalable_target_exists(resource_id, scalable_dimension) or self.targets[scalable_dimension][resource_id].service_namespace != service_namespace:
            raise _not_found(f"No scalable target registered for service namespace: {service_namespace}, resource ID: {resource_id}, scalable dimension: {scalable_dimension}")
        key = aas.FakeApplicationAutoscalingPolicy.formulate_key(service_namespace, resource_id, scalable_dimension, policy_name)
        old = self.policies.get(key)
        policy = original_put(self, policy_name, service_namespace, resource_id, scalable_dimension, policy_body, policy_type)
        if old is not None and old is not policy:
            old.delete_alarms(self.account_id, self.region_name)
            policy.policy_arn = old.policy_arn
            policy._guid = old._guid
            policy.creation_time = old.creation_time
        return policy

    backend.put_scaling_policy = put_scaling_policy

    original_delete = backend.delete_scaling_policy

    def delete_scaling_policy(self: Any, policy_name: str, service_namespace: str, resource_id: str, scalable_dimension: str) -> None:
        key = aas.FakeApplicationAutoscalingPolicy.formulate_key(service_namespace, resource_id, scalable_dimension, policy_name)
        if key not in self.policies:
            raise _not_found(f"No scaling policy found for service namespace: {service_namespace}, resource ID: {resource_id}, scalable dimension: {scalable_dimension}, policy name: {policy_name}")
        original_delete(self, policy_name, service_namespace, resource_id, scalable_dimension)

    backend.delete_scaling_policy = delete_scaling_policy


def _backend(call: wire.Call) -> Any:
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    return applicationautoscaling_backends[account_id(call)][call.region]


def _page(items: list[Any], p: dict[str, Any], limit: int) -> tuple[list[Any], str | None]:
    size = p.get("MaxResults") or limit
    if not 1 <= size <= limit:
        raise ApiError("ValidationException", f"1 validation error detected: Value '{size}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to {limit}")
    token = p.get("NextToken") or "0"
    if not token.isdigit():
        raise ApiError("InvalidNextTokenException", "The NextToken value is not valid.")
    start = int(token)
    return items[start : start + size], (str(start + size) if start + size < len(items) else None)


def _describe(call: wire.Call) -> wire.Response:
    op = model.service_model(SERVICE).operation_model(call.operation or "")
    p = wire.json_params(call, op)
    b = _backend(call)
    ns, dim = p["ServiceNamespace"], p.get("ScalableDimension")
    if op.name == "DescribeScalableTargets":
        ids = p.get("ResourceIds") or []
        targets = [t for d in b.targets.values() for t in d.values() if t.service_namespace == ns and (not dim or t.scalable_dimension == dim) and (not ids or t.resource_id in ids)]
        page, token = _page(targets, p, 50)
        keys = ("ServiceNamespace", "ResourceId", "ScalableDimension", "MinCapacity", "MaxCapacity", "RoleARN", "CreationTime", "SuspendedState", "ScalableTargetARN")
        items = []
        for t in page:
            doc = {
                "ServiceNamespace": t.service_namespace,
                "ResourceId": t.resource_id,
                "ScalableDimension": t.scalable_dimension,
                "MinCapacity": t.min_capacity,
                "MaxCapacity": t.max_capacity,
                "RoleARN": t.role_arn or "",
                "CreationTime": model.to_datetime(t.creation_time),
                "SuspendedState": {**SUSPENDED, **(t.suspended_state or {})},
                "ScalableTargetARN": t.arn,
            }
            items.append({k: doc[k] for k in keys})
        result: dict[str, Any] = {"ScalableTargets": items, "NextToken": token}
    else:
        names, rid = p.get("PolicyNames") or [], p.get("ResourceId")
        policies = [
            x
            for x in b.policies.values()
            if x.service_namespace == ns and (not rid or x.resource_id == rid) and (not dim or x.scalable_dimension == dim) and (not names or x.policy_name in names)
        ]
        page, token = _page(policies, p, 10)
        items = []
        for x in page:
            doc = {
                "PolicyARN": x.policy_arn,
                "PolicyName": x.policy_name,
                "ServiceNamespace": x.service_namespace,
                "ResourceId": x.resource_id,
                "ScalableDimension": x.scalable_dimension,
                "PolicyType": x.policy_type,
                "Alarms": [{"AlarmName": a.name, "AlarmARN": a.alarm_arn} for a in x.alarms],
                "CreationTime": model.to_datetime(x.creation_time),
            }
            if x.step_scaling_policy_configuration:
                doc["StepScalingPolicyConfiguration"] = x.step_scaling_policy_configuration
            if x.target_tracking_scaling_policy_configuration:
                doc["TargetTrackingScalingPolicyConfiguration"] = model.deserialize(x.target_tracking_scaling_policy_configuration, op.output_shape.members["ScalingPolicies"].member.members["TargetTrackingScalingPolicyConfiguration"])
            items.append(doc)
        result = {"ScalingPolicies": items, "NextToken": token}
    return wire.json_response(call, model.build_output(op, result))


def _check_label(call: wire.Call) -> None:
    """ALBRequestCountPerTarget scales on one target group behind one load balancer: AWS
    checks that the ResourceLabel names them."""
    p = call.json_or_empty()
    spec = ((p.get("TargetTrackingScalingPolicyConfiguration") or {}).get("PredefinedMetricSpecification")) or {}
    if spec.get("PredefinedMetricType") != "ALBRequestCountPerTarget":
        return None
    label = spec.get("ResourceLabel") or ""
    m = LABEL.match(label)
    if m is None:
        raise ApiError("ValidationException", f"The resource label '{label}' is not valid for predefined metric type ALBRequestCountPerTarget: expected app/<load-balancer-name>/<load-balancer-id>/targetgroup/<target-group-name>/<target-group-id>")
    from moto.elbv2.models import elbv2_backends

    elbv2 = elbv2_backends[account_id(call)][call.region]
    lb = next((x for x in elbv2.load_balancers.values() if x.arn.endswith(f":loadbalancer/app/{m['lb']}/{m['lb_id']}")), None)
    tg = next((x for x in elbv2.target_groups.values() if x.arn.endswith(f":targetgroup/{m['tg']}/{m['tg_id']}")), None)
    if lb is None or tg is None or lb.arn not in tg.load_balancer_arns:
        raise ApiError("ValidationException", f"The resource label '{label}' does not name a target group of that load balancer.")
    return None
