"""CloudWatch over smithy rpc-v2-cbor, the only protocol aws-sdk-cloudwatch (Rust) speaks.

`POST /service/GraniteServiceVersion20100801/operation/<Op>` with a CBOR body is decoded,
handed to moto's CloudWatch JSON handler as `X-Amz-Target: GraniteServiceVersion20100801.<Op>`
(awsJson1_0), and the JSON answer is re-encoded as CBOR with `smithy-protocol: rpc-v2-cbor`.
Timestamps travel as CBOR tag 1 (epoch seconds) both ways, as the protocol requires; blobs
as byte strings. Errors keep moto's code and message, in the CBOR error format. moto's
CloudWatch semantics are unchanged (alarms start OK, metrics are never evaluated).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import cbor2

from . import hooks, model, wire
from .model import ApiError

TARGET = "GraniteServiceVersion20100801"


def dumps(value: Any) -> bytes:
    return cbor2.dumps(value, datetime_as_timestamp=True, timezone=dt.timezone.utc)


def _to_json(value: Any, shape: Any) -> Any:
    """CBOR-decoded request -> what moto's JSON handler expects (epoch numbers, base64)."""
    if value is None or shape is None:
        return value
    t = shape.type_name
    if t == "structure" and isinstance(value, dict):
        return {k: _to_json(v, shape.members.get(k)) for k, v in value.items()}
    if t == "list" and isinstance(value, list):
        return [_to_json(v, shape.member) for v in value]
    if t == "map" and isinstance(value, dict):
        return {k: _to_json(v, shape.value) for k, v in value.items()}
    if t == "timestamp" and isinstance(value, dt.datetime):
        return value.timestamp()
    if t == "blob" and isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    return value


def _from_json(value: Any, shape: Any) -> Any:
    """moto's JSON answer -> CBOR values per the output shape (datetimes, bytes)."""
    if value is None or shape is None:
        return value
    t = shape.type_name
    if t == "structure" and isinstance(value, dict):
        # Unknown members and nulls are left out: strict CBOR clients reject them.
        return {k: _from_json(v, shape.members.get(k)) for k, v in value.items() if k in shape.members and v is not None}
    if t == "list" and isinstance(value, list):
        return [_from_json(v, shape.member) for v in value]
    if t == "map" and isinstance(value, dict):
        return {k: _from_json(v, shape.value) for k, v in value.items()}
    if t == "timestamp":
        if isinstance(value, (int, float)):
            return dt.datetime.fromtimestamp(value, tz=dt.timezone.utc)
        if isinstance(value, str):
            try:
                return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return value
    if t == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    if t in ("double", "float") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _cbor_response(call: wire.Call, status: int, payload: dict[str, Any]) -> wire.Response:
    headers = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"), ("x-amzn-RequestId", call.request_id)]
    return status, headers, dumps(payload)


@hooks.before("cloudwatch")
def handle(call: wire.Call) -> wire.Response | None:
    if call.protocol != "smithy-rpc-v2-cbor":
        return None  # awsJson / awsQuery: moto serves those itself
    sm = model.service_model("cloudwatch")
    if call.operation not in sm.operation_names:
        raise ApiError("UnknownOperationException", f"Unknown operation {call.operation}", 404)
    op = sm.operation_model(call.operation)
    try:
        params = cbor2.loads(call.body) if call.body else {}
    except Exception:
        raise ApiError("SerializationException", "request body is not valid CBOR") from None
    # The Rust SDK only sends model-valid input; anything else is a bug worth a clear error.
    errors = model.validate(params, op.input_shape, patterns=False)
    if errors:
        raise ApiError(model.validation_error_code(op), "; ".join(errors))
    body = json.dumps(_to_json(params, op.input_shape) or {}).encode()
    from .middleware import current_emulator

    status, headers, out = current_emulator().call_moto(
        "POST",
        "/",
        body,
        {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"{TARGET}.{call.operation}",
            # moto routes by the credential scope; keep the caller's key (account mapping).
            "Authorization": f"AWS4-HMAC-SHA256 Credential={call.access_key or 'AKIAIOSFODNN7EXAMPLE'}/20200101/{call.region}/monitoring/aws4_request, SignedHeaders=host, Signature=0",
        },
    )
    try:
        doc = json.loads(out) if out.strip() else {}
    except ValueError:
        doc = None
    if status >= 400 or doc is None:
        code = next((v for k, v in headers if k.lower() == "x-amzn-errortype"), None) or (doc or {}).get("__type") or "InternalFailure"
        code = code.split("#")[-1].split(":")[0]
        message = (doc or {}).get("message") or (doc or {}).get("Message") or out.decode(errors="replace")[:300]
        return wire.error_response(call, status if status >= 400 else 500, code, message)
    return _cbor_response(call, 200, _from_json(doc, op.output_shape) or {})
