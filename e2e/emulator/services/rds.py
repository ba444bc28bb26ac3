"""Amazon RDS (Aurora): everything the emulator adds to or corrects in moto's RDS.

Lifecycle (core/lifecycle.py): clusters, instances and (cluster) snapshots are
creating/modifying/deleting for the `rds.cluster.*`, `rds.instance.*` and
`rds.snapshot.create` durations; a final snapshot taken on delete is creating like any
other snapshot.

Operations moto 5.2.5 lacks:
* BacktrackDBCluster / DescribeDBClusterBacktracks: checked against the cluster's
  BacktrackWindow; a backtrack is "applying" for `rds.cluster.modify` seconds, then
  "completed". Metadata only: no data moves.
* ResetDBClusterParameterGroup: removes the named user-set parameters (or all with
  ResetAllParameters) from moto's group, so DescribeDBClusterParameters(Source=user) no
  longer lists them.
Inputs and outputs go through botocore's models (model.py); query answers are serialised
from the output shape (xmlser.py).

moto patched where its semantics would let a broken operator pass:
* create_db_cluster with an existing identifier fails with DBClusterAlreadyExistsFault
  (moto silently replaced the cluster); restores go through the same check.
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
Each patch wraps moto's function and keeps its signature.

Error code: CreateDBSubnetGroup/ModifyDBSubnetGroup with an unknown subnet answer
InvalidSubnet (moto: InvalidSubnetID.NotFound).
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import uuid
from typing import Any

from ..core import lifecycle, model, wire, xmlser
from ..core.config import CONFIG
from ..core.errors import replace_code
from ..core.hooks import Registry
from ..core.lifecycle import Spec
from ..core.model import ApiError
from ..core.util import account_id, elapsed, now

RDS_NS = "http://rds.amazonaws.com/doc/2014-10-31/"
CLUSTERS = Spec("rds", "rds.cluster", "DescribeDBClusters", "DBClusters", ("DBCluster",), "DBClusterIdentifier", "Status", "available", "creating", "modifying", None, "deleting",
                {"CreateDBCluster": "DBClusterIdentifier", "RestoreDBClusterFromSnapshot": "DBClusterIdentifier", "RestoreDBClusterToPointInTime": "DBClusterIdentifier"},
                {"ModifyDBCluster": "DBClusterIdentifier"}, {"DeleteDBCluster": "DBClusterIdentifier"}, "DBClusterIdentifier", "DBClusterNotFoundFault", RDS_NS)
INSTANCES = Spec("rds", "rds.instance", "DescribeDBInstances", "DBInstances", ("DBInstance",), "DBInstanceIdentifier", "DBInstanceStatus", "available", "creating", "modifying", None, "deleting",
                 {"CreateDBInstance": "DBInstanceIdentifier", "CreateDBInstanceReadReplica": "DBInstanceIdentifier"},
                 {"ModifyDBInstance": "DBInstanceIdentifier"}, {"DeleteDBInstance": "DBInstanceIdentifier"}, "DBInstanceIdentifier", "DBInstanceNotFound", RDS_NS)
CLUSTER_SNAPSHOTS = Spec("rds", "rds.snapshot", "DescribeDBClusterSnapshots", "DBClusterSnapshots", ("DBClusterSnapshot",), "DBClusterSnapshotIdentifier", "Status", "available", "creating", None, None, "deleting",
                         {"CreateDBClusterSnapshot": "DBClusterSnapshotIdentifier", "CopyDBClusterSnapshot": "TargetDBClusterSnapshotIdentifier"},
                         {}, {}, "DBClusterSnapshotIdentifier", "DBClusterSnapshotNotFoundFault", RDS_NS)
SNAPSHOTS = Spec("rds", "rds.snapshot", "DescribeDBSnapshots", "DBSnapshots", ("DBSnapshot",), "DBSnapshotIdentifier", "Status", "available", "creating", None, None, "deleting",
                 {"CreateDBSnapshot": "DBSnapshotIdentifier", "CopyDBSnapshot": "TargetDBSnapshotIdentifier"},
                 {}, {}, "DBSnapshotIdentifier", "DBSnapshotNotFound", RDS_NS)
SPECS = [CLUSTERS, INSTANCES, CLUSTER_SNAPSHOTS, SNAPSHOTS]


def install(reg: Registry) -> None:
    reg.patch(_patch_moto)
    reg.before("rds", {"BacktrackDBCluster", "DescribeDBClusterBacktracks"})(_backtrack)
    reg.before("rds", {"ResetDBClusterParameterGroup"})(_reset_parameters)
    for spec in SPECS:
        lifecycle.register(reg, spec)
    reg.after("rds", {"DeleteDBCluster", "DeleteDBInstance"})(_final_snapshot)
    reg.after("rds", {"CreateDBSubnetGroup", "ModifyDBSubnetGroup"})(_subnet_error)
    reg.on_reset(_reset)


# --------------------------------------------------------------------------- lifecycle
def _final_snapshot(call: wire.Call, resp: wire.Response) -> wire.Response:
    """A final snapshot taken on delete is 'creating' like any other snapshot."""
    if resp[0] == 200:
        sid = call.param("FinalDBSnapshotIdentifier")
        if sid:
            lifecycle.mark_created(call, CLUSTER_SNAPSHOTS if call.operation == "DeleteDBCluster" else SNAPSHOTS, sid)
    return resp


# --------------------------------------------------------------------------- error codes
def _subnet_error(call: wire.Call, resp: wire.Response) -> wire.Response:
    return replace_code(resp, "InvalidSubnetID.NotFound", "InvalidSubnet") if resp[0] >= 400 else resp


# --------------------------------------------------------------------------- missing operations
_lock = threading.Lock()
_backtracks: dict[tuple[str, str, str], list[dict[str, Any]]] = {}


def _reset() -> None:
    with _lock:
        _backtracks.clear()


def _cluster(call: wire.Call, cid: str) -> Any:
    from moto.rds.models import rds_backends

    cluster = rds_backends[account_id(call)][call.region].clusters.get(cid)
    if cluster is None:
        raise ApiError("DBClusterNotFoundFault", f"DBCluster {cid} not found.", 404)
    return cluster


def _backtrack_view(b: dict[str, Any]) -> dict[str, Any]:
    done = elapsed(b["BacktrackRequestCreationTime"]) >= b["_duration"]
    return {**{k: v for k, v in b.items() if not k.startswith("_")}, "Status": "completed" if done else "applying"}


def _backtrack(call: wire.Call) -> wire.Response:
    op = model.service_model("rds").operation_model(call.operation or "")
    params = model.parse_input(op, xmlser.query_params(call, op.input_shape))
    cid = params["DBClusterIdentifier"]
    cluster = _cluster(call, cid)
    key = (account_id(call), call.region, cid)
    with _lock:
        if op.name == "BacktrackDBCluster":
            window = int(getattr(cluster, "backtrack_window", 0) or 0)
            if window <= 0:
                raise ApiError("InvalidDBClusterStateFault", f"Backtrack is not enabled for the DB cluster {cid}.")
            target = params["BacktrackTo"]
            if target.tzinfo is None:
                target = target.replace(tzinfo=dt.timezone.utc)
            earliest = now() - dt.timedelta(seconds=window)
            if target > now():
                raise ApiError("InvalidParameterValue", "BacktrackTo must not be in the future.")
            if target < earliest:
                if not params.get("UseEarliestTimeOnPointInTimeUnavailable"):
                    raise ApiError("InvalidParameterValue", f"BacktrackTo is earlier than the earliest backtrack time {earliest.isoformat()}.")
                target = earliest
            running = [b for b in _backtracks.get(key, []) if _backtrack_view(b)["Status"] == "applying"]
            if running:
                raise ApiError("InvalidDBClusterStateFault", f"DB cluster {cid} is already backtracking.")
            b = {
                "DBClusterIdentifier": cid,
                "BacktrackIdentifier": str(uuid.uuid4()),
                "BacktrackTo": target,
                "BacktrackedFrom": now(),
                "BacktrackRequestCreationTime": now(),
                "_duration": CONFIG.duration("rds.cluster.modify"),
            }
            _backtracks.setdefault(key, []).insert(0, b)
            result = _backtrack_view(b)
        else:
            items = [_backtrack_view(b) for b in _backtracks.get(key, [])]
            if params.get("BacktrackIdentifier"):
                items = [b for b in items if b["BacktrackIdentifier"] == params["BacktrackIdentifier"]]
                if not items:
                    raise ApiError("DBClusterBacktrackNotFoundFault", f"Backtrack {params['BacktrackIdentifier']} not found.", 404)
            result = {"DBClusterBacktracks": items}
    model.build_output(op, result)  # validation only; the wire format is XML
    return xmlser.query_response(call, op, result)


def _reset_parameters(call: wire.Call) -> wire.Response:
    op = model.service_model("rds").operation_model("ResetDBClusterParameterGroup")
    params = model.parse_input(op, xmlser.query_params(call, op.input_shape))
    from moto.rds.models import rds_backends

    name = params["DBClusterParameterGroupName"]
    group = rds_backends[account_id(call)][call.region].db_cluster_parameter_groups.get(name)
    if group is None:
        raise ApiError("DBParameterGroupNotFound", f"DBClusterParameterGroup not found: {name}", 404)
    names = [p["ParameterName"] for p in params.get("Parameters") or []]
    if params.get("ResetAllParameters"):
        if names:
            raise ApiError("InvalidParameterCombination", "Specify either ResetAllParameters or Parameters, not both.")
        group.parameters.clear()
    elif not names:
        raise ApiError("InvalidParameterCombination", "Specify ResetAllParameters or at least one parameter.")
    else:
        for n in names:
            group.parameters.pop(n, None)
    result = {"DBClusterParameterGroupName": name}
    model.build_output(op, result)
    return xmlser.query_response(call, op, result)


# --------------------------------------------------------------------------- moto patches
def _patch_moto() -> None:
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


# AWS's messages for a group a cluster still uses.
_SUBNET_GROUP_IN_USE = "Cannot delete the subnet group '{name}' because at least one database cluster: {cluster} is still using it."
_PARAMETER_GROUP_IN_USE = "One or more database clusters are still members of this parameter group {name}, so the group cannot be deleted"


def _rds_groups_in_use(rds: Any, RDSClientError: Any) -> None:
    original_subnet = rds.RDSBackend.delete_subnet_group
    original_params = rds.RDSBackend.delete_db_cluster_parameter_group

    def refuse_in_use(self: Any, attr: str, name: str, code: str, message: str) -> None:
        in_use = [cid for cid, c in self.clusters.items() if getattr(c, attr, None) == name]
        if in_use:
            raise RDSClientError(code, message.format(name=name, cluster=in_use[0]))

    def delete_subnet_group(self: Any, subnet_name: str) -> Any:
        refuse_in_use(self, "db_subnet_group_name", subnet_name, "InvalidDBSubnetGroupStateFault", _SUBNET_GROUP_IN_USE)
        return original_subnet(self, subnet_name)

    def delete_db_cluster_parameter_group(self: Any, db_cluster_parameter_group_name: str) -> None:
        refuse_in_use(self, "parameter_group", db_cluster_parameter_group_name, "InvalidDBParameterGroupState", _PARAMETER_GROUP_IN_USE)
        return original_params(self, db_cluster_parameter_group_name)

    rds.RDSBackend.delete_subnet_group = delete_subnet_group
    rds.RDSBackend.delete_db_cluster_parameter_group = delete_db_cluster_parameter_group
