"""awsQuery wire format driven by botocore shapes: form parameters in, XML out.

Used by the extensions that answer query-protocol operations moto lacks (RDS backtrack),
so their answers have exactly the element names the model (and so the SDKs) expect.
No service behaviour.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from xml.sax.saxutils import escape

from botocore.model import OperationModel, Shape

from . import wire


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _parse(form: dict[str, list[str]], key: str, shape: Shape) -> Any:
    t = shape.type_name
    if t == "structure":
        out = {}
        for name, member in shape.members.items():
            v = _parse(form, _join(key, member.serialization.get("name", name)), member)
            if v is not None:
                out[name] = v
        return out or None
    if t == "list":
        item = shape.member.serialization.get("name", "member")
        flat = shape.serialization.get("flattened", False)
        values = []
        for i in range(1, 1000):
            v = _parse(form, f"{key}.{i}" if flat else f"{key}.{item}.{i}", shape.member)
            if v is None:
                break
            values.append(v)
        return values or None
    raw = form.get(key)
    if not raw:
        return None
    text = raw[0]
    if t in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            return text
    if t == "boolean":
        return text.lower() == "true" if text.lower() in ("true", "false") else text
    if t == "timestamp":
        try:
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text
    return text


def query_params(call: wire.Call, shape: Shape | None) -> dict[str, Any]:
    if shape is None:
        return {}
    form = {**call.query, **call.form()}
    form.pop("Action", None)
    form.pop("Version", None)
    return _parse(form, "", shape) or {}


def _xml(value: Any, shape: Shape) -> str:
    t = shape.type_name
    if t == "structure":
        parts = []
        for name, member in shape.members.items():
            v = value.get(name)
            if v is None:
                continue
            tag = member.serialization.get("name", name)
            parts.append(f"<{tag}>{_xml(v, member)}</{tag}>")
        return "".join(parts)
    if t == "list":
        item = shape.member.serialization.get("name", "member")
        return "".join(f"<{item}>{_xml(v, shape.member)}</{item}>" for v in value)
    if t == "timestamp" and isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if t == "boolean":
        return "true" if value else "false"
    return escape(str(value))


def query_response(call: wire.Call, op: OperationModel, result: dict[str, Any]) -> wire.Response:
    sm = op.service_model
    ns = f"http://{sm.endpoint_prefix}.amazonaws.com/doc/{sm.api_version}/"
    shape = op.output_shape
    inner = _xml(result, shape) if shape is not None else ""
    wrapper = shape.serialization.get("resultWrapper", f"{op.name}Result") if shape is not None else f"{op.name}Result"
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{op.name}Response xmlns="{ns}"><{wrapper}>{inner}</{wrapper}>'
        f"<ResponseMetadata><RequestId>{call.request_id}</RequestId></ResponseMetadata></{op.name}Response>"
    )
    return 200, [("Content-Type", "text/xml"), ("x-amzn-RequestId", call.request_id)], body.encode()
