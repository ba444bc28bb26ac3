"""AWS App Runner (awsJson1_0, target prefix AppRunner): moto 5.2.5 has no App Runner.

Requests and responses are validated against botocore's official apprunner model
(model.parse_input / model.build_output). Services move through the real status machine:
every mutating call starts an operation (ListOperations) that is IN_PROGRESS for the
configured `apprunner.operation` duration (`apprunner.operation:<service name>` narrows it)
and then SUCCEEDED (or FAILED / ROLLBACK_SUCCEEDED when the `apprunner` outcome says FAILED).
A service that failed to create can be updated (App Runner allows it since 2023): it is
built again with the new configuration. A VPC connector cannot be deleted while a service
uses it, nor for `apprunner.vpcconnector.release` seconds after the last such service was
deleted (App Runner holds it a while: apprunner-roadmap #161). Custom domains wait for their certificate
validation CNAMEs to exist in moto's Route 53 (outcome `apprunner.customdomain`).
The account state also holds the helper resources: VPC connectors (subnets and security
groups must exist in moto's EC2), auto scaling configurations (revisions, the account
default, quotas), observability configurations and tags. Everything runs under LOCK.
No container ever runs: this is the control plane only.
"""

from __future__ import annotations

import copy
import threading
import uuid
from typing import Any, Callable

from ..core import model, wire
from ..core.config import CONFIG
from ..core.hooks import Registry
from ..core.model import ApiError
from ..core.util import account_id, elapsed, hex_id, now, paginate

SERVICE = "apprunner"
LOCK = threading.RLock()
CPU = {"0.25 vCPU": "256", "0.5 vCPU": "512", "1 vCPU": "1024", "2 vCPU": "2048", "4 vCPU": "4096"}
MEM = {f"{g} GB": str(int(float(g) * 1024)) for g in ("0.5", "1", "2", "3", "4", "6", "8", "10", "12")}
_CONFIG_KEYS = ("SourceConfiguration", "InstanceConfiguration", "HealthCheckConfiguration", "NetworkConfiguration", "ObservabilityConfiguration", "AutoScalingConfigurationArn")
MAX_ASC_REVISIONS = 5  # App Runner quota: revisions per auto scaling configuration name
MAX_ASC_NAMES = 10  # quota: configuration names per region


def install(reg: Registry) -> None:
    reg.before(SERVICE)(_handle)
    reg.on_reset(reset)


def invalid(msg: str) -> ApiError:
    return ApiError("InvalidRequestException", msg)


def not_found(msg: str) -> ApiError:
    return ApiError("ResourceNotFoundException", msg)


def bad_state(msg: str) -> ApiError:
    return ApiError("InvalidStateException", msg)


# --------------------------------------------------------------------------- account state
class Backend:
    def __init__(self, account: str, region: str) -> None:
        self.account = account
        self.region = region
        self.services: dict[str, dict[str, Any]] = {}
        self.vpc_connectors: dict[str, dict[str, Any]] = {}
        self.asc: dict[str, dict[str, Any]] = {}
        self.observability: dict[str, dict[str, Any]] = {}
        self.tags: dict[str, dict[str, str]] = {}
        default = self._revision("asc", "autoscalingconfiguration", "DefaultConfiguration", 1, "0" * 31 + "1")
        default.update({"MaxConcurrency": 100, "MinSize": 1, "MaxSize": 25, "IsDefault": True, "HasAssociatedService": False})
        self.asc[default["AutoScalingConfigurationArn"]] = default

    def _revision(self, prefix: str, kind: str, name: str, rev: int, rid: str | None = None) -> dict[str, Any]:
        label = {"asc": "AutoScalingConfiguration", "obs": "ObservabilityConfiguration"}[prefix]
        return {
            f"{label}Arn": f"arn:aws:apprunner:{self.region}:{self.account}:{kind}/{name}/{rev}/{rid or hex_id()}",
            f"{label}Name": name,
            f"{label}Revision": rev,
            "Latest": True,
            "Status": "ACTIVE",
            "CreatedAt": now(),
        }

    def default_asc(self) -> dict[str, Any]:
        return next(a for a in self.asc.values() if a["IsDefault"] and a["Status"] == "ACTIVE")

    def find_asc(self, arn: str) -> dict[str, Any] | None:
        """Full ARN, or a partial one ending in /name or /name/revision (latest active)."""
        if arn in self.asc:
            return self.asc[arn]
        parts = arn.split(":", 5)[-1].split("/")
        if len(parts) < 2 or parts[0] != "autoscalingconfiguration":
            return None
        cands = [a for a in self.asc.values() if a["AutoScalingConfigurationName"] == parts[1] and a["Status"] == "ACTIVE"]
        if len(parts) >= 3 and parts[2]:
            cands = [a for a in cands if str(a["AutoScalingConfigurationRevision"]) == parts[2]]
        return max(cands, key=lambda a: a["AutoScalingConfigurationRevision"], default=None)


