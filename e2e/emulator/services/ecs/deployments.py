"""ECS service deployments as AWS reports them, computed at read time from each
deployment's start and the durations and outcomes in force when it started.

moto keeps every deployment IN_PROGRESS with runningCount 0 forever, never creates a
second one on update, runs no task and registers no load balancer target. Here each
CreateService/UpdateService that AWS would deploy records a deployment (with its service
revision and service deployment ARNs), and every read derives from the clock:

* counts: runningCount rises to desiredCount over `ecs.deployment` seconds;
* targets: a task of a service with `loadBalancers` is registered in each target group
  when it starts, `initial` for `elbv2.target.healthy` seconds, then `healthy` (outcome
  `elbv2.target` = `unhealthy`: `unhealthy`, Target.FailedHealthChecks); tasks a newer
  deployment replaces are `draining` until that deployment completes (plus
  `elbv2.target.drain`), then gone;
* the end: COMPLETED once every task runs (and, behind a load balancer, is healthy), or
  FAILED (`ecs.deployment` outcome FAILED: essential container exited; or unhealthy
  targets, after another `ecs.deployment` seconds). With
  deploymentConfiguration.deploymentCircuitBreaker `enable` + `rollback`, a failure
  starts a new deployment back to the last completed one (AWS's "rolling back to
  deploymentId ..."), or ends ROLLBACK_FAILED when there is none; without rollback the
  failed deployment stays PRIMARY and the previous one keeps serving;
* tasks: the service's tasks (not moto's; they exist only in these views) with their
  lifecycle and, once stopped, stoppedReason/stopCode/exit codes (see tasks.py);
* ListServiceDeployments, DescribeServiceDeployments and DescribeServiceRevisions.

A deleted service is DRAINING for `ecs.service.delete` seconds before INACTIVE. moto's
state is left alone except the service's taskDefinition on a rollback and the
deploymentConfiguration AWS returns (with its defaults).
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from ...core import wire
from ...core.config import CONFIG
from ...core.model import ApiError
from ...core.util import epoch, hex_id, now
from . import base
from .base import LOCK

OPS = {"ListServiceDeployments", "DescribeServiceDeployments", "DescribeServiceRevisions"}
DEFAULT_CONFIGURATION = {"deploymentCircuitBreaker": {"enable": False, "rollback": False}, "maximumPercent": 200, "minimumHealthyPercent": 100}
CB_FAILED = "ECS deployment circuit breaker: tasks failed to start."
LEGACY_FAILED = "ECS deployment circuit breaker: tasks failed to start (emulated failure)."
EXITED = "Essential container in task exited"
ROLLED_BACK = "Service deployment rolled back because the circuit breaker threshold was exceeded."
NO_CANDIDATE = ROLLED_BACK + " No rollback candidate was found to run the rollback."
CB_STOPPED = "Service deployment stopped because the circuit breaker threshold was exceeded."
SUPERSEDED = "Service deployment stopped because a new service deployment started."
NO_CB_FAILED = "ECS deployment failed: tasks failed to start."
NEVER = dt.datetime.max.replace(tzinfo=dt.timezone.utc)

# service ARN -> the service's record (a recreated service starts a new record)
_services: dict[str, dict[str, Any]] = {}
# service revision ARN -> revision; service deployment ARN -> (service ARN, deployment id)
_revisions: dict[str, dict[str, Any]] = {}
_by_sd_arn: dict[str, tuple[str, str]] = {}


def reset() -> None:
    with LOCK:
        _services.clear()
        _revisions.clear()
        _by_sd_arn.clear()


def _after(t: dt.datetime, seconds: float) -> dt.datetime:
    return t + dt.timedelta(seconds=seconds)


def threshold(want: int) -> int:
    """The circuit breaker's failure threshold: half the desired count, 3 to 200."""
    return min(max(math.ceil(0.5 * want), 3), 200)


# --------------------------------------------------------------------------- recording
def service_record(arn: str) -> dict[str, Any] | None:
    return _services.get(arn)


def moto_service(rec: dict[str, Any]) -> Any | None:
    try:
        return base.ecs_backend(rec["account"], rec["region"]).services.get(f"{rec['cluster']}:{rec['name']}")
    except Exception:
        return None


def new_service(arn: str, cluster_arn: str) -> dict[str, Any]:
    account, region = base.parts(arn)
    rec = {
        "arn": arn,
        "name": arn.split("/")[-1],
        "cluster": cluster_arn.split("/")[-1],
        "cluster_arn": cluster_arn,
        "account": account,
        "region": region,
        "deps": [],
        "config": copy.deepcopy(DEFAULT_CONFIGURATION),
        "deleted": None,
        "express": None,  # the Express service's record, when it is one
    }
    _services[arn] = rec
    return rec


