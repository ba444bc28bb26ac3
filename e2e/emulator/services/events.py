"""Amazon EventBridge: what moto 5.2.5 gets wrong for the cron schedule.

* UpdateConnection with new API key parameters stores them in the connection's secret, as
  AWS does (moto kept the first value in the secret, so what a connection sends could not
  be checked after a rotation). The secret holds `{"api_key_name", "api_key_value"}`, the
  layout moto gives it at CreateConnection.
Connections, API destinations, rules and targets are otherwise moto's; scheduled rules
never fire.
"""

from __future__ import annotations

import json
from typing import Any

from ..core import model, wire
from ..core.hooks import Registry
from ..core.util import account_id


def install(reg: Registry) -> None:
    reg.after("events", {"UpdateConnection"})(_update_secret)


def _update_secret(call: wire.Call, resp: wire.Response) -> wire.Response:
    if resp[0] != 200:
        return resp
    op = model.service_model("events").operation_model("UpdateConnection")
    params: dict[str, Any] = wire.json_params(call, op)
    key = (params.get("AuthParameters") or {}).get("ApiKeyAuthParameters")
    if not key or "ApiKeyValue" not in key:
        return resp
    from moto.events.models import events_backends
    from moto.secretsmanager.models import secretsmanager_backends

    connection = events_backends[account_id(call)][call.region].connections.get(params["Name"])
    if connection is None:
        return resp
    value = json.dumps({"api_key_name": key.get("ApiKeyName") or "", "api_key_value": key["ApiKeyValue"]})
    secretsmanager_backends[account_id(call)][call.region].put_secret_value(
        secret_id=connection.secret_arn, secret_string=value, secret_binary=None, client_request_token=None, version_stages=["AWSCURRENT"]
    )
    return resp
