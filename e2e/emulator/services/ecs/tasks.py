"""ECS tasks: RunTask with a lifecycle and idempotency, and the tasks of services.

RunTask (moto's, with the crashes fixed in patches.py) starts a task whose state is
derived from its age and `ecs.task` (`ecs.task:<family>`): PROVISIONING for the first
quarter, PENDING for the second, RUNNING for the second half, then STOPPED with
stoppedReason "Essential container in task exited", stopCode EssentialContainerExited and
the essential containers' exitCode from the `ecs.task` outcome (an exit code, default 0).
The RunTask answer itself is PROVISIONING, as on AWS. A stopped task's network interface
is deleted from EC2. `clientToken` (botocore fills it in) makes RunTask idempotent: a retry
with the same token and the same request answers the same tasks, never new ones; the same
token with a different request is a ConflictException naming those tasks.

The tasks of services exist only in deployments.py's time model; ListTasks and
DescribeTasks show them next to moto's (serviceName, startedBy = the deployment id,
group `service:<name>`), and StopTask stops them (no replacement task appears). ListTasks
defaults to desiredStatus RUNNING like AWS (moto listed every task).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from ...core import model, moto_client, wire
from ...core.config import CONFIG
from ...core.model import ApiError
from ...core.util import account_id, now
from . import base, deployments
from .base import LOCK

USER_STOPPED = "Task stopped by user"

# task ARN -> our record of a RunTask task
_runs: dict[str, dict[str, Any]] = {}
# clientToken -> (account, region, request fingerprint, task ARNs)
_tokens: dict[str, tuple[str, str, str, list[str]]] = {}
# service task ARN -> (stopped at, reason) for StopTask on a service's task
_stopped: dict[str, tuple[dt.datetime, str]] = {}


def reset() -> None:
    with LOCK:
        _runs.clear()
        _tokens.clear()
        _stopped.clear()


def _after(t: dt.datetime, seconds: float) -> dt.datetime:
    return t + dt.timedelta(seconds=seconds)


def _task_definition(account: str, region: str, arn: str) -> Any | None:
    try:
        return base.ecs_backend(account, region).describe_task_definition(arn)
    except Exception:
        return None


def _exit_code(family: str) -> int:
    return int(CONFIG.outcome("ecs.task", family))


# --------------------------------------------------------------------------- one lifecycle
class Life:
    """Timestamps and states of one task, whatever started it."""

    def __init__(self, created: dt.datetime, start: dt.datetime | None, stop: dt.datetime | None) -> None:
        self.created = created
        self.start = start
        self.stop = stop

    def status(self, t: dt.datetime) -> str:
        if self.stop is not None and t >= self.stop:
            return "STOPPED"
        if self.start is not None and t >= self.start:
            return "RUNNING"
        pending_from = self.created + ((self.start or self.stop or t) - self.created) / 2
        return "PENDING" if t >= pending_from and self.start is not None else "PROVISIONING"


def _containers(account: str, region: str, task_arn: str, td: Any, status: str, exit_code: int | None, reason: str | None, address: str | None, attachment_id: str) -> list[dict[str, Any]]:
    out = []
    for c in td.container_definitions if td is not None else []:
        image = c.get("image") or ""
        doc: dict[str, Any] = {
            "containerArn": f"arn:aws:ecs:{region}:{account}:container/{task_arn.split('/', 1)[1]}/{base.stable_hex(task_arn + c.get('name', ''), 36)}",
            "taskArn": task_arn,
            "name": c.get("name"),
            "image": image,
            "lastStatus": {"PROVISIONING": "PENDING", "PENDING": "PENDING"}.get(status, status),
            "networkBindings": [],
            "healthStatus": "UNKNOWN",
            "cpu": str(c.get("cpu", 0)),
        }
        if c.get("memory") is not None:
            doc["memory"] = str(c["memory"])
        if c.get("memoryReservation") is not None:
            doc["memoryReservation"] = str(c["memoryReservation"])
        if status in ("RUNNING", "STOPPED"):
            doc["imageDigest"] = base.image_digest(account, region, image)
            doc["runtimeId"] = f"{task_arn.rsplit('/', 1)[1]}-{base.stable_hex(c.get('name', ''), 10)}"
        if address:
            doc["networkInterfaces"] = [{"attachmentId": attachment_id, "privateIpv4Address": address}]
        if status == "STOPPED":
            if exit_code is not None:
                doc["exitCode"] = exit_code if c.get("essential", True) else 0
            if reason:
                doc["reason"] = reason
        out.append(doc)
    return out


def _lifecycle_fields(doc: dict[str, Any], life: Life, t: dt.datetime, stop_code: str, stopped_reason: str) -> None:
    status = life.status(t)
    doc["lastStatus"] = status
    doc["desiredStatus"] = "STOPPED" if status == "STOPPED" else "RUNNING"
    doc["createdAt"] = life.created
    doc["version"] = {"PROVISIONING": 1, "PENDING": 2, "RUNNING": 3, "STOPPED": 4}[status]
    for k in ("pullStartedAt", "pullStoppedAt", "startedAt", "connectivity", "connectivityAt", "stoppingAt", "executionStoppedAt", "stoppedAt", "stopCode", "stoppedReason"):
        doc.pop(k, None)
    if status != "PROVISIONING" and life.start is not None:
        pull = life.created + (life.start - life.created) / 2
        doc.update({"connectivity": "CONNECTED", "connectivityAt": pull, "pullStartedAt": pull})
        if t >= life.start:
            doc.update({"pullStoppedAt": life.start, "startedAt": life.start})
    if status == "STOPPED" and life.stop is not None:
        doc.update({"stoppingAt": life.stop, "executionStoppedAt": life.stop, "stoppedAt": life.stop, "stopCode": stop_code, "stoppedReason": stopped_reason})


def _attachment(attachment_id: str, status: str, subnet: str, eni: str, ip: str, mac: str) -> dict[str, Any]:
    state = {"PROVISIONING": "PRECREATED", "STOPPED": "DELETED"}.get(status, "ATTACHED")
    details = [{"name": "subnetId", "value": subnet}, {"name": "networkInterfaceId", "value": eni}, {"name": "macAddress", "value": mac}, {"name": "privateIPv4Address", "value": ip}]
    return {"id": attachment_id, "type": "ElasticNetworkInterface", "status": state, "details": details}


# --------------------------------------------------------------------------- RunTask tasks
def _run_life(run: dict[str, Any]) -> Life:
    span = run["span"]
    start = _after(run["created"], span / 2)
    stop = _after(run["created"], span)
    if run.get("stopped") is not None and run["stopped"][0] < stop:
        stop = run["stopped"][0]
        if stop < start:
            start = None  # type: ignore[assignment]
    return Life(run["created"], start, stop)


def _settle_run(run: dict[str, Any], t: dt.datetime) -> None:
    """A stopped task's network interface goes away (AWS deletes it)."""
    if run.get("eni_deleted") or _run_life(run).status(t) != "STOPPED" or not run.get("eni"):
        return
    run["eni_deleted"] = True
    try:
        base.ec2_backend(run["account"], run["region"]).delete_network_interface(run["eni"])
    except Exception:
        pass


