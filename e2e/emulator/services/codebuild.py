"""CodeBuild builds that behave like AWS's, and the images they push to moto's ECR.

moto records a build's metadata only: it finishes every build at the first
BatchGetBuilds (repeating the phase list on each poll), reports a placeholder
environment, source and log location, ignores `environmentVariablesOverride` and the
idempotency token, and lists a project's builds oldest first in one page. Here:

* A build's phases come from its start time: IN_PROGRESS while younger than
  `codebuild.build` seconds (`codebuild.build:<project>` narrows it to one project),
  then SUCCEEDED, or FAILED in the configured phase (`codebuild` / `codebuild.failed_phase`
  outcomes, decided at StartBuild); StopBuild stops it.
* A build carries the project's environment at start, with the overrides laid over it,
  the project's source, and a log location in the project's log group.
* A build that succeeds pushes an image: when its variables name a repository
  (`ECR_REPOSITORY_URI`) and a tag (`IMAGE_TAG`), a manifest derived from the build id is
  put into moto's ECR under that tag the moment the build ends (seen from either
  BatchGetBuilds or an ECR read), and the digest is exported as `IMAGE_DIGEST`. A push
  ECR refuses (no such repository, an immutable tag that exists) fails the build in its
  BUILD phase, as `docker push` would.
* StartBuild with an idempotency token seen in the last 5 minutes answers the same build.
* ListBuildsForProject pages 100 ids at a time with `nextToken`, newest first unless
  `sortOrder` is ASCENDING.
* CreateProject keeps the `encryptionKey` it was given (moto stores `alias/aws/s3`) and
  AWS's default timeouts (60 and 480 minutes) when none are given.
* UpdateProject (moto 5.2.5 lacks it) updates moto's project in place (same shape
  BatchGetProjects shows); input and output through botocore's model.

Nothing is built or run; the image has no layers anyone could pull.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from typing import Any
from urllib.parse import quote

from ..core import model, wire
from ..core.config import CONFIG
from ..core.hooks import Registry
from ..core.model import ApiError
from ..core.util import account_id, elapsed, epoch, now

PHASES = ["SUBMITTED", "QUEUED", "PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD", "UPLOAD_ARTIFACTS", "FINALIZING", "COMPLETED"]
PAGE = 100
TOKEN_WINDOW = 300.0
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"

_lock = threading.RLock()
_builds: dict[str, dict[str, Any]] = {}
_tokens: dict[tuple[str, str], tuple[str, dt.datetime]] = {}


def install(reg: Registry) -> None:
    reg.before("ecr", {"DescribeImages", "ListImages", "BatchGetImage"})(_ecr_reads)
    reg.before("codebuild", {"StartBuild"})(_start_again)
    reg.before("codebuild", {"ListBuildsForProject"})(_list_builds)
    reg.before("codebuild", {"UpdateProject"})(_update_project)
    reg.after("codebuild", {"StartBuild", "BatchGetBuilds", "StopBuild", "RetryBuild"})(_builds_view)
    reg.after("codebuild", {"CreateProject"})(_create_project)
    reg.on_reset(_reset)


def _reset() -> None:
    with _lock:
        _builds.clear()
        _tokens.clear()


def _backend(account: str, region: str) -> Any:
    from moto.codebuild.models import codebuild_backends

    return codebuild_backends[account][region]


def _variables(rec: dict[str, Any]) -> dict[str, str]:
    return {v.get("name", ""): v.get("value", "") for v in rec.get("environment", {}).get("environmentVariables") or []}


# --------------------------------------------------------------------------- the push
def _push(rec: dict[str, Any], build_id: str) -> None:
    """What `docker push` would leave in ECR when the build ends (once per build)."""
    rec["settled"] = True
    variables = _variables(rec)
    uri, tag = variables.get("ECR_REPOSITORY_URI"), variables.get("IMAGE_TAG")
    if not uri or not tag or "/" not in uri:
        return  # not an image build
    from moto.ecr.models import ecr_backends

    name = uri.split("/", 1)[1]
    backend = ecr_backends[rec["account"]][rec["region"]]
    repo = backend.repositories.get(name)
    if repo is None:
        rec.update(outcome="FAILED", failed_phase="BUILD", failure=f"name unknown: The repository with name '{name}' does not exist in the registry")
        return
    if repo.is_tag_immutable() and any(tag in (i.image_tags or []) for i in repo.images):
        rec.update(outcome="FAILED", failed_phase="BUILD", failure=f"tag invalid: The image tag '{tag}' already exists in the '{name}' repository and cannot be overwritten because the repository is immutable.")
        return
    layer = hashlib.sha256(f"{build_id}:layer".encode()).hexdigest()
    config = hashlib.sha256(f"{build_id}:config".encode()).hexdigest()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023, "digest": f"sha256:{config}"},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 32654, "digest": f"sha256:{layer}"}],
        },
        sort_keys=True,
    )
    digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    backend.put_image(name, manifest, tag, MANIFEST_TYPE, digest)
    rec["digest"] = digest


def _settle(build_id: str, rec: dict[str, Any]) -> None:
    """Ends the build if its time is up: a successful one pushes its image first."""
    if rec.get("settled") or rec.get("stopped") is not None:
        return
    if rec["duration"] > 0 and elapsed(rec["start"]) < rec["duration"]:
        return
    if rec["outcome"] == "SUCCEEDED":
        _push(rec, build_id)
    else:
        rec["settled"] = True


def settle_all() -> None:
    with _lock:
        for build_id, rec in _builds.items():
            _settle(build_id, rec)


def _ecr_reads(call: wire.Call) -> None:
    # Builds that ended since the last look have pushed by now.
    settle_all()
    return None


# --------------------------------------------------------------------------- the view
def _view(b: dict[str, Any]) -> None:
    """Rewrites moto's build `b` from our record (phases, status, environment, logs)."""
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
    _settle(b["id"], rec)
    for key in ("environment", "source", "logs"):
        if rec.get(key) is not None:
            b[key] = rec[key]
    b.pop("exportedEnvironmentVariables", None)
    start, span = rec["start"], rec["duration"]
    age = elapsed(start)

    def at(i: int) -> dt.datetime:
        return start + dt.timedelta(seconds=span * i / (len(PHASES) - 1))

    def phase(i: int, status: str | None, ctx: list[dict[str, str]] | None = None) -> dict[str, Any]:
        p: dict[str, Any] = {"phaseType": PHASES[i], "startTime": epoch(at(i))}
        if status:
            p.update({"phaseStatus": status, "endTime": epoch(at(i + 1)), "durationInSeconds": int(span / (len(PHASES) - 1)), "contexts": ctx or []})
        return p

    if rec.get("stopped") is not None:
        ran = (rec["stopped"] - start).total_seconds() / span if span > 0 else 0.0
        cur = min(int(ran * (len(PHASES) - 1)), len(PHASES) - 3)
        phases = [phase(i, "SUCCEEDED") for i in range(cur)] + [phase(cur, "STOPPED")]
        b.update({"phases": phases, "buildStatus": "STOPPED", "currentPhase": PHASES[cur], "buildComplete": True, "endTime": epoch(rec["stopped"])})
    elif span > 0 and age < span:
        cur = int(age / span * (len(PHASES) - 1))
        phases = [phase(i, "SUCCEEDED") for i in range(cur)] + [phase(cur, None)]
        b.update({"phases": phases, "buildStatus": "IN_PROGRESS", "currentPhase": PHASES[cur], "buildComplete": False})
        b.pop("endTime", None)
    elif rec["outcome"] == "FAILED":
        failed = PHASES.index(rec["failed_phase"])
        message = rec.get("failure") or f"Error while executing command: exit 1. Reason: exit status 1 (emulated failure in {PHASES[failed]})"
        ctx = [{"statusCode": "COMMAND_EXECUTION_ERROR", "message": message}]
        fin = len(PHASES) - 2
        phases = [phase(i, "SUCCEEDED") for i in range(failed)] + [phase(failed, "FAILED", ctx), phase(fin, "SUCCEEDED"), phase(fin + 1, None)]
        b.update({"phases": phases, "buildStatus": "FAILED", "currentPhase": "COMPLETED", "buildComplete": True, "endTime": epoch(at(len(PHASES) - 1))})
    else:
        phases = [phase(i, "SUCCEEDED") for i in range(len(PHASES) - 1)] + [phase(len(PHASES) - 1, None)]
        b.update({"phases": phases, "buildStatus": "SUCCEEDED", "currentPhase": "COMPLETED", "buildComplete": True, "endTime": epoch(at(len(PHASES) - 1))})
        if rec.get("digest"):
            b["exportedEnvironmentVariables"] = [{"name": "IMAGE_DIGEST", "value": rec["digest"]}]


