"""Lifecycle time for CodeBuild builds and ECS service deployments (JSON protocol).

CodeBuild: moto finishes every build at the first BatchGetBuilds (and repeats the phase
list on each poll). We rebuild the build's phases from its start time: IN_PROGRESS while
younger than `codebuild.build` seconds, then SUCCEEDED, or FAILED in the configured phase
(`codebuild` / `codebuild.failed_phase` outcomes, decided at StartBuild); StopBuild stops it.

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

PHASES = ["SUBMITTED", "QUEUED", "PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD", "UPLOAD_ARTIFACTS", "FINALIZING", "COMPLETED"]

_lock = threading.Lock()
_builds: dict[str, dict[str, Any]] = {}
_deployments: dict[str, list[dict[str, Any]]] = {}
_deleted_services: dict[str, dt.datetime] = {}


@hooks.on_reset
def _reset() -> None:
    with _lock:
        _builds.clear()
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


# --------------------------------------------------------------------------- CodeBuild
def _build_view(b: dict[str, Any]) -> None:
    rec = _builds.get(b.get("id", ""))
    if rec is None:
        # Not started through us: at least undo moto's ever-growing phase list.
        seen, phases = set(), []
        for p in b.get("phases") or []:
            if p.get("phaseType") not in seen:
                seen.add(p.get("phaseType"))
                phases.append(p)
        b["phases"] = phases
        return
    start, span = rec["start"], rec["duration"]
    age = elapsed(start)

    def at(i: int) -> dt.datetime:
        return start + dt.timedelta(seconds=span * i / (len(PHASES) - 1))

    def phase(i: int, status: str | None, ctx: list[dict[str, str]] | None = None) -> dict[str, Any]:
        p: dict[str, Any] = {"phaseType": PHASES[i], "startTime": _ts(at(i))}
        if status:
            p.update({"phaseStatus": status, "endTime": _ts(at(i + 1)), "durationInSeconds": int(span / (len(PHASES) - 1)), "contexts": ctx or []})
        return p

    if rec.get("stopped") is not None:
        ran = (rec["stopped"] - start).total_seconds() / span if span > 0 else 0.0
        cur = min(int(ran * (len(PHASES) - 1)), len(PHASES) - 3)
        phases = [phase(i, "SUCCEEDED") for i in range(cur)] + [phase(cur, "STOPPED")]
        b.update({"phases": phases, "buildStatus": "STOPPED", "currentPhase": PHASES[cur], "buildComplete": True, "endTime": _ts(rec["stopped"])})
    elif span > 0 and age < span:
        cur = int(age / span * (len(PHASES) - 1))
        phases = [phase(i, "SUCCEEDED") for i in range(cur)] + [phase(cur, None)]
        b.update({"phases": phases, "buildStatus": "IN_PROGRESS", "currentPhase": PHASES[cur], "buildComplete": False})
        b.pop("endTime", None)
    elif rec["outcome"] == "FAILED":
        failed = PHASES.index(rec["failed_phase"])
        ctx = [{"statusCode": "COMMAND_EXECUTION_ERROR", "message": f"Error while executing command: exit 1. Reason: exit status 1 (emulated failure in {PHASES[failed]})"}]
        fin = len(PHASES) - 2
        phases = [phase(i, "SUCCEEDED") for i in range(failed)] + [phase(failed, "FAILED", ctx), phase(fin, "SUCCEEDED"), phase(fin + 1, None)]
        b.update({"phases": phases, "buildStatus": "FAILED", "currentPhase": "COMPLETED", "buildComplete": True, "endTime": _ts(at(len(PHASES) - 1))})
    else:
        phases = [phase(i, "SUCCEEDED") for i in range(len(PHASES) - 1)] + [phase(len(PHASES) - 1, None)]
        b.update({"phases": phases, "buildStatus": "SUCCEEDED", "currentPhase": "COMPLETED", "buildComplete": True, "endTime": _ts(at(len(PHASES) - 1))})


@hooks.after("codebuild", {"StartBuild", "BatchGetBuilds", "StopBuild", "RetryBuild"})
def _codebuild(call: wire.Call, resp: wire.Response) -> wire.Response:
    def fix(doc: dict[str, Any]) -> None:
        with _lock:
            if call.operation in ("StartBuild", "RetryBuild") and "build" in doc:
                b = doc["build"]
                project = b.get("projectName")
                _builds[b["id"]] = {
                    "start": now(),
                    "duration": CONFIG.duration("codebuild.build"),
                    "outcome": CONFIG.outcome("codebuild", project),
                    "failed_phase": CONFIG.outcome("codebuild.failed_phase", project),
                }
                # AWS answers StartBuild while the build is still being submitted.
                b.update({"buildStatus": "IN_PROGRESS", "currentPhase": "SUBMITTED", "buildComplete": False, "phases": [{"phaseType": "SUBMITTED", "startTime": _ts(now())}]})
                b.pop("endTime", None)
                return
            if call.operation == "StopBuild" and "build" in doc:
                rec = _builds.get(doc["build"].get("id", ""))
                if rec is not None and rec.get("stopped") is None:
                    rec["stopped"] = now()
                _build_view(doc["build"])
                return
            for b in doc.get("builds") or []:
                _build_view(b)

    return _rewrite_json(resp, fix)


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