def _revision(rec: dict[str, Any], svc: Any, task_definition: str) -> dict[str, Any]:
    """The service revision AWS records for a deployment: the service's configuration and
    the container images resolved to digests."""
    arn = f"arn:aws:ecs:{rec['region']}:{rec['account']}:service-revision/{rec['cluster']}/{rec['name']}/{base.digits()}"
    images = []
    try:
        td = base.ecs_backend(rec["account"], rec["region"]).describe_task_definition(task_definition)
        for c in td.container_definitions:
            image = c.get("image") or ""
            images.append({"containerName": c.get("name"), "image": image, "imageDigest": base.image_digest(rec["account"], rec["region"], image)})
    except Exception:
        pass
    launch = getattr(svc, "launch_type", None) or "EC2"
    rev = {
        "serviceRevisionArn": arn,
        "serviceArn": rec["arn"],
        "clusterArn": rec["cluster_arn"],
        "taskDefinition": task_definition,
        "launchType": launch,
        "loadBalancers": copy.deepcopy(getattr(svc, "load_balancers", None) or []),
        "serviceRegistries": copy.deepcopy(getattr(svc, "service_registries", None) or []),
        "containerImages": images,
        "guardDutyEnabled": False,
        "serviceConnectConfiguration": {"enabled": False},
        "createdAt": now(),
    }
    if launch == "FARGATE":
        rev["platformVersion"] = "1.4.0"
        rev["platformFamily"] = "Linux"
    network = getattr(svc, "network_configuration", None)
    if network:
        rev["networkConfiguration"] = copy.deepcopy(network)
    _revisions[arn] = rev
    return rev


def record(arn: str, cluster_arn: str, task_definition: str, desired: int, fresh: bool = False) -> dict[str, Any]:
    """Records a new deployment of service `arn` (CreateService: `fresh`) and its service
    revision; returns the deployment."""
    with LOCK:
        rec = _services.get(arn)
        if fresh or rec is None:
            rec = new_service(arn, cluster_arn)
        svc = moto_service(rec)
        name = rec["name"]
        # Settings narrowed to `<cluster>/<service>` win over those narrowed to the service
        # name (every environment's Express service has the same name).
        names = (f"{rec['cluster']}/{name}", name)
        lbs = copy.deepcopy(getattr(svc, "load_balancers", None) or [])
        groups = [lb["targetGroupArn"] for lb in lbs if lb.get("targetGroupArn")]
        unhealthy = CONFIG.outcome("elbv2.target", *names) == "unhealthy" or any(CONFIG.outcome("elbv2.target", g.split("/")[-2]) == "unhealthy" for g in groups)
        rev = _revision(rec, svc, task_definition)
        network = getattr(svc, "network_configuration", None) or {}
        dep = {
            "id": f"ecs-svc/{hex_id(16)}",
            "sd_arn": f"arn:aws:ecs:{rec['region']}:{rec['account']}:service-deployment/{rec['cluster']}/{name}/{base.token()}",
            "revision": rev["serviceRevisionArn"],
            "taskDefinition": task_definition,
            "desiredCount": desired,
            "createdAt": now(),
            "outcome": CONFIG.outcome("ecs.deployment", *names),
            "unhealthy": unhealthy,
            "span": CONFIG.duration("ecs.deployment", *names),
            "health": CONFIG.duration("elbv2.target.healthy", *names) if groups else 0.0,
            "drain": CONFIG.duration("elbv2.target.drain", *names),
            "config": copy.deepcopy(rec["config"]),
            "lbs": lbs,
            "subnets": list((network.get("awsvpcConfiguration") or {}).get("subnets") or []),
            "kind": "deploy",
        }
        rec["deps"].append(dep)
        _by_sd_arn[dep["sd_arn"]] = (arn, dep["id"])
        return dep


def _rollback(rec: dict[str, Any], failed: dict[str, Any], to: dict[str, Any], at: dt.datetime) -> dict[str, Any]:
    dep = {
        **{k: copy.deepcopy(to[k]) for k in ("taskDefinition", "revision", "lbs", "subnets")},
        "id": f"ecs-svc/{hex_id(16)}",
        "sd_arn": None,  # part of the failed deployment's service deployment
        "desiredCount": failed["desiredCount"],
        "createdAt": at,
        "outcome": "COMPLETED",
        "unhealthy": False,
        "span": failed["span"],
        "health": failed["health"] if to["lbs"] else 0.0,
        "drain": failed["drain"],
        "config": copy.deepcopy(failed["config"]),
        "kind": "rollback",
        "parent": failed["id"],
        "rollback_to": to["id"],
    }
    rec["deps"].append(dep)
    failed["rolled_back"] = dep["id"]
    svc = moto_service(rec)
    if svc is not None:
        svc.task_definition = to["taskDefinition"]  # the service runs the previous revision again
    return dep


