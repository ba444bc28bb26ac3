"""Amazon S3: bucket policies evaluated like AWS does, AWS's GetBucketVersioning body, and
AWS's AccessDenied body.

GetBucketVersioning (moto patch, from e2e/moto/moto_server_compat.py): moto answers with the
root element <GetBucketVersioningResponse>; S3 (and so the strict aws-sdk-s3 parser) uses
<VersioningConfiguration>. boto3 ignores the root name, which is why moto's own tests never
noticed.

Object calls denied by the bucket policy: moto's empty 403 becomes the AccessDenied XML body.

Bucket policies: moto 5.2.5 evaluates bucket policies on object calls but ignores every
condition operator except StringEquals, so `Deny` + `Condition` (the usual TLS-only
statement) denied every request. Here a statement applies only when its Action, Resource,
Principal and *all* its conditions match the request context; any applicable Deny wins,
then any Allow.

aws:SecureTransport: the SDK talks plain HTTP to the emulator only because the emulator is
on loopback; the same request to AWS goes over TLS. So requests count as TLS ("true")
unless the request carries `x-emulator-secure-transport: false` (or the server runs with
EMULATOR_SECURE_TRANSPORT=false), which is how a test proves that a plain-HTTP client is
denied. Principals other than "*" match when they name the caller's account; service
principals never match SDK calls. put_bucket_policy rejects policies AWS would reject as
MalformedPolicy (missing Effect/Action/Resource/Principal, unknown condition operators).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import ipaddress
import json
import os
from typing import Any

from ..core import hooks, wire
from ..core.hooks import Registry

_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def install(reg: Registry) -> None:
    reg.patch(_patch_versioning)
    reg.patch(_patch_policies)
    reg.after("s3")(_denied)


def _denied(call: wire.Call, resp: wire.Response) -> wire.Response:
    if resp[0] == 403 and not resp[2].strip() and call.method != "HEAD":
        return wire.error_response(call, 403, "AccessDenied", "Access Denied")
    return resp


# --------------------------------------------------------------------------- GetBucketVersioning
def _patch_versioning() -> None:
    from moto.s3 import responses as s3_responses

    s3_responses.S3Response.get_bucket_versioning = _get_bucket_versioning


def _get_bucket_versioning(self):  # type: ignore[no-untyped-def]
    status = self.backend.get_bucket_versioning(self.bucket_name)
    # Kept for moto's IAM/action bookkeeping, as the original handler does.
    self.data["Action"] = "GetBucketVersioning"
    inner = f"<Status>{status}</Status>" if status else ""
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<VersioningConfiguration xmlns="{_NS}">{inner}</VersioningConfiguration>'
    return 200, {"Content-Type": "application/xml"}, body


# --------------------------------------------------------------------------- bucket policies
NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals", "DateNotEquals", "NotIpAddress", "ArnNotEquals", "ArnNotLike"}
OPERATORS = NEGATED | {
    "StringEquals", "StringEqualsIgnoreCase", "StringLike", "NumericEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan",
    "NumericGreaterThanEquals", "DateEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals", "Bool",
    "IpAddress", "ArnEquals", "ArnLike", "Null", "BinaryEquals",
}


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def _like(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _date(v: str) -> float:
    try:
        return float(v)
    except ValueError:
        return dt.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()


def _positive(op: str, value: str, expected: str) -> bool:
    base = op.replace("Not", "", 1) if op in NEGATED else op
    try:
        if base == "StringEquals" or base == "ArnEquals":
            return value == expected if base == "StringEquals" else _like(expected, value)
        if base == "StringEqualsIgnoreCase":
            return value.lower() == expected.lower()
        if base in ("StringLike", "ArnLike"):
            return _like(expected, value)
        if base == "Bool":
            return value.lower() == str(expected).lower()
        if base.startswith("Numeric"):
            a, b = float(value), float(expected)
        elif base.startswith("Date"):
            a, b = _date(value), _date(str(expected))
        elif base == "IpAddress":
            return ipaddress.ip_address(value) in ipaddress.ip_network(str(expected), strict=False)
        else:
            return False
        cmp = base.replace("Numeric", "").replace("Date", "")
        return {"Equals": a == b, "LessThan": a < b, "LessThanEquals": a <= b, "GreaterThan": a > b, "GreaterThanEquals": a >= b}[cmp]
    except (ValueError, KeyError):
        return False


def condition_holds(op: str, key: str, expected: Any, ctx: dict[str, list[str]]) -> bool:
    qualifier = ""
    if op.startswith(("ForAnyValue:", "ForAllValues:")):
        qualifier, op = op.split(":", 1)
    if_exists = op.endswith("IfExists")
    base = op[: -len("IfExists")] if if_exists else op
    values = ctx.get(key.lower())
    wanted = [str(e) for e in _list(expected)]
    if base == "Null":
        return (values is None) == (wanted[0].lower() == "true")
    if values is None:
        if if_exists or qualifier == "ForAllValues":
            return True
        return base in NEGATED and qualifier != "ForAnyValue"

    def one(v: str) -> bool:
        hit = any(_positive(base, v, e) for e in wanted)
        return not hit if base in NEGATED else hit

    if qualifier == "ForAllValues":
        return all(one(v) for v in values)
    return any(one(v) for v in values)


def _matches(patterns: Any, value: str, ignore_case: bool = False) -> bool:
    for p in _list(patterns):
        if ignore_case and _like(str(p).lower(), value.lower()) or not ignore_case and _like(str(p), value):
            return True
    return False


def _principal_matches(principal: Any, account: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    for p in _list(principal.get("AWS", [])):
        p = str(p)
        if p == "*" or p == account or p.startswith(f"arn:aws:iam::{account}:") or p.startswith(f"arn:aws:sts::{account}:"):
            return True
    return False


def evaluate(policy: dict[str, Any], action: str, resource: str, ctx: dict[str, list[str]], account: str) -> str:
    """'DENIED', 'PERMITTED' or 'NEUTRAL' for one request."""
    allowed = False
    for st in _list(policy.get("Statement", [])):
        if "NotAction" in st:
            if _matches(st["NotAction"], action, True):
                continue
        elif not _matches(st.get("Action", []), action, True):
            continue
        if "NotResource" in st:
            if _matches(st["NotResource"], resource):
                continue
        elif "Resource" in st and not _matches(st["Resource"], resource):
            continue
        if "NotPrincipal" in st:
            if _principal_matches(st["NotPrincipal"], account):
                continue
        elif "Principal" in st and not _principal_matches(st["Principal"], account):
            continue
        conds = st.get("Condition") or {}
        if not all(condition_holds(op, key, exp, ctx) for op, kv in conds.items() for key, exp in kv.items()):
            continue
        if st.get("Effect") == "Deny":
            return "DENIED"
        allowed = True
    return "PERMITTED" if allowed else "NEUTRAL"


def request_context(account: str) -> dict[str, list[str]]:
    call = hooks.current()
    secure = os.environ.get("EMULATOR_SECURE_TRANSPORT", "true").lower() != "false"
    h = call.headers if call else {}
    if h.get("x-emulator-secure-transport", "").lower() == "false":
        secure = False
    now = dt.datetime.now(dt.timezone.utc)
    ctx = {
        "aws:securetransport": ["true" if secure else "false"],
        "aws:sourceip": [h.get("x-emulator-source-ip", "127.0.0.1")],
        "aws:principalaccount": [account],
        "aws:currenttime": [now.strftime("%Y-%m-%dT%H:%M:%SZ")],
        "aws:epochtime": [str(int(now.timestamp()))],
        "s3:signatureversion": ["AWS4-HMAC-SHA256"],
        "s3:authtype": ["REST-HEADER"],
    }
    if call:
        ctx["aws:requestedregion"] = [call.region]
    if secure:
        ctx["s3:tlsversion"] = ["1.3"]
    for name in ("user-agent", "referer"):
        if h.get(name):
            ctx["aws:" + name.replace("-", "")] = [h[name]]
    for name in ("x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id", "x-amz-acl", "x-amz-content-sha256"):
        if h.get(name):
            ctx["s3:" + name] = [h[name]]
    return ctx


def validate_policy(policy: Any) -> str | None:
    """Why AWS would reject this policy as MalformedPolicy, or None."""
    if not isinstance(policy, dict) or "Statement" not in policy:
        return "Policy has no Statement"
    for st in _list(policy["Statement"]):
        if not isinstance(st, dict):
            return "Statement is not an object"
        if st.get("Effect") not in ("Allow", "Deny"):
            return "Invalid effect"
        if "Action" not in st and "NotAction" not in st:
            return "Missing required field Action"
        if "Resource" not in st and "NotResource" not in st:
            return "Missing required field Resource"
        if "Principal" not in st and "NotPrincipal" not in st:
            return "Missing required field Principal"
        for op in (st.get("Condition") or {}):
            base = op.split(":", 1)[1] if op.startswith(("ForAnyValue:", "ForAllValues:")) else op
            base = base[: -len("IfExists")] if base.endswith("IfExists") else base
            if base not in OPERATORS:
                return f"Invalid Condition type : {op}"
    return None


def _patch_policies() -> None:
    from moto.iam.access_control import PermissionResult
    from moto.s3 import models as s3
    from moto.s3.exceptions import S3ClientError

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(self.policy.decode() if isinstance(self.policy, bytes) else self.policy)
        verdict = evaluate(policy, action, resource, request_context(self.account_id), self.account_id)
        return getattr(PermissionResult, verdict)

    s3.FakeBucket.get_permission = get_permission

    original_put = s3.S3Backend.put_bucket_policy

    def put_bucket_policy(self: Any, bucket_name: str, policy: bytes) -> None:
        try:
            doc = json.loads(policy)
        except ValueError:
            raise S3ClientError("MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'") from None
        reason = validate_policy(doc)
        if reason:
            raise S3ClientError("MalformedPolicy", reason)
        original_put(self, bucket_name, policy)

    s3.S3Backend.put_bucket_policy = put_bucket_policy
