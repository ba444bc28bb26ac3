"""Error codes corrected where moto's differ from AWS (a typed SDK match would miss them).

Response rewrites only, each narrowly keyed on service + operation + moto's code:

* WAFv2 duplicate name: WafV2DuplicateItem -> WAFDuplicateItemException
* RDS CreateDBSubnetGroup with an unknown subnet: InvalidSubnetID.NotFound -> InvalidSubnet
* Route 53 DELETE of a record that does not match: InvalidInput -> InvalidChangeBatch
* EC2 IAM denial: AccessDenied -> UnauthorizedOperation
* IAM denial on a JSON-protocol service: moto's 403 query-XML body -> JSON AccessDeniedException
* S3 object call denied by the bucket policy: moto's empty 403 -> the AccessDenied XML body
* ECR PutImage of an existing tag on an IMMUTABLE repository with a different image:
  ImageAlreadyExistsException -> ImageTagAlreadyExistsException
"""

from __future__ import annotations

import json
import re

from . import hooks, wire


def _replace_code(resp: wire.Response, old: str, new: str, message: str | None = None) -> wire.Response:
    status, headers, body = resp
    text = body.decode(errors="replace")
    if f"<Code>{old}</Code>" in text:
        text = text.replace(f"<Code>{old}</Code>", f"<Code>{new}</Code>", 1)
        if message is not None:
            text = re.sub(r"<Message>.*?</Message>", f"<Message>{message}</Message>", text, count=1, flags=re.S)
        return status, headers, text.encode()
    try:
        doc = json.loads(body)
    except ValueError:
        return resp
    if isinstance(doc, dict) and str(doc.get("__type", "")).split("#")[-1] == old:
        doc["__type"] = new
        headers = [(k, new if k.lower() == "x-amzn-errortype" else v) for k, v in headers]
        return status, headers, json.dumps(doc).encode()
    return resp


@hooks.after("wafv2")
def _wafv2(call: wire.Call, resp: wire.Response) -> wire.Response:
    return _replace_code(resp, "WafV2DuplicateItem", "WAFDuplicateItemException") if resp[0] >= 400 else resp


@hooks.after("rds", {"CreateDBSubnetGroup", "ModifyDBSubnetGroup"})
def _rds_subnet(call: wire.Call, resp: wire.Response) -> wire.Response:
    return _replace_code(resp, "InvalidSubnetID.NotFound", "InvalidSubnet") if resp[0] >= 400 else resp


@hooks.after("route53", {"ChangeResourceRecordSets"})
def _route53(call: wire.Call, resp: wire.Response) -> wire.Response:
    if resp[0] >= 400 and b"<Action>DELETE</Action>" in call.body:
        return _replace_code(resp, "InvalidInput", "InvalidChangeBatch")
    return resp


@hooks.after("ec2")
def _ec2(call: wire.Call, resp: wire.Response) -> wire.Response:
    if resp[0] == 403:
        return _replace_code(resp, "AccessDenied", "UnauthorizedOperation", "You are not authorized to perform this operation.")
    return resp


def json_access_denied(call: wire.Call, resp: wire.Response) -> wire.Response:
    status, headers, body = resp
    if status != 403 or call.protocol != "json" or not body.lstrip().startswith(b"<"):
        return resp
    m = re.search(rb"<Message>(.*?)</Message>", body, re.S)
    message = m.group(1).decode(errors="replace") if m else "Access denied"
    return wire.error_response(call, 403, "AccessDeniedException", message)


for _svc in ("ecs", "secretsmanager", "kms", "logs", "codebuild", "wafv2", "acm", "ecr", "application-autoscaling", "cloudwatch", "events", "scheduler", "stepfunctions", "guardduty", "apprunner", "resourcegroupstaggingapi", "ssm"):
    hooks.after(_svc)(json_access_denied)


@hooks.after("s3")
def _s3_denied(call: wire.Call, resp: wire.Response) -> wire.Response:
    if resp[0] == 403 and not resp[2].strip() and call.method != "HEAD":
        return wire.error_response(call, 403, "AccessDenied", "Access Denied")
    return resp


@hooks.after("ecr", {"PutImage"})
def _ecr_immutable(call: wire.Call, resp: wire.Response) -> wire.Response:
    if resp[0] < 400 or b"ImageAlreadyExistsException" not in resp[2]:
        return resp
    try:
        req = call.json()
        from moto.ecr.models import ecr_backends

        from .util import account_id

        repo = ecr_backends[account_id(call)][call.region].repositories[req["repositoryName"]]
        tag = req.get("imageTag")
        same = [i for i in repo.images if tag in (i.image_tags or []) and i.image_manifest == req.get("imageManifest")]
    except Exception:
        return resp
    if repo.is_tag_immutable() and tag and not same:
        msg = f"The image tag '{tag}' already exists in the '{req['repositoryName']}' repository and cannot be overwritten because the repository is immutable."
        status, headers, body = _replace_code(resp, "ImageAlreadyExistsException", "ImageTagAlreadyExistsException")
        doc = json.loads(body)
        doc["message"] = msg
        return status, headers, json.dumps(doc).encode()
    return resp
