"""The registry that connects the service modules to the middleware.

Each module in `services/` gets one `Registry` in its `install(reg)` and declares there
what it does: `before` hooks may answer a call themselves (extensions, missing
operations); `after` hooks may rewrite moto's answer (lifecycle states, error codes);
`on_reset` hooks drop extension state when moto is reset; `patch` applies a moto patch
(once per process, however many registries are built). Hooks of one service run in the
order they were registered. Also holds the call being served on this thread, for moto
patches that need request context (bucket policy conditions). No I/O here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Optional

from .wire import Call, Response

Before = Callable[[Call], Optional[Response]]
After = Callable[[Call, Response], Response]

_local = threading.local()
_patched: set[str] = set()
_patch_lock = threading.Lock()


class Registry:
    def __init__(self) -> None:
        self._before: list[tuple[str, frozenset[str] | None, Before]] = []
        self._after: list[tuple[str, frozenset[str] | None, After]] = []
        self._reset: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ declaring
    def before(self, service: str, ops: set[str] | None = None) -> Callable[[Before], Before]:
        def deco(fn: Before) -> Before:
            self._before.append((service, frozenset(ops) if ops else None, fn))
            return fn

        return deco

    def after(self, service: str, ops: set[str] | None = None) -> Callable[[After], After]:
        def deco(fn: After) -> After:
            self._after.append((service, frozenset(ops) if ops else None, fn))
            return fn

        return deco

    def on_reset(self, fn: Callable[[], None]) -> Callable[[], None]:
        self._reset.append(fn)
        return fn

    @staticmethod
    def patch(fn: Callable[[], None]) -> None:
        """Runs `fn` (which monkey-patches moto) unless it already ran in this process."""
        key = f"{fn.__module__}.{fn.__qualname__}"
        with _patch_lock:
            if key in _patched:
                return
            _patched.add(key)
            fn()

    # ------------------------------------------------------------------ running
    def run_before(self, call: Call) -> Response | None:
        for service, ops, fn in self._before:
            if _applies(service, ops, call):
                resp = fn(call)
                if resp is not None:
                    return resp
        return None

    def run_after(self, call: Call, resp: Response) -> Response:
        for service, ops, fn in self._after:
            if _applies(service, ops, call):
                resp = fn(call, resp)
        return resp

    def reset_all(self) -> None:
        for fn in self._reset:
            fn()


def _applies(service: str, ops: frozenset[str] | None, call: Call) -> bool:
    return service == call.service and (ops is None or call.operation in ops)


def set_current(call: Call | None) -> None:
    _local.call = call


def current() -> Call | None:
    return getattr(_local, "call", None)
