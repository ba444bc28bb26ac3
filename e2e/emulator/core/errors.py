"""moto's error answers corrected where their *format* is wrong, for any service.

* `replace_code`: the helper services use to swap one of moto's error codes for AWS's
  (query/rest XML `<Code>` or JSON `__type` + `x-amzn-ErrorType`).
* IAM denial on a JSON-protocol service: moto answers with its 403 query-XML body; the
  caller's protocol gets the JSON `AccessDeniedException` instead (`install`, for the
  services in JSON_SERVICES).

Response rewrites only; which code a service should answer is its own module's business.
"""

from __future__ import annotations

import json
import re

from . import wire
from .hooks import Registry

# The JSON-protocol services whose IAM denials are rewritten.
JSON_SERVICES = ("ecs", "secretsmanager", "kms", "logs", "codebuild", "wafv2", "acm", "ecr", "application-autoscaling", "cloudwatch", "events", "scheduler", "stepfunctions", "guardduty", "apprunner", "resourcegroupstaggingapi", "ssm")


def install(reg: Registry) -> None:
    for service in JSON_SERVICES:
        reg.after(service)(json_access_denied)


def replace_code(resp: wire.Response, old: str, new: str, message: str | None = None) -> wire.Response:
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


def json_access_denied(call: wire.Call, resp: wire.Response) -> wire.Response:
    status, headers, body = resp
    if status != 403 or call.protocol != "json" or not body.lstrip().startswith(b"<"):
        return resp
    m = re.search(rb"<Message>(.*?)</Message>", body, re.S)
    message = m.group(1).decode(errors="replace") if m else "Access denied"
    return wire.error_response(call, 403, "AccessDeniedException", message)