# --------------------------------------------------------------------------- the time model
@dataclass
class Plan:
    dep: dict[str, Any]
    start: dt.datetime
    want: int
    mode: str  # ok | exit | health
    end: dt.datetime  # completion or failure
    cut: dt.datetime  # when a newer deployment started (NEVER if none)

    @property
    def interrupted(self) -> bool:
        return self.cut < self.end

    def frac(self, t: dt.datetime) -> float:
        span = self.dep["span"]
        if span <= 0:
            return 1.0 if t >= self.start else 0.0
        return min(max((t - self.start).total_seconds() / span, 0.0), 1.0)

    def running(self, t: dt.datetime) -> int:
        """Tasks started by `t` (the PRIMARY's runningCount while in progress)."""
        return math.floor(self.want * self.frac(t))

    def healthy(self, t: dt.datetime) -> int:
        """Tasks that pass their health checks by `t` (all running ones without a load balancer)."""
        return self.running(_after(t, -self.dep["health"])) if self.mode == "ok" else 0

    def task_start(self, k: int) -> dt.datetime:
        span = self.dep["span"]
        if span <= 0 or self.want <= 0:
            return self.start
        return _after(self.start, span * (k + 1) / self.want)

    def failed(self, t: dt.datetime) -> bool:
        return self.mode != "ok" and not self.interrupted and t >= self.end

    def completed(self, t: dt.datetime) -> bool:
        return self.mode == "ok" and not self.interrupted and t >= self.end

    def failures(self) -> int:
        return threshold(self.want) if self.dep["config"]["deploymentCircuitBreaker"].get("enable") else max(self.want, 1)


def _plans(rec: dict[str, Any], svc_desired: int | None = None) -> list[Plan]:
    deps = rec["deps"]
    out = []
    for i, d in enumerate(deps):
        if i == len(deps) - 1 and svc_desired is not None:
            d["desiredCount"] = svc_desired  # the PRIMARY follows the service (scaling)
        span, health = d["span"], d["health"]
        if d["kind"] == "rollback" or d["outcome"] != "FAILED" and not (d["unhealthy"] and d["lbs"]):
            mode, end = "ok", _after(d["createdAt"], span + health)
        elif d["outcome"] == "FAILED":
            mode, end = "exit", _after(d["createdAt"], span)
        else:
            mode, end = "health", _after(d["createdAt"], 2 * span + health)
        cut = deps[i + 1]["createdAt"] if i + 1 < len(deps) else NEVER
        out.append(Plan(d, d["createdAt"], d["desiredCount"], mode, end, cut))
    return out


def settle(rec: dict[str, Any], t: dt.datetime | None = None) -> None:
    """Starts the rollback of a PRIMARY that failed with the circuit breaker's rollback on
    (dated at the failure, whenever it is first seen)."""
    t = t or now()
    while rec["deps"]:
        plans = _plans(rec)
        p = plans[-1]
        cb = p.dep["config"]["deploymentCircuitBreaker"]
        if p.dep["kind"] != "deploy" or not p.failed(t) or not (cb.get("enable") and cb.get("rollback")) or p.dep.get("rollback_done"):
            return
        p.dep["rollback_done"] = True
        to = next((q.dep for q in reversed(plans[:-1]) if q.mode == "ok" and not q.interrupted), None)
        if to is None:
            p.dep["rollback_failed"] = True
            return
        _rollback(rec, p.dep, to, p.end)


def settle_all() -> None:
    with LOCK:
        t = now()
        for rec in list(_services.values()):
            if rec["deleted"] is None:
                settle(rec, t)


def _completed_by(plans: list[Plan], j: int, t: dt.datetime) -> bool:
    """Whether a deployment after `j` has completed by `t` (so `j`'s tasks are gone)."""
    return any(q.completed(t) for q in plans[j + 1 :])


def _serving(plans: list[Plan], t: dt.datetime) -> int | None:
    """The older deployment whose tasks still serve: the latest that completed and that no
    later deployment has replaced yet."""
    for j in range(len(plans) - 2, -1, -1):
        q = plans[j]
        if q.mode == "ok" and not q.interrupted:
            return None if _completed_by(plans, j, t) else j
    return None


