"""AWS App Runner (awsJson1_0, target prefix AppRunner): moto 5.2.5 has no App Runner.

Requests and responses are validated against botocore's official apprunner model
(model.parse_input / model.build_output). Services move through the real status machine:
every mutating call starts an operation (ListOperations) that is IN_PROGRESS for the
configured `apprunner.operation` duration and then SUCCEEDED (or FAILED / ROLLBACK_SUCCEEDED
when the `apprunner` outcome says FAILED). Custom domains wait for their certificate
validation CNAMEs to exist in moto's Route 53 (outcome `apprunner.customdomain`).
Resource helpers (VPC connectors, auto scaling and observability configurations) live in
apprunner_res.py. No container ever runs: this is the control plane only.
"""

from __future__ import annotations

import copy
import threading
import uuid
from typing import Any, Callable

from . import apprunner_res as res
from . import hooks, model, wire
from .config import CONFIG
from .model import ApiError
from .util import account_id, elapsed, hex_id, now, paginate

SERVICE = "apprunner"
LOCK = threading.RLock()
CPU = {"0.25 vCPU": "256", "0.5 vCPU": "512", "1 vCPU": "1024", "2 vCPU": "2048", "4 vCPU": "4096"}
MEM = {f"{g} GB": str(int(float(g) * 1024)) for g in ("0.5", "1", "2", "3", "4", "6", "8", "10", "12")}
_CONFIG_KEYS = ("SourceConfiguration", "InstanceConfiguration", "HealthCheckConfiguration", "NetworkConfiguration", "ObservabilityConfiguration", "AutoScalingConfigurationArn")


def invalid(msg: str) -> ApiError:
    return ApiError("InvalidRequestException", msg)


def not_found(msg: str) -> ApiError:
    return ApiError("ResourceNotFoundException", msg)


def bad_state(msg: str) -> ApiError:
    return ApiError("InvalidStateException", msg)


# --------------------------------------------------------------------------- services
def _settle(b: res.Backend, svc: dict[str, Any]) -> None:
    """Finish the running operation once its duration has passed (lazily, at read time)."""
    op = svc.get("_op")
    if op is None or elapsed(op["StartedAt"]) < op["_duration"]:
        return
    ended = now()
    failed = op["_outcome"] == "FAILED"
    kind = op["Type"]
    if kind == "CREATE_SERVICE":
        op["Status"], svc["Status"] = ("FAILED", "CREATE_FAILED") if failed else ("SUCCEEDED", "RUNNING")
    elif kind == "DELETE_SERVICE":
        op["Status"], svc["Status"] = ("FAILED", "DELETE_FAILED") if failed else ("SUCCEEDED", "DELETED")
        if not failed:
            svc["DeletedAt"] = ended
    elif kind == "PAUSE_SERVICE":
        op["Status"], svc["Status"] = ("FAILED", "RUNNING") if failed else ("SUCCEEDED", "PAUSED")
    elif kind == "RESUME_SERVICE":
        op["Status"], svc["Status"] = ("FAILED", "PAUSED") if failed else ("SUCCEEDED", "RUNNING")
    else:  # UPDATE_SERVICE, START_DEPLOYMENT: a failed rollout rolls back to the old config
        op["Status"] = "ROLLBACK_SUCCEEDED" if failed else "SUCCEEDED"
        if failed and op.get("_previous"):
            svc.update(op["_previous"])
        svc["Status"] = "RUNNING"
    op["EndedAt"] = op["UpdatedAt"] = svc["UpdatedAt"] = ended
    svc["_op"] = None


def _start_op(svc: dict[str, Any], kind: str, previous: dict[str, Any] | None = None) -> str:
    op = {
        "Id": str(uuid.uuid4()),
        "Type": kind,
        "Status": "IN_PROGRESS",
        "TargetArn": svc["ServiceArn"],
        "StartedAt": now(),
        "UpdatedAt": now(),
        "_duration": CONFIG.duration("apprunner.operation"),
        "_outcome": CONFIG.outcome("apprunner", svc["ServiceName"]),
        "_previous": previous,
    }
    svc["_ops"].insert(0, op)
    svc["_op"] = op
    svc["Status"] = "OPERATION_IN_PROGRESS"
    svc["UpdatedAt"] = op["StartedAt"]
    return op["Id"]


def _service_view(b: res.Backend, svc: dict[str, Any]) -> dict[str, Any]:
    out = {k: copy.deepcopy(v) for k, v in svc.items() if not k.startswith("_") and k != "AutoScalingConfigurationArn"}
    asc = b.find_asc(svc["AutoScalingConfigurationArn"])
    out["AutoScalingConfigurationSummary"] = res.asc_summary(b, asc) if asc else {}
    return out


