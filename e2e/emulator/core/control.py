"""The `/_emulator/*` control API (plain HTTP + JSON, documented in README.md).

GET    /_emulator/health            {"ok": true}
GET    /_emulator/config            current durations and outcomes
POST   /_emulator/config            merge {"durations": {...}, "outcomes": {...}}
DELETE /_emulator/config            back to the defaults (environment)
GET    /_emulator/faults            rules with counters, and the log of what fired
POST   /_emulator/faults            replace rules: {"seed": n, "rules": [...]} (or "append": true)
DELETE /_emulator/faults            remove every rule
POST   /_emulator/reset             moto reset + extension state + config + faults

Only parses and dispatches; never reached through AWS signing, never faulted.
"""

from __future__ import annotations

import json
from typing import Any

from .config import CONFIG, ConfigError
from .faults import FaultConfigError
from .wire import Call, Response


def install(emulator: Any) -> None:
    del emulator  # nothing to wire yet; kept so the middleware owns the lifetime


def _json(status: int, payload: Any) -> Response:
    return status, [("Content-Type", "application/json")], json.dumps(payload, indent=1, default=str).encode()


def _body(call: Call) -> Any:
    if not call.body.strip():
        return {}
    return json.loads(call.body)


def handle(emulator: Any, call: Call) -> Response:
    path = call.path.rstrip("/")
    try:
        if path == "/_emulator/health":
            return _json(200, {"ok": True})
        if path == "/_emulator/config":
            if call.method == "POST":
                CONFIG.update(_body(call))
            elif call.method == "DELETE":
                CONFIG.reset()
            elif call.method != "GET":
                return _json(405, {"error": "use GET, POST or DELETE"})
            return _json(200, CONFIG.snapshot())
        if path == "/_emulator/faults":
            if call.method == "POST":
                emulator.faults.configure(_body(call))
            elif call.method == "DELETE":
                emulator.faults.clear()
            elif call.method != "GET":
                return _json(405, {"error": "use GET, POST or DELETE"})
            return _json(200, emulator.faults.report())
        if path == "/_emulator/reset":
            if call.method != "POST":
                return _json(405, {"error": "use POST"})
            emulator.hooks.reset_all()
            CONFIG.reset()
            emulator.faults.clear()
            status, _, body = emulator.call_moto("POST", "/moto-api/reset")
            return _json(200 if status == 200 else 500, {"ok": status == 200, "moto": body.decode(errors="replace")})
    except (ConfigError, FaultConfigError) as e:
        return _json(400, {"error": str(e)})
    except json.JSONDecodeError as e:
        return _json(400, {"error": f"invalid JSON: {e}"})
    return _json(404, {"error": f"no control endpoint {call.method} {call.path}"})