_backends: dict[tuple[str, str], Backend] = {}


def backend(account: str, region: str) -> Backend:
    key = (account, region)
    if key not in _backends:
        _backends[key] = Backend(account, region)
    return _backends[key]


def reset() -> None:
    _backends.clear()


def _keep(b: Backend, table: dict[str, dict[str, Any]], arn: str, item: dict[str, Any], p: dict[str, Any]) -> None:
    """Stores a new resource under its ARN, with the tags of its create request."""
    table[arn] = item
    b.tags[arn] = tag_dict(p.get("Tags"))


def _found(table: dict[str, dict[str, Any]], arn: str, what: str) -> dict[str, Any]:
    item = table.get(arn)
    if item is None:
        raise not_found(f"{what} {arn} not found")
    return item


def _listed(table: dict[str, dict[str, Any]], name_key: str, p: dict[str, Any]) -> list[dict[str, Any]]:
    """The ACTIVE revisions, narrowed to the request's name and to the latest ones when asked."""
    items = [x for x in table.values() if x["Status"] == "ACTIVE"]
    if p.get(name_key):
        items = [x for x in items if x[name_key] == p[name_key]]
    if p.get("LatestOnly"):
        items = [x for x in items if x["Latest"]]
    return items


def tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in tags or []}


# --------------------------------------------------------------------------- services
def _settle(b: Backend, svc: dict[str, Any]) -> None:
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
    elif op.get("_from") == "CREATE_FAILED":  # an update that builds a failed service again
        op["Status"], svc["Status"] = ("FAILED", "CREATE_FAILED") if failed else ("SUCCEEDED", "RUNNING")
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
        "_duration": CONFIG.duration("apprunner.operation", svc["ServiceName"]),
        "_outcome": CONFIG.outcome("apprunner", svc["ServiceName"]),
        "_previous": previous,
        "_from": svc.get("Status"),
    }
    svc["_ops"].insert(0, op)
    svc["_op"] = op
    svc["Status"] = "OPERATION_IN_PROGRESS"
    svc["UpdatedAt"] = op["StartedAt"]
    return op["Id"]


def _service_view(b: Backend, svc: dict[str, Any]) -> dict[str, Any]:
    out = {k: copy.deepcopy(v) for k, v in svc.items() if not k.startswith("_") and k != "AutoScalingConfigurationArn"}
    asc = b.find_asc(svc["AutoScalingConfigurationArn"])
    out["AutoScalingConfigurationSummary"] = asc_summary(b, asc) if asc else {}
    return out


def _service(b: Backend, arn: str, allow_deleted: bool = True) -> dict[str, Any]:
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


def _check_config(b: Backend, cfg: dict[str, Any]) -> None:
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


NEW_CUSTOMER = (
    "AWS App Runner is no longer available to new customers: CreateService is not allowed because this account has never used App Runner. "
    "Existing customers can continue to use the service. See https://docs.aws.amazon.com/apprunner/latest/dg/apprunner-availability-change.html"
)