def _service(b: res.Backend, arn: str, allow_deleted: bool = True) -> dict[str, Any]:
    svc = b.services.get(arn)
    if svc is None:
        raise not_found(f"Service {arn} not found")
    _settle(b, svc)
    if svc["Status"] == "DELETED" and not allow_deleted:
        raise not_found(f"Service {arn} is deleted")
    return svc


def _require_idle(svc: dict[str, Any], *allowed: str) -> None:
    if svc["Status"] not in allowed:
        raise bad_state(f"Service {svc['ServiceArn']} is in {svc['Status']} state; this operation needs {' or '.join(allowed)}")


def _normalise(cfg: dict[str, Any]) -> dict[str, Any]:
    inst = cfg.get("InstanceConfiguration")
    if inst:
        if "Cpu" in inst:
            inst["Cpu"] = CPU.get(inst["Cpu"], inst["Cpu"])
        if "Memory" in inst:
            inst["Memory"] = MEM.get(inst["Memory"], inst["Memory"])
    return cfg


def _check_config(b: res.Backend, cfg: dict[str, Any]) -> None:
    """The cross-field rules App Runner enforces beyond the model's shapes."""
    src = cfg.get("SourceConfiguration")
    if src is not None:
        code, image = src.get("CodeRepository"), src.get("ImageRepository")
        if bool(code) == bool(image):
            raise invalid("SourceConfiguration needs exactly one of CodeRepository or ImageRepository")
        auth = src.get("AuthenticationConfiguration") or {}
        if image and image["ImageRepositoryType"] == "ECR" and not auth.get("AccessRoleArn"):
            raise invalid("AuthenticationConfiguration.AccessRoleArn is required for a private ECR image repository")
        if code and not auth.get("ConnectionArn"):
            raise invalid("AuthenticationConfiguration.ConnectionArn is required for a code repository")
    net = cfg.get("NetworkConfiguration") or {}
    egress = net.get("EgressConfiguration") or {}
    if egress.get("EgressType") == "VPC":
        conn = b.vpc_connectors.get(egress.get("VpcConnectorArn") or "")
        if conn is None or conn["Status"] != "ACTIVE":
            raise invalid(f"VPC connector {egress.get('VpcConnectorArn')} does not exist or is not active")
    elif egress.get("VpcConnectorArn"):
        raise invalid("VpcConnectorArn is only allowed with EgressType VPC")
    obs = cfg.get("ObservabilityConfiguration")
    if obs and obs.get("ObservabilityEnabled"):
        oc = b.observability.get(obs.get("ObservabilityConfigurationArn") or "")
        if oc is None or oc["Status"] != "ACTIVE":
            raise invalid("ObservabilityConfigurationArn must name an active observability configuration when ObservabilityEnabled is true")
    if cfg.get("AutoScalingConfigurationArn"):
        asc = b.find_asc(cfg["AutoScalingConfigurationArn"])
        if asc is None or asc["Status"] != "ACTIVE":
            raise invalid(f"Auto scaling configuration {cfg['AutoScalingConfigurationArn']} does not exist or is not active")


def create_service(b: res.Backend, p: dict[str, Any]) -> dict[str, Any]:
    name = p["ServiceName"]
    if any(s["ServiceName"] == name and s["Status"] != "DELETED" for s in b.services.values()):
        raise invalid(f"Service with the provided name already exists: {name}")
    cfg = _normalise(copy.deepcopy({k: p[k] for k in _CONFIG_KEYS if k in p}))
    _check_config(b, cfg)
    sid = hex_id()
    asc = b.find_asc(cfg.get("AutoScalingConfigurationArn") or "") or b.default_asc()
    created = now()
    svc: dict[str, Any] = {
        "ServiceName": name,
        "ServiceId": sid,
        "ServiceArn": f"arn:aws:apprunner:{b.region}:{b.account}:service/{name}/{sid}",
        "ServiceUrl": f"{hex_id(10)}.{b.region}.awsapprunner.com",
        "CreatedAt": created,
        "UpdatedAt": created,
        "Status": "OPERATION_IN_PROGRESS",
        "SourceConfiguration": cfg["SourceConfiguration"],
        "InstanceConfiguration": {"Cpu": "1024", "Memory": "2048", **cfg.get("InstanceConfiguration", {})},
        "HealthCheckConfiguration": {"Protocol": "TCP", "Path": "/", "Interval": 5, "Timeout": 2, "HealthyThreshold": 1, "UnhealthyThreshold": 5, **cfg.get("HealthCheckConfiguration", {})},
        "NetworkConfiguration": _network(cfg.get("NetworkConfiguration")),
        "ObservabilityConfiguration": cfg.get("ObservabilityConfiguration") or {"ObservabilityEnabled": False},
        "AutoScalingConfigurationArn": asc["AutoScalingConfigurationArn"],
        "_ops": [],
        "_op": None,
        "_domains": {},
    }
    if p.get("EncryptionConfiguration"):
        svc["EncryptionConfiguration"] = p["EncryptionConfiguration"]
    b.services[svc["ServiceArn"]] = svc
    b.tags[svc["ServiceArn"]] = res.tag_dict(p.get("Tags"))
    op_id = _start_op(svc, "CREATE_SERVICE")
    return {"Service": _service_view(b, svc), "OperationId": op_id}