def _run_view(doc: dict[str, Any], run: dict[str, Any], t: dt.datetime) -> dict[str, Any]:
    """moto's task document (parsed) with the task's lifecycle."""
    _settle_run(run, t)
    life = _run_life(run)
    status = life.status(t)
    td = _task_definition(run["account"], run["region"], doc.get("taskDefinitionArn", ""))
    user = run.get("stopped")
    user_stop = user is not None and life.stop == user[0]
    if user_stop:
        exit_code = 143 if life.start is not None else None  # SIGTERM, or never started
        stop_code, reason = "UserInitiated", user[1]
    else:
        exit_code, stop_code, reason = run["exit"], "EssentialContainerExited", deployments.EXITED
    attachment_id, address = "", None
    for a in doc.get("attachments") or []:
        details = {d.get("name"): d.get("value") for d in a.get("details") or []}
        attachment_id = a.get("id", "")
        address = details.get("privateIPv4Address")
        a.update(_attachment(attachment_id, status, details.get("subnetId") or "", details.get("networkInterfaceId") or "", address or "", details.get("macAddress") or ""))
        if details.get("privateDnsName"):
            a["details"].append({"name": "privateDnsName", "value": details["privateDnsName"]})
    doc["containers"] = _containers(run["account"], run["region"], doc["taskArn"], td, status, exit_code, None, address, attachment_id)
    _lifecycle_fields(doc, life, t, stop_code, reason)
    if td is not None:
        doc["cpu"], doc["memory"] = td.cpu, td.memory
        doc["platformFamily"] = "Linux"
        if doc.get("launchType") == "FARGATE":
            doc["platformVersion"] = doc.get("platformVersion") or "1.4.0"
            doc["ephemeralStorage"] = {"sizeInGiB": 20}
    if run.get("az"):
        doc["availabilityZone"] = run["az"]
    doc["healthStatus"] = "UNKNOWN"
    doc["enableExecuteCommand"] = False
    if doc.get("launchType") == "FARGATE":
        doc.pop("containerInstanceArn", None)
    return doc