def create_service(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    name = p["ServiceName"]
    if CONFIG.outcome("apprunner.account", name) == "new":
        # Since 2026-04-30 App Runner refuses accounts that never used it (our best
        # understanding of the error: to be checked against a new account on AWS).
        raise invalid(NEW_CUSTOMER)
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
    _keep(b, b.services, svc["ServiceArn"], svc, p)
    op_id = _start_op(svc, "CREATE_SERVICE")
    return {"Service": _service_view(b, svc), "OperationId": op_id}


def _network(net: dict[str, Any] | None) -> dict[str, Any]:
    net = copy.deepcopy(net or {})
    net.setdefault("EgressConfiguration", {"EgressType": "DEFAULT"})
    net["EgressConfiguration"].setdefault("EgressType", "DEFAULT")
    net.setdefault("IngressConfiguration", {"IsPubliclyAccessible": True})
    net.setdefault("IpAddressType", "IPV4")
    return net


def update_service(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    svc = _service(b, p["ServiceArn"], allow_deleted=False)
    _require_idle(svc, "RUNNING", "CREATE_FAILED")
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


def delete_service(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    svc = _service(b, p["ServiceArn"], allow_deleted=False)
    _require_idle(svc, "RUNNING", "PAUSED", "CREATE_FAILED", "DELETE_FAILED")
    op_id = _start_op(svc, "DELETE_SERVICE")
    return {"Service": _service_view(b, svc), "OperationId": op_id}


def _simple_op(kind: str, needs: str) -> Callable[[Backend, dict[str, Any]], dict[str, Any]]:
    def handler(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        svc = _service(b, p["ServiceArn"], allow_deleted=False)
        _require_idle(svc, needs)
        op_id = _start_op(svc, kind)
        if kind == "START_DEPLOYMENT":
            return {"OperationId": op_id}
        return {"Service": _service_view(b, svc), "OperationId": op_id}

    return handler


def describe_service(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    return {"Service": _service_view(b, _service(b, p["ServiceArn"]))}


def list_services(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    for svc in b.services.values():
        _settle(b, svc)
    live = [s for s in b.services.values() if s["Status"] != "DELETED"]
    page, token = paginate(live, p, 20)
    keys = ("ServiceName", "ServiceId", "ServiceArn", "ServiceUrl", "CreatedAt", "UpdatedAt", "Status")
    return {"ServiceSummaryList": [{k: s[k] for k in keys} for s in page], "NextToken": token}


def list_operations(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    svc = _service(b, p["ServiceArn"])
    ops = [{k: v for k, v in op.items() if not k.startswith("_")} for op in svc["_ops"]]
    page, token = paginate(ops, p, 20)
    return {"OperationSummaryList": page, "NextToken": token}


# --------------------------------------------------------------------------- custom domains
def _domain_view(b: Backend, d: dict[str, Any]) -> dict[str, Any]:
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
    elif d["_mode"] == "auto" or records_in_route53(b.account, records):
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


def associate_custom_domain(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
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


def describe_custom_domains(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    svc = _service(b, p["ServiceArn"])
    views = [_domain_view(b, d) for d in _live_domains(svc).values()]
    page, token = paginate(views, p, 5)
    return {"DNSTarget": svc["ServiceUrl"], "ServiceArn": svc["ServiceArn"], "CustomDomains": page, "VpcDNSTargets": [], "NextToken": token}


def disassociate_custom_domain(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
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


# --------------------------------------------------------------------------- auto scaling configurations
def _in_use(b: Backend, arn: str) -> bool:
    return any(s["AutoScalingConfigurationArn"] == arn and s["Status"] != "DELETED" for s in b.services.values())


def asc_summary(b: Backend, a: dict[str, Any]) -> dict[str, Any]:
    keys = ("AutoScalingConfigurationArn", "AutoScalingConfigurationName", "AutoScalingConfigurationRevision", "Status", "CreatedAt", "IsDefault")
    return {**{k: a[k] for k in keys}, "HasAssociatedService": _in_use(b, a["AutoScalingConfigurationArn"])}


def _asc_view(b: Backend, a: dict[str, Any]) -> dict[str, Any]:
    return {**a, "HasAssociatedService": _in_use(b, a["AutoScalingConfigurationArn"])}


def create_asc(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    name = p["AutoScalingConfigurationName"]
    if name == "DefaultConfiguration":
        raise ApiError("InvalidRequestException", "DefaultConfiguration is reserved")
    active = [a for a in b.asc.values() if a["AutoScalingConfigurationName"] == name and a["Status"] == "ACTIVE"]
    if len(active) >= MAX_ASC_REVISIONS:
        raise ApiError("ServiceQuotaExceededException", f"you reached the quota of {MAX_ASC_REVISIONS} revisions for {name}")
    names = {a["AutoScalingConfigurationName"] for a in b.asc.values() if a["Status"] == "ACTIVE" and not a["IsDefault"]}
    if name not in names and len(names) >= MAX_ASC_NAMES:
        raise ApiError("ServiceQuotaExceededException", f"you reached the quota of {MAX_ASC_NAMES} auto scaling configurations")
    lo, hi = p.get("MinSize", 1), p.get("MaxSize", 25)
    if lo > hi:
        raise ApiError("InvalidRequestException", "MinSize must not be greater than MaxSize")
    rev = 1 + max((a["AutoScalingConfigurationRevision"] for a in b.asc.values() if a["AutoScalingConfigurationName"] == name), default=0)
    for a in active:
        a["Latest"] = False
    a = b._revision("asc", "autoscalingconfiguration", name, rev)
    a.update({"MaxConcurrency": p.get("MaxConcurrency", 100), "MinSize": lo, "MaxSize": hi, "IsDefault": False})
    _keep(b, b.asc, a["AutoScalingConfigurationArn"], a, p)
    return {"AutoScalingConfiguration": _asc_view(b, a)}


def _asc(b: Backend, arn: str) -> dict[str, Any]:
    a = b.find_asc(arn)
    if a is None:
        raise ApiError("ResourceNotFoundException", f"Auto scaling configuration {arn} not found")
    return a


def delete_asc(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    a = _asc(b, p["AutoScalingConfigurationArn"])
    if a["IsDefault"] and a["AutoScalingConfigurationName"] == "DefaultConfiguration":
        raise ApiError("InvalidRequestException", "the App Runner default auto scaling configuration can't be deleted")
    targets = [x for x in b.asc.values() if x["AutoScalingConfigurationName"] == a["AutoScalingConfigurationName"]] if p.get("DeleteAllRevisions") else [a]
    for t in targets:
        if _in_use(b, t["AutoScalingConfigurationArn"]):
            raise ApiError("InvalidRequestException", f"{t['AutoScalingConfigurationArn']} is used by a service")
    for t in targets:
        if t["Status"] == "ACTIVE":
            t.update({"Status": "INACTIVE", "DeletedAt": now(), "Latest": False, "IsDefault": False})
    return {"AutoScalingConfiguration": _asc_view(b, a)}


def update_default_asc(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    a = _asc(b, p["AutoScalingConfigurationArn"])
    if a["Status"] != "ACTIVE":
        raise ApiError("InvalidRequestException", "the configuration is not active")
    for x in b.asc.values():
        x["IsDefault"] = x is a
    return {"AutoScalingConfiguration": _asc_view(b, a)}


def list_asc(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    items = _listed(b.asc, "AutoScalingConfigurationName", p)
    page, token = paginate([asc_summary(b, a) for a in items], p)
    return {"AutoScalingConfigurationSummaryList": page, "NextToken": token}


def services_for_asc(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    a = _asc(b, p["AutoScalingConfigurationArn"])
    arns = [s["ServiceArn"] for s in b.services.values() if s["AutoScalingConfigurationArn"] == a["AutoScalingConfigurationArn"] and s["Status"] != "DELETED"]
    page, token = paginate(arns, p)
    return {"ServiceArnList": page, "NextToken": token}


# --------------------------------------------------------------------------- VPC connectors
def _check_network_ids(b: Backend, subnets: list[str], groups: list[str]) -> None:
    """App Runner checks that the subnets and security groups exist (moto's EC2 here)."""
    try:
        from moto.ec2.models import ec2_backends

        ec2 = ec2_backends[b.account][b.region]
    except Exception:
        return
    for s in subnets:
        try:
            ec2.get_subnet(s)
        except Exception:
            raise ApiError("InvalidRequestException", f"Subnet {s} does not exist") from None
    for g in groups:
        if ec2.get_security_group_from_id(g) is None:
            raise ApiError("InvalidRequestException", f"Security group {g} does not exist")


def create_vpc_connector(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    name = p["VpcConnectorName"]
    same = [c for c in b.vpc_connectors.values() if c["VpcConnectorName"] == name]
    if any(c["Status"] == "ACTIVE" for c in same):
        raise ApiError("InvalidRequestException", f"An active VPC connector named {name} already exists")
    _check_network_ids(b, p["Subnets"], p.get("SecurityGroups") or [])
    rev = len(same) + 1
    c = {
        "VpcConnectorName": name,
        "VpcConnectorArn": f"arn:aws:apprunner:{b.region}:{b.account}:vpcconnector/{name}/{rev}/{hex_id()}",
        "VpcConnectorRevision": rev,
        "Subnets": list(p["Subnets"]),
        "SecurityGroups": list(p.get("SecurityGroups") or []),
        "Status": "ACTIVE",
        "CreatedAt": now(),
    }
    _keep(b, b.vpc_connectors, c["VpcConnectorArn"], c, p)
    return {"VpcConnector": c}


def _connector_of(svc: dict[str, Any]) -> str | None:
    return ((svc.get("NetworkConfiguration") or {}).get("EgressConfiguration") or {}).get("VpcConnectorArn")


def delete_vpc_connector(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    c = _found(b.vpc_connectors, p["VpcConnectorArn"], "VPC connector")
    if c["Status"] == "INACTIVE":
        raise ApiError("ResourceNotFoundException", f"VPC connector {c['VpcConnectorArn']} is already deleted")
    release = CONFIG.duration("apprunner.vpcconnector.release", c["VpcConnectorName"])
    for svc in b.services.values():
        _settle(b, svc)
        if _connector_of(svc) != c["VpcConnectorArn"]:
            continue
        if svc["Status"] != "DELETED" or elapsed(svc["DeletedAt"]) < release:
            raise invalid(f"VPC connector {c['VpcConnectorArn']} is associated with one or more App Runner services and can't be deleted")
    c.update({"Status": "INACTIVE", "DeletedAt": now()})
    return {"VpcConnector": c}


def list_vpc_connectors(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    page, token = paginate([c for c in b.vpc_connectors.values() if c["Status"] == "ACTIVE"], p)
    return {"VpcConnectors": page, "NextToken": token}


# --------------------------------------------------------------------------- observability
def create_obs(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    name = p["ObservabilityConfigurationName"]
    same = [o for o in b.observability.values() if o["ObservabilityConfigurationName"] == name]
    for o in same:
        o["Latest"] = False
    o = b._revision("obs", "observabilityconfiguration", name, len(same) + 1)
    if p.get("TraceConfiguration"):
        o["TraceConfiguration"] = p["TraceConfiguration"]
    _keep(b, b.observability, o["ObservabilityConfigurationArn"], o, p)
    return {"ObservabilityConfiguration": o}


def delete_obs(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    o = _found(b.observability, p["ObservabilityConfigurationArn"], "Observability configuration")
    o.update({"Status": "INACTIVE", "DeletedAt": now(), "Latest": False})
    return {"ObservabilityConfiguration": o}


def list_obs(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    items = _listed(b.observability, "ObservabilityConfigurationName", p)
    keys = ("ObservabilityConfigurationArn", "ObservabilityConfigurationName", "ObservabilityConfigurationRevision")
    page, token = paginate([{k: o[k] for k in keys} for o in items], p)
    return {"ObservabilityConfigurationSummaryList": page, "NextToken": token}


# --------------------------------------------------------------------------- tags
def _tagged(b: Backend, arn: str) -> dict[str, str]:
    live = arn in b.tags and (
        (arn in b.services and b.services[arn]["Status"] != "DELETED")
        or (arn in b.vpc_connectors and b.vpc_connectors[arn]["Status"] == "ACTIVE")
        or (arn in b.asc and b.asc[arn]["Status"] == "ACTIVE")
        or (arn in b.observability and b.observability[arn]["Status"] == "ACTIVE")
    )
    if not live:
        raise ApiError("ResourceNotFoundException", f"Resource {arn} not found")
    return b.tags[arn]


def tag_resource(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    _tagged(b, p["ResourceArn"]).update(tag_dict(p["Tags"]))
    return {}


def untag_resource(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    tags = _tagged(b, p["ResourceArn"])
    for k in p["TagKeys"]:
        tags.pop(k, None)
    return {}


def list_tags(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    return {"Tags": [{"Key": k, "Value": v} for k, v in _tagged(b, p["ResourceArn"]).items()]}


# --------------------------------------------------------------------------- Route 53
def records_in_route53(account: str, records: list[dict[str, Any]]) -> bool:
    """True when every validation CNAME exists in some hosted zone of moto's Route 53."""
    try:
        from moto.route53.models import route53_backends

        zones = list(route53_backends[account]["aws"].zones.values())
    except Exception:
        return False
    have = set()
    for zone in zones:
        for rr in list(zone.rrsets):
            if (rr.type or "").upper() == "CNAME":
                for value in rr.records or []:
                    have.add((rr.name.lower().rstrip("."), str(value).lower().rstrip(".")))
    return all((r["Name"].lower().rstrip("."), r["Value"].lower().rstrip(".")) in have for r in records)


_RESOURCE_HANDLERS: dict[str, Callable[[Backend, dict[str, Any]], dict[str, Any]]] = {
    "CreateAutoScalingConfiguration": create_asc,
    "DescribeAutoScalingConfiguration": lambda b, p: {"AutoScalingConfiguration": _asc_view(b, _asc(b, p["AutoScalingConfigurationArn"]))},
    "DeleteAutoScalingConfiguration": delete_asc,
    "ListAutoScalingConfigurations": list_asc,
    "UpdateDefaultAutoScalingConfiguration": update_default_asc,
    "ListServicesForAutoScalingConfiguration": services_for_asc,
    "CreateVpcConnector": create_vpc_connector,
    "DescribeVpcConnector": lambda b, p: {"VpcConnector": _found(b.vpc_connectors, p["VpcConnectorArn"], "VPC connector")},
    "DeleteVpcConnector": delete_vpc_connector,
    "ListVpcConnectors": list_vpc_connectors,
    "CreateObservabilityConfiguration": create_obs,
    "DescribeObservabilityConfiguration": lambda b, p: {"ObservabilityConfiguration": _found(b.observability, p["ObservabilityConfigurationArn"], "Observability configuration")},
    "DeleteObservabilityConfiguration": delete_obs,
    "ListObservabilityConfigurations": list_obs,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags,
}


# --------------------------------------------------------------------------- dispatch
HANDLERS: dict[str, Callable[[Backend, dict[str, Any]], dict[str, Any]]] = {
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
    **_RESOURCE_HANDLERS,
}


def service_exists(account: str, region: str, arn: str) -> bool:
    """For WAF: is this a live App Runner service ARN?"""
    with LOCK:
        b = backend(account, region)
        svc = b.services.get(arn)
        if svc is None:
            return False
        _settle(b, svc)
        return svc["Status"] not in ("DELETED", "CREATE_FAILED")


def _handle(call: wire.Call) -> wire.Response:
    sm = model.service_model(SERVICE)
    if call.operation not in sm.operation_names:
        raise ApiError("UnknownOperationException", f"Unknown operation {call.operation}")
    op = sm.operation_model(call.operation)
    params = wire.json_params(call, op)
    handler = HANDLERS.get(op.name)
    if handler is None:
        raise invalid(f"{op.name} is not emulated (connections and VPC ingress connections are out of scope)")
    with LOCK:
        b = backend(account_id(call), call.region)
        result = handler(b, params)
    return wire.json_response(call, model.build_output(op, result))
