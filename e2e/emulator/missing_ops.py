"""Operations the operator needs that moto 5.2.5 lacks (RDS, CodeBuild, WAFv2, Logs).

* RDS BacktrackDBCluster / DescribeDBClusterBacktracks: checked against the cluster's
  BacktrackWindow; a backtrack is "applying" for `rds.cluster.modify` seconds, then
  "completed". Metadata only: no data moves.
* RDS ResetDBClusterParameterGroup: removes the named user-set parameters (or all with
  ResetAllParameters) from moto's group, so DescribeDBClusterParameters(Source=user) no
  longer lists them.
* CodeBuild UpdateProject: updates moto's project in place (same shape BatchGetProjects shows).
* WAFv2 ListResourcesForWebACL, and AssociateWebACL refusing App Runner ARNs of services
  that do not exist (moto accepted any ARN).
* CloudWatch Logs AssociateKmsKey: sets the log group's key (what DescribeLogGroups shows).

Inputs and outputs go through botocore's models (model.py); query answers are serialised
from the output shape (xmlser.py). Never changes what moto already implements.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import Any

from . import hooks, model, wire, xmlser
from .config import CONFIG
from .model import ApiError
from .util import account_id, elapsed, now

_lock = threading.Lock()
_backtracks: dict[tuple[str, str, str], list[dict[str, Any]]] = {}


@hooks.on_reset
def _reset() -> None:
    with _lock:
        _backtracks.clear()


# --------------------------------------------------------------------------- RDS backtrack
def _cluster(call: wire.Call, cid: str) -> Any:
    from moto.rds.models import rds_backends

    cluster = rds_backends[account_id(call)][call.region].clusters.get(cid)
    if cluster is None:
        raise ApiError("DBClusterNotFoundFault", f"DBCluster {cid} not found.", 404)
    return cluster


def _backtrack_view(b: dict[str, Any]) -> dict[str, Any]:
    done = elapsed(b["BacktrackRequestCreationTime"]) >= b["_duration"]
    return {**{k: v for k, v in b.items() if not k.startswith("_")}, "Status": "completed" if done else "applying"}


@hooks.before("rds", {"BacktrackDBCluster", "DescribeDBClusterBacktracks"})
def _rds(call: wire.Call) -> wire.Response:
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


@hooks.before("rds", {"ResetDBClusterParameterGroup"})
def _rds_reset_parameters(call: wire.Call) -> wire.Response:
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


# --------------------------------------------------------------------------- CodeBuild
@hooks.before("codebuild", {"UpdateProject"})
def _codebuild_update(call: wire.Call) -> wire.Response:
    op = model.service_model("codebuild").operation_model("UpdateProject")
    try:
        raw = call.json()
    except ValueError:
        raise ApiError("SerializationException", "request body is not valid JSON") from None
    params = model.parse_input(op, raw)
    from moto.codebuild.models import codebuild_backends

    backend = codebuild_backends[account_id(call)][call.region]
    project = backend.codebuild_projects.get(params["name"])
    if project is None:
        raise ApiError("ResourceNotFoundException", f"Project cannot be found: arn:aws:codebuild:{call.region}:{account_id(call)}:project/{params['name']}")
    meta = project.project_metadata
    raw = {k: v for k, v in raw.items() if k != "name"}  # wire values, as moto stores them
    for key, value in raw.items():
        if key == "badgeEnabled":
            meta.setdefault("badge", {})["badgeEnabled"] = value
        else:
            meta[key] = value
    if "serviceRole" in raw:
        project.service_role = raw["serviceRole"]
    if "tags" in raw:
        project.tags = raw["tags"]
    meta["lastModifiedDate"] = now().timestamp()
    # moto's project dict predates the model: fix the member name and the 0 defaults
    # (AWS reports 60 and 480 minutes) so the answer fits the Project shape.
    view = dict(meta)
    view["lastModified"] = view.pop("lastModifiedDate")
    view["timeoutInMinutes"] = view.get("timeoutInMinutes") or 60
    view["queuedTimeoutInMinutes"] = view.get("queuedTimeoutInMinutes") or 480
    result = {"project": model.deserialize(view, op.output_shape.members["project"])}
    return wire.json_response(call, model.build_output(op, result))


# --------------------------------------------------------------------------- Logs
@hooks.before("logs", {"AssociateKmsKey"})
def _logs_associate_kms_key(call: wire.Call) -> wire.Response:
    op = model.service_model("logs").operation_model("AssociateKmsKey")
    try:
        raw = call.json()
    except ValueError:
        raise ApiError("SerializationException", "request body is not valid JSON") from None
    params = model.parse_input(op, raw)
    from moto.logs.models import logs_backends

    name = params.get("logGroupName")
    if not name:
        raise ApiError("InvalidParameterException", "AssociateKmsKey needs logGroupName here")
    group = logs_backends[account_id(call)][call.region].groups.get(name)
    if group is None:
        raise ApiError("ResourceNotFoundException", "The specified log group does not exist.")
    group.kms_key_id = params["kmsKeyId"]
    return wire.json_response(call, {})


# --------------------------------------------------------------------------- WAFv2
RESOURCE_TYPES = {
    "APPLICATION_LOAD_BALANCER": ":elasticloadbalancing:",
    "API_GATEWAY": ":apigateway:",
    "APPSYNC": ":appsync:",
    "COGNITO_USER_POOL": ":cognito-idp:",
    "APP_RUNNER_SERVICE": ":apprunner:",
    "VERIFIED_ACCESS_INSTANCE": ":ec2:",
    "AMPLIFY": ":amplify:",
    "AGENTCORE_GATEWAY": ":bedrock-agentcore:",
}


def _wafv2_backend(call: wire.Call) -> Any:
    from moto.wafv2.models import wafv2_backends

    return wafv2_backends[account_id(call)][call.region]


@hooks.before("wafv2", {"ListResourcesForWebACL", "AssociateWebACL"})
def _wafv2(call: wire.Call) -> wire.Response | None:
    op = model.service_model("wafv2").operation_model(call.operation or "")
    try:
        raw = call.json()
    except ValueError:
        raise ApiError("SerializationException", "request body is not valid JSON") from None
    params = model.parse_input(op, raw)
    if op.name == "AssociateWebACL":
        arn = params["ResourceArn"]
        if ":apprunner:" in arn:
            from . import apprunner

            if not apprunner.service_exists(account_id(call), call.region, arn):
                raise ApiError("WAFNonexistentItemException", f"AWS WAF couldn't perform the operation because your resource doesn't exist: {arn}")
        return None  # moto associates
    acl = _wafv2_backend(call).wacls.get(params["WebACLArn"])
    if acl is None:
        raise ApiError("WAFNonexistentItemException", "AWS WAF couldn't perform the operation because your resource doesn't exist.")
    marker = RESOURCE_TYPES[params.get("ResourceType") or "APPLICATION_LOAD_BALANCER"]
    arns = [a for a in acl.associated_resources if marker in a]
    return wire.json_response(call, model.build_output(op, {"ResourceArns": arns}))
