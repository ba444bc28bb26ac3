"""ECS Express Mode (*ExpressGatewayService): moto 5.2.5 has no handler for it.

Requests and responses are validated against botocore's official ecs model. An Express
service is backed by a real moto ECS service (plus a task definition registered in moto),
so ListServices/DescribeServices/UpdateService see it as they would on AWS, and its
deployments, tasks and load balancer targets follow deployments.py (with the circuit
breaker's rollback on, as Express configures it). Status: ACTIVE;
DeleteExpressGatewayService -> DRAINING for `ecs.express.drain` seconds -> INACTIVE. The
endpoint is `<name>-<hash>.ecs.<region>.on.aws`.

Create provisions, in moto, what Express Mode manages in the service's VPC (the VPC of its
subnets, or the default VPC's default subnets): an Application Load Balancer
`ecs-express-gateway-alb-<hash>` shared by the Express services of one VPC and scheme
(internet-facing when a subnet is public, i.e. routes 0.0.0.0/0 to an internet gateway or
is a default subnet; internal otherwise), its security group (443 from anywhere, or from
the VPC), an HTTPS:443 listener (default action 404) with an ACM certificate per endpoint
(ISSUED; the first is the listener's default, the others SNI certificates), per service a
target group (HTTP, ip, the container port, the health check path), a host-header listener
rule for the endpoint, a service security group (the container port from the load
balancer's group) that is added to networkConfiguration.securityGroups, and an Application
Auto Scaling scalable target with a target tracking policy. DescribeServiceRevisions
reports them in `ecsManagedResources`. An update is a new deployment and service revision
(a new container port gets a new target group); delete removes the service's resources,
and the load balancer with its listener and security group when no other Express service
uses it. Subnets in fewer than two Availability Zones leave the load balancer FAILED (no
resources), as an ALB needs two.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from ...core import moto_client, wire
from ...core.config import CONFIG
from ...core.model import ApiError
from ...core.util import account_id, elapsed, hex_id, now
from . import base, deployments
from .base import LOCK

OPS = {"CreateExpressGatewayService", "UpdateExpressGatewayService", "DescribeExpressGatewayService", "DeleteExpressGatewayService"}
# Express Mode's documented defaults.
DEFAULTS = {"cpu": "1024", "memory": "2048", "cpuArchitecture": "X86_64", "healthCheckPath": "/ping"}
SCALING_DEFAULTS = {"minTaskCount": 1, "maxTaskCount": 20, "autoScalingMetric": "AVERAGE_CPU", "autoScalingTargetValue": 60}
CONFIG_KEYS = ("executionRoleArn", "taskRoleArn", "taskDefinitionArn", "cpu", "memory", "cpuArchitecture", "networkConfiguration", "healthCheckPath", "primaryContainer", "scalingTarget")
# What Express Mode configures on its service (canary with the circuit breaker's rollback).
DEPLOYMENT_CONFIGURATION = {
    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
    "strategy": "CANARY",
    "bakeTimeInMinutes": 3,
    "canaryConfiguration": {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 3},
}
METRICS = {"AVERAGE_CPU": "ECSServiceAverageCPUUtilization", "AVERAGE_MEMORY": "ECSServiceAverageMemoryUtilization", "REQUEST_COUNT_PER_TARGET": "ALBRequestCountPerTarget"}
SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"

_services: dict[str, dict[str, Any]] = {}
# (account, region, vpc, scheme) -> the shared load balancer
_albs: dict[tuple[str, str, str, str], dict[str, Any]] = {}


def reset() -> None:
    with LOCK:
        _services.clear()
        _albs.clear()


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


def _container(ecs: Any, td_arn: str) -> tuple[str, int]:
    """The container and port the load balancer sends traffic to."""
    td = ecs.describe_task_definition(td_arn)
    for c in td.container_definitions:
        for m in c.get("portMappings") or []:
            return c.get("name"), m.get("containerPort")
    return td.container_definitions[0].get("name"), 80


# --------------------------------------------------------------------------- managed resources
class Aws:
    """moto's APIs in the caller's account and region (core.moto_client)."""

    def __init__(self, access_key: str, region: str) -> None:
        self.key = access_key
        self.region = region

    def __call__(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        return moto_client.call(service, operation, params, self.key, self.region)

    def quietly(self, service: str, operation: str, **params: Any) -> None:
        try:
            self(service, operation, **params)
        except ApiError:
            pass


def _network(aws: Aws, net: dict[str, Any]) -> tuple[str, list[str], list[str]]:
    """(VPC, subnets, user security groups); the default VPC's default subnets when none."""
    subnets = list(net.get("subnets") or [])
    if not subnets:
        vpcs = aws("ec2", "DescribeVpcs", Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
        if not vpcs:
            raise ApiError("InvalidParameterException", "No default VPC was found. Specify networkConfiguration.subnets.")
        found = aws("ec2", "DescribeSubnets", Filters=[{"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]}, {"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
        subnets = [s["SubnetId"] for s in found]
    try:
        found = aws("ec2", "DescribeSubnets", SubnetIds=subnets)["Subnets"]
    except ApiError as e:
        raise ApiError("InvalidParameterException", f"Error retrieving subnet information for {subnets}: {e.message}") from None
    vpcs = {s["VpcId"] for s in found}
    if len(vpcs) != 1:
        raise ApiError("InvalidParameterException", "The subnets must belong to the same VPC.")
    groups = list(net.get("securityGroups") or [])
    if groups:
        try:
            aws("ec2", "DescribeSecurityGroups", GroupIds=groups)
        except ApiError as e:
            raise ApiError("InvalidParameterException", f"Error retrieving security group information for {groups}: {e.message}") from None
    return vpcs.pop(), subnets, groups


def _public(aws: Aws, vpc: str, subnet: dict[str, Any]) -> bool:
    if subnet.get("DefaultForAz"):
        return True
    tables = aws("ec2", "DescribeRouteTables", Filters=[{"Name": "association.subnet-id", "Values": [subnet["SubnetId"]]}])["RouteTables"]
    if not tables:
        tables = aws("ec2", "DescribeRouteTables", Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
    return any(r.get("DestinationCidrBlock") == "0.0.0.0/0" and str(r.get("GatewayId", "")).startswith("igw-") for t in tables for r in t.get("Routes") or [])


def _sg_arn(region: str, account: str, group: str) -> str:
    return f"arn:aws:ec2:{region}:{account}:security-group/{group}"


def _provision(aws: Aws, rec: dict[str, Any], vpc: str, subnets: list[str], port: int, path: str) -> dict[str, Any]:
    account, region = rec["_account"], rec["_region"]
    found = aws("ec2", "DescribeSubnets", SubnetIds=subnets)["Subnets"]
    public = any(_public(aws, vpc, s) for s in found)
    scheme = "internet-facing" if public else "internal"
    m: dict[str, Any] = {"scheme": scheme, "access": "PUBLIC" if public else "PRIVATE", "subnets": subnets, "public": public, "created": now(), "port": port, "path": path}
    if len({s["AvailabilityZone"] for s in found}) < 2:
        m["failed"] = "ValidationError: At least two subnets in two different Availability Zones must be specified"
        return m
    key = (account, region, vpc, scheme)
    alb = _albs.get(key)
    cert = aws("acm", "RequestCertificate", DomainName=rec["_endpoint"], ValidationMethod="DNS")["CertificateArn"]
    _issue(account, region, cert)
    if alb is None:
        h = hashlib.sha256("/".join(key).encode()).hexdigest()[:8]
        cidr = aws("ec2", "DescribeVpcs", VpcIds=[vpc])["Vpcs"][0]["CidrBlock"]
        sg = aws("ec2", "CreateSecurityGroup", GroupName=f"ecs-express-gateway-alb-{h}", Description="Managed by Amazon ECS Express Mode: load balancer", VpcId=vpc)["GroupId"]
        aws("ec2", "AuthorizeSecurityGroupIngress", GroupId=sg, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0" if public else cidr}]}])
        lb = aws("elbv2", "CreateLoadBalancer", Name=f"ecs-express-gateway-alb-{h}", Subnets=subnets, SecurityGroups=[sg], Scheme=scheme, Type="application", IpAddressType="ipv4")["LoadBalancers"][0]
        listener = aws(
            "elbv2",
            "CreateListener",
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTPS",
            Port=443,
            SslPolicy=SSL_POLICY,
            Certificates=[{"CertificateArn": cert}],
            DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain", "MessageBody": "Not Found"}}],
        )["Listeners"][0]["ListenerArn"]
        alb = {"lb": lb["LoadBalancerArn"], "name": lb["LoadBalancerName"], "subnets": subnets, "sg": sg, "listener": listener, "default_cert": cert, "services": set(), "created": now()}
        _albs[key] = alb
    else:
        aws("elbv2", "AddListenerCertificates", ListenerArn=alb["listener"], Certificates=[{"CertificateArn": cert}])
    alb["services"].add(rec["serviceArn"])
    m.update({"key": key, "cert": cert, "lb_arn": alb["lb"], "listener": alb["listener"], "lb_sg": alb["sg"]})
    _target_group(aws, rec, m, vpc, port, path)
    rules = aws("elbv2", "DescribeRules", ListenerArn=alb["listener"])["Rules"]
    priority = 1 + max((int(r["Priority"]) for r in rules if r["Priority"].isdigit()), default=0)
    m["rule"] = aws(
        "elbv2",
        "CreateRule",
        ListenerArn=alb["listener"],
        Priority=priority,
        Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": [rec["_endpoint"]]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": m["tg"]}],
    )["Rules"][0]["RuleArn"]
    name_hash = hashlib.sha256(rec["serviceArn"].encode()).hexdigest()[:8]
    m["service_sg"] = aws("ec2", "CreateSecurityGroup", GroupName=f"ecs-express-gateway-{rec['serviceName']}-{name_hash}", Description="Managed by Amazon ECS Express Mode: service", VpcId=vpc)["GroupId"]
    _allow(aws, m, port)
    return m


def _issue(account: str, region: str, arn: str) -> None:
    """Express Mode's certificate for its own on.aws endpoint is issued without any DNS
    work on the customer's side."""
    from moto.acm.models import acm_backends

    acm_backends[account][region].get_certificate(arn).status = "ISSUED"


def _target_group(aws: Aws, rec: dict[str, Any], m: dict[str, Any], vpc: str, port: int, path: str) -> None:
    tg = aws(
        "elbv2",
        "CreateTargetGroup",
        Name=f"ecs-express-tg-{hex_id(16)}",
        Protocol="HTTP",
        Port=port,
        VpcId=vpc,
        TargetType="ip",
        HealthCheckProtocol="HTTP",
        HealthCheckPath=path,
        Matcher={"HttpCode": "200"},
    )["TargetGroups"][0]
    m.update({"tg": tg["TargetGroupArn"], "tg_name": tg["TargetGroupName"], "port": port, "path": path})


def _allow(aws: Aws, m: dict[str, Any], port: int) -> None:
    alb = _albs[m["key"]]
    aws("ec2", "AuthorizeSecurityGroupIngress", GroupId=m["service_sg"], IpPermissions=[{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "UserIdGroupPairs": [{"GroupId": alb["sg"]}]}])


def _scaling(aws: Aws, rec: dict[str, Any], st: dict[str, Any]) -> None:
    """The scalable target and target tracking policy Express Mode keeps for its service."""
    rid = f"service/{rec['_cluster_name']}/{rec['serviceName']}"
    common = {"ServiceNamespace": "ecs", "ResourceId": rid, "ScalableDimension": "ecs:service:DesiredCount"}
    target = aws("application-autoscaling", "RegisterScalableTarget", MinCapacity=st["minTaskCount"], MaxCapacity=st["maxTaskCount"], **common)
    spec: dict[str, Any] = {"PredefinedMetricType": METRICS[st["autoScalingMetric"]]}
    m = rec["_managed"]
    if st["autoScalingMetric"] == "REQUEST_COUNT_PER_TARGET" and m.get("tg"):
        alb = _albs[m["key"]]
        lb_part = alb["lb"].split(":loadbalancer/", 1)[1]
        tg_part = m["tg"].split(":", 5)[5]
        spec["ResourceLabel"] = f"{lb_part}/{tg_part}"
    policy = aws(
        "application-autoscaling",
        "PutScalingPolicy",
        PolicyName=f"{rec['serviceName']}-target-tracking",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={"TargetValue": float(st["autoScalingTargetValue"]), "PredefinedMetricSpecification": spec},
        **common,
    )
    m["scaling"] = {"target": target.get("ScalableTargetARN"), "policy": policy["PolicyARN"], "min": st["minTaskCount"], "max": st["maxTaskCount"], "metric": st["autoScalingMetric"], "value": float(st["autoScalingTargetValue"]), "at": now()}


def _deprovision(aws: Aws, rec: dict[str, Any]) -> None:
    m = rec["_managed"]
    aws.quietly("application-autoscaling", "DeregisterScalableTarget", ServiceNamespace="ecs", ResourceId=f"service/{rec['_cluster_name']}/{rec['serviceName']}", ScalableDimension="ecs:service:DesiredCount")
    if m.get("failed") or "key" not in m:
        return
    alb = _albs[m["key"]]
    aws.quietly("elbv2", "DeleteRule", RuleArn=m["rule"])
    for tg in [m["tg"], *m.get("old_tgs", [])]:
        aws.quietly("elbv2", "DeleteTargetGroup", TargetGroupArn=tg)
    aws.quietly("ec2", "DeleteSecurityGroup", GroupId=m["service_sg"])
    alb["services"].discard(rec["serviceArn"])
    if alb["services"]:
        if alb["default_cert"] == m["cert"]:
            # The listener keeps serving the other services: another endpoint's certificate
            # becomes its default.
            certs = [_services[arn]["_managed"]["cert"] for arn in sorted(alb["services"])]
            aws.quietly("elbv2", "ModifyListener", ListenerArn=alb["listener"], Certificates=[{"CertificateArn": certs[0]}])
            if certs[1:]:  # moto's ModifyListener forgets the SNI certificates
                aws.quietly("elbv2", "AddListenerCertificates", ListenerArn=alb["listener"], Certificates=[{"CertificateArn": c} for c in certs[1:]])
            alb["default_cert"] = certs[0]
        else:
            aws.quietly("elbv2", "RemoveListenerCertificates", ListenerArn=alb["listener"], Certificates=[{"CertificateArn": m["cert"]}])
    else:
        aws.quietly("elbv2", "DeleteListener", ListenerArn=alb["listener"])
        aws.quietly("elbv2", "DeleteLoadBalancer", LoadBalancerArn=alb["lb"])
        aws.quietly("ec2", "DeleteSecurityGroup", GroupId=alb["sg"])
        del _albs[m["key"]]
        m["alb_deleted"] = True
    aws.quietly("acm", "DeleteCertificate", CertificateArn=m["cert"])


def managed_resources(rec: dict[str, Any]) -> dict[str, Any]:
    """ecsManagedResources of the Express service's revisions (DescribeServiceRevisions)."""
    _status(rec)
    m = rec["_managed"]
    code = rec["status"]["statusCode"]
    state = {"ACTIVE": "ACTIVE", "DRAINING": "DEPROVISIONING", "INACTIVE": "DELETED"}[code]
    at = rec["updatedAt"] if code != "ACTIVE" else m["created"]
    region, account = rec["_region"], rec["_account"]

    def res(arn: str | None, status: str = state, **extra: Any) -> dict[str, Any]:
        out = {"status": status, "updatedAt": at, **extra}
        if arn:
            out["arn"] = arn
        return out

    path: dict[str, Any] = {"accessType": m["access"], "endpoint": rec["_endpoint"]}
    if m.get("failed"):
        path["loadBalancer"] = {"status": "FAILED", "statusReason": m["failed"], "updatedAt": m["created"], "scheme": m["scheme"], "subnetIds": m["subnets"], "securityGroupIds": []}
        return {"ingressPaths": [path], "serviceSecurityGroups": []}
    lb_sg = m["lb_sg"]
    path.update(
        {
            "loadBalancer": res(m["lb_arn"], scheme=m["scheme"], subnetIds=m["subnets"], securityGroupIds=[lb_sg]),
            "loadBalancerSecurityGroups": [res(_sg_arn(region, account, lb_sg))],
            "certificate": res(m["cert"], domainName=rec["_endpoint"]),
            "listener": res(m["listener"]),
            "rule": res(m["rule"]),
            "targetGroups": [res(m["tg"], healthCheckPath=m["path"], healthCheckPort=m["port"], port=m["port"])],
        }
    )
    out: dict[str, Any] = {"ingressPaths": [path], "serviceSecurityGroups": [res(_sg_arn(region, account, m["service_sg"]))]}
    sc = m.get("scaling")
    if sc:
        out["autoScaling"] = {
            "scalableTarget": res(sc["target"], minCapacity=sc["min"], maxCapacity=sc["max"]),
            "applicationAutoScalingPolicies": [res(sc["policy"], policyType="TargetTrackingScaling", targetValue=sc["value"], metric=sc["metric"])],
        }
    return out


# --------------------------------------------------------------------------- the service record
def _configuration(rec: dict[str, Any], cfg: dict[str, Any], td_arn: str, revision: str) -> dict[str, Any]:
    conf = {k: copy.deepcopy(v) for k, v in cfg.items() if k in CONFIG_KEYS and v is not None}
    conf["taskDefinitionArn"] = td_arn
    conf["serviceRevisionArn"] = revision
    conf["ingressPaths"] = [{"accessType": rec["_managed"]["access"], "endpoint": rec["_endpoint"]}]
    conf["networkConfiguration"] = {"subnets": list(rec["_managed"]["subnets"]), "securityGroups": _groups(rec)}
    conf["createdAt"] = now()
    return conf


def _groups(rec: dict[str, Any]) -> list[str]:
    """The service's security groups: the caller's plus the one Express Mode manages."""
    m = rec["_managed"]
    return list(rec["_user_groups"]) + ([m["service_sg"]] if m.get("service_sg") else [])


def _status(rec: dict[str, Any]) -> None:
    if rec["status"]["statusCode"] == "DRAINING" and elapsed(rec["_deleted"]) >= rec["_drain"]:
        rec["status"] = {"statusCode": "INACTIVE"}
        rec["updatedAt"] = now()


def _view(rec: dict[str, Any], with_tags: bool) -> dict[str, Any]:
    _status(rec)
    out = {k: copy.deepcopy(v) for k, v in rec.items() if not k.startswith("_") and k != "tags"}
    ecs_rec = deployments.service_record(rec["serviceArn"])
    if ecs_rec is not None and ecs_rec["deps"]:
        ids = deployments.active_ids(ecs_rec)
        by_id = {d["id"]: d for d in ecs_rec["deps"]}
        confs: list[dict[str, Any]] = []
        for dep_id in ids:
            d = by_id[dep_id]
            conf = rec["_configs"].get(d.get("rollback_to") or dep_id)
            if conf is not None and all(c["serviceRevisionArn"] != conf["serviceRevisionArn"] for c in confs):
                confs.append(copy.deepcopy(conf))
        out["activeConfigurations"] = sorted(confs, key=lambda c: c["createdAt"])
        out["currentDeployment"] = next(d["sd_arn"] for d in reversed(ecs_rec["deps"]) if d["sd_arn"])
    if with_tags:
        # The Express service is an ECS service: TagResource/UntagResource on its ARN
        # change the tags it describes.
        svc = base.ecs_backend(rec["_account"], rec["_region"]).services.get(f"{rec['_cluster_name']}:{rec['serviceName']}")
        tags = getattr(svc, "tags", None) if svc is not None else None
        out["tags"] = copy.deepcopy(tags if tags is not None else rec["tags"])
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
    return rec, base.ecs_backend(rec["_account"], rec["_region"])


def _deploy(rec: dict[str, Any], cfg: dict[str, Any], td_arn: str, desired: int) -> None:
    dep = deployments.record(rec["serviceArn"], rec["cluster"], td_arn, desired)
    rev = deployments.revision(dep["revision"])
    if rev is not None:
        rev["_managed"] = lambda: managed_resources(rec)
    rec["_configs"][dep["id"]] = _configuration(rec, cfg, td_arn, dep["revision"])
    rec["currentDeployment"] = dep["sd_arn"]


def create(call: wire.Call, p: dict[str, Any]) -> dict[str, Any]:
    account, region = account_id(call), call.region
    ecs = base.ecs_backend(account, region)
    aws = Aws(call.access_key, region)
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
    vpc, subnets, user_groups = _network(aws, cfg.get("networkConfiguration") or {})
    td_arn = _register(ecs, name, cfg)
    container, port = _container(ecs, td_arn)
    arn = f"arn:aws:ecs:{region}:{account}:service/{cluster_name}/{name}"
    digest = hashlib.sha256(arn.encode()).hexdigest()[:10]
    created = now()
    rec: dict[str, Any] = {
        "cluster": ecs.clusters[cluster_name].arn,
        "serviceName": name,
        "serviceArn": arn,
        "infrastructureRoleArn": p["infrastructureRoleArn"],
        "status": {"statusCode": "ACTIVE"},
        "tags": p.get("tags") or [],
        "createdAt": created,
        "updatedAt": created,
        "_endpoint": f"{name}-{digest}.ecs.{region}.on.aws",
        "_cfg": cfg,
        "_cluster_name": cluster_name,
        "_account": account,
        "_region": region,
        "_user_groups": user_groups,
        "_configs": {},
    }
    rec["_managed"] = _provision(aws, rec, vpc, subnets, port, cfg["healthCheckPath"])
    m = rec["_managed"]
    network = {"awsvpcConfiguration": {"subnets": subnets, "securityGroups": _groups(rec), "assignPublicIp": "ENABLED" if m["public"] else "DISABLED"}}
    lbs = [{"targetGroupArn": m["tg"], "containerName": container, "containerPort": port}] if m.get("tg") else []
    svc = ecs.create_service(cluster_name, name, st["minTaskCount"], task_definition_str=td_arn, load_balancers=lbs, tags=rec["tags"], launch_type="FARGATE", network_configuration=network, propagate_tags="SERVICE")
    ecs_rec = deployments.new_service(svc.arn, rec["cluster"])
    ecs_rec["config"] = copy.deepcopy(DEPLOYMENT_CONFIGURATION)
    ecs_rec["express"] = rec
    svc.deployment_configuration = copy.deepcopy(DEPLOYMENT_CONFIGURATION)
    _services[svc.arn] = rec
    _scaling(aws, rec, st)
    _deploy(rec, cfg, td_arn, st["minTaskCount"])
    return {"service": _view(rec, True)}


def update(call: wire.Call, p: dict[str, Any]) -> dict[str, Any]:
    rec, ecs = _active(p["serviceArn"])
    aws = Aws(call.access_key, rec["_region"])
    change = {k: v for k, v in p.items() if k in CONFIG_KEYS}
    cfg = {**rec["_cfg"], **change}
    if "scalingTarget" in change:
        cfg["scalingTarget"] = {**rec["_cfg"]["scalingTarget"], **change["scalingTarget"]}
    if "primaryContainer" in change:
        cfg.pop("taskDefinitionArn", None)
    if "networkConfiguration" in change:
        _, _, rec["_user_groups"] = _network(aws, change["networkConfiguration"])
    td_arn = _register(ecs, rec["serviceName"], cfg)
    container, port = _container(ecs, td_arn)
    m = rec["_managed"]
    service_change: dict[str, Any] = {"cluster": rec["_cluster_name"], "service": rec["serviceName"], "task_definition": td_arn, "desired_count": cfg["scalingTarget"]["minTaskCount"], "force_new_deployment": True}
    if m.get("tg") and port != m["port"]:
        # A target group's port cannot change: a new one takes over the rule.
        vpc = aws("elbv2", "DescribeTargetGroups", TargetGroupArns=[m["tg"]])["TargetGroups"][0]["VpcId"]
        m.setdefault("old_tgs", []).append(m["tg"])
        _target_group(aws, rec, m, vpc, port, cfg["healthCheckPath"])
        aws("elbv2", "ModifyRule", RuleArn=m["rule"], Actions=[{"Type": "forward", "TargetGroupArn": m["tg"]}])
        _allow(aws, m, port)
    elif m.get("tg") and cfg["healthCheckPath"] != m["path"]:
        aws("elbv2", "ModifyTargetGroup", TargetGroupArn=m["tg"], HealthCheckPath=cfg["healthCheckPath"])
        m["path"] = cfg["healthCheckPath"]
    if m.get("tg"):
        service_change["load_balancers"] = [{"targetGroupArn": m["tg"], "containerName": container, "containerPort": port}]
    service_change["network_configuration"] = {"awsvpcConfiguration": {"subnets": m["subnets"], "securityGroups": _groups(rec), "assignPublicIp": "ENABLED" if m["public"] else "DISABLED"}}
    ecs.update_service(service_change)
    if "scalingTarget" in change:
        _scaling(aws, rec, cfg["scalingTarget"])
    rec["_cfg"] = cfg
    rec["updatedAt"] = now()
    _deploy(rec, cfg, td_arn, cfg["scalingTarget"]["minTaskCount"])
    target = copy.deepcopy(rec["_configs"][deployments.service_record(rec["serviceArn"])["deps"][-1]["id"]])
    keys = ("serviceArn", "cluster", "serviceName", "status", "createdAt", "updatedAt")
    return {"service": {**{k: copy.deepcopy(rec[k]) for k in keys}, "targetConfiguration": target}}


def delete(call: wire.Call, p: dict[str, Any]) -> dict[str, Any]:
    rec, ecs = _active(p["serviceArn"])
    try:
        ecs.delete_service(rec["_cluster_name"], rec["serviceName"], True)
    except Exception:  # already gone through DeleteService: the Express record still drains
        pass
    ecs_rec = deployments.service_record(rec["serviceArn"])
    if ecs_rec is not None and ecs_rec["deleted"] is None:
        ecs_rec["deleted"] = now()
    _deprovision(Aws(call.access_key, rec["_region"]), rec)
    rec["status"] = {"statusCode": "DRAINING"}
    rec["_deleted"] = now()
    rec["_drain"] = CONFIG.duration("ecs.express.drain", f"{rec['_cluster_name']}/{rec['serviceName']}", rec["serviceName"])
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


def handle(call: wire.Call) -> wire.Response:
    return base.answer(call, HANDLERS)