def active_ids(rec: dict[str, Any], t: dt.datetime | None = None) -> list[str]:
    """The deployments whose tasks serve at `t`: the PRIMARY and, until it completes, the
    previous completed one (what Express Mode lists as active configurations)."""
    t = t or now()
    settle(rec, t)
    plans = _plans(rec)
    p = plans[-1]
    ids = [p.dep["id"]]
    if not p.completed(t):
        j = _serving(plans, t)
        if j is not None:
            ids.append(plans[j].dep["id"])
    return ids


# --------------------------------------------------------------------------- DescribeServices
def _primary_view(rec: dict[str, Any], p: Plan, t: dt.datetime, template: dict[str, Any]) -> dict[str, Any]:
    d = p.dep
    want = p.want
    out = {**template, "id": d["id"], "status": "PRIMARY", "taskDefinition": d["taskDefinition"], "desiredCount": want, "failedTasks": 0, "createdAt": epoch(d["createdAt"]), "updatedAt": epoch(t)}
    cb = d["config"]["deploymentCircuitBreaker"].get("enable")
    if p.failed(t):
        out.update({"runningCount": 0, "pendingCount": 0, "failedTasks": p.failures(), "rolloutState": "FAILED", "rolloutStateReason": CB_FAILED if cb else LEGACY_FAILED})
    elif p.completed(t):
        out.update({"runningCount": want, "pendingCount": 0, "rolloutState": "COMPLETED", "rolloutStateReason": f"ECS deployment {d['id']} completed."})
    else:
        running = p.running(t)
        reason = f"ECS deployment circuit breaker: rolling back to deploymentId {d['rollback_to']}." if d["kind"] == "rollback" else f"ECS deployment {d['id']} in progress."
        out.update({"runningCount": running, "pendingCount": want - running, "rolloutState": "IN_PROGRESS", "rolloutStateReason": reason})
    return out


def _keep(plans: list[Plan], j: int, t: dt.datetime) -> int:
    """Running tasks of the serving deployment `j`: fewer as the PRIMARY's get healthy."""
    p = plans[-1]
    want = plans[j].want
    if p.mode != "ok":
        return want
    return max(want - p.healthy(t), 0)


def _deployments(rec: dict[str, Any], s: dict[str, Any], t: dt.datetime) -> list[dict[str, Any]]:
    template = (s.get("deployments") or [{}])[0]
    plans = _plans(rec, s.get("desiredCount"))
    p = plans[-1]
    out = [_primary_view(rec, p, t, template)]
    if p.completed(t):
        return out
    older = []
    if p.dep["kind"] == "rollback":
        failed = next(q for q in plans if q.dep["id"] == p.dep["parent"])
        entry = {**template, "id": failed.dep["id"], "status": "ACTIVE", "taskDefinition": failed.dep["taskDefinition"], "desiredCount": 0, "runningCount": 0, "pendingCount": 0}
        entry.update({"failedTasks": failed.failures(), "createdAt": epoch(failed.dep["createdAt"]), "updatedAt": epoch(t), "rolloutState": "FAILED", "rolloutStateReason": CB_FAILED})
        older.append(entry)
    j = _serving(plans, t)
    if j is not None:
        d = plans[j].dep
        keep = _keep(plans, j, t)
        entry = {**template, "id": d["id"], "status": "ACTIVE", "taskDefinition": d["taskDefinition"], "desiredCount": keep, "runningCount": keep, "pendingCount": 0, "failedTasks": 0}
        entry.update({"createdAt": epoch(d["createdAt"]), "updatedAt": epoch(t), "rolloutState": "COMPLETED"})
        entry.pop("rolloutStateReason", None)
        older.append(entry)
    return out + older


def _revision_counts(rec: dict[str, Any], s: dict[str, Any]) -> list[dict[str, Any]]:
    counts: dict[str, dict[str, Any]] = {}
    by_id = {d["id"]: d for d in rec["deps"]}
    for d in s.get("deployments") or []:
        dep = by_id.get(d["id"])
        if dep is None:
            continue
        c = counts.setdefault(dep["revision"], {"arn": dep["revision"], "requestedTaskCount": 0, "runningTaskCount": 0, "pendingTaskCount": 0})
        c["requestedTaskCount"] += d["desiredCount"]
        c["runningTaskCount"] += d["runningCount"]
        c["pendingTaskCount"] += d["pendingCount"]
    return list(counts.values())


