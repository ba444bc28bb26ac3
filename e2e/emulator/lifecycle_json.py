"""Lifecycle time for ECS service deployments (JSON protocol). CodeBuild builds are in
`codebuild.py`.

ECS: moto keeps every deployment IN_PROGRESS with runningCount 0 forever and never
creates a second deployment on update. We track deployments from CreateService/
UpdateService and report PRIMARY (+ the draining ACTIVE one) with running/pending counts
rising over `ecs.deployment` seconds, then COMPLETED (or FAILED, `ecs.deployment` outcome).
A deleted service is DRAINING for `ecs.service.delete` seconds before INACTIVE.
Only responses are rewritten; moto's state is left alone. No task ever runs.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
from typing import Any

from . import hooks, wire
from .config import CONFIG
from .util import elapsed, hex_id, now

_lock = threading.Lock()
_deployments: dict[str, list[dict[str, Any]]] = {}
_deleted_services: dict[str, dt.datetime] = {}


@hooks.on_reset
def _reset() -> None:
    with _lock:
        _deployments.clear()
        _deleted_services.clear()


def _ts(t: dt.datetime) -> float:
    return round(t.timestamp(), 3)


def _rewrite_json(resp: wire.Response, fn: Any) -> wire.Response:
    status, headers, body = resp
    if status != 200:
        return resp
    try:
        doc = json.loads(body)
    except ValueError:
        return resp
    fn(doc)
    return status, headers, json.dumps(doc).encode()


# --------------------------------------------------------------------------- ECS deployments
def record_ecs_deployment(service_arn: str, task_definition: str, desired: int, created: dt.datetime | None = None) -> None:
    with _lock:
        _deployments.setdefault(service_arn, []).append(
            {"id": f"ecs-svc/{hex_id(16)}", "taskDefinition": task_definition, "desiredCount": desired, "createdAt": created or now(), "outcome": CONFIG.outcome("ecs.deployment", service_arn.split("/")[-1])}
        )


def _service_view(s: dict[str, Any]) -> None:
    gone = _deleted_services.get(s.get("serviceArn", ""))
    if s.get("status") == "INACTIVE" and gone is not None and elapsed(gone) < CONFIG.duration("ecs.service.delete"):
        # AWS drains a deleted service before it turns INACTIVE; moto skips DRAINING.
        s["status"] = "DRAINING"
        return
    deps = _deployments.get(s.get("serviceArn", ""))
    if not deps or s.get("status") != "ACTIVE":
        return
    template = (s.get("deployments") or [{}])[0]
    span = CONFIG.duration("ecs.deployment")
    primary = deps[-1]
    primary["desiredCount"] = s.get("desiredCount", primary["desiredCount"])
    age = elapsed(primary["createdAt"])
    want = primary["desiredCount"]
    frac = 1.0 if span <= 0 else min(age / span, 1.0)
    out = []
    p = {**template, "id": primary["id"], "status": "PRIMARY", "taskDefinition": primary["taskDefinition"], "desiredCount": want, "failedTasks": 0, "createdAt": _ts(primary["createdAt"]), "updatedAt": _ts(now())}
    older = [d for d in deps[:-1] if not d.get("done")]
    if frac >= 1.0 and primary["outcome"] == "FAILED":
        p.update({"runningCount": 0, "pendingCount": 0, "failedTasks": max(want, 1), "rolloutState": "FAILED", "rolloutStateReason": "ECS deployment circuit breaker: tasks failed to start (emulated failure)."})
    elif frac >= 1.0:
        p.update({"runningCount": want, "pendingCount": 0, "rolloutState": "COMPLETED", "rolloutStateReason": f"ECS deployment {primary['id']} completed."})
        for d in older:
            d["done"] = True
        older = []
    else:
        running = math.floor(want * frac)
        p.update({"runningCount": running, "pendingCount": want - running, "rolloutState": "IN_PROGRESS", "rolloutStateReason": f"ECS deployment {primary['id']} in progress."})
    out.append(p)
    for d in older[-1:]:
        keep = d["desiredCount"] if primary["outcome"] == "FAILED" and frac >= 1.0 else max(d["desiredCount"] - p["runningCount"], 0)
        out.append({**template, "id": d["id"], "status": "ACTIVE", "taskDefinition": d["taskDefinition"], "desiredCount": keep, "runningCount": keep, "pendingCount": 0, "failedTasks": 0, "createdAt": _ts(d["createdAt"]), "updatedAt": _ts(now()), "rolloutState": "COMPLETED", "rolloutStateReason": ""})
        out[-1].pop("rolloutStateReason")
    s["deployments"] = out
    s["runningCount"] = sum(d["runningCount"] for d in out)
    s["pendingCount"] = sum(d["pendingCount"] for d in out)


@hooks.after("ecs", {"CreateService", "UpdateService", "DescribeServices", "DeleteService"})
def _ecs(call: wire.Call, resp: wire.Response) -> wire.Response:
    try:
        req = call.json()
    except ValueError:
        req = {}

    def fix(doc: dict[str, Any]) -> None:
        if call.operation == "DescribeServices":
            with _lock:
                for s in doc.get("services") or []:
                    _service_view(s)
            return
        s = doc.get("service") or {}
        arn = s.get("serviceArn", "")
        if call.operation == "DeleteService":
            with _lock:
                _deleted_services[arn] = now()
        elif call.operation == "CreateService":
            record_ecs_deployment(arn, s.get("taskDefinition", ""), s.get("desiredCount", 0))
        elif call.operation == "UpdateService":
            with _lock:
                deps = _deployments.get(arn)
            if not deps:
                record_ecs_deployment(arn, s.get("taskDefinition", ""), s.get("desiredCount", 0))
            elif req.get("forceNewDeployment") or (req.get("taskDefinition") and s.get("taskDefinition") != deps[-1]["taskDefinition"]):
                record_ecs_deployment(arn, s.get("taskDefinition", ""), s.get("desiredCount", 0))
        with _lock:
            _service_view(s)

    return _rewrite_json(resp, fix)
