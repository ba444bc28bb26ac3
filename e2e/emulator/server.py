"""Process entry: moto's WSGI app wrapped in our middleware, on one loopback port.

Same command line as `moto_server` (-H host, -p port). Builds the registry (the lifecycle
machinery, every module in services.SERVICES, the cross-service error corrections), which
also applies the moto patches, then serves (threaded werkzeug, as moto_server does). Must
not open any port but the one it was given.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

from . import services
from .core import errors, hooks, lifecycle
from .core.middleware import Emulator


def build_app() -> Emulator:
    registry = hooks.Registry()
    lifecycle.install(registry)
    services.install(registry)
    errors.install(registry)
    inner = DomainDispatcherApplication(create_backend_app)
    app = Emulator(inner, registry)
    faults = os.environ.get("EMULATOR_FAULTS")
    if faults:
        app.faults.configure(json.loads(faults))
    return app


def _exit(signum: Any, frame: Any) -> None:
    sys.exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="moto_server with the redcap-operator emulator extensions")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=int(os.environ.get("MOTO_PORT", 5000)))
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    os.environ.setdefault("MOTO_PORT", str(args.port))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    signal.signal(signal.SIGINT, _exit)
    signal.signal(signal.SIGTERM, _exit)
    run_simple(args.host, args.port, build_app(), threaded=True, request_handler=MotoRequestHandler)
    return 0