def service_view(s: dict[str, Any]) -> None:
    """Rewrites moto's service document (DescribeServices, Create/Update/DeleteService)."""
    rec = _services.get(s.get("serviceArn", ""))
    if rec is None:
        return
    t = now()
    if rec["deleted"] is not None and s.get("status") == "INACTIVE" and (t - rec["deleted"]).total_seconds() < CONFIG.duration("ecs.service.delete"):
        # AWS drains a deleted service before it turns INACTIVE; moto skips DRAINING.
        s["status"] = "DRAINING"
        return
    if not rec["deps"] or s.get("status") != "ACTIVE":
        return
    settle(rec, t)
    if rec["deps"][-1]["kind"] == "rollback":
        s["taskDefinition"] = rec["deps"][-1]["taskDefinition"]
    s["deployments"] = _deployments(rec, s, t)
    s["runningCount"] = sum(d["runningCount"] for d in s["deployments"])
    s["pendingCount"] = sum(d["pendingCount"] for d in s["deployments"])
    current = next((d["sd_arn"] for d in reversed(rec["deps"]) if d["sd_arn"]), None)
    if current:
        s["currentServiceDeployment"] = current
    s["currentServiceRevisions"] = _revision_counts(rec, s)
    s["deploymentConfiguration"] = copy.deepcopy(rec["config"])


def _changes_deployment(req: dict[str, Any], s: dict[str, Any], last: dict[str, Any]) -> bool:
    if req.get("forceNewDeployment"):
        return True
    if req.get("taskDefinition") and s.get("taskDefinition") != last["taskDefinition"]:
        return True
    return any(k in req for k in ("loadBalancers", "networkConfiguration", "platformVersion", "capacityProviderStrategy", "serviceRegistries"))


def merge_configuration(current: dict[str, Any], change: dict[str, Any] | None) -> dict[str, Any]:
    """deploymentConfiguration with AWS's defaults; an update changes the members it names."""
    out = copy.deepcopy(current)
    for k, v in (change or {}).items():
        out[k] = copy.deepcopy(v)
    return out


def mutation_view(call: wire.Call, resp: wire.Response) -> wire.Response:
    """After CreateService/UpdateService/DeleteService/DescribeServices: record what AWS
    would deploy, and show the deployments."""
    req = call.json_or_empty()

    def fix(doc: dict[str, Any]) -> None:
        with LOCK:
            if call.operation == "DescribeServices":
                for s in doc.get("services") or []:
                    service_view(s)
                return
            s = doc.get("service") or {}
            arn = s.get("serviceArn", "")
            rec = _services.get(arn)
            if call.operation == "DeleteService":
                if rec is None:
                    rec = new_service(arn, s.get("clusterArn", ""))
                rec["deleted"] = now()
            elif call.operation == "CreateService":
                rec = new_service(arn, s.get("clusterArn", ""))
                rec["config"] = merge_configuration(DEFAULT_CONFIGURATION, req.get("deploymentConfiguration"))
                _store_configuration(rec)
                svc = moto_service(rec)
                grace = req.get("healthCheckGracePeriodSeconds")
                if grace is None and req.get("loadBalancers"):
                    grace = 0
                if grace is not None and svc is not None:
                    svc.health_check_grace_period_seconds = grace  # moto drops it on create
                    s["healthCheckGracePeriodSeconds"] = grace
                record(arn, rec["cluster_arn"], s.get("taskDefinition", ""), s.get("desiredCount", 0))
            elif call.operation == "UpdateService":
                if rec is None:
                    rec = new_service(arn, s.get("clusterArn", ""))
                if "deploymentConfiguration" in req:
                    rec["config"] = merge_configuration(rec["config"], req["deploymentConfiguration"])
                _store_configuration(rec)
                if not rec["deps"] or _changes_deployment(req, s, rec["deps"][-1]):
                    record(arn, rec["cluster_arn"], s.get("taskDefinition", ""), s.get("desiredCount", 0))
            service_view(s)

    return wire.rewrite_json(resp, fix)


def _store_configuration(rec: dict[str, Any]) -> None:
    svc = moto_service(rec)
    if svc is not None:
        svc.deployment_configuration = copy.deepcopy(rec["config"])