def _network(net: dict[str, Any] | None) -> dict[str, Any]:
    net = copy.deepcopy(net or {})
    net.setdefault("EgressConfiguration", {"EgressType": "DEFAULT"})
    net["EgressConfiguration"].setdefault("EgressType", "DEFAULT")
    net.setdefault("IngressConfiguration", {"IsPubliclyAccessible": True})
    net.setdefault("IpAddressType", "IPV4")
    return net


def update_service(b: res.Backend, p: dict[str, Any]) -> dict[str, Any]:
    svc = _service(b, p["ServiceArn"], allow_deleted=False)
    _require_idle(svc, "RUNNING")
    change = _normalise(copy.deepcopy({k: p[k] for k in _CONFIG_KEYS if k in p}))
    _check_config(b, change)
    previous = {k: copy.deepcopy(svc[k]) for k in change}
    if "NetworkConfiguration" in change:
        change["NetworkConfiguration"] = _network(change["NetworkConfiguration"])
    for key in ("InstanceConfiguration", "HealthCheckConfiguration"):
        if key in change:
            change[key] = {**svc[key], **change[key]}
    svc.update(change)
    op_id = _start_op(svc, "UPDATE_SERVICE", previous)
    return {"Service": _service_view(b, svc), "OperationId": op_id}


def delete_service(b: res.Backend, p: dict[str, Any]) -> dict[str, Any]:
    svc = _service(b, p["ServiceArn"], allow_deleted=False)
    _require_idle(svc, "RUNNING", "PAUSED", "CREATE_FAILED", "DELETE_FAILED")
    op_id = _start_op(svc, "DELETE_SERVICE")
    return {"Service": _service_view(b, svc), "OperationId": op_id}


def _simple_op(kind: str, needs: str) -> Callable[[res.Backend, dict[str, Any]], dict[str, Any]]:
    def handler(b: res.Backend, p: dict[str, Any]) -> dict[str, Any]:
        svc = _service(b, p["ServiceArn"], allow_deleted=False)
        _require_idle(svc, needs)
        op_id = _start_op(svc, kind)
        if kind == "START_DEPLOYMENT":
            return {"OperationId": op_id}
        return {"Service": _service_view(b, svc), "OperationId": op_id}

    return handler


def describe_service(b: res.Backend, p: dict[str, Any]) -> dict[str, Any]:
    return {"Service": _service_view(b, _service(b, p["ServiceArn"]))}


def list_services(b: res.Backend, p: dict[str, Any]) -> dict[str, Any]:
    for svc in b.services.values():
        _settle(b, svc)
    live = [s for s in b.services.values() if s["Status"] != "DELETED"]
    page, token = paginate(live, p, 20)
    keys = ("ServiceName", "ServiceId", "ServiceArn", "ServiceUrl", "CreatedAt", "UpdatedAt", "Status")
    return {"ServiceSummaryList": [{k: s[k] for k in keys} for s in page], "NextToken": token}


def list_operations(b: res.Backend, p: dict[str, Any]) -> dict[str, Any]:
    svc = _service(b, p["ServiceArn"])
    ops = [{k: v for k, v in op.items() if not k.startswith("_")} for op in svc["_ops"]]
    page, token = paginate(ops, p, 20)
    return {"OperationSummaryList": page, "NextToken": token}


# --------------------------------------------------------------------------- custom domains
def _domain_view(b: res.Backend, d: dict[str, Any]) -> dict[str, Any]:
    age = elapsed(d["_since"])
    wait = d["_duration"]
    records = d["CertificateValidationRecords"]
    if d.get("_deleting"):
        status = "DELETING"
    elif d["_mode"] == "FAILED":
        status = "CREATE_FAILED" if age >= wait else "CREATING"
        if age >= wait:
            records = [{**r, "Status": "FAILED"} for r in records]
    elif age < wait:
        status = "CREATING"
    elif d["_mode"] == "auto" or res.records_in_route53(b.account, records):
        status = "ACTIVE"
        records = [{**r, "Status": "SUCCESS"} for r in records]
    else:
        status = "PENDING_CERTIFICATE_DNS_VALIDATION"
    return {"DomainName": d["DomainName"], "EnableWWWSubdomain": d["EnableWWWSubdomain"], "CertificateValidationRecords": records, "Status": status}


