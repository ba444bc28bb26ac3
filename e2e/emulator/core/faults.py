"""Run-time fault injection: throttling, 5xx, added latency, dropped connections.

Rules are matched per service and operation, fire by rate (seeded RNG, so a run is
reproducible) and/or for a bounded number of calls, and every firing is recorded for
`GET /_emulator/faults`. Decides *whether* and *what*; the middleware writes the bytes.
Must not touch moto state.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("throttle", "error", "latency", "drop")


class FaultConfigError(ValueError):
    pass


@dataclass
class Rule:
    kind: str
    service: str = "*"
    operation: str = "*"
    rate: float = 1.0
    count: int | None = None  # fire at most this many times (None: unlimited)
    skip: int = 0  # let this many matching calls through first
    status: int | None = None
    code: str | None = None
    message: str | None = None
    latency_ms: int = 0
    id: str = ""
    matched: int = 0
    fired: int = 0

    def matches(self, service: str | None, operation: str | None) -> bool:
        if self.service != "*" and self.service != service:
            return False
        return self.operation == "*" or self.operation == operation

    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count


def parse_rule(raw: dict[str, Any], index: int) -> Rule:
    if not isinstance(raw, dict):
        raise FaultConfigError(f"rule {index}: expected an object")
    known = set(Rule.__dataclass_fields__) - {"matched", "fired"}
    unknown = set(raw) - known
    if unknown:
        raise FaultConfigError(f"rule {index}: unknown field(s) {sorted(unknown)}")
    try:
        rule = Rule(**raw)
    except TypeError as e:
        raise FaultConfigError(f"rule {index}: {e}") from None
    if rule.kind not in KINDS:
        raise FaultConfigError(f"rule {index}: kind must be one of {KINDS}")
    if not 0.0 <= float(rule.rate) <= 1.0:
        raise FaultConfigError(f"rule {index}: rate must be within [0, 1]")
    if rule.count is not None and int(rule.count) < 0:
        raise FaultConfigError(f"rule {index}: count must be >= 0")
    if rule.kind == "latency" and rule.latency_ms <= 0:
        raise FaultConfigError(f"rule {index}: latency needs latency_ms > 0")
    if rule.status is not None and not 400 <= int(rule.status) <= 599:
        raise FaultConfigError(f"rule {index}: status must be 4xx or 5xx")
    rule.rate = float(rule.rate)
    rule.id = rule.id or f"r{index}"
    return rule


@dataclass
class Firing:
    at: float
    rule: str
    kind: str
    service: str | None
    operation: str | None


@dataclass
class Decision:
    """What to do with one call: sleep first, then maybe fail or drop it."""

    latency_ms: int = 0
    fail: Rule | None = None
    drop: bool = False
    fired: list[str] = field(default_factory=list)


class Faults:
    LOG_LIMIT = 2000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._seed = 0
        self._rng = random.Random(0)
        self._log: list[Firing] = []
        self._calls = 0

    def configure(self, body: dict[str, Any]) -> None:
        """Replace all rules (and reseed) from `{"seed": n, "rules": [...]}`."""
        if not isinstance(body, dict):
            raise FaultConfigError("expected a JSON object")
        unknown = set(body) - {"seed", "rules", "append"}
        if unknown:
            raise FaultConfigError(f"unknown field(s) {sorted(unknown)}")
        rules = body.get("rules", [])
        if not isinstance(rules, list):
            raise FaultConfigError("rules must be a list")
        with self._lock:
            start = len(self._rules) if body.get("append") else 0
            parsed = [parse_rule(r, start + i) for i, r in enumerate(rules)]
            if body.get("append"):
                self._rules.extend(parsed)
            else:
                self._rules = parsed
                self._log = []
                self._calls = 0
            if "seed" in body or not body.get("append"):
                self._seed = int(body.get("seed", 0))
                self._rng = random.Random(self._seed)

    def clear(self) -> None:
        self.configure({"rules": []})

    def decide(self, service: str | None, operation: str | None) -> Decision:
        d = Decision()
        with self._lock:
            self._calls += 1
            for rule in self._rules:
                if not rule.matches(service, operation) or rule.exhausted():
                    continue
                rule.matched += 1
                if rule.matched <= rule.skip:
                    continue
                # One draw per matching rule, in rule order: reproducible for a given seed
                # and a given sequence of calls.
                if rule.rate < 1.0 and self._rng.random() >= rule.rate:
                    continue
                if rule.kind == "latency":
                    d.latency_ms += rule.latency_ms
                elif d.fail is not None or d.drop:
                    continue  # one failure per call; later rules wait for another call
                elif rule.kind == "drop":
                    d.drop = True
                else:
                    d.fail = rule
                    d.latency_ms += rule.latency_ms
                rule.fired += 1
                d.fired.append(rule.id)
                self._log.append(Firing(time.time(), rule.id, rule.kind, service, operation))
            if len(self._log) > self.LOG_LIMIT:
                del self._log[: len(self._log) - self.LOG_LIMIT]
        return d

    def report(self) -> dict[str, Any]:
        with self._lock:
            return {
                "seed": self._seed,
                "calls": self._calls,
                "rules": [asdict(r) for r in self._rules],
                "fired": [asdict(f) for f in self._log],
            }