# --------------------------------------------------------------------------- service tasks
@dataclass
class TaskView:
    """One task of a service deployment, as of a moment."""

    rec: dict[str, Any]
    plan: Plan
    k: int
    created: dt.datetime
    start: dt.datetime | None  # None: stopped before it ever ran
    stop: dt.datetime | None
    stop_reason: str
    stop_code: str
    exit_code: int | None
    drain_until: dt.datetime | None

    @property
    def task_id(self) -> str:
        return base.stable_hex(f"{self.rec['arn']}/{self.plan.dep['id']}/{self.k}")

    @property
    def arn(self) -> str:
        return f"arn:aws:ecs:{self.rec['region']}:{self.rec['account']}:task/{self.rec['cluster']}/{self.task_id}"

    def address(self) -> tuple[str, str, str] | None:
        """(subnet, private IP, availability zone) of the task's network interface."""
        subnets = self.plan.dep["subnets"]
        if not subnets:
            return None
        subnet = subnets[self.k % len(subnets)]
        info = base.subnet_info(self.rec["account"], self.rec["region"], subnet)
        if info is None:
            return None
        return subnet, base.ip_in(info[0], self.task_id), info[1]

    def status(self, t: dt.datetime) -> str:
        if self.stop is not None and t >= self.stop:
            return "STOPPED"
        if self.start is not None and t >= self.start:
            return "RUNNING"
        pending_from = self.created + ((self.start or t) - self.created) / 2
        return "PENDING" if t >= pending_from else "PROVISIONING"


def _replaced_at(plans: list[Plan], j: int, k: int) -> tuple[dt.datetime, str] | None:
    """When a completed deployment's task `k` is stopped by the next healthy rollout (the
    top tasks first, one per healthy new task), and by which deployment."""
    m = plans[j].want - k
    for q in plans[j + 1 :]:
        if q.mode != "ok":
            continue
        if m <= q.want:
            at = _after(q.task_start(m - 1), q.dep["health"])
        else:
            at = q.end
        if at <= q.cut or not q.interrupted:
            return at, q.dep["id"]
    return None


def _tasks_of(rec: dict[str, Any], plans: list[Plan], j: int) -> list[TaskView]:
    p = plans[j]
    d = p.dep
    out = []
    n = p.want
    for k in range(n):
        start: dt.datetime | None = p.task_start(k)
        stop, reason, code, exit_code, drain_until = None, "", "", None, None
        if p.interrupted:
            nxt = plans[j + 1].dep
            stop, reason, code = p.cut, f"Scaling activity initiated by (deployment {nxt['id']})", "ServiceSchedulerInitiated"
            drain_until = _after(stop, d["drain"])
        elif p.mode == "exit":
            stop, reason, code, exit_code = p.end, EXITED, "EssentialContainerExited", 1
            drain_until = _after(stop, d["drain"])
        elif p.mode == "health":
            groups = ", ".join(lb["targetGroupArn"] for lb in d["lbs"] if lb.get("targetGroupArn"))
            stop, reason, code = p.end, f"Task failed ELB health checks in (target-group {groups})", "ServiceSchedulerInitiated"
            drain_until = _after(stop, d["drain"])
        else:
            replaced = _replaced_at(plans, j, k)
            if replaced is not None:
                stop, by = replaced
                reason, code = f"Scaling activity initiated by (deployment {by})", "ServiceSchedulerInitiated"
                by_plan = next(q for q in plans if q.dep["id"] == by)
                drain_until = max(_after(stop, d["drain"]), by_plan.end)
        if rec["deleted"] is not None and (stop is None or stop > rec["deleted"]):
            stop, reason, code = rec["deleted"], f"Scaling activity initiated by (deployment {plans[-1].dep['id']})", "ServiceSchedulerInitiated"
            drain_until = _after(stop, d["drain"])
        if stop is not None and start is not None and start > stop:
            start = None  # stopped while still pending
        out.append(TaskView(rec, p, k, d["createdAt"], start, stop, reason, code, exit_code, drain_until))
    return out


def service_tasks(account: str, region: str, t: dt.datetime | None = None) -> list[TaskView]:
    """Every task of every recorded service of the account and region (call under LOCK)."""
    t = t or now()
    out = []
    for rec in _services.values():
        if rec["account"] != account or rec["region"] != region or not rec["deps"]:
            continue
        settle(rec, t)
        svc = moto_service(rec)
        plans = _plans(rec, getattr(svc, "desired_count", None) if rec["deleted"] is None else None)
        for j in range(len(plans)):
            out.extend(v for v in _tasks_of(rec, plans, j) if v.created <= t)
    return out