def _moto_build(account: str, region: str, build_id: str) -> dict[str, Any] | None:
    for history in _backend(account, region).build_metadata_history.values():
        for build in history:
            if build["id"] == build_id:
                return build
    return None


def _record(call: wire.Call, req: dict[str, Any], b: dict[str, Any]) -> None:
    """Our record of a build moto just started: timing, outcome, and what it ran with."""
    account, region = account_id(call), call.region
    project_name = b.get("projectName") or req.get("projectName", "")
    project = _backend(account, region).codebuild_projects.get(project_name)
    meta = project.project_metadata if project is not None else {}
    environment = json.loads(json.dumps(meta.get("environment") or {}))
    variables = {v["name"]: v for v in environment.get("environmentVariables") or []}
    for v in req.get("environmentVariablesOverride") or []:
        variables[v["name"]] = {"type": "PLAINTEXT", **v}
    environment["environmentVariables"] = list(variables.values())
    source = json.loads(json.dumps(meta.get("source") or {}))
    if req.get("sourceLocationOverride"):
        source["location"] = req["sourceLocationOverride"]
    stream = b["id"].split(":", 1)[-1]
    group = ((meta.get("logsConfig") or {}).get("cloudWatchLogs") or {}).get("groupName") or f"/aws/codebuild/{project_name}"
    logs = {
        "groupName": group,
        "streamName": stream,
        "deepLink": f"https://console.aws.amazon.com/cloudwatch/home?region={region}#logEvent:group={quote(group, safe='')};stream={stream}",
        "cloudWatchLogsArn": f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}",
        "cloudWatchLogs": {"status": "ENABLED", "groupName": group},
        "s3Logs": {"status": "DISABLED", "encryptionDisabled": False},
    }
    _builds[b["id"]] = {
        "start": now(),
        "duration": CONFIG.duration("codebuild.build", project_name),
        "outcome": CONFIG.outcome("codebuild", project_name),
        "failed_phase": CONFIG.outcome("codebuild.failed_phase", project_name),
        "account": account,
        "region": region,
        "project": project_name,
        "environment": environment,
        "source": source,
        "logs": logs,
    }


