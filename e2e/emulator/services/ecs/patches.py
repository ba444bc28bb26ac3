"""moto's ECS fixed where its semantics would let a broken operator pass or crash a call
AWS answers:

* create_service with the name of an ACTIVE/DRAINING service fails with
  InvalidParameterException "Creation of service was not idempotent." (moto replaced it);
* awsvpcConfiguration without securityGroups uses the VPC's default group (moto crashed),
  for services and for RunTask;
* RunTask of a Fargate task definition whose containers set no memory (the task sets it)
  crashed with a TypeError; in a VPC without DNS hostnames it crashed on the network
  interface's missing private DNS name; the task's address was a random 10.x address
  outside its subnet;
* CreateService/UpdateService `loadBalancers` are checked as ECS checks them: the target
  group must be attached to a load balancer, be of target type `ip` for awsvpc, and the
  container must exist with that container port.
"""

from __future__ import annotations

from typing import Any

from ...core import wire
from ...core.model import ApiError
from ...core.util import account_id
from . import base


def patch_moto() -> None:
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface
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
        _default_groups(self._account_id, self.region_name, nc)
        return original_validate(self, nc)

    ecs.Service._validate_network = _validate_network

    original_requirements = ecs.EC2ContainerServiceBackend._calculate_task_resource_requirements

    def _calculate_task_resource_requirements(task_definition: Any) -> dict[str, Any]:
        # Fargate containers may leave memory to the task; moto added None to an int.
        patched = []
        for c in task_definition.container_definitions:
            if not any(k in c for k in ("memory", "memoryReservation", "Memory", "MemoryReservation")):
                patched.append(c)
                c["memoryReservation"] = 0
        try:
            return original_requirements(task_definition)
        finally:
            for c in patched:
                c.pop("memoryReservation", None)

    ecs.EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(_calculate_task_resource_requirements)

    # A network interface in a VPC without DNS hostnames has no private DNS name (moto left
    # the attribute unset and crashed reading it).
    NetworkInterface.private_dns_name = None
    # moto gave a task's interface a random 10.x.y.z; without it the interface takes an
    # address of its subnet, as on AWS.
    ecs.random_private_ip = lambda *args, **kwargs: None

    original_run_task = ecs.EC2ContainerServiceBackend.run_task

    def run_task(self: Any, cluster_str: str, task_definition_str: str, count: int, overrides: Any, started_by: str, tags: Any, launch_type: Any, networking_configuration: Any = None, *args: Any, **kwargs: Any) -> Any:
        if networking_configuration:
            _default_groups(self.account_id, self.region_name, networking_configuration)
            _check_subnets(self.account_id, self.region_name, networking_configuration)
        return original_run_task(self, cluster_str, task_definition_str, count, overrides, started_by, tags, launch_type, networking_configuration, *args, **kwargs)

    ecs.EC2ContainerServiceBackend.run_task = run_task


def _default_groups(account: str, region: str, nc: dict[str, Any]) -> None:
    c = nc.get("awsvpcConfiguration") or {}
    if c.get("subnets") and "securityGroups" not in c:
        # AWS uses the VPC's default security group; moto crashed (KeyError).
        c["securityGroups"] = default_security_group(account, region, c["subnets"][0])


def _check_subnets(account: str, region: str, nc: dict[str, Any]) -> None:
    from moto.ecs.exceptions import InvalidParameterException

    for subnet in (nc.get("awsvpcConfiguration") or {}).get("subnets") or []:
        if base.subnet_info(account, region, subnet) is None:
            raise InvalidParameterException(f"Error retrieving subnet information for [{subnet}]: The subnet ID '{subnet}' does not exist (ErrorCode: InvalidSubnetID.NotFound)")


def default_security_group(account: str, region: str, subnet_id: str) -> list[str]:
    ec2 = base.ec2_backend(account, region)
    try:
        vpc_id = ec2.get_subnet(subnet_id).vpc_id
        groups = ec2.describe_security_groups(filters={"vpc-id": [vpc_id], "group-name": ["default"]})
    except Exception:  # an unknown subnet is reported by moto's own validation next
        return []
    return [g.id for g in groups][:1]


def check_load_balancers(call: wire.Call) -> None:
    """ECS's checks of a service's `loadBalancers` (before moto, which checks none)."""
    req = call.json_or_empty()
    lbs = req.get("loadBalancers")
    if not lbs or not isinstance(lbs, list):
        return None
    account, region = account_id(call), call.region
    ecs = base.ecs_backend(account, region)
    td_ref = req.get("taskDefinition")
    if not td_ref and call.operation == "UpdateService":
        cluster = (req.get("cluster") or "default").split("/")[-1]
        svc = ecs.services.get(f"{cluster}:{str(req.get('service', '')).split('/')[-1]}")
        td_ref = getattr(svc, "task_definition", None)
    try:
        td = ecs.describe_task_definition(td_ref) if td_ref else None
    except Exception:
        return None  # moto reports the unknown task definition
    from moto.elbv2.models import elbv2_backends

    elbv2 = elbv2_backends[account][region]
    for lb in lbs:
        arn = lb.get("targetGroupArn")
        if not arn:
            continue
        tg = elbv2.target_groups.get(arn)
        if tg is None:
            raise ApiError("InvalidParameterException", f"Unable to describe target group {arn}.")
        if not tg.load_balancer_arns:
            raise ApiError("InvalidParameterException", f"The target group with targetGroupArn {arn} does not have an associated load balancer.")
        if td is not None and td.network_mode == "awsvpc" and tg.target_type != "ip":
            raise ApiError("InvalidParameterException", f"The provided target group {arn} has target type {tg.target_type}, which is incompatible with the awsvpc network mode specified in the task definition.")
        if td is not None:
            name, port = lb.get("containerName"), lb.get("containerPort")
            container = next((c for c in td.container_definitions if c.get("name") == name), None)
            if container is None:
                raise ApiError("InvalidParameterException", f"The container {name} does not exist in the task definition.")
            ports = [m.get("containerPort") for m in container.get("portMappings") or []]
            if port not in ports:
                raise ApiError("InvalidParameterException", f"The container {name} did not have a container port {port} defined.")
    return None