def _fingerprint(params: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in params.items() if k != "clientToken"}, sort_keys=True, default=str)


def run_task(call: wire.Call) -> wire.Response:
    op = model.service_model("ecs").operation_model("RunTask")
    params = wire.json_params(call, op)
    account, region = account_id(call), call.region
    token = params.get("clientToken")
    with LOCK:
        t = now()
        if token:
            seen = _tokens.get(token)
            if seen is not None and seen[:2] == (account, region):
                if seen[2] != _fingerprint(params):
                    raise ApiError("ConflictException", "The RunTask request could not be processed due to conflicts. The provided clientToken is already in use with a different RunTask request. The resourceIds are the existing task ARNs which are already associated with the clientToken.")
                return wire.json_response(call, model.build_output(op, {"tasks": _describe_runs(call, seen[3], t), "failures": []}))
        request = {k: v for k, v in params.items() if k != "clientToken"}
        result = moto_client.call("ecs", "RunTask", request, call.access_key, region)
        arns = []
        for doc in result.get("tasks") or []:
            arn = doc["taskArn"]
            arns.append(arn)
            details = {d.get("name"): d.get("value") for a in doc.get("attachments") or [] for d in a.get("details") or []}
            family = doc.get("taskDefinitionArn", "").split("/")[-1].rsplit(":", 1)[0]
            info = base.subnet_info(account, region, details.get("subnetId") or "")
            _runs[arn] = {
                "account": account,
                "region": region,
                "created": t,
                "span": CONFIG.duration("ecs.task", family),
                "exit": _exit_code(family),
                "eni": details.get("networkInterfaceId"),
                "az": info[1] if info else None,
            }
        if token:
            _tokens[token] = (account, region, _fingerprint(params), arns)
        tasks = []
        for doc in result.get("tasks") or []:
            view = _run_view(doc, _runs[doc["taskArn"]], t)
            # The RunTask answer describes the task as just placed, whatever its duration.
            _lifecycle_fields(view, Life(t, _after(t, 1), None), t, "", "")
            for c in view.get("containers") or []:
                c["lastStatus"] = "PENDING"
                for k in ("exitCode", "imageDigest", "runtimeId"):
                    c.pop(k, None)
            for a in view.get("attachments") or []:
                a["status"] = "PRECREATED"
            tasks.append(view)
        out = {"tasks": tasks, "failures": result.get("failures") or []}
    return wire.json_response(call, model.build_output(op, out))


def _describe_runs(call: wire.Call, arns: list[str], t: dt.datetime) -> list[dict[str, Any]]:
    docs = []
    by_cluster: dict[str, list[str]] = {}
    for arn in arns:
        by_cluster.setdefault(arn.split("/")[1], []).append(arn)
    for cluster, refs in by_cluster.items():
        result = moto_client.call("ecs", "DescribeTasks", {"cluster": cluster, "tasks": refs}, call.access_key, call.region)
        for doc in result.get("tasks") or []:
            run = _runs.get(doc["taskArn"])
            docs.append(_run_view(doc, run, t) if run else doc)
    return docs


