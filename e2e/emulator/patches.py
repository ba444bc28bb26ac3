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
* modify_db_cluster applies EnableIAMDatabaseAuthentication and
  CloudwatchLogsExportConfiguration (moto stored them under names nothing reads), and
  refuses what Aurora refuses: an older EngineVersion (no in-place downgrade), a new major
  line without AllowMajorVersionUpgrade, and turning backtrack on after creation.
* restore_db_cluster_from_snapshot refuses an EngineVersion older than the snapshot's
  (seed issue 99; moto restored at any version).
* the master user secret RDS manages (ManageMasterUserPassword) holds the resource's
  master user name and a random 40-character password, as on AWS (moto stored
  {"username": "admin", "password": "P@55w0rd!"} for everyone, which no leak check can find).
* delete_db_subnet_group / delete_db_cluster_parameter_group refuse while a cluster uses
  the group (InvalidDBSubnetGroupStateFault / InvalidDBParameterGroupState; moto deleted
  them from under the cluster).
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

    def _generate_secret_string(self: Any) -> str:
        import json
        import string

        alphabet = string.ascii_letters + string.digits + "!#$%&()*+,-.:;<=>?[]^_{|}~"
        password = "".join(secrets.choice(alphabet) for _ in range(40))
        user = getattr(self.resource, "master_username", None) or "admin"
        return json.dumps({"username": user, "password": password})

    rds.MasterUserSecret._generate_secret_string = _generate_secret_string
    _rds_modify(rds, RDSClientError)
    _rds_restore_version(rds, RDSClientError)
    _rds_groups_in_use(rds, RDSClientError)


def _aurora_version(v: str) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """`8.0.mysql_aurora.3.10.3` -> ((8, 0), (3, 10, 3)); None when not that shape."""
    try:
        mysql, aurora = v.split(".mysql_aurora.", 1)
        return tuple(int(p) for p in mysql.split(".")), tuple(int(p) for p in aurora.split("."))
    except ValueError:
        return None


def _rds_modify(rds: Any, RDSClientError: Any) -> None:
    original = rds.RDSBackend.modify_db_cluster

    def modify_db_cluster(self: Any, kwargs: dict[str, Any]) -> Any:
        cluster = self.clusters.get(kwargs.get("db_cluster_identifier"))
        if cluster is not None:
            wanted = kwargs.get("engine_version")
            old, new = _aurora_version(cluster.engine_version or ""), _aurora_version(wanted or "")
            if old and new and new < old:
                raise RDSClientError(
                    "InvalidParameterCombination",
                    f"Cannot upgrade {cluster.engine} from {cluster.engine_version} to {wanted}",
                )
            if old and new and (new[0], new[1][:1]) != (old[0], old[1][:1]) and not kwargs.get("allow_major_version_upgrade"):
                raise RDSClientError(
                    "InvalidParameterCombination",
                    "The AllowMajorVersionUpgrade flag must be present when upgrading to a new major version.",
                )
            backtrack = kwargs.get("backtrack_window")
            if backtrack and not getattr(cluster, "backtrack_window", 0):
                raise RDSClientError(
                    "InvalidParameterCombination",
                    f"Backtrack is not enabled for the DB cluster {cluster.db_cluster_identifier}; it can only be enabled at creation.",
                )
        iam = kwargs.pop("enable_iam_database_authentication", None)
        logs = kwargs.pop("cloudwatch_logs_export_configuration", None)
        result = original(self, kwargs)
        target = self.clusters.get(kwargs.get("db_cluster_identifier") or getattr(result, "db_cluster_identifier", ""))
        for c in {id(x): x for x in (result, target) if x is not None}.values():
            if iam is not None:
                c.iam_auth = iam in (True, "true", "True")
            if logs:
                get = lambda k: logs.get(k) or logs.get(k[0].lower() + k[1:]) or []  # noqa: E731
                exports = [e for e in c.enabled_cloudwatch_logs_exports if e not in get("DisableLogTypes")]
                exports += [e for e in get("EnableLogTypes") if e not in exports]
                c.enabled_cloudwatch_logs_exports = exports
        return result

    rds.RDSBackend.modify_db_cluster = modify_db_cluster


def _rds_restore_version(rds: Any, RDSClientError: Any) -> None:
    original = rds.RDSBackend.restore_db_cluster_from_snapshot

    def restore_db_cluster_from_snapshot(self: Any, from_snapshot_id: str, overrides: dict[str, Any]) -> Any:
        wanted = overrides.get("engine_version")
        if wanted:
            snapshot = self.describe_db_cluster_snapshots(db_cluster_identifier=None, db_snapshot_identifier=from_snapshot_id)[0]
            old, new = _aurora_version(snapshot.engine_version or ""), _aurora_version(wanted)
            if old and new and new < old:
                raise RDSClientError(
                    "InvalidParameterCombination",
                    f"The engine version you requested for your restored DB cluster ({wanted}) is not compatible with the snapshot's ({snapshot.engine_version}).",
                )
        return original(self, from_snapshot_id, overrides)

    rds.RDSBackend.restore_db_cluster_from_snapshot = restore_db_cluster_from_snapshot


def _rds_groups_in_use(rds: Any, RDSClientError: Any) -> None:
    original_subnet = rds.RDSBackend.delete_subnet_group
    original_params = rds.RDSBackend.delete_db_cluster_parameter_group

    def users(self: Any, attr: str, name: str) -> list[str]:
        return [cid for cid, c in self.clusters.items() if getattr(c, attr, None) == name]

    def delete_subnet_group(self: Any, subnet_name: str) -> Any:
        in_use = users(self, "db_subnet_group_name", subnet_name)
        if in_use:
            raise RDSClientError(
                "InvalidDBSubnetGroupStateFault",
                f"Cannot delete the subnet group '{subnet_name}' because at least one database cluster: {in_use[0]} is still using it.",
            )
        return original_subnet(self, subnet_name)

    def delete_db_cluster_parameter_group(self: Any, db_cluster_parameter_group_name: str) -> None:
        in_use = users(self, "parameter_group", db_cluster_parameter_group_name)
        if in_use:
            raise RDSClientError(
                "InvalidDBParameterGroupState",
                f"One or more database clusters are still members of this parameter group {db_cluster_parameter_group_name}, so the group cannot be deleted",
            )
        return original_params(self, db_cluster_parameter_group_name)

    rds.RDSBackend.delete_subnet_group = delete_subnet_group
    rds.RDSBackend.delete_db_cluster_parameter_group = delete_db_cluster_parameter_group


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
