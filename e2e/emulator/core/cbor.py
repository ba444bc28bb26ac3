"""The smithy rpc-v2-cbor codec: CBOR bodies <-> the JSON values moto's handlers speak.

Timestamps travel as CBOR tag 1 (epoch seconds) both ways, as the protocol requires; blobs
as byte strings; values are converted along a botocore shape. Protocol only: the service
that uses it (CloudWatch, the only one the Rust SDK reaches over CBOR) is
`services/cloudwatch.py`.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import cbor2

from . import model, wire


def dumps(value: Any) -> bytes:
    return cbor2.dumps(value, datetime_as_timestamp=True, timezone=dt.timezone.utc)


def to_json(value: Any, shape: Any) -> Any:
    """CBOR-decoded request -> what moto's JSON handler expects (epoch numbers, base64)."""
    if value is None or shape is None:
        return value
    t = shape.type_name
    if t == "structure" and isinstance(value, dict):
        return {k: to_json(v, shape.members.get(k)) for k, v in value.items()}
    if t == "list" and isinstance(value, list):
        return [to_json(v, shape.member) for v in value]
    if t == "map" and isinstance(value, dict):
        return {k: to_json(v, shape.value) for k, v in value.items()}
    if t == "timestamp" and isinstance(value, dt.datetime):
        return value.timestamp()
    if t == "blob" and isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    return value


def from_json(value: Any, shape: Any) -> Any:
    """moto's JSON answer -> CBOR values per the output shape (datetimes, bytes)."""
    if value is None or shape is None:
        return value
    t = shape.type_name
    if t == "structure" and isinstance(value, dict):
        # Unknown members and nulls are left out: strict CBOR clients reject them.
        return {k: from_json(v, shape.members.get(k)) for k, v in value.items() if k in shape.members and v is not None}
    if t == "list" and isinstance(value, list):
        return [from_json(v, shape.member) for v in value]
    if t == "map" and isinstance(value, dict):
        return {k: from_json(v, shape.value) for k, v in value.items()}
    if t == "timestamp":
        return model.to_datetime(value)
    if t == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    if t in ("double", "float") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def response(call: wire.Call, status: int, payload: dict[str, Any]) -> wire.Response:
    headers = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"), ("x-amzn-RequestId", call.request_id)]
    return status, headers, dumps(payload)
