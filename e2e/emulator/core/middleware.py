"""WSGI middleware around moto's DomainDispatcherApplication.

For every request: buffer the body, identify service/operation (wire.identify), serve the
control API, apply faults, let extensions answer (the registry's `before` hooks), otherwise
forward to moto, then let response rewriters run (its `after` hooks). Anything that escapes
becomes an error in the caller's protocol, never an HTML traceback page. Must not implement
service behaviour (that is `services/`).
"""

from __future__ import annotations

import io
import logging
import socket
import struct
import time
import traceback
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs

from . import control, hooks, wire
from .faults import Faults
from .model import ApiError, error_status

log = logging.getLogger("emulator")

_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict", 429: "Too Many Requests", 500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable"}


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if environ.get("wsgi.input_terminated"):
        data = stream.read()
    else:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        data = stream.read(length) if length > 0 else b""
    return data


_current: Emulator | None = None


def current_emulator() -> Emulator:
    """The running emulator, for extensions that must call moto internally."""
    if _current is None:
        raise RuntimeError("emulator not started")
    return _current


class Emulator:
    def __init__(self, inner: Any, registry: hooks.Registry) -> None:
        global _current
        self.inner = inner
        self.hooks = registry
        self.faults = Faults()
        control.install(self)
        _current = self

    # ------------------------------------------------------------------ WSGI entry
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body = _read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("wsgi.input_terminated", None)
        # The body is de-chunked now; werkzeug would otherwise ignore CONTENT_LENGTH.
        if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
            del environ["HTTP_TRANSFER_ENCODING"]
        path = environ.get("PATH_INFO", "") or "/"
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        call = wire.Call(
            method=environ.get("REQUEST_METHOD", "GET"),
            path=path,
            query=parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True),
            headers=headers,
            body=body,
        )
        if path.startswith("/_emulator"):
            return self._send(start_response, control.handle(self, call))
        if path.startswith("/moto-api"):
            if path.rstrip("/") == "/moto-api/reset" and call.method == "POST":
                self.hooks.reset_all()
            return self.inner(environ, start_response)
        try:
            wire.identify(call)
        except Exception:  # identification is best effort; moto still routes the call
            log.exception("could not identify request %s %s", call.method, path)
        decision = self.faults.decide(call.service, call.operation)
        if decision.latency_ms:
            time.sleep(decision.latency_ms / 1000.0)
        if decision.drop:
            return self._drop(environ)
        if decision.fail is not None:
            rule = decision.fail
            return self._send(start_response, self._fault_response(call, rule))
        hooks.set_current(call)
        try:
            resp = self.hooks.run_before(call)
            if resp is None:
                resp = self.forward(environ)
                resp = self._fix_unimplemented(call, resp)
            resp = self.hooks.run_after(call, resp)
        except ApiError as e:
            status = e.status if e.status != 400 else error_status(call.service, e.code, 400)
            resp = wire.error_response(call, status, e.code, e.message)
        except NotImplementedError as e:  # moto's way of saying "no handler"
            resp = wire.error_response(call, 501, "NotImplemented", f"the emulator (moto 5.2.5 + extensions) does not implement {call.service}:{call.operation}: {e}")
        except Exception as e:  # an emulator bug: answer like AWS would, log the traceback
            log.error("emulator error on %s %s:\n%s", call.service, call.operation, traceback.format_exc())
            resp = wire.error_response(call, 500, wire.SERVER_ERROR_DEFAULTS[wire.protocol_key(call)], f"emulator error: {type(e).__name__}: {e}")
        finally:
            hooks.set_current(None)
        return self._send(start_response, resp)

    # ------------------------------------------------------------------ helpers
    def forward(self, environ: dict[str, Any]) -> wire.Response:
        captured: dict[str, Any] = {}

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = list(headers)
            return lambda data: captured.setdefault("written", []).append(data)

        result = self.inner(environ, start)
        try:
            chunks = list(captured.get("written", [])) + [c for c in result]
        finally:
            if hasattr(result, "close"):
                result.close()
        return captured["status"], captured["headers"], b"".join(chunks)

    def call_moto(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> wire.Response:
        """An internal request to moto (e.g. reset), bypassing faults and hooks. `path` may
        carry a query string."""
        path, _, query = path.partition("?")
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "0",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_HOST": "127.0.0.1",
        }
        for k, v in (headers or {}).items():
            if k.lower() == "content-type":
                environ["CONTENT_TYPE"] = v
            else:
                environ["HTTP_" + k.upper().replace("-", "_")] = v
        return self.forward(environ)

    def _fault_response(self, call: wire.Call, rule: Any) -> wire.Response:
        proto = wire.protocol_key(call)
        if rule.kind == "throttle":
            status, code, message = wire.THROTTLE_DEFAULTS[proto]
        else:
            status, code, message = 500, wire.SERVER_ERROR_DEFAULTS[proto], "We encountered an internal error. Please try again."
            if rule.status == 503:
                code, message = ("SlowDown" if proto == "s3" else "ServiceUnavailable"), "Service unavailable"
        return wire.error_response(call, rule.status or status, rule.code or code, rule.message or f"{message} (injected fault {rule.id})")

    def _fix_unimplemented(self, call: wire.Call, resp: wire.Response) -> wire.Response:
        """moto answers unknown operations with an HTML page (500 or 404); the SDK would retry
        it and then fail to parse it. Say clearly that moto lacks the operation instead."""
        status, headers, body = resp
        page = body.lstrip()[:15].lower()
        if status in (404, 500) and call.method != "HEAD" and call.service and page.startswith((b"<!doctype html", b"<html")):
            what = f"{call.service}:{call.operation or call.method + ' ' + call.path}"
            return wire.error_response(call, 501, "NotImplemented", f"the emulator (moto 5.2.5 + extensions) does not implement {what}")
        return resp

    @staticmethod
    def _send(start_response: Any, resp: wire.Response) -> Iterable[bytes]:
        status, headers, body = resp
        has_length = any(k.lower() == "content-length" for k, _ in headers)
        # HEAD answers (S3 HeadObject) carry the object's length with an empty body: keep it.
        if body or not has_length:
            headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "transfer-encoding")]
            headers.append(("Content-Length", str(len(body))))
        start_response(f"{status} {_REASONS.get(status, 'Status')}", headers)
        return [body]

    @staticmethod
    def _drop(environ: dict[str, Any]) -> Iterable[bytes]:
        """Close the connection without an answer (RST), as a broken network path would."""
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        # werkzeug treats ConnectionError as "client went away" and writes nothing more.
        raise ConnectionResetError("emulator fault: connection dropped")