def _live_domains(svc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    for name, d in list(svc["_domains"].items()):
        if d.get("_deleting") and elapsed(d["_deleting"]) >= d["_duration"]:
            del svc["_domains"][name]
    return svc["_domains"]


def associate_custom_domain(b: res.Backend, p: dict[str, Any]) -> dict[str, Any]:
    svc = _service(b, p["ServiceArn"], allow_deleted=False)
    _require_idle(svc, "RUNNING")
    name = p["DomainName"].rstrip(".").lower()
    if name in _live_domains(svc):
        raise invalid(f"Domain {name} is already associated with the service")
    www = p.get("EnableWWWSubdomain", True)
    names = [name] + ([f"www.{name}"] if www else [])
    d = {
        "DomainName": name,
        "EnableWWWSubdomain": www,
        "CertificateValidationRecords": [
            {"Name": f"_{hex_id()}.{n}.", "Type": "CNAME", "Value": f"_{hex_id()}.{hex_id(10)}.acm-validations.aws.", "Status": "PENDING_VALIDATION"} for n in names
        ],
        "_since": now(),
        "_duration": CONFIG.duration("apprunner.customdomain"),
        "_mode": CONFIG.outcome("apprunner.customdomain", svc["ServiceName"]),
    }
    svc["_domains"][name] = d
    return {"DNSTarget": svc["ServiceUrl"], "ServiceArn": svc["ServiceArn"], "CustomDomain": _domain_view(b, d), "VpcDNSTargets": []}


def describe_custom_domains(b: res.Backend, p: dict[str, Any]) -> dict[str, Any]:
    svc = _service(b, p["ServiceArn"])
    views = [_domain_view(b, d) for d in _live_domains(svc).values()]
    page, token = paginate(views, p, 5)
    return {"DNSTarget": svc["ServiceUrl"], "ServiceArn": svc["ServiceArn"], "CustomDomains": page, "VpcDNSTargets": [], "NextToken": token}


def disassociate_custom_domain(b: res.Backend, p: dict[str, Any]) -> dict[str, Any]:
    svc = _service(b, p["ServiceArn"], allow_deleted=False)
    name = p["DomainName"].rstrip(".").lower()
    d = _live_domains(svc).get(name)
    if d is None or d.get("_deleting"):
        raise not_found(f"Domain {name} is not associated with service {svc['ServiceArn']}")
    d["_deleting"] = now()
    d["_duration"] = CONFIG.duration("apprunner.customdomain")
    view = _domain_view(b, d)
    _live_domains(svc)
    return {"DNSTarget": svc["ServiceUrl"], "ServiceArn": svc["ServiceArn"], "CustomDomain": view, "VpcDNSTargets": []}


# --------------------------------------------------------------------------- dispatch
HANDLERS: dict[str, Callable[[res.Backend, dict[str, Any]], dict[str, Any]]] = {
    "CreateService": create_service,
    "UpdateService": update_service,
    "DeleteService": delete_service,
    "DescribeService": describe_service,
    "ListServices": list_services,
    "ListOperations": list_operations,
    "PauseService": _simple_op("PAUSE_SERVICE", "RUNNING"),
    "ResumeService": _simple_op("RESUME_SERVICE", "PAUSED"),
    "StartDeployment": _simple_op("START_DEPLOYMENT", "RUNNING"),
    "AssociateCustomDomain": associate_custom_domain,
    "DescribeCustomDomains": describe_custom_domains,
    "DisassociateCustomDomain": disassociate_custom_domain,
    **res.HANDLERS,
}


def service_exists(account: str, region: str, arn: str) -> bool:
    """For WAF: is this a live App Runner service ARN?"""
    with LOCK:
        b = res.backend(account, region)
        svc = b.services.get(arn)
        if svc is None:
            return False
        _settle(b, svc)
        return svc["Status"] not in ("DELETED", "CREATE_FAILED")


@hooks.before(SERVICE)
def handle(call: wire.Call) -> wire.Response:
    sm = model.service_model(SERVICE)
    if call.operation not in sm.operation_names:
        raise ApiError("UnknownOperationException", f"Unknown operation {call.operation}")
    op = sm.operation_model(call.operation)
    try:
        raw = call.json()
    except ValueError:
        raise ApiError("SerializationException", "request body is not valid JSON") from None
    params = model.parse_input(op, raw)
    handler = HANDLERS.get(op.name)
    if handler is None:
        raise invalid(f"{op.name} is not emulated (connections and VPC ingress connections are out of scope)")
    with LOCK:
        b = res.backend(account_id(call), call.region)
        result = handler(b, params)
    return wire.json_response(call, model.build_output(op, result))


hooks.on_reset(res.reset)
