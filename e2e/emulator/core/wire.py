"""Wire level: which service/operation a request is, and error bodies per AWS protocol.

Identification uses what a real endpoint has: the SigV4 signing name, X-Amz-Target,
the rpc-v2-cbor path, the query `Action`, and for REST protocols the botocore model's
HTTP bindings. Error bodies follow each protocol's real format, so the Rust SDK's error
parsers and retry classifiers see exactly what AWS would send. No service behaviour here.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from . import model

# SigV4 signing name -> botocore service name, where they differ or are ambiguous.
SIGNING_TO_SERVICE = {
    "monitoring": "cloudwatch",
    "email": "ses",
    "tagging": "resourcegroupstaggingapi",
    "states": "stepfunctions",
    "elasticloadbalancing": "elbv2",
    "execute-api": "apigateway",
    "events": "events",
}

# X-Amz-Target prefixes of the JSON services we route by target when unsigned.
TARGET_TO_SERVICE = {
    "AppRunner": "apprunner",
    "AmazonEC2ContainerServiceV20141113": "ecs",
    "CodeBuild_20161006": "codebuild",
    "AWSWAF_20190729": "wafv2",
    "GraniteServiceVersion20100801": "cloudwatch",
    "secretsmanager": "secretsmanager",
    "TrentService": "kms",
    "Logs_20140328": "logs",
    "CertificateManager": "acm",
    "AmazonEC2ContainerRegistry_V20150921": "ecr",
    "AnyScaleFrontendService": "application-autoscaling",
}

CBOR_PATH = re.compile(r"^/service/(?P<svc>[^/]+)/operation/(?P<op>[^/]+)$")


@dataclass
class Call:
    """One request as the emulator sees it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    service: str | None = None  # botocore service name
    region: str = "us-east-1"
    access_key: str = ""
    protocol: str = "rest-xml"
    operation: str | None = None
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def form(self) -> dict[str, list[str]]:
        if self.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            try:
                return parse_qs(self.body.decode(), keep_blank_values=True)
            except UnicodeDecodeError:
                return {}
        return {}

    def param(self, name: str) -> str | None:
        """A query-protocol parameter from the form body or the query string."""
        values = self.form().get(name) or self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        return json.loads(self.body or b"{}")

    def json_or_empty(self) -> Any:
        """The JSON body, or `{}` when it is not JSON (for answers rewritten after moto's,
        which has already refused a malformed request)."""
        try:
            return self.json()
        except ValueError:
            return {}


