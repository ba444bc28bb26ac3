"""Amazon ECS: deployments that progress, ECS Express Mode, and moto's service semantics
fixed.

Deployments: moto keeps every deployment IN_PROGRESS with runningCount 0 forever and never
creates a second deployment on update. We track deployments from CreateService/
UpdateService and report PRIMARY (+ the draining ACTIVE one) with running/pending counts
rising over `ecs.deployment` seconds, then COMPLETED (or FAILED, `ecs.deployment` outcome).
A deleted service is DRAINING for `ecs.service.delete` seconds before INACTIVE.
Only responses are rewritten; moto's state is left alone. No task ever runs.

ECS Express Mode (*ExpressGatewayService): moto 5.2.5 has no handler for it. Requests and
responses are validated against botocore's official ecs model. An Express service is
backed by a real moto ECS service (plus a task definition registered in moto), so
ListServices/DescribeServices/UpdateService see it exactly as they would on AWS.
Status: ACTIVE; DeleteExpressGatewayService -> DRAINING for `ecs.express.drain` seconds ->
INACTIVE. The endpoint is `<name>-<hash>.ecs.<region>.on.aws`. No load balancer, certificate
or task is provisioned: this is the control plane only.

moto patched where its semantics would let a broken operator pass:
* create_service with the name of an ACTIVE/DRAINING service fails with
  InvalidParameterException "Creation of service was not idempotent." (moto replaced it);
* awsvpcConfiguration without securityGroups uses the VPC's default group (moto crashed).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import math
import threading
from typing import Any

from ..core import model, wire
from ..core.config import CONFIG
from ..core.hooks import Registry
from ..core.model import ApiError
from ..core.util import account_id, elapsed, epoch, hex_id, now

OPS = {"CreateExpressGatewayService", "UpdateExpressGatewayService", "DescribeExpressGatewayService", "DeleteExpressGatewayService"}
LOCK = threading.RLock()
# Express Mode's documented defaults.
DEFAULTS = {"cpu": "1024", "memory": "2048", "cpuArchitecture": "X86_64", "healthCheckPath": "/ping"}
SCALING_DEFAULTS = {"minTaskCount": 1, "maxTaskCount": 20, "autoScalingMetric": "AVERAGE_CPU", "autoScalingTargetValue": 60}
CONFIG_KEYS = ("executionRoleArn", "taskRoleArn", "taskDefinitionArn", "cpu", "memory", "cpuArchitecture", "networkConfiguration", "healthCheckPath", "primaryContainer", "scalingTarget")

_services: dict[str, dict[str, Any]] = {}


def install(reg: Registry) -> None:
    reg.patch(_patch_moto)
    reg.before("ecs", OPS)(_express)
    reg.after("ecs", {"CreateService", "UpdateService", "DescribeServices", "DeleteService"})(_deployments_view)
    reg.on_reset(_reset_express)
    reg.on_reset(_reset_deployments)


# --------------------------------------------------------------------------- Express Mode
def _reset_express() -> None:
    with LOCK:
        _services.clear()


def _backend(account: str, region: str) -> Any:
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


def _active(arn: str) -> tuple[dict[str, Any], Any]:
    """The Express service `arn` if it is ACTIVE (AWS refuses changes to others), with
    moto's ECS backend of its account and region."""
    rec = _find(arn, "ServiceNotFoundException")
    _status(rec)
    if rec["status"]["statusCode"] != "ACTIVE":
        raise ApiError("ServiceNotActiveException", "Service was not ACTIVE.")
    return rec, _backend(rec["_account"], rec["_region"])


def create(call: wire.Call, p: dict[str, Any]) -> dict[str, Any]:
    account, region = account_id(call), call.region
    ecs = _backend(account, region)
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
    record_ecs_deployment(svc.arn, td_arn, st["minTaskCount"])
    return {"service": _view(rec, True)}


def update(call: wire.Call, p: dict[str, Any]) -> dict[str, Any]:
    rec, ecs = _active(p["serviceArn"])
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
    record_ecs_deployment(rec["serviceArn"], td_arn, cfg["scalingTarget"]["minTaskCount"])
    keys = ("serviceArn", "cluster", "serviceName", "status", "createdAt", "updatedAt")
    return {"service": {**{k: copy.deepcopy(rec[k]) for k in keys}, "targetConfiguration": target}}


def delete(call: wire.Call, p: dict[str, Any]) -> dict[str, Any]:
    rec, ecs = _active(p["serviceArn"])
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


def _express(call: wire.Call) -> wire.Response:
    op = model.service_model("ecs").operation_model(call.operation or "")
    params = wire.json_params(call, op)
    with LOCK:
        result = HANDLERS[op.name](call, params)
    return wire.json_response(call, model.build_output(op, result))


# --------------------------------------------------------------------------- deployments
_lock = threading.Lock()
_deployments: dict[str, list[dict[str, Any]]] = {}
_deleted_services: dict[str, dt.datetime] = {}


def _reset_deployments() -> None:
    with _lock:
        _deployments.clear()
        _deleted_services.clear()


def record_ecs_deployment(service_arn: str, task_definition: str, desired: int, created: dt.datetime | None = None) -> None:
    with _lock:
        _deployments.setdefault(service_arn, []).append(
            {"id": f"ecs-svc/{hex_id(16)}", "taskDefinition": task_definition, "desiredCount": desired, "createdAt": created or now(), "outcome": CONFIG.outcome("ecs.deployment", service_arn.split("/")[-1])}
        )


