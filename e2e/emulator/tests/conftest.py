"""Fixtures for the emulator's own test suite (pytest + boto3).

Uses the emulator at $EMULATOR_URL (e2e/scripts/test-emulator.sh starts one with
`moto.sh start`), or starts a private one on a free port for a bare `pytest` run.
Every test starts from a reset emulator (moto state, extension state, config, faults).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
from botocore.config import Config

E2E = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(E2E))  # for white-box tests of emulator.model etc.


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _wait(url: str, proc: subprocess.Popen[bytes] | None) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("emulator exited during start-up")
        try:
            urllib.request.urlopen(url + "/_emulator/health", timeout=2).read()
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"emulator at {url} did not answer")


@pytest.fixture(scope="session")
def endpoint() -> Iterator[str]:
    url = os.environ.get("EMULATOR_URL")
    if url:
        _wait(url, None)
        yield url
        return
    port = _free_port()
    env = {**os.environ, "MOTO_ACM_VALIDATION_WAIT": "0", "MOTO_IAM_LOAD_MANAGED_POLICIES": "false"}
    proc = subprocess.Popen([sys.executable, str(E2E / "moto" / "moto_server_compat.py"), "-H", "127.0.0.1", "-p", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait(url, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:  # moto's own /moto-api answers are not always JSON
        return raw.decode(errors="replace")


class Control:
    """The /_emulator control API, as a Rust test would use it (plain HTTP + JSON)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, _decode(r.read())
        except urllib.error.HTTPError as e:
            return e.code, _decode(e.read())

    def config(self, durations: dict[str, float] | None = None, outcomes: dict[str, str] | None = None) -> Any:
        status, body = self.request("POST", "/_emulator/config", {"durations": durations or {}, "outcomes": outcomes or {}})
        assert status == 200, body
        return body

    def faults(self, rules: list[dict[str, Any]], seed: int = 0) -> Any:
        status, body = self.request("POST", "/_emulator/faults", {"seed": seed, "rules": rules})
        assert status == 200, body
        return body

    def report(self) -> Any:
        return self.request("GET", "/_emulator/faults")[1]


@pytest.fixture
def control(endpoint: str) -> Control:
    c = Control(endpoint)
    status, body = c.request("POST", "/_emulator/reset")
    assert status == 200, body
    return c


@pytest.fixture
def aws(endpoint: str, control: Control) -> Any:
    """aws("rds") -> boto3 client; validate=False sends malformed requests unchecked."""

    def make(service: str, validate: bool = True, region: str = "us-east-1") -> Any:
        cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"}, parameter_validation=validate, s3={"addressing_style": "path"}, connect_timeout=5, read_timeout=30)
        return boto3.client(service, endpoint_url=endpoint, region_name=region, aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="secret", config=cfg)

    return make