# --------------------------------------------------------------------------- targets
def target_health(account: str, region: str, tg_arn: str, attached: bool) -> list[dict[str, Any]]:
    """The TargetHealthDescriptions of service tasks registered in target group `tg_arn`."""
    t = now()
    out = []
    with LOCK:
        for v in service_tasks(account, region, t):
            lbs = [lb for lb in v.plan.dep["lbs"] if lb.get("targetGroupArn") == tg_arn]
            if not lbs or v.start is None or t < v.start:
                continue
            addr = v.address()
            if addr is None:
                continue
            if v.stop is not None and t >= v.stop:
                if v.drain_until is None or t >= v.drain_until:
                    continue
                health = {"State": "draining", "Reason": "Target.DeregistrationInProgress", "Description": "Target deregistration is in progress"}
            elif not attached:
                health = {"State": "unused", "Reason": "Target.NotInUse", "Description": "Target group is not configured to receive traffic from the load balancer"}
            elif v.plan.mode == "exit" or t < _after(v.start, v.plan.dep["health"]):
                health = {"State": "initial", "Reason": "Elb.InitialHealthChecking", "Description": "Initial health checks in progress"}
            elif v.plan.mode == "health":
                health = {"State": "unhealthy", "Reason": "Target.FailedHealthChecks", "Description": "Health checks failed"}
            else:
                health = {"State": "healthy"}
            for lb in lbs:
                port = lb.get("containerPort")
                out.append({"Target": {"Id": addr[1], "Port": port, "AvailabilityZone": addr[2]}, "HealthCheckPort": str(port), "TargetHealth": health})
    return out


# --------------------------------------------------------------------------- service deployments
def _find_service(call: wire.Call, p: dict[str, Any]) -> dict[str, Any]:
    from ...core.util import account_id

    account, region = account_id(call), call.region
    cluster = (p.get("cluster") or "default").split("/")[-1]
    ecs = base.ecs_backend(account, region)
    if cluster not in ecs.clusters:
        raise ApiError("ClusterNotFoundException", "Cluster not found.")
    name = p["service"].split("/")[-1]
    arn = f"arn:aws:ecs:{region}:{account}:service/{cluster}/{name}"
    rec = _services.get(arn)
    if rec is None and f"{cluster}:{name}" not in ecs.services:
        raise ApiError("ServiceNotFoundException", "Service not found.")
    return rec or {"deps": []}


def _deployment(rec: dict[str, Any], dep_id: str, t: dt.datetime) -> dict[str, Any]:
    """One ServiceDeployment (DescribeServiceDeployments) as of `t`."""
    settle(rec, t)
    svc = moto_service(rec)
    plans = _plans(rec, getattr(svc, "desired_count", None) if rec["deleted"] is None else None)
    j = next(i for i, q in enumerate(plans) if q.dep["id"] == dep_id)
    p = plans[j]
    d = p.dep
    cb = d["config"]["deploymentCircuitBreaker"]
    thr = threshold(p.want)
    out: dict[str, Any] = {
        "serviceDeploymentArn": d["sd_arn"],
        "serviceArn": rec["arn"],
        "clusterArn": rec["cluster_arn"],
        "createdAt": d["createdAt"],
        "startedAt": d["createdAt"],
        "updatedAt": d["createdAt"],
        "deploymentConfiguration": copy.deepcopy(d["config"]),
        "alarms": {"status": "DISABLED"},
    }
    running = 0 if p.failed(t) else (p.want if p.completed(t) else p.running(t))
    out["targetServiceRevision"] = {"arn": d["revision"], "requestedTaskCount": p.want, "runningTaskCount": running, "pendingTaskCount": 0 if p.failed(t) or p.completed(t) else p.want - running}
    source = next((q for q in reversed(plans[:j]) if q.mode == "ok" and not q.interrupted), None)
    out["sourceServiceRevisions"] = []
    if source is not None:
        keep = 0 if _completed_by(plans, plans.index(source), t) else (source.want if p.mode != "ok" else max(source.want - p.healthy(t), 0))
        out["sourceServiceRevisions"].append({"arn": source.dep["revision"], "requestedTaskCount": keep, "runningTaskCount": keep, "pendingTaskCount": 0})
    cb_state = {"status": "DISABLED", "failureCount": 0, "threshold": thr}
    if p.interrupted and t >= p.cut:
        out.update({"status": "STOPPED", "statusReason": SUPERSEDED, "stoppedAt": p.cut, "updatedAt": p.cut})
        cb_state["status"] = "MONITORING_COMPLETE"
    elif p.completed(t):
        out.update({"status": "SUCCESSFUL", "finishedAt": p.end, "updatedAt": p.end})
        cb_state["status"] = "MONITORING_COMPLETE"
    elif p.failed(t):
        cb_state.update({"status": "TRIGGERED", "failureCount": p.failures()})
        rb = next((q for q in plans if q.dep.get("parent") == d["id"]), None)
        if cb.get("enable") and cb.get("rollback") and rb is not None:
            out["rollback"] = {"reason": ROLLED_BACK, "startedAt": p.end, "serviceRevisionArn": rb.dep["revision"]}
            if rb.completed(t):
                out.update({"status": "ROLLBACK_SUCCESSFUL", "statusReason": ROLLED_BACK, "finishedAt": rb.end, "updatedAt": rb.end})
            elif rb.interrupted and t >= rb.cut:
                out.update({"status": "STOPPED", "statusReason": SUPERSEDED, "stoppedAt": rb.cut, "updatedAt": rb.cut})
            else:
                out.update({"status": "ROLLBACK_IN_PROGRESS", "statusReason": ROLLED_BACK, "updatedAt": p.end})
        elif cb.get("enable") and cb.get("rollback"):
            out.update({"status": "ROLLBACK_FAILED", "statusReason": NO_CANDIDATE, "finishedAt": p.end, "updatedAt": p.end})
        elif cb.get("enable"):
            out.update({"status": "STOPPED", "statusReason": CB_STOPPED, "stoppedAt": p.end, "updatedAt": p.end})
        else:
            out.update({"status": "STOPPED", "statusReason": NO_CB_FAILED, "stoppedAt": p.end, "updatedAt": p.end})
    else:
        out["status"] = "IN_PROGRESS"
        out["updatedAt"] = t
        cb_state["status"] = "MONITORING"
    if not cb.get("enable"):
        cb_state = {"status": "DISABLED", "failureCount": 0, "threshold": 0}
    out["deploymentCircuitBreaker"] = cb_state
    return out


