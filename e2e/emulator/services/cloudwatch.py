"""CloudWatch over smithy rpc-v2-cbor, the only protocol aws-sdk-cloudwatch (Rust) speaks.

`POST /service/GraniteServiceVersion20100801/operation/<Op>` with a CBOR body is decoded,
validated against the model, handed to moto's CloudWatch JSON handler as
`X-Amz-Target: GraniteServiceVersion20100801.<Op>` (awsJson1_0), and the JSON answer is
re-encoded as CBOR with `smithy-protocol: rpc-v2-cbor` (codec: core/cbor.py). Errors keep
moto's code and message, in the CBOR error format. awsJson / awsQuery calls go to moto
untouched. moto's CloudWatch semantics are unchanged (alarms start OK, metrics are never
evaluated).
"""

from __future__ import annotations

import json

import cbor2

from ..core import cbor, model, wire
from ..core.hooks import Registry
from ..core.model import ApiError

TARGET = "GraniteServiceVersion20100801"


def install(reg: Registry) -> None:
    reg.before("cloudwatch")(handle)


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
    body = json.dumps(cbor.to_json(params, op.input_shape) or {}).encode()
    from ..core.middleware import current_emulator

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
    return cbor.response(call, 200, cbor.from_json(doc, op.output_shape) or {})
