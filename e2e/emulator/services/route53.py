"""Amazon Route 53: what AWS refuses and reports that moto does not.

- `CreateHostedZone` with a `CallerReference` already used in the account (by a zone that
  exists or existed) answers `HostedZoneAlreadyExists` (409); moto created a second zone.
  This is what makes a create retried after a crash safe.
- `ChangeResourceRecordSets` with a `CREATE` of a record set that exists (and is not
  deleted earlier in the same batch) answers `InvalidChangeBatch`; moto replaced it.
- A `DELETE` must name the set exactly as it is (values, TTL, alias target), else
  `InvalidChangeBatch` (moto deleted by name and type, and answered `InvalidInput` for a
  set that does not exist). With the CREATE rule this makes DELETE+CREATE in one batch a
  compare-and-swap, as on AWS.
- Changes are `PENDING` for `route53.change` seconds (`ChangeResourceRecordSets`'s answer
  and `GetChange`), then `INSYNC`; moto answered `INSYNC` at once. The records are in the
  zone (and listed) at once, as on AWS.

Hosted zones and records are moto's; App Runner custom domains, SES identities and ACM
validation read them (apprunner.py, sesv2.py, acm.py).
"""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as ET
from typing import Any

from ..core import util, wire
from ..core.config import CONFIG
from ..core.errors import replace_code
from ..core.hooks import Registry

_lock = threading.Lock()
# (account, caller reference) of every zone created since the last reset.
_references: set[tuple[str, str]] = set()
# change id -> when it was made
_changes: dict[str, Any] = {}


def install(reg: Registry) -> None:
    reg.patch(_patch_moto)
    reg.before("route53", {"CreateHostedZone"})(_create_zone)
    reg.after("route53", {"CreateHostedZone"})(_zone_created)
    reg.before("route53", {"ChangeResourceRecordSets"})(_create_existing)
    reg.after("route53", {"ChangeResourceRecordSets"})(_delete_mismatch)
    reg.after("route53", {"ChangeResourceRecordSets"})(_pending)
    reg.after("route53", {"GetChange"})(_get_change)
    reg.on_reset(_reset)


def _patch_moto() -> None:
    """moto refuses a CREATE that repeats an earlier change of its journal when any set
    sorts at or after its name (it lists from the name, not at it), and without regard to a
    DELETE of that set earlier in the same batch; AWS refuses a CREATE only of a set that
    exists after the batch's earlier changes, which `_create_existing` checks before moto
    is called. The repeated entries leave the journal for the call; the CREATE puts its
    own back."""
    from moto.route53.models import Route53Backend

    original = Route53Backend.change_resource_record_sets

    def change_resource_record_sets(self: Any, zoneid: str, change_list: list[dict[str, Any]]) -> None:
        zone = self.get_hosted_zone(zoneid)
        for c in change_list:
            if c.get("Action") == "CREATE":
                while c in zone.rr_changes:
                    zone.rr_changes.remove(c)
        original(self, zoneid, change_list)

    Route53Backend.change_resource_record_sets = change_resource_record_sets


def _reset() -> None:
    with _lock:
        _references.clear()
        _changes.clear()


def _text(body: bytes, tag: str) -> str | None:
    m = re.search(rf"<{tag}>(.*?)</{tag}>".encode(), body, re.S)
    return m.group(1).decode() if m else None


def _backend(account: str) -> Any:
    from moto.route53.models import route53_backends

    return route53_backends[account]["aws"]


def _create_zone(call: wire.Call) -> wire.Response | None:
    reference = _text(call.body, "CallerReference")
    if reference is None:
        return None
    account = util.account_id(call)
    with _lock:
        used = (account, reference) in _references
    if not used:
        try:
            used = any(z.caller_reference == reference for z in list(_backend(account).zones.values()))
        except Exception:
            used = False
    if used:
        return wire.error_response(
            call, 409, "HostedZoneAlreadyExists",
            "A hosted zone has already been created with the specified caller reference.",
        )
    return None


