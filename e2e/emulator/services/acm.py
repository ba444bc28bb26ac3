"""AWS Certificate Manager: DNS validation as AWS does it, instead of moto's timer.

- A DNS-validated certificate is `ISSUED` only once its validation CNAMEs exist in a
  hosted zone of moto's Route 53 (outcome `acm.validation`, default `route53`; `auto`
  keeps moto's timer, `acm.issue`). Until then `DescribeCertificate` and
  `ListCertificates` say `PENDING_VALIDATION`. Certificates for names under `on.aws`
  (the endpoints ECS Express provisions, validated by AWS itself) are exempt.
- The validation records arrive late: for `acm.records` seconds after the request,
  `DescribeCertificate` gives the domain validation options without `ResourceRecord`
  (AWS documents "a delay of several seconds").

The certificates themselves are moto's (tags, idempotency token, deletion).
"""

from __future__ import annotations

import threading
from typing import Any

from ..core import util, wire
from ..core.config import CONFIG
from ..core.hooks import Registry
from .apprunner import records_in_route53

_lock = threading.Lock()
_requested: dict[str, Any] = {}  # certificate ARN -> when it was requested


def install(reg: Registry) -> None:
    reg.after("acm", {"RequestCertificate"})(_requested_now)
    reg.after("acm", {"DescribeCertificate"})(_describe)
    reg.after("acm", {"ListCertificates"})(_list)
    reg.on_reset(_reset)


def _reset() -> None:
    with _lock:
        _requested.clear()


def _requested_now(call: wire.Call, resp: wire.Response) -> wire.Response:
    def note(doc: dict[str, Any]) -> None:
        arn = doc.get("CertificateArn")
        if arn:
            with _lock:
                _requested.setdefault(arn, util.now())

    return wire.rewrite_json(resp, note)


def _exempt(domain: str) -> bool:
    return domain.lower().rstrip(".").endswith(".on.aws")


def _validated(call: wire.Call, options: list[dict[str, Any]]) -> bool:
    records = [
        {"Name": o["ResourceRecord"]["Name"], "Value": o["ResourceRecord"]["Value"]}
        for o in options
        if o.get("ResourceRecord")
    ]
    return bool(records) and records_in_route53(util.account_id(call), records)


def _describe(call: wire.Call, resp: wire.Response) -> wire.Response:
    def fix(doc: dict[str, Any]) -> None:
        cert = doc.get("Certificate") or {}
        arn = cert.get("CertificateArn", "")
        options = cert.get("DomainValidationOptions") or []
        dns = all(o.get("ValidationMethod", "DNS") == "DNS" for o in options)
        if (
            cert.get("Status") == "ISSUED"
            and dns
            and not _exempt(cert.get("DomainName", ""))
            and CONFIG.outcome("acm.validation") == "route53"
            and not _validated(call, options)
        ):
            cert["Status"] = "PENDING_VALIDATION"
            for o in options:
                o["ValidationStatus"] = "PENDING_VALIDATION"
            for k in ("IssuedAt", "NotBefore", "NotAfter", "Serial"):
                cert.pop(k, None)
        with _lock:
            since = _requested.get(arn)
        if since is not None and util.elapsed(since) < CONFIG.duration("acm.records"):
            for o in options:
                o.pop("ResourceRecord", None)

    return wire.rewrite_json(resp, fix)


def _list(call: wire.Call, resp: wire.Response) -> wire.Response:
    # The summaries carry a status too; a certificate still pending in `_describe`'s
    # view is reported as such (the status filter was applied by moto already).
    def fix(doc: dict[str, Any]) -> None:
        if CONFIG.outcome("acm.validation") != "route53":
            return
        from moto.acm.models import acm_backends

        backend = acm_backends[util.account_id(call)][call.region]
        for s in doc.get("CertificateSummaryList") or []:
            if s.get("Status") != "ISSUED" or _exempt(s.get("DomainName", "")):
                continue
            try:
                cert = backend.get_certificate(s["CertificateArn"])
                options = cert.describe()["Certificate"].get("DomainValidationOptions") or []
            except Exception:
                continue
            if not _validated(call, options):
                s["Status"] = "PENDING_VALIDATION"

    return wire.rewrite_json(resp, fix)