def _credential_scope(auth: str) -> tuple[str, str, str] | None:
    m = re.search(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request", auth)
    return (m.group(1), m.group(2), m.group(3)) if m else None


def identify(call: Call) -> None:
    """Fill in service, region, protocol and operation (best effort, never raises)."""
    h = call.headers
    signing = None
    scope = _credential_scope(h.get("authorization", ""))
    if scope:
        call.access_key, call.region, signing = scope
    target = h.get("x-amz-target", "")
    cbor = CBOR_PATH.match(call.path) if h.get("smithy-protocol") == "rpc-v2-cbor" else None

    service = None
    if cbor:
        service = "cloudwatch" if cbor.group("svc") == "GraniteServiceVersion20100801" else signing
    elif signing:
        service = SIGNING_TO_SERVICE.get(signing, signing)
        if signing == "ses" and call.path.startswith("/v2/"):
            service = "sesv2"
        elif signing == "s3" and call.path.startswith("/v20180820/"):
            service = "s3control"
        elif signing == "elasticloadbalancing" and call.param("Version") == "2012-06-01":
            service = "elb"
    elif target:
        service = TARGET_TO_SERVICE.get(target.split(".", 1)[0])
    call.service = service
    if not service or not model.has_model(service):
        return
    sm = model.service_model(service)
    call.protocol = sm.protocol
    if cbor:
        call.protocol = "smithy-rpc-v2-cbor"
        call.operation = cbor.group("op")
    elif sm.protocol == "json" or target:
        call.protocol = "json" if target else sm.protocol
        call.operation = target.split(".", 1)[1] if "." in target else None
    elif sm.protocol in ("query", "ec2"):
        call.operation = call.param("Action")
    else:
        call.operation = match_rest_operation(service, call.method, call.path, call.query)


_rest_tables: dict[str, list[tuple[str, re.Pattern[str], list[str], int, str]]] = {}
_rest_lock = threading.Lock()


def _rest_table(service: str) -> list[tuple[str, re.Pattern[str], list[str], int, str]]:
    with _rest_lock:
        table = _rest_tables.get(service)
        if table is not None:
            return table
        table = []
        sm = model.service_model(service)
        for name in sm.operation_names:
            http = sm.operation_model(name).http
            uri = http.get("requestUri", "/")
            path, _, qs = uri.partition("?")
            keys = [kv.split("=", 1)[0] for kv in qs.split("&") if kv]
            literal = 0
            rx = ""
            for part in re.split(r"(\{[^}]+\})", path):
                if part.startswith("{"):
                    rx += "(.+)" if part.endswith("+}") else "([^/]+)"
                else:
                    rx += re.escape(part)
                    literal += len(part)
            table.append((http.get("method", "POST"), re.compile("^" + rx.rstrip("/") + "/?$"), keys, literal + 100 * len(keys), name))
        _rest_tables[service] = table
        return table


def match_rest_operation(service: str, method: str, path: str, query: dict[str, list[str]]) -> str | None:
    best: tuple[int, str] | None = None
    for m, rx, keys, score, name in _rest_table(service):
        if m != method or not rx.match(path):
            continue
        if any(k not in query for k in keys):
            continue
        if best is None or score > best[0]:
            best = (score, name)
    return best[1] if best else None


# ---------------------------------------------------------------- error bodies

THROTTLE_DEFAULTS = {
    "json": (400, "ThrottlingException", "Rate exceeded"),
    "smithy-rpc-v2-cbor": (400, "ThrottlingException", "Rate exceeded"),
    "query": (400, "Throttling", "Rate exceeded"),
    "ec2": (503, "RequestLimitExceeded", "Request limit exceeded."),
    "rest-json": (429, "TooManyRequestsException", "Too Many Requests"),
    "rest-xml": (400, "Throttling", "Rate exceeded"),
    "s3": (503, "SlowDown", "Please reduce your request rate."),
}

SERVER_ERROR_DEFAULTS = {
    "json": "InternalFailure",
    "smithy-rpc-v2-cbor": "InternalFailure",
    "query": "InternalFailure",
    "ec2": "InternalError",
    "rest-json": "InternalFailure",
    "rest-xml": "InternalFailure",
    "s3": "InternalError",
}


def protocol_key(call: Call) -> str:
    if call.service == "s3":
        return "s3"
    return call.protocol if call.protocol in THROTTLE_DEFAULTS else "json"


Response = tuple[int, list[tuple[str, str]], bytes]


def error_response(call: Call, status: int, code: str, message: str) -> Response:
    """An error in the wire format of the call's protocol."""
    rid = call.request_id
    proto = protocol_key(call)
    sender = "Sender" if status < 500 else "Receiver"
    headers = [("x-amzn-RequestId", rid)]
    msg_member = "message"
    if call.service and model.has_model(call.service):
        msg_member = model.error_message_member(model.service_model(call.service), code)
    if proto == "json":
        sm = model.service_model(call.service) if call.service and model.has_model(call.service) else None
        version = (sm.metadata.get("jsonVersion") if sm else None) or "1.1"
        headers += [("Content-Type", f"application/x-amz-json-{version}"), ("x-amzn-ErrorType", code)]
        if sm is not None and sm.metadata.get("awsQueryCompatible") is not None:
            headers.append(("x-amzn-query-error", f"{code};{sender}"))
        return status, headers, json.dumps({"__type": code, msg_member: message}).encode()
    if proto == "smithy-rpc-v2-cbor":
        from . import cbor

        headers += [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"), ("x-amzn-query-error", f"{code};{sender}")]
        return status, headers, cbor.dumps({"__type": code, "message": message})
    if proto == "rest-json":
        headers += [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)]
        return status, headers, json.dumps({msg_member: message}).encode()
    headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)]
    if proto == "ec2":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"</Error></Errors><RequestID>{rid}</RequestID></Response>"
        )
    elif proto == "s3":
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", rid)]
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error>'
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{rid}</RequestId><HostId>emulator</HostId></Error>"
        )
    else:
        ns = ""
        if call.service and model.has_model(call.service):
            sm = model.service_model(call.service)
            ns = f' xmlns="https://{sm.endpoint_prefix}.amazonaws.com/doc/{sm.api_version}/"'
        body = (
            f"<ErrorResponse{ns}><Error><Type>{sender}</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>"
        )
    return status, headers, body.encode()


def json_body(call: Call) -> Any:
    """The request's JSON body; AWS's SerializationException when it is not JSON."""
    try:
        return call.json()
    except ValueError:
        raise model.ApiError("SerializationException", "request body is not valid JSON") from None


def json_params(call: Call, op: Any) -> dict[str, Any]:
    """The request's JSON body, parsed and validated against `op`'s input shape."""
    return model.parse_input(op, json_body(call))


def rewrite_json(resp: Response, fn: Any) -> Response:
    """A successful JSON answer with `fn` applied to its document (in place); anything
    else as it is."""
    status, headers, body = resp
    if status != 200:
        return resp
    try:
        doc = json.loads(body)
    except ValueError:
        return resp
    fn(doc)
    return status, headers, json.dumps(doc).encode()


def json_response(call: Call, payload: dict[str, Any], status: int = 200) -> Response:
    version = "1.0"
    if call.service and model.has_model(call.service):
        version = model.service_model(call.service).metadata.get("jsonVersion") or "1.0"
    headers = [("Content-Type", f"application/x-amz-json-{version}"), ("x-amzn-RequestId", call.request_id)]
    return status, headers, json.dumps(payload).encode()