# --------------------------------------------------------------------------- service tasks
def _service_task_doc(v: deployments.TaskView, t: dt.datetime) -> dict[str, Any]:
    rec, d = v.rec, v.plan.dep
    stop, reason = v.stop, v.stop_reason
    code = v.stop_code
    user = _stopped.get(v.arn)
    if user is not None and (stop is None or user[0] < stop):
        stop, reason, code = user[0], user[1], "UserInitiated"
    start = v.start if v.start is None or stop is None or v.start <= stop else None
    life = Life(v.created, start, stop)
    status = life.status(t)
    td = _task_definition(rec["account"], rec["region"], d["taskDefinition"])
    addr = v.address()
    eni = "eni-" + base.stable_hex(v.arn + "eni", 17)
    attachment_id = base.stable_hex(v.arn + "attachment", 32)
    attachment_id = f"{attachment_id[:8]}-{attachment_id[8:12]}-{attachment_id[12:16]}-{attachment_id[16:20]}-{attachment_id[20:]}"
    exit_code = v.exit_code if user is None or user[0] != stop else (143 if start is not None else None)
    svc = deployments.moto_service(rec)
    launch = getattr(svc, "launch_type", None) or "FARGATE"
    doc: dict[str, Any] = {
        "taskArn": v.arn,
        "clusterArn": rec["cluster_arn"],
        "taskDefinitionArn": d["taskDefinition"],
        "group": f"service:{rec['name']}",
        "startedBy": d["id"],
        "launchType": launch,
        "healthStatus": "UNKNOWN",
        "enableExecuteCommand": False,
        "tags": [],
        "overrides": {"containerOverrides": [{"name": c.get("name")} for c in (td.container_definitions if td else [])], "inferenceAcceleratorOverrides": []},
        "attachments": [],
    }
    if launch == "FARGATE":
        doc.update({"platformVersion": "1.4.0", "platformFamily": "Linux", "ephemeralStorage": {"sizeInGiB": 20}})
    if td is not None:
        doc["cpu"], doc["memory"] = td.cpu, td.memory
    if addr is not None:
        subnet, ip, az = addr
        doc["availabilityZone"] = az
        doc["attachments"] = [_attachment(attachment_id, status, subnet, eni, ip, "0a:" + ":".join(base.stable_hex(v.arn + "mac", 10)[i : i + 2] for i in range(0, 10, 2)))]
    doc["containers"] = _containers(rec["account"], rec["region"], v.arn, td, status, exit_code, None, addr[1] if addr else None, attachment_id)
    _lifecycle_fields(doc, life, t, code, reason)
    return doc


def _service_tasks(account: str, region: str, cluster: str, t: dt.datetime) -> list[deployments.TaskView]:
    return [v for v in deployments.service_tasks(account, region, t) if v.rec["cluster"] == cluster]


def _desired(v: deployments.TaskView, t: dt.datetime) -> str:
    user = _stopped.get(v.arn)
    stopped = (v.stop is not None and t >= v.stop) or (user is not None and t >= user[0])
    return "STOPPED" if stopped else "RUNNING"


# --------------------------------------------------------------------------- the API
def _cluster(call: wire.Call, p: dict[str, Any]) -> tuple[str, str, Any]:
    account, region = account_id(call), call.region
    name = (p.get("cluster") or "default").split("/")[-1]
    ecs = base.ecs_backend(account, region)
    if name not in ecs.clusters:
        raise ApiError("ClusterNotFoundException", "Cluster not found.")
    return account, name, ecs