def _service_view(s: dict[str, Any]) -> None:
    gone = _deleted_services.get(s.get("serviceArn", ""))
    if s.get("status") == "INACTIVE" and gone is not None and elapsed(gone) < CONFIG.duration("ecs.service.delete"):
        # AWS drains a deleted service before it turns INACTIVE; moto skips DRAINING.
        s["status"] = "DRAINING"
        return
    deps = _deployments.get(s.get("serviceArn", ""))
    if not deps or s.get("status") != "ACTIVE":
        return
    template = (s.get("deployments") or [{}])[0]
    span = CONFIG.duration("ecs.deployment")
    primary = deps[-1]
    primary["desiredCount"] = s.get("desiredCount", primary["desiredCount"])
    age = elapsed(primary["createdAt"])
    want = primary["desiredCount"]
    frac = 1.0 if span <= 0 else min(age / span, 1.0)
    out = []
    p = {**template, "id": primary["id"], "status": "PRIMARY", "taskDefinition": primary["taskDefinition"], "desiredCount": want, "failedTasks": 0, "createdAt": epoch(primary["createdAt"]), "updatedAt": epoch(now())}
    older = [d for d in deps[:-1] if not d.get("done")]
    if frac >= 1.0 and primary["outcome"] == "FAILED":
        p.update({"runningCount": 0, "pendingCount": 0, "failedTasks": max(want, 1), "rolloutState": "FAILED", "rolloutStateReason": "ECS deployment circuit breaker: tasks failed to start (emulated failure)."})
    elif frac >= 1.0:
        p.update({"runningCount": want, "pendingCount": 0, "rolloutState": "COMPLETED", "rolloutStateReason": f"ECS deployment {primary['id']} completed."})
        for d in older:
            d["done"] = True
        older = []
    else:
        running = math.floor(want * frac)
        p.update({"runningCount": running, "pendingCount": want - running, "rolloutState": "IN_PROGRESS", "rolloutStateReason": f"ECS deployment {primary['id']} in progress."})
    out.append(p)
    for d in older[-1:]:
        keep = d["desiredCount"] if primary["outcome"] == "FAILED" and frac >= 1.0 else max(d["desiredCount"] - p["runningCount"], 0)
        out.append({**template, "id": d["id"], "status": "ACTIVE", "taskDefinition": d["taskDefinition"], "desiredCount": keep, "runningCount": keep, "pendingCount": 0, "failedTasks": 0, "createdAt": epoch(d["createdAt"]), "updatedAt": epoch(now()), "rolloutState": "COMPLETED", "rolloutStateReason": ""})
        out[-1].pop("rolloutStateReason")
    s["deployments"] = out
    s["runningCount"] = sum(d["runningCount"] for d in out)
    s["pendingCount"] = sum(d["pendingCount"] for d in out)


def _deployments_view(call: wire.Call, resp: wire.Response) -> wire.Response:
    req = call.json_or_empty()

    def fix(doc: dict[str, Any]) -> None:
        if call.operation == "DescribeServices":
            with _lock:
                for s in doc.get("services") or []:
                    _service_view(s)
            return
        s = doc.get("service") or {}
        arn = s.get("serviceArn", "")
        if call.operation == "DeleteService":
            with _lock:
                _deleted_services[arn] = now()
        elif call.operation == "CreateService":
            record_ecs_deployment(arn, s.get("taskDefinition", ""), s.get("desiredCount", 0))
        elif call.operation == "UpdateService":
            with _lock:
                deps = _deployments.get(arn)
            if not deps:
                record_ecs_deployment(arn, s.get("taskDefinition", ""), s.get("desiredCount", 0))
            elif req.get("forceNewDeployment") or (req.get("taskDefinition") and s.get("taskDefinition") != deps[-1]["taskDefinition"]):
                record_ecs_deployment(arn, s.get("taskDefinition", ""), s.get("desiredCount", 0))
        with _lock:
            _service_view(s)

    return wire.rewrite_json(resp, fix)


# --------------------------------------------------------------------------- moto patches
def _patch_moto() -> None:
    from moto.ecs import models as ecs
    from moto.ecs.exceptions import InvalidParameterException

    original = ecs.EC2ContainerServiceBackend.create_service

    def create_service(self: Any, cluster_str: str, service_name: str, *args: Any, **kwargs: Any) -> Any:
        cluster = self._get_cluster(cluster_str)
        existing = self.services.get(f"{cluster.name}:{service_name}")
        if existing is not None and existing.status in ("ACTIVE", "DRAINING"):
            raise InvalidParameterException("Creation of service was not idempotent.")
        return original(self, cluster_str, service_name, *args, **kwargs)

    ecs.EC2ContainerServiceBackend.create_service = create_service

    original_validate = ecs.Service._validate_network

    def _validate_network(self: Any, nc: dict[str, Any]) -> dict[str, Any]:
        c = nc.get("awsvpcConfiguration") or {}
        if c.get("subnets") and "securityGroups" not in c:
            # AWS uses the VPC's default security group; moto crashed (KeyError).
            c["securityGroups"] = _default_security_group(self._account_id, self.region_name, c["subnets"][0])
        return original_validate(self, nc)

    ecs.Service._validate_network = _validate_network


def _default_security_group(account: str, region: str, subnet_id: str) -> list[str]:
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[account][region]
    try:
        vpc_id = ec2.get_subnet(subnet_id).vpc_id
        groups = ec2.describe_security_groups(filters={"vpc-id": [vpc_id], "group-name": ["default"]})
    except Exception:  # an unknown subnet is reported by moto's own validation next
        return []
    return [g.id for g in groups][:1]
