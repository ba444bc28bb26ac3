"""botocore service models: the single source of truth for our extensions' API surface.

Every request to an extension is parsed and validated here against the input shape of the
installed botocore's official model, and every response is validated against the output
shape before it is serialised, so an extension cannot drift from the real API. Must not
contain service behaviour (that lives in the service modules).
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import threading
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.validate import ParamValidator

_lock = threading.Lock()
_session = botocore.session.get_session()
_models: dict[str, ServiceModel] = {}


class ApiError(Exception):
    """An error the service itself would return (code from the model, HTTP status)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class ModelDrift(Exception):
    """Our own response does not fit the model: a bug in the emulator, never the client's."""


def service_model(name: str) -> ServiceModel:
    with _lock:
        model = _models.get(name)
        if model is None:
            model = _session.get_service_model(name)
            _models[name] = model
        return model


_missing: set[str] = set()


def has_model(name: str) -> bool:
    if name in _missing:
        return False
    try:
        service_model(name)
        return True
    except Exception:  # botocore raises UnknownServiceError and friends
        _missing.add(name)
        return False


def validation_error_code(op: OperationModel) -> str:
    """The error code the service uses for a request that breaks its input constraints.

    Services that model ValidationException use it; App Runner has only
    InvalidRequestException, ECS InvalidParameterException.
    """
    names = [e.name for e in op.error_shapes]
    for code in ("ValidationException", "InvalidParameterException", "InvalidRequestException", "InvalidInputException", "BadRequestException", "WAFInvalidParameterException"):
        if code in names:
            return code
    return "ValidationException"


def to_datetime(value: Any) -> Any:
    """A wire timestamp (epoch number or ISO 8601 text) as a datetime; anything else as it is."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, tz=dt.timezone.utc)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value


def deserialize(value: Any, shape: Shape | None) -> Any:
    """JSON wire value -> Python value per shape (timestamps, blobs); leaves mismatches alone
    so the validator reports them."""
    if shape is None or value is None:
        return value
    t = shape.type_name
    if t == "structure" and isinstance(value, dict):
        out = {}
        for k, v in value.items():
            member = shape.members.get(k)
            out[k] = deserialize(v, member) if member is not None else v
        return out
    if t == "list" and isinstance(value, list):
        return [deserialize(v, shape.member) for v in value]
    if t == "map" and isinstance(value, dict):
        return {k: deserialize(v, shape.value) for k, v in value.items()}
    if t == "timestamp":
        return to_datetime(value)
    if t == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            return value
    return value


def serialize(value: Any, shape: Shape) -> Any:
    """Python value -> JSON wire value per shape; unknown members are a drift bug."""
    t = shape.type_name
    if t == "structure":
        out = {}
        for k, v in value.items():
            if v is None:
                continue
            member = shape.members.get(k)
            if member is None:
                raise ModelDrift(f"{shape.name} has no member {k}")
            out[k] = serialize(v, member)
        return out
    if t == "list":
        return [serialize(v, shape.member) for v in value]
    if t == "map":
        return {k: serialize(v, shape.value) for k, v in value.items()}
    if t == "timestamp":
        if isinstance(value, dt.datetime):
            return round(value.timestamp(), 3)
        return value
    if t == "blob" and isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _constraint_errors(value: Any, shape: Shape, path: str, out: list[str], patterns: bool = True) -> None:
    """Constraints botocore's ParamValidator leaves out: max, enum, pattern."""
    if value is None:
        return
    t = shape.type_name
    meta = shape.metadata
    if t == "structure" and isinstance(value, dict):
        for k, v in value.items():
            member = shape.members.get(k)
            if member is not None:
                _constraint_errors(v, member, f"{path}.{k}", out, patterns)
        return
    if t == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"{path}: list length {len(value)} exceeds maximum {meta['max']}")
        for i, v in enumerate(value):
            _constraint_errors(v, shape.member, f"{path}[{i}]", out, patterns)
        return
    if t == "map" and isinstance(value, dict):
        for k, v in value.items():
            _constraint_errors(v, shape.value, f"{path}.{k}", out, patterns)
        return
    if t == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"{path}: length {len(value)} exceeds maximum {meta['max']}")
        enum = getattr(shape, "enum", None) or []
        if enum and value not in enum:
            out.append(f"{path}: '{value}' is not one of {enum}")
        pattern = meta.get("pattern")
        if patterns and pattern and not _pattern_ok(pattern, value):
            out.append(f"{path}: '{value}' does not match pattern {pattern}")
        return
    if t in ("integer", "long", "float", "double") and isinstance(value, (int, float)):
        if "max" in meta and value > meta["max"]:
            out.append(f"{path}: {value} exceeds maximum {meta['max']}")


_pattern_cache: dict[str, re.Pattern[str] | None] = {}


def _pattern_ok(pattern: str, value: str) -> bool:
    compiled = _pattern_cache.get(pattern, ...)
    if compiled is ...:
        try:
            # The ones botocore ships compile in Python (ECMA-262 subset).
            compiled = re.compile(pattern, re.DOTALL)
        except re.error:
            compiled = None
        _pattern_cache[pattern] = compiled
    # AWS front ends match the whole value (Java matches()), e.g. App Runner rejects
    # "my service!" as ServiceName although Smithy patterns are formally unanchored.
    return compiled is None or compiled.fullmatch(value) is not None


def validate(params: Any, shape: Shape | None, patterns: bool = True) -> list[str]:
    """All constraint violations of params against shape (empty list when valid)."""
    if shape is None:
        return [] if not params else ["operation takes no input"]
    if not isinstance(params, dict):
        return [f"expected a JSON object for {shape.name}"]
    report = ParamValidator().validate(params, shape)
    errors = [line.strip() for line in report.generate_report().splitlines() if line.strip()] if report.has_errors() else []
    _constraint_errors(params, shape, shape.name, errors, patterns)
    return errors


def parse_input(op: OperationModel, raw: Any) -> dict[str, Any]:
    """Deserialise and validate a JSON request; raises the service's own validation error."""
    params = deserialize(raw, op.input_shape) if op.input_shape is not None else raw
    errors = validate(params, op.input_shape)
    if errors:
        code = validation_error_code(op)
        raise ApiError(code, f"{len(errors)} validation error(s) detected: " + "; ".join(errors))
    return params or {}


def _strip_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_none(v) for v in value]
    return value


def build_output(op: OperationModel, result: dict[str, Any]) -> dict[str, Any]:
    """Validate our result against the output shape, then serialise it for the wire."""
    shape = op.output_shape
    if shape is None:
        return {}
    result = _strip_none(result)
    # Output patterns are not checked: some models contradict themselves there (App Runner's
    # ServiceId is 32 characters long but carries a 36-character UUID pattern).
    errors = validate(result, shape, patterns=False)
    if errors:
        raise ModelDrift(f"{op.name} output does not match the model: " + "; ".join(errors))
    return serialize(result, shape)


def error_message_member(model: ServiceModel, code: str) -> str:
    """'Message' or 'message', as the model's error shape spells it."""
    try:
        shape = model.shape_for(code)
    except Exception:
        return "message"
    members = getattr(shape, "members", {}) or {}
    for name in members:
        if name.lower() == "message":
            return name
    return "message"


def error_status(service: str | None, code: str, default: int) -> int:
    """The HTTP status the model gives an error shape (e.g. RDS DBClusterNotFoundFault 404)."""
    if not service or not has_model(service):
        return default
    try:
        shape = service_model(service).shape_for(code)
    except Exception:
        return default
    return int(shape.metadata.get("error", {}).get("httpStatusCode", default))
