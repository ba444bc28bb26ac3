"""Registry that connects the service modules to the middleware.

`before` hooks may answer a call themselves (extensions, missing operations); `after`
hooks may rewrite moto's answer (lifecycle states, error codes); `on_reset` hooks drop
extension state when moto is reset. Also holds the call being served on this thread, for
moto patches that need request context (bucket policy conditions). No I/O here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Optional

from .wire import Call, Response

Before = Callable[[Call], Optional[Response]]
After = Callable[[Call, Response], Response]

_before: list[tuple[str, frozenset[str] | None, Before]] = []
_after: list[tuple[str, frozenset[str] | None, After]] = []
_reset: list[Callable[[], None]] = []
_local = threading.local()


def before(service: str, ops: set[str] | None = None) -> Callable[[Before], Before]:
    def deco(fn: Before) -> Before:
        _before.append((service, frozenset(ops) if ops else None, fn))
        return fn

    return deco


def after(service: str, ops: set[str] | None = None) -> Callable[[After], After]:
    def deco(fn: After) -> After:
        _after.append((service, frozenset(ops) if ops else None, fn))
        return fn

    return deco


def on_reset(fn: Callable[[], None]) -> Callable[[], None]:
    _reset.append(fn)
    return fn


def _applies(service: str, ops: frozenset[str] | None, call: Call) -> bool:
    return service == call.service and (ops is None or call.operation in ops)


def run_before(call: Call) -> Response | None:
    for service, ops, fn in _before:
        if _applies(service, ops, call):
            resp = fn(call)
            if resp is not None:
                return resp
    return None


def run_after(call: Call, resp: Response) -> Response:
    for service, ops, fn in _after:
        if _applies(service, ops, call):
            resp = fn(call, resp)
    return resp


def reset_all() -> None:
    for fn in _reset:
        fn()


def set_current(call: Call | None) -> None:
    _local.call = call


def current() -> Call | None:
    return getattr(_local, "call", None)