def list_tasks(call: wire.Call, p: dict[str, Any]) -> dict[str, Any]:
    account, cluster, ecs = _cluster(call, p)
    t = now()
    want = p.get("desiredStatus") or "RUNNING"
    rows: list[tuple[str, str, str, str, str, str]] = []  # arn, family, startedBy, service, desired, launchType
    for arn, task in (ecs.tasks.get(cluster) or {}).items():
        run = _runs.get(arn)
        if run is not None:
            _settle_run(run, t)
            desired = "STOPPED" if _run_life(run).status(t) == "STOPPED" else "RUNNING"
        else:
            desired = task.desired_status
        family = task.task_definition_arn.split("/")[-1].rsplit(":", 1)[0]
        if p.get("containerInstance") and p["containerInstance"].split("/")[-1] not in (task.container_instance_arn or ""):
            continue
        rows.append((task.task_arn, family, task.started_by or "", "", desired, task.launch_type or ""))
    if not p.get("containerInstance"):
        for v in _service_tasks(account, call.region, cluster, t):
            svc = deployments.moto_service(v.rec)
            family = v.plan.dep["taskDefinition"].split("/")[-1].rsplit(":", 1)[0]
            rows.append((v.arn, family, v.plan.dep["id"], v.rec["name"], _desired(v, t), getattr(svc, "launch_type", None) or "FARGATE"))
    arns = [
        r[0]
        for r in rows
        if r[4] == want
        and (not p.get("family") or r[1] == p["family"])
        and (not p.get("startedBy") or r[2] == p["startedBy"])
        and (not p.get("serviceName") or r[3] == p["serviceName"].split("/")[-1])
        and (not p.get("launchType") or r[5] == p["launchType"])
    ]
    size = p.get("maxResults") or 100
    if not 1 <= size <= 100:
        raise ApiError("InvalidParameterException", "maxResults must be between 1 and 100.")
    nxt = p.get("nextToken") or "0"
    if not nxt.isdigit():
        raise ApiError("InvalidParameterException", "Invalid nextToken.")
    start = int(nxt)
    out: dict[str, Any] = {"taskArns": arns[start : start + size]}
    if start + size < len(arns):
        out["nextToken"] = str(start + size)
    return out


def describe_tasks(call: wire.Call, p: dict[str, Any]) -> dict[str, Any]:
    account, cluster, ecs = _cluster(call, p)
    t = now()
    refs = p["tasks"]
    if not refs:
        raise ApiError("InvalidParameterException", "Tasks cannot be empty.")
    if len(refs) > 100:
        raise ApiError("InvalidParameterException", "Tasks cannot have more than 100 elements.")
    mine = {arn: task for arn, task in (ecs.tasks.get(cluster) or {}).items()}
    services = {v.arn: v for v in _service_tasks(account, call.region, cluster, t)}
    found, failures = [], []
    moto_refs = []
    for ref in refs:
        tid = ref.split("/")[-1]
        arn = next((a for a in list(mine) + list(services) if a.split("/")[-1] == tid), None)
        if arn is None:
            failures.append({"arn": ref if ref.startswith("arn:") else f"arn:aws:ecs:{call.region}:{account}:task/{cluster}/{tid}", "reason": "MISSING"})
        elif arn in services:
            found.append(_service_task_doc(services[arn], t))
        else:
            moto_refs.append(arn)
    if moto_refs:
        result = moto_client.call("ecs", "DescribeTasks", {"cluster": cluster, "tasks": moto_refs, "include": p.get("include") or []}, call.access_key, call.region)
        for doc in result.get("tasks") or []:
            if doc.get("taskArn") not in moto_refs:
                continue  # moto looks in every cluster
            run = _runs.get(doc["taskArn"])
            found.append(_run_view(doc, run, t) if run else doc)
    if "TAGS" not in (p.get("include") or []):
        for doc in found:
            doc.pop("tags", None)
    return {"tasks": found, "failures": failures}


def stop_task(call: wire.Call, p: dict[str, Any]) -> dict[str, Any]:
    account, cluster, ecs = _cluster(call, p)
    t = now()
    tid = p["task"].split("/")[-1]
    reason = p.get("reason") or USER_STOPPED
    for arn in ecs.tasks.get(cluster) or {}:
        if arn.split("/")[-1] == tid:
            run = _runs.get(arn)
            if run is not None and run.get("stopped") is None and _run_life(run).status(t) != "STOPPED":
                run["stopped"] = (t, reason)
            return {"task": _describe_runs(call, [arn], t)[0]}
    for v in _service_tasks(account, call.region, cluster, t):
        if v.task_id == tid:
            if _desired(v, t) != "STOPPED":
                _stopped[v.arn] = (t, reason)
            return {"task": _service_task_doc(v, t)}
    raise ApiError("InvalidParameterException", "The referenced task was not found.")


HANDLERS = {"ListTasks": list_tasks, "DescribeTasks": describe_tasks, "StopTask": stop_task}


def handle(call: wire.Call) -> wire.Response:
    return base.answer(call, HANDLERS)
