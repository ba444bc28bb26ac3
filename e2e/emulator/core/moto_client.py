"""In-process AWS calls to moto, for extensions that provision resources the way AWS would
(ECS Express Mode's load balancer, target group, certificate, security groups).

`call(service, operation, params, access_key, region)` serialises the request with
botocore's own serializer for the service's protocol, hands it to moto through the
middleware (`Emulator.call_moto`: no faults, no hooks, so nothing of ours runs twice) and
parses the answer with botocore's parser: the same validation, defaults and formats a
client would get. An error answer raises `ApiError` with AWS's code. No service behaviour.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from botocore import parsers, serialize

from . import model


def call(service: str, operation: str, params: dict[str, Any], access_key: str, region: str) -> dict[str, Any]:
    from .middleware import current_emulator

    sm = model.service_model(service)
    op = sm.operation_model(operation)
    protocol = sm.metadata["protocol"]
    request = serialize.create_serializer(protocol, include_validation=True).serialize_to_request(params, op)
    body = request["body"]
    if isinstance(body, dict):
        body = urlencode(body, doseq=True).encode()
    elif isinstance(body, str):
        body = body.encode()
    path = request["url_path"]
    query = request.get("query_string")
    if query:
        path += "?" + (query if isinstance(query, str) else urlencode(query, doseq=True))
    signing = sm.signing_name or sm.endpoint_prefix
    headers = {str(k): str(v) for k, v in request["headers"].items()}
    if isinstance(request["body"], dict):
        headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    headers["Host"] = f"{sm.endpoint_prefix}.{region}.amazonaws.com"
    headers["Authorization"] = f"AWS4-HMAC-SHA256 Credential={access_key or 'AKIAIOSFODNN7EXAMPLE'}/20200101/{region}/{signing}/aws4_request, SignedHeaders=host, Signature=0"
    status, resp_headers, resp_body = current_emulator().call_moto(request["method"], path, body or b"", headers)
    parsed = parsers.create_parser(protocol).parse(
        {"status_code": status, "headers": {k.lower(): v for k, v in resp_headers}, "body": resp_body}, op.output_shape
    )
    if status >= 300:
        err = parsed.get("Error") or {}
        raise model.ApiError(str(err.get("Code") or "InternalFailure"), str(err.get("Message") or resp_body[:200]), status)
    parsed.pop("ResponseMetadata", None)
    return parsed
