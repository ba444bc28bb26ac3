"""Lifecycle time for XML-protocol resources moto makes final at once: the machinery.

moto creates, modifies and deletes RDS clusters/instances/snapshots, NAT gateways,
interface endpoints and CloudFormation stacks instantly. We rewrite moto's *responses*
(never its state): a resource created less than `<kind>.create` seconds ago is reported
as creating/pending/CREATE_IN_PROGRESS, one modified less than `<kind>.modify` ago as
modifying, and one deleted less than `<kind>.delete` ago is still listed (from the last
XML moto showed us) as deleting/DELETE_IN_PROGRESS. Zero durations (the default) leave
moto's answers as they are, except that create responses say "creating" like AWS does.
Honest limits: other calls (e.g. ModifyDBCluster during "creating") are not refused.

A service describes each resource kind with a `Spec` and calls `register(reg, spec)` from
its `install` (the specs live in services/rds.py, ec2.py, cloudformation.py); `install`
here registers the reset of the shared tables.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from xml.dom import minidom

from . import wire
from .config import CONFIG
from .hooks import Registry
from .util import account_id, elapsed, now


@dataclass
class Spec:
    service: str
    kind: str  # duration prefix, e.g. rds.cluster
    describe: str
    list_tag: str  # container of the items in describe responses
    item_tags: tuple[str, ...]  # item element names (describe, create responses)
    id_tag: str
    status_tag: str
    ready: str  # the final status moto reports
    creating: str
    modifying: str | None
    deleted: str | None  # the status moto reports after a delete (None: it vanishes)
    deleting: str
    creates: dict[str, str]  # op -> request parameter with the id (fallback to the response)
    modifies: dict[str, str] = field(default_factory=dict)
    deletes: dict[str, str] = field(default_factory=dict)
    filter_param: str = ""  # describe's id filter (".1" suffix for EC2 lists)
    not_found: str = ""
    namespace: str = ""
    only_if: tuple[str, str] | None = None  # (tag, value) the item must have, e.g. Interface endpoints
    modify_word: str = "modify"  # duration key suffix: CloudFormation calls it "update"
    updated_ready: str | None = None  # the final status after an update, when not `ready`


_lock = threading.Lock()
_created: dict[tuple[str, ...], Any] = {}
_modified: dict[tuple[str, ...], Any] = {}
_deleted: dict[tuple[str, ...], Any] = {}
_last_xml: dict[tuple[str, ...], str] = {}


def install(reg: Registry) -> None:
    reg.on_reset(_reset)


def _reset() -> None:
    with _lock:
        for d in (_created, _modified, _deleted, _last_xml):
            d.clear()


# --------------------------------------------------------------------------- XML helpers
def _child(el: Any, tag: str) -> Any | None:
    for c in el.childNodes:
        if c.nodeType == c.ELEMENT_NODE and (c.localName or c.tagName) == tag:
            return c
    return None


def _text(el: Any, tag: str) -> str | None:
    c = _child(el, tag)
    return "".join(t.data for t in c.childNodes if t.nodeType == t.TEXT_NODE) if c is not None else None


def _set_text(el: Any, tag: str, value: str) -> None:
    c = _child(el, tag)
    if c is None:
        return
    for t in list(c.childNodes):
        c.removeChild(t)
    c.appendChild(c.ownerDocument.createTextNode(value))


def _items(doc: Any, spec: Spec) -> list[Any]:
    out = []
    for tag in spec.item_tags:
        for el in doc.getElementsByTagName(tag):
            if _child(el, spec.id_tag) is not None:
                out.append(el)
    return out


def _key(call: wire.Call, spec: Spec, rid: str) -> tuple[str, ...]:
    return (account_id(call), call.region, spec.kind + ":" + spec.describe, rid)


def _within(table: dict[tuple[str, ...], Any], key: tuple[str, ...], seconds: float) -> bool:
    at = table.get(key)
    return at is not None and seconds > 0 and elapsed(at) < seconds


def _ids_from_request(call: wire.Call, param: str) -> list[str]:
    if not param:
        return []
    form = call.form() or call.query
    if param in form:
        return [form[param][0]]
    return [v[0] for k, v in sorted(form.items()) if k.startswith(param + ".")]


# --------------------------------------------------------------------------- hooks
def _on_mutation(spec: Spec, call: wire.Call, resp: wire.Response) -> wire.Response:
    status, headers, body = resp
    if status != 200:
        return resp
    op = call.operation or ""
    try:
        doc = minidom.parseString(body)
    except Exception:
        doc = None
    items = _items(doc, spec) if doc is not None else []
    with _lock:
        if op in spec.creates:
            ids = [_text(el, spec.id_tag) or "" for el in items] or _ids_from_request(call, spec.creates[op])
            for rid in ids:
                k = _key(call, spec, rid)
                _created[k] = now()
                _modified.pop(k, None)
                _deleted.pop(k, None)
        elif op in spec.modifies:
            for rid in _ids_from_request(call, spec.modifies[op]):
                _modified[_key(call, spec, rid)] = now()
        elif op in spec.deletes:
            for rid in _ids_from_request(call, spec.deletes[op]) or [_text(el, spec.id_tag) or "" for el in items]:
                _deleted[_key(call, spec, rid)] = now()
        for el in items:
            _last_xml[_key(call, spec, _text(el, spec.id_tag) or "")] = el.toxml()
    if doc is None or not items:
        return resp
    for el in items:
        if spec.only_if and _text(el, spec.only_if[0]) != spec.only_if[1]:
            continue
        if op in spec.creates:
            _set_text(el, spec.status_tag, spec.creating)
        elif op in spec.modifies and spec.modifying and _duration(spec, spec.modify_word, _text(el, spec.id_tag)) > 0:
            _set_text(el, spec.status_tag, spec.modifying)
        elif op in spec.deletes:
            _set_text(el, spec.status_tag, spec.deleting)
    return status, headers, doc.toxml(encoding="utf-8")


def _duration(spec: Spec, what: str, rid: str | None = None) -> float:
    key = spec.kind + "." + what
    return CONFIG.duration(key, rid) if key in CONFIG.snapshot()["durations"] else 0.0


def _on_describe(spec: Spec, call: wire.Call, resp: wire.Response) -> wire.Response:
    status, headers, body = resp
    wanted = _ids_from_request(call, spec.filter_param)
    if not CONFIG.any_duration(spec.kind + "."):
        return resp
    try:
        doc = minidom.parseString(body) if status == 200 else None
    except Exception:
        return resp
    with _lock:
        if doc is None:
            if not wanted:
                return resp
            doc = minidom.parseString(_empty_describe(spec, call))
        container = doc.getElementsByTagName(spec.list_tag)
        if not container:
            return resp
        present = set()
        for el in _items(doc, spec):
            rid = _text(el, spec.id_tag) or ""
            present.add(rid)
            k = _key(call, spec, rid)
            _last_xml[k] = el.toxml()
            d_create, d_modify, d_delete = _duration(spec, "create", rid), _duration(spec, spec.modify_word, rid), _duration(spec, "delete", rid)
            state = _text(el, spec.status_tag)
            if spec.only_if and _text(el, spec.only_if[0]) != spec.only_if[1]:
                continue
            if _within(_deleted, k, d_delete) and state in (spec.deleted, spec.ready):
                _set_text(el, spec.status_tag, spec.deleting)
            elif state == spec.ready and _within(_created, k, d_create):
                _set_text(el, spec.status_tag, spec.creating)
            elif state in (spec.ready, spec.updated_ready) and spec.modifying and _within(_modified, k, d_modify):
                _set_text(el, spec.status_tag, spec.modifying)
        # Deleted resources moto already forgot: show the last XML we saw, as deleting.
        for k, at in list(_deleted.items()):
            rid = k[3]
            if k[:3] != _key(call, spec, "")[:3] or rid in present or not _within(_deleted, k, _duration(spec, "delete", rid)):
                continue
            if wanted and rid not in wanted and not any(w.endswith("/" + rid) or rid in w for w in wanted):
                continue
            xml = _last_xml.get(k)
            if not xml:
                continue
            el = minidom.parseString(xml).documentElement
            el = doc.importNode(el, True)
            _set_text(el, spec.status_tag, spec.deleting)
            container[0].appendChild(el)
            present.add(rid)
        if wanted and not (present & set(wanted)) and status != 200:
            return resp
    return 200, [(k, v) for k, v in headers if k.lower() != "content-type"] + [("Content-Type", "text/xml")], doc.toxml(encoding="utf-8")


def _empty_describe(spec: Spec, call: wire.Call) -> str:
    op = spec.describe
    if spec.service == "ec2":
        return f'<{op}Response xmlns="{spec.namespace}"><requestId>{call.request_id}</requestId><{spec.list_tag}/></{op}Response>'
    return (
        f'<{op}Response xmlns="{spec.namespace}"><{op}Result><{spec.list_tag}/></{op}Result>'
        f"<ResponseMetadata><RequestId>{call.request_id}</RequestId></ResponseMetadata></{op}Response>"
    )


def register(reg: Registry, spec: Spec) -> None:
    """The hooks that give `spec`'s resources their lifecycle (mutations, then describe)."""
    mutations = set(spec.creates) | set(spec.modifies) | set(spec.deletes)
    reg.after(spec.service, mutations)(lambda call, resp: _on_mutation(spec, call, resp))
    reg.after(spec.service, {spec.describe})(lambda call, resp: _on_describe(spec, call, resp))


def mark_created(call: wire.Call, spec: Spec, rid: str) -> None:
    """Records `rid` as created now (e.g. a final snapshot taken by a delete)."""
    with _lock:
        _created[_key(call, spec, rid)] = now()
