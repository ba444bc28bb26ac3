"""App Runner account state and its helper resources: VPC connectors, auto scaling
configurations (revisions, the account default, quotas), observability configurations,
tags, and the Route 53 check for custom-domain validation records.

Called by apprunner.py under its lock; holds no lock itself. Never touches services'
status machine (apprunner.py owns that).
"""

from __future__ import annotations

from typing import Any, Callable

from .model import ApiError
from .util import hex_id, now, paginate

MAX_ASC_REVISIONS = 5  # App Runner quota: revisions per auto scaling configuration name
MAX_ASC_NAMES = 10  # quota: configuration names per region


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


def tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in tags or []}


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
    b.asc[a["AutoScalingConfigurationArn"]] = a
    b.tags[a["AutoScalingConfigurationArn"]] = tag_dict(p.get("Tags"))
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
    items = [a for a in b.asc.values() if a["Status"] == "ACTIVE"]
    if p.get("AutoScalingConfigurationName"):
        items = [a for a in items if a["AutoScalingConfigurationName"] == p["AutoScalingConfigurationName"]]
    if p.get("LatestOnly"):
        items = [a for a in items if a["Latest"]]
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
    b.vpc_connectors[c["VpcConnectorArn"]] = c
    b.tags[c["VpcConnectorArn"]] = tag_dict(p.get("Tags"))
    return {"VpcConnector": c}


def _connector(b: Backend, arn: str) -> dict[str, Any]:
    c = b.vpc_connectors.get(arn)
    if c is None:
        raise ApiError("ResourceNotFoundException", f"VPC connector {arn} not found")
    return c


def delete_vpc_connector(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    c = _connector(b, p["VpcConnectorArn"])
    if c["Status"] == "INACTIVE":
        raise ApiError("ResourceNotFoundException", f"VPC connector {c['VpcConnectorArn']} is already deleted")
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
    b.observability[o["ObservabilityConfigurationArn"]] = o
    b.tags[o["ObservabilityConfigurationArn"]] = tag_dict(p.get("Tags"))
    return {"ObservabilityConfiguration": o}


def _obs(b: Backend, arn: str) -> dict[str, Any]:
    o = b.observability.get(arn)
    if o is None:
        raise ApiError("ResourceNotFoundException", f"Observability configuration {arn} not found")
    return o


def delete_obs(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    o = _obs(b, p["ObservabilityConfigurationArn"])
    o.update({"Status": "INACTIVE", "DeletedAt": now(), "Latest": False})
    return {"ObservabilityConfiguration": o}


def list_obs(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    items = [o for o in b.observability.values() if o["Status"] == "ACTIVE"]
    if p.get("ObservabilityConfigurationName"):
        items = [o for o in items if o["ObservabilityConfigurationName"] == p["ObservabilityConfigurationName"]]
    if p.get("LatestOnly"):
        items = [o for o in items if o["Latest"]]
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


HANDLERS: dict[str, Callable[[Backend, dict[str, Any]], dict[str, Any]]] = {
    "CreateAutoScalingConfiguration": create_asc,
    "DescribeAutoScalingConfiguration": lambda b, p: {"AutoScalingConfiguration": _asc_view(b, _asc(b, p["AutoScalingConfigurationArn"]))},
    "DeleteAutoScalingConfiguration": delete_asc,
    "ListAutoScalingConfigurations": list_asc,
    "UpdateDefaultAutoScalingConfiguration": update_default_asc,
    "ListServicesForAutoScalingConfiguration": services_for_asc,
    "CreateVpcConnector": create_vpc_connector,
    "DescribeVpcConnector": lambda b, p: {"VpcConnector": _connector(b, p["VpcConnectorArn"])},
    "DeleteVpcConnector": delete_vpc_connector,
    "ListVpcConnectors": list_vpc_connectors,
    "CreateObservabilityConfiguration": create_obs,
    "DescribeObservabilityConfiguration": lambda b, p: {"ObservabilityConfiguration": _obs(b, p["ObservabilityConfigurationArn"])},
    "DeleteObservabilityConfiguration": delete_obs,
    "ListObservabilityConfigurations": list_obs,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags,
}