def _zone_created(call: wire.Call, resp: wire.Response) -> wire.Response:
    reference = _text(call.body, "CallerReference")
    if resp[0] < 300 and reference is not None:
        with _lock:
            _references.add((util.account_id(call), reference))
    return resp


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _changes_of(body: bytes) -> list[dict[str, Any]]:
    """Each change of the batch: Action, Name, Type, SetIdentifier, TTL, Values, Alias."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return []
    out = []
    for change in root.iter():
        if _local(change.tag) != "Change":
            continue
        fields: dict[str, Any] = {"Values": []}
        for el in change.iter():
            tag = _local(el.tag)
            if tag in ("Action", "Name", "Type", "SetIdentifier", "TTL") and el.text:
                fields.setdefault(tag, el.text)
            elif tag == "Value" and el.text is not None:
                fields["Values"].append(el.text)
            elif tag == "DNSName" and el.text:
                fields["Alias"] = _norm(el.text)
        if all(k in fields for k in ("Action", "Name", "Type")):
            out.append(fields)
    return out


def _norm(name: str) -> str:
    return name.lower().rstrip(".")


def _value(v: Any) -> str:
    return str(v.get("Value", "") if isinstance(v, dict) else v)


def _matches(rr: Any, change: dict[str, Any]) -> bool:
    """Whether a DELETE names the set exactly as it is (AWS deletes only exact matches)."""
    alias = (rr.alias_target or {}).get("DNSName") if isinstance(rr.alias_target, dict) else None
    if alias or change.get("Alias"):
        return _norm(alias or "") == change.get("Alias", "")
    if change.get("TTL") is not None and rr.ttl is not None and str(rr.ttl) != str(change["TTL"]):
        return False
    return sorted(_value(v) for v in (rr.records or [])) == sorted(change["Values"])


def _create_existing(call: wire.Call) -> wire.Response | None:
    m = re.search(r"/hostedzone/([^/]+)/rrset", call.path)
    if not m:
        return None
    try:
        zone = _backend(util.account_id(call)).zones.get(m.group(1))
    except Exception:
        zone = None
    if zone is None:
        return None
    sets = {(_norm(r.name), (r.type or "").upper(), r.set_identifier): r for r in list(zone.rrsets)}
    existing = set(sets)
    for change in _changes_of(call.body):
        action, name, type_ = change["Action"].upper(), change["Name"], change["Type"]
        key = (_norm(name), type_.upper(), change.get("SetIdentifier"))
        label = f"[name='{_norm(name)}.', type='{type_}']"
        if action == "DELETE":
            rr = sets.get(key)
            if key in existing and rr is not None and not _matches(rr, change):
                return wire.error_response(
                    call, 400, "InvalidChangeBatch",
                    f"[Tried to delete resource record set {label} but the values provided do not match the current values]",
                )
            existing.discard(key)
        elif action == "CREATE":
            if key in existing:
                return wire.error_response(
                    call, 400, "InvalidChangeBatch",
                    f"[Tried to create resource record set {label} but it already exists]",
                )
            existing.add(key)
        elif action == "UPSERT":
            existing.add(key)
    return None


def _delete_mismatch(call: wire.Call, resp: wire.Response) -> wire.Response:
    if resp[0] >= 400 and b"<Action>DELETE</Action>" in call.body:
        return replace_code(resp, "InvalidInput", "InvalidChangeBatch")
    return resp


def _pending(call: wire.Call, resp: wire.Response) -> wire.Response:
    if resp[0] >= 300:
        return resp
    change_id = _text(resp[2], "Id")
    if change_id is None:
        return resp
    with _lock:
        _changes[change_id.rsplit("/", 1)[-1]] = util.now()
    return _rewrite_status(change_id, resp)


def _rewrite_status(change_id: str, resp: wire.Response) -> wire.Response:
    with _lock:
        since = _changes.get(change_id.rsplit("/", 1)[-1])
    if since is None or util.elapsed(since) >= CONFIG.duration("route53.change"):
        return resp
    status, headers, body = resp
    body = body.replace(b"<Status>INSYNC</Status>", b"<Status>PENDING</Status>")
    headers = [(k, str(len(body)) if k.lower() == "content-length" else v) for k, v in headers]
    return status, headers, body


def _get_change(call: wire.Call, resp: wire.Response) -> wire.Response:
    if resp[0] >= 300:
        return resp
    change_id = call.path.rstrip("/").rsplit("/", 1)[-1]
    return _rewrite_status(change_id, resp)
