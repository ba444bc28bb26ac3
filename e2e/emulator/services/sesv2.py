"""Amazon SES v2: the pieces moto 5.2.5 lacks: DKIM tokens, MAIL FROM, event destinations,
configuration-set delivery options.

* Domain identities get three Easy DKIM tokens (stable per account and domain). DKIM is
  SUCCESS (and the identity verified for sending) once the three CNAMEs
  `<token>._domainkey.<domain>` -> `<token>.dkim.amazonses.com` exist in moto's Route 53;
  PENDING before. The `ses.verification` outcome `auto` skips that DNS check.
* PutEmailIdentityMailFromAttributes is stored; GetEmailIdentity reports it, SUCCESS once
  the MAIL FROM domain has the MX `feedback-smtp.<region>.amazonses.com` in Route 53.
* Configuration-set event destinations (Create/Get/Update/Delete) and
  PutConfigurationSetDeliveryOptions are stored and reported (GetConfigurationSet).
Requests and responses go through botocore's sesv2 model. Nothing is ever delivered.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import re
import threading
from typing import Any

from ..core import model, wire
from ..core.config import CONFIG
from ..core.hooks import Registry
from ..core.model import ApiError
from ..core.util import account_id

log = logging.getLogger("emulator.sesv2")
_lock = threading.Lock()
_mail_from: dict[tuple[str, str, str], dict[str, Any]] = {}
_destinations: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
_delivery: dict[tuple[str, str, str], dict[str, Any]] = {}
OWN = {"PutEmailIdentityMailFromAttributes", "CreateConfigurationSetEventDestination", "GetConfigurationSetEventDestinations", "UpdateConfigurationSetEventDestination", "DeleteConfigurationSetEventDestination", "PutConfigurationSetDeliveryOptions"}


def install(reg: Registry) -> None:
    reg.before("sesv2", OWN)(_own)
    reg.after("sesv2", {"GetEmailIdentity", "CreateEmailIdentity", "GetConfigurationSet"})(_after)
    reg.on_reset(_reset)


def _reset() -> None:
    with _lock:
        for d in (_mail_from, _destinations, _delivery):
            d.clear()


def _params(call: wire.Call, op: Any) -> dict[str, Any]:
    uri = op.http["requestUri"].split("?")[0]
    names = re.findall(r"\{([^}+]+)\+?\}", uri)
    rx = "^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(uri)) + "/?$"
    m = re.match(rx, call.path)
    from urllib.parse import unquote

    labels = {n: unquote(v) for n, v in zip(names, m.groups())} if m else {}
    try:
        body = call.json() if call.body.strip() else {}
    except ValueError:
        raise ApiError("BadRequestException", "request body is not valid JSON") from None
    return model.parse_input(op, {**body, **labels})


def _backend(call: wire.Call) -> Any:
    from moto.sesv2.models import sesv2_backends

    return sesv2_backends[account_id(call)][call.region]


def _config_set(call: wire.Call, name: str) -> None:
    try:
        _backend(call).get_configuration_set(name)
    except Exception:
        raise ApiError("NotFoundException", f"Configuration set <{name}> does not exist.") from None


def _identity(call: wire.Call, name: str) -> None:
    try:
        _backend(call).get_email_identity(name)
    except Exception:
        raise ApiError("NotFoundException", f"Email identity <{name}> does not exist.") from None


def _cnames_and_mx() -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    from moto.route53.models import route53_backends

    cnames, mx = set(), set()
    for account in list(route53_backends.keys()):
        for zone in list(route53_backends[account]["aws"].zones.values()):
            for rr in list(zone.rrsets):
                name = rr.name.lower().rstrip(".")
                for value in rr.records or []:
                    value = str(value).lower().rstrip(".")
                    if (rr.type or "").upper() == "CNAME":
                        cnames.add((name, value))
                    elif (rr.type or "").upper() == "MX":
                        mx.add((name, value.split()[-1]))
    return cnames, mx


def tokens(account: str, domain: str) -> list[str]:
    return [hashlib.sha256(f"{account}:{domain}:{i}".encode()).hexdigest()[:32] for i in range(3)]


def _enrich(call: wire.Call, name: str, doc: dict[str, Any]) -> None:
    if "@" in name:
        return
    auto = CONFIG.outcome("ses.verification") == "auto"
    cnames, mx = _cnames_and_mx()
    toks = tokens(account_id(call), name.lower())
    ok = auto or all((f"{t}._domainkey.{name.lower()}", f"{t}.dkim.amazonses.com") in cnames for t in toks)
    dkim = doc.setdefault("DkimAttributes", {})
    dkim.update({"SigningEnabled": True, "Status": "SUCCESS" if ok else "PENDING", "Tokens": toks, "SigningAttributesOrigin": "AWS_SES", "NextSigningKeyLength": "RSA_2048_BIT", "CurrentSigningKeyLength": "RSA_2048_BIT"})
    doc["VerifiedForSendingStatus"] = ok
    if "VerificationStatus" in doc or call.operation == "GetEmailIdentity":
        doc["VerificationStatus"] = "SUCCESS" if ok else "PENDING"
    with _lock:
        mf = copy.deepcopy(_mail_from.get((account_id(call), call.region, name)))
    if mf and call.operation == "GetEmailIdentity":
        target = f"feedback-smtp.{call.region}.amazonses.com"
        mf["MailFromDomainStatus"] = "SUCCESS" if auto or (mf["MailFromDomain"].lower(), target) in mx else "PENDING"
        doc["MailFromAttributes"] = mf


def _after(call: wire.Call, resp: wire.Response) -> wire.Response:
    status, headers, body = resp
    if status != 200:
        return resp
    op = model.service_model("sesv2").operation_model(call.operation or "")
    params = _params(call, op)
    doc = json.loads(body or b"{}")
    if call.operation == "GetConfigurationSet":
        with _lock:
            extra = _delivery.get((account_id(call), call.region, params["ConfigurationSetName"]))
        if extra:
            doc.setdefault("DeliveryOptions", {}).update(extra)
    else:
        _enrich(call, params["EmailIdentity"], doc)
    try:
        out = model.build_output(op, model.deserialize(doc, op.output_shape))
    except model.ModelDrift:
        # moto's own part of the answer does not fit the model; ours is added regardless.
        log.warning("sesv2 %s: moto's answer does not match the model", op.name, exc_info=True)
        out = doc
    return status, headers, json.dumps(out).encode()


def _own(call: wire.Call) -> wire.Response:
    op = model.service_model("sesv2").operation_model(call.operation or "")
    p = _params(call, op)
    acct = account_id(call)
    result: dict[str, Any] = {}
    with _lock:
        if op.name == "PutEmailIdentityMailFromAttributes":
            _identity(call, p["EmailIdentity"])
            key = (acct, call.region, p["EmailIdentity"])
            if p.get("MailFromDomain"):
                _mail_from[key] = {"MailFromDomain": p["MailFromDomain"], "BehaviorOnMxFailure": p.get("BehaviorOnMxFailure", "USE_DEFAULT_VALUE")}
            else:
                _mail_from.pop(key, None)
        elif op.name == "PutConfigurationSetDeliveryOptions":
            _config_set(call, p["ConfigurationSetName"])
            _delivery[(acct, call.region, p["ConfigurationSetName"])] = {k: v for k, v in p.items() if k != "ConfigurationSetName"}
        else:
            _config_set(call, p["ConfigurationSetName"])
            dests = _destinations.setdefault((acct, call.region, p["ConfigurationSetName"]), {})
            name = p.get("EventDestinationName")
            if op.name == "CreateConfigurationSetEventDestination":
                if name in dests:
                    raise ApiError("AlreadyExistsException", f"Event destination {name} already exists.")
                dests[name] = {"Name": name, "Enabled": False, "MatchingEventTypes": [], **p["EventDestination"]}
            elif op.name == "UpdateConfigurationSetEventDestination":
                if name not in dests:
                    raise ApiError("NotFoundException", f"Event destination {name} does not exist.")
                dests[name] = {"Name": name, "Enabled": False, "MatchingEventTypes": [], **p["EventDestination"]}
            elif op.name == "DeleteConfigurationSetEventDestination":
                if dests.pop(name, None) is None:
                    raise ApiError("NotFoundException", f"Event destination {name} does not exist.")
            else:
                result = {"EventDestinations": [copy.deepcopy(d) for d in dests.values()]}
    return 200, [("Content-Type", "application/json"), ("x-amzn-RequestId", call.request_id)], json.dumps(model.build_output(op, result)).encode()