def list_service_deployments(call: wire.Call, p: dict[str, Any]) -> dict[str, Any]:
    rec = _find_service(call, p)
    t = now()
    items = []
    for d in reversed(rec["deps"]):
        if not d["sd_arn"]:
            continue
        full = _deployment(rec, d["id"], t)
        if p.get("status") and full["status"] not in p["status"]:
            continue
        window = p.get("createdAt") or {}
        if window.get("before") and not d["createdAt"] < window["before"]:
            continue
        if window.get("after") and not d["createdAt"] > window["after"]:
            continue
        brief = {k: full[k] for k in ("serviceDeploymentArn", "serviceArn", "clusterArn", "startedAt", "createdAt", "finishedAt", "status", "statusReason") if k in full}
        brief["targetServiceRevisionArn"] = d["revision"]
        items.append(brief)
    nxt = p.get("nextToken") or "0"
    if not nxt.isdigit():
        raise ApiError("InvalidParameterException", "Invalid nextToken.")
    start = int(nxt)
    size = p.get("maxResults") or 20
    if not 1 <= size <= 100:
        raise ApiError("InvalidParameterException", "maxResults must be between 1 and 100.")
    page = items[start : start + size]
    out: dict[str, Any] = {"serviceDeployments": page}
    if start + size < len(items):
        out["nextToken"] = str(start + size)
    return out


def describe_service_deployments(call: wire.Call, p: dict[str, Any]) -> dict[str, Any]:
    t = now()
    found, failures = [], []
    for arn in p["serviceDeploymentArns"]:
        where = _by_sd_arn.get(arn)
        rec = _services.get(where[0]) if where else None
        if rec is None or not any(d["id"] == where[1] for d in rec["deps"]):
            failures.append({"arn": arn, "reason": "MISSING"})
            continue
        found.append(_deployment(rec, where[1], t))
    return {"serviceDeployments": found, "failures": failures}


def describe_service_revisions(call: wire.Call, p: dict[str, Any]) -> dict[str, Any]:
    arns = p["serviceRevisionArns"]
    if len(arns) > 20:
        raise ApiError("InvalidParameterException", "You can specify a maximum of 20 service revision ARNs.")
    found, failures = [], []
    for arn in arns:
        rev = _revisions.get(arn)
        if rev is None:
            failures.append({"arn": arn, "reason": "MISSING"})
            continue
        out = copy.deepcopy({k: v for k, v in rev.items() if not k.startswith("_")})
        extra = rev.get("_managed")
        if extra is not None:
            out["ecsManagedResources"] = extra()
        found.append(out)
    return {"serviceRevisions": found, "failures": failures}


HANDLERS = {
    "ListServiceDeployments": list_service_deployments,
    "DescribeServiceDeployments": describe_service_deployments,
    "DescribeServiceRevisions": describe_service_revisions,
}


def handle(call: wire.Call) -> wire.Response:
    return base.answer(call, HANDLERS)


def revision(arn: str) -> dict[str, Any] | None:
    return _revisions.get(arn)
