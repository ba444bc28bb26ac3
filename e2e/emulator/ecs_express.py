"""ECS Express Mode (*ExpressGatewayService): moto 5.2.5 has no handler for it.

Requests and responses are validated against botocore's official ecs model. An Express
service is backed by a real moto ECS service (plus a task definition registered in moto),
so ListServices/DescribeServices/UpdateService see it exactly as they would on AWS.
Status: ACTIVE; DeleteExpressGatewayService -> DRAINING for `ecs.express.drain` seconds ->
INACTIVE. The endpoint is `<name>-<hash>.ecs.<region>.on.aws`. No load balancer, certificate
or task is provisioned: this is the control plane only.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from typing import Any

from . import hooks, model, wire
from .config import CONFIG
from .model import ApiError
from .util import account_id, elapsed, hex_id, now

OPS = {"CreateExpressGatewayService", "UpdateExpressGatewayService", "DescribeExpressGatewayService", "DeleteExpressGatewayService"}
LOCK = threading.RLock()
# Express Mode's documented defaults.
DEFAULTS = {"cpu": "1024", "memory": "2048", "cpuArchitecture": "X86_64", "healthCheckPath": "/ping"}
SCALING_DEFAULTS = {"minTaskCount": 1, "maxTaskCount": 20, "autoScalingMetric": "AVERAGE_CPU", "autoScalingTargetValue": 60}
CONFIG_KEYS = ("executionRoleArn", "taskRoleArn", "taskDefinitionArn", "cpu", "memory", "cpuArchitecture", "networkConfiguration", "healthCheckPath", "primaryContainer", "scalingTarget")

_services: dict[str, dict[str, Any]] = {}


def _reset() -> None:
    with LOCK:
        _services.clear()


hooks.on_reset(_reset)


def _ecs(account: str, region: str) -> Any:
    from moto.ecs.models import ecs_backends

    return ecs_backends[account][region]


def _register(ecs: Any, name: str, cfg: dict[str, Any]) -> str:
    """The task definition Express Mode would register for the primary container."""
    if cfg.get("taskDefinitionArn"):
        try:
            return ecs.describe_task_definition(cfg["taskDefinitionArn"]).arn
        except Exception:
            raise ApiError("InvalidParameterException", f"Unable to describe task definition {cfg['taskDefinitionArn']}") from None
    c = cfg["primaryContainer"]
    port = c.get("containerPort") or 80
    container: dict[str, Any] = {
        "name": "Main",
        "image": c["image"],
        "essential": True,
        "portMappings": [{"containerPort": port, "protocol": "tcp"}],
        "environment": c.get("environment") or [],
        "secrets": c.get("secrets") or [],
    }
    if c.get("command"):
        container["command"] = c["command"]
    if c.get("awsLogsConfiguration"):
        lc = c["awsLogsConfiguration"]
        container["logConfiguration"] = {"logDriver": "awslogs", "options": {"awslogs-group": lc["logGroup"], "awslogs-stream-prefix": lc["logStreamPrefix"]}}
    td = ecs.register_task_definition(
        family=name,
        container_definitions=[container],
        network_mode="awsvpc",
        requires_compatibilities=["FARGATE"],
        cpu=cfg["cpu"],
        memory=cfg["memory"],
        task_role_arn=cfg.get("taskRoleArn"),
        execution_role_arn=cfg.get("executionRoleArn"),
        runtime_platform={"cpuArchitecture": cfg["cpuArchitecture"], "operatingSystemFamily": "LINUX"},
    )
    return td.arn


def _configuration(rec: dict[str, Any], cfg: dict[str, Any], td_arn: str) -> dict[str, Any]:
    conf = {k: copy.deepcopy(v) for k, v in cfg.items() if k in CONFIG_KEYS and v is not None}
    conf["taskDefinitionArn"] = td_arn
    conf["serviceRevisionArn"] = f"{rec['_revision_prefix']}/{hex_id(20)}"
    conf["ingressPaths"] = [{"accessType": "PUBLIC", "endpoint": rec["_endpoint"]}]
    conf["createdAt"] = now()
    return conf


def _status(rec: dict[str, Any]) -> None:
    if rec["status"]["statusCode"] == "DRAINING" and elapsed(rec["_deleted"]) >= rec["_drain"]:
        rec["status"] = {"statusCode": "INACTIVE"}
        rec["updatedAt"] = now()


def _view(rec: dict[str, Any], with_tags: bool) -> dict[str, Any]:
    _status(rec)
    out = {k: copy.deepcopy(v) for k, v in rec.items() if not k.startswith("_") and k != "tags"}
    if with_tags:
        out["tags"] = copy.deepcopy(rec["tags"])
    return out


def _find(arn: str, missing: str) -> dict[str, Any]:
    rec = _services.get(arn)
    if rec is None:
        raise ApiError(missing, f"Service {arn} not found")
    return rec


def create(call: wire.Call, p: dict[str, Any]) -> dict[str, Any]:
    account, region = account_id(call), call.region
    ecs = _ecs(account, region)
    cluster_name = (p.get("cluster") or "default").split("/")[-1]
    if cluster_name not in ecs.clusters:
        if p.get("cluster"):
            raise ApiError("ClusterNotFoundException", f"Cluster {p['cluster']} not found.")
        ecs.create_cluster(cluster_name)  # Express Mode creates the default cluster on demand
    if not p.get("primaryContainer") and not p.get("taskDefinitionArn"):
        raise ApiError("InvalidParameterException", "Either primaryContainer or taskDefinitionArn must be specified.")
    if not p.get("executionRoleArn") and not p.get("taskDefinitionArn"):
        raise ApiError("InvalidParameterException", "executionRoleArn is required when primaryContainer is specified.")
    name = p.get("serviceName") or f"express-{hex_id(8)}"
    existing = ecs.services.get(f"{cluster_name}:{name}")
    if existing is not None and existing.status in ("ACTIVE", "DRAINING"):
        raise ApiError("InvalidParameterException", "Creation of service was not idempotent.")
    cfg = {**DEFAULTS, **{k: v for k, v in p.items() if k in CONFIG_KEYS}}
    cfg["scalingTarget"] = {**SCALING_DEFAULTS, **(p.get("scalingTarget") or {})}
    st = cfg["scalingTarget"]
    if st["minTaskCount"] > st["maxTaskCount"]:
        raise ApiError("InvalidParameterException", "minTaskCount must not be greater than maxTaskCount.")
    td_arn = _register(ecs, name, cfg)
    net = cfg.get("networkConfiguration") or {}
    network = None
    if net.get("subnets"):
        network = {"awsvpcConfiguration": {"subnets": net["subnets"], "securityGroups": net.get("securityGroups") or [], "assignPublicIp": "DISABLED"}}
    tags = p.get("tags") or []
    svc = ecs.create_service(cluster_name, name, st["minTaskCount"], task_definition_str=td_arn, tags=tags, launch_type="FARGATE", network_configuration=network, propagate_tags="SERVICE")
    digest = hashlib.sha256(svc.arn.encode()).hexdigest()[:10]
    created = now()
    rec: dict[str, Any] = {
        "cluster": ecs.clusters[cluster_name].arn,
        "serviceName": name,
        "serviceArn": svc.arn,
        "infrastructureRoleArn": p["infrastructureRoleArn"],
        "status": {"statusCode": "ACTIVE"},
        "currentDeployment": f"arn:aws:ecs:{region}:{account}:service-deployment/{cluster_name}/{name}/{hex_id(20)}",
        "tags": tags,
        "createdAt": created,
        "updatedAt": created,
        "_endpoint": f"{name}-{digest}.ecs.{region}.on.aws",
        "_revision_prefix": f"arn:aws:ecs:{region}:{account}:service-revision/{cluster_name}/{name}",
        "_cfg": cfg,
        "_cluster_name": cluster_name,
        "_account": account,
        "_region": region,
    }
    rec["activeConfigurations"] = [_configuration(rec, cfg, td_arn)]
    _services[svc.arn] = rec
    from . import lifecycle_json as lifecycle

    lifecycle.record_ecs_deployment(svc.arn, td_arn, st["minTaskCount"])
    return {"service": _view(rec, True)}


def update(call: wire.Call, p: dict[str, Any]) -> dict[str, Any]:
    rec = _find(p["serviceArn"], "ServiceNotFoundException")
    _status(rec)
    if rec["status"]["statusCode"] != "ACTIVE":
        raise ApiError("ServiceNotActiveException", "Service was not ACTIVE.")
    ecs = _ecs(rec["_account"], rec["_region"])
    change = {k: v for k, v in p.items() if k in CONFIG_KEYS}
    cfg = {**rec["_cfg"], **change}
    if "scalingTarget" in change:
        cfg["scalingTarget"] = {**rec["_cfg"]["scalingTarget"], **change["scalingTarget"]}
    if "primaryContainer" in change:
        cfg.pop("taskDefinitionArn", None)
    td_arn = _register(ecs, rec["serviceName"], cfg)
    ecs.update_service({"cluster": rec["_cluster_name"], "service": rec["serviceName"], "task_definition": td_arn, "desired_count": cfg["scalingTarget"]["minTaskCount"], "force_new_deployment": True})
    rec["_cfg"] = cfg
    target = _configuration(rec, cfg, td_arn)
    rec["activeConfigurations"] = [target]
    rec["currentDeployment"] = f"arn:aws:ecs:{rec['_region']}:{rec['_account']}:service-deployment/{rec['_cluster_name']}/{rec['serviceName']}/{hex_id(20)}"
    rec["updatedAt"] = now()
    from . import lifecycle_json as lifecycle

    lifecycle.record_ecs_deployment(rec["serviceArn"], td_arn, cfg["scalingTarget"]["minTaskCount"])
    keys = ("serviceArn", "cluster", "serviceName", "status", "createdAt", "updatedAt")
    return {"service": {**{k: copy.deepcopy(rec[k]) for k in keys}, "targetConfiguration": target}}


def delete(call: wire.Call, p: dict[str, Any]) -> dict[str, Any]:
    rec = _find(p["serviceArn"], "ServiceNotFoundException")
    _status(rec)
    if rec["status"]["statusCode"] != "ACTIVE":
        raise ApiError("ServiceNotActiveException", "Service was not ACTIVE.")
    ecs = _ecs(rec["_account"], rec["_region"])
    try:
        ecs.delete_service(rec["_cluster_name"], rec["serviceName"], True)
    except Exception:  # already gone through DeleteService: the Express record still drains
        pass
    rec["status"] = {"statusCode": "DRAINING"}
    rec["_deleted"] = now()
    rec["_drain"] = CONFIG.duration("ecs.express.drain")
    rec["updatedAt"] = now()
    return {"service": _view(rec, False)}


def describe(call: wire.Call, p: dict[str, Any]) -> dict[str, Any]:
    rec = _find(p["serviceArn"], "ResourceNotFoundException")
    return {"service": _view(rec, "TAGS" in (p.get("include") or []))}


HANDLERS = {
    "CreateExpressGatewayService": create,
    "UpdateExpressGatewayService": update,
    "DeleteExpressGatewayService": delete,
    "DescribeExpressGatewayService": describe,
}


@hooks.before("ecs", OPS)
def handle(call: wire.Call) -> wire.Response:
    op = model.service_model("ecs").operation_model(call.operation or "")
    try:
        raw = call.json()
    except ValueError:
        raise ApiError("SerializationException", "request body is not valid JSON") from None
    params = model.parse_input(op, raw)
    with LOCK:
        result = HANDLERS[op.name](call, params)
    return wire.json_response(call, model.build_output(op, result))