def _start_again(call: wire.Call) -> wire.Response | None:
    """A repeated idempotency token answers the build it started."""
    try:
        req = call.json()
    except ValueError:
        return None
    token = req.get("idempotencyToken")
    if not token:
        return None
    with _lock:
        seen = _tokens.get((req.get("projectName", ""), token))
        if seen is None or elapsed(seen[1]) > TOKEN_WINDOW:
            return None
        build = _moto_build(account_id(call), call.region, seen[0])
        if build is None:
            return None
        build = json.loads(json.dumps(build))
        _view(build)
    return wire.json_response(call, {"build": build})


def _builds_view(call: wire.Call, resp: wire.Response) -> wire.Response:
    req = call.json_or_empty()

    def fix(doc: dict[str, Any]) -> None:
        with _lock:
            if call.operation in ("StartBuild", "RetryBuild") and "build" in doc:
                b = doc["build"]
                _record(call, req, b)
                if req.get("idempotencyToken"):
                    _tokens[(req.get("projectName", ""), req["idempotencyToken"])] = (b["id"], now())
                rec = _builds[b["id"]]
                # AWS answers StartBuild while the build is still being submitted.
                b.update({"buildStatus": "IN_PROGRESS", "currentPhase": "SUBMITTED", "buildComplete": False, "phases": [{"phaseType": "SUBMITTED", "startTime": epoch(rec["start"])}]})
                for key in ("environment", "source", "logs"):
                    b[key] = rec[key]
                b.pop("endTime", None)
                return
            if call.operation == "StopBuild" and "build" in doc:
                rec = _builds.get(doc["build"].get("id", ""))
                if rec is not None and rec.get("stopped") is None and not rec.get("settled"):
                    if rec["duration"] > 0 and elapsed(rec["start"]) < rec["duration"]:
                        rec["stopped"] = now()
                _view(doc["build"])
                return
            for b in doc.get("builds") or []:
                _view(b)

    return wire.rewrite_json(resp, fix)


# --------------------------------------------------------------------------- listing
def _list_builds(call: wire.Call) -> wire.Response:
    req = wire.json_body(call)
    name = req.get("projectName") or ""
    backend = _backend(account_id(call), call.region)
    if name not in backend.codebuild_projects:
        raise ApiError("ResourceNotFoundException", f"The provided project arn:aws:codebuild:{call.region}:{account_id(call)}:project/{name} does not exist")
    ids = list(backend.build_history.get(name) or [])
    if (req.get("sortOrder") or "DESCENDING") == "DESCENDING":
        ids.reverse()
    token = req.get("nextToken")
    try:
        start = int(token) if token else 0
    except ValueError:
        raise ApiError("InvalidInputException", "Invalid next token") from None
    page = ids[start : start + PAGE]
    out: dict[str, Any] = {"ids": page}
    if start + PAGE < len(ids):
        out["nextToken"] = str(start + PAGE)
    return wire.json_response(call, out)


# --------------------------------------------------------------------------- projects
def _create_project(call: wire.Call, resp: wire.Response) -> wire.Response:
    try:
        req = call.json()
    except ValueError:
        return resp

    def fix(doc: dict[str, Any]) -> None:
        project = _backend(account_id(call), call.region).codebuild_projects.get(req.get("name", ""))
        if project is None:
            return
        meta = project.project_metadata
        if req.get("encryptionKey"):
            meta["encryptionKey"] = req["encryptionKey"]
        meta["timeoutInMinutes"] = req.get("timeoutInMinutes") or 60
        meta["queuedTimeoutInMinutes"] = req.get("queuedTimeoutInMinutes") or 480
        for key in ("encryptionKey", "timeoutInMinutes", "queuedTimeoutInMinutes"):
            doc.setdefault("project", {})[key] = meta[key]

    return wire.rewrite_json(resp, fix)


def _update_project(call: wire.Call) -> wire.Response:
    op = model.service_model("codebuild").operation_model("UpdateProject")
    raw = wire.json_body(call)
    params = model.parse_input(op, raw)
    backend = _backend(account_id(call), call.region)
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
