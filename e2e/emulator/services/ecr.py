"""Amazon ECR: AWS's error for an immutable tag that already exists.

Error code: PutImage of an existing tag on an IMMUTABLE repository with a different image
answers ImageTagAlreadyExistsException with AWS's message (moto:
ImageAlreadyExistsException). The images CodeBuild builds push are in codebuild.py.
"""

from __future__ import annotations

import json

from ..core import wire
from ..core.errors import replace_code
from ..core.hooks import Registry
from ..core.util import account_id


def install(reg: Registry) -> None:
    reg.after("ecr", {"PutImage"})(_immutable_tag)


def _immutable_tag(call: wire.Call, resp: wire.Response) -> wire.Response:
    if resp[0] < 400 or b"ImageAlreadyExistsException" not in resp[2]:
        return resp
    try:
        req = call.json()
        from moto.ecr.models import ecr_backends

        repo = ecr_backends[account_id(call)][call.region].repositories[req["repositoryName"]]
        tag = req.get("imageTag")
        same = [i for i in repo.images if tag in (i.image_tags or []) and i.image_manifest == req.get("imageManifest")]
    except Exception:
        return resp
    if repo.is_tag_immutable() and tag and not same:
        msg = f"The image tag '{tag}' already exists in the '{req['repositoryName']}' repository and cannot be overwritten because the repository is immutable."
        status, headers, body = replace_code(resp, "ImageAlreadyExistsException", "ImageTagAlreadyExistsException")
        doc = json.loads(body)
        doc["message"] = msg
        return status, headers, json.dumps(doc).encode()
    return resp
