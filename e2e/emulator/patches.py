"""moto patched where its semantics would let a broken operator pass (moto 5.2.5 only).

* create_db_cluster with an existing identifier fails with DBClusterAlreadyExistsFault
  (moto silently replaced the cluster); restores go through the same check.
* create_service with the name of an ACTIVE/DRAINING service fails with
  InvalidParameterException "Creation of service was not idempotent." (moto replaced it);
  awsvpcConfiguration without securityGroups uses the VPC's default group (moto crashed).
* restore_db_cluster_from_snapshot of a cluster created with ManageMasterUserPassword
  works (moto crashed with KeyError '_master_user_password'). We decided that the restored
  cluster does NOT manage its password (no MasterUserSecret): the conservative choice, so an
  operator must enable management itself (ModifyDBCluster) rather than rely on it.
* S3 bucket policies are evaluated with conditions (s3policy.py).

Each patch is applied once by `apply()`, wraps moto's function and keeps its signature.
"""

from __future__ import annotations

import secrets
from typing import Any

_applied = False


def _rds() -> None:
    from moto.rds import models as rds
    from moto.rds.exceptions import RDSClientError

    class DBClusterAlreadyExistsFault(RDSClientError):
        def __init__(self) -> None:
            super().__init__("DBClusterAlreadyExistsFault", "DB Cluster already exists")

    original_create = rds.RDSBackend.create_db_cluster

    def create_db_cluster(self: Any, kwargs: dict[str, Any]) -> Any:
        if kwargs.get("db_cluster_identifier") in self.clusters:
            raise DBClusterAlreadyExistsFault()
        return original_create(self, kwargs)

    rds.RDSBackend.create_db_cluster = create_db_cluster

    original_cfg = rds.DBCluster.get_cfg

    def get_cfg(self: Any) -> dict[str, Any]:
        if "_master_user_password" in self.__dict__:
            return original_cfg(self)
        # Created with ManageMasterUserPassword: there is no plain password to copy.
        self.__dict__["_master_user_password"] = "restored-" + secrets.token_hex(8)
        try:
            cfg = original_cfg(self)
        finally:
            del self.__dict__["_master_user_password"]
        cfg["manage_master_user_password"] = False
        cfg.pop("master_user_secret", None)
        return cfg

    rds.DBCluster.get_cfg = get_cfg


def _ecs() -> None:
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


def apply() -> None:
    global _applied
    if _applied:
        return
    _applied = True
    _rds()
    _ecs()
    from . import s3policy

    s3policy.apply()
