"""Run-time configuration of the emulator: lifecycle durations and outcomes.

Defaults come from the environment (EMULATOR_DURATIONS="key=seconds,...",
EMULATOR_OUTCOMES="key=VALUE,..."), and `POST /_emulator/config` changes them while
the server runs. Every duration defaults to 0, which keeps moto's instant behaviour.
Holds values only; the modules that use them decide what they mean.
"""

from __future__ import annotations

import os
import threading
from typing import Any

# Every duration key the emulator understands (seconds). Documented in README.md.
# `<key>:<name>` sets it for one resource only (the CodeBuild project for
# `codebuild.build`), so tests running side by side do not slow each other down.
DURATION_KEYS = (
    "rds.cluster.create",
    "rds.cluster.modify",
    "rds.cluster.delete",
    "rds.instance.create",
    "rds.instance.modify",
    "rds.instance.delete",
    "rds.snapshot.create",
    "ec2.natgateway.create",
    "ec2.natgateway.delete",
    "ec2.vpcendpoint.create",
    "ec2.vpcendpoint.delete",
    "cloudformation.create",
    "cloudformation.update",
    "cloudformation.delete",
    "codebuild.build",
    "ecs.deployment",
    "ecs.service.delete",
    "acm.issue",
    "acm.records",
    "route53.change",
    "apprunner.operation",
    "apprunner.customdomain",
    "apprunner.vpcconnector.release",
    "ecs.express.drain",
    "ecs.task",
    "elbv2.target.healthy",
    "elbv2.target.drain",
    "wafv2.associate",
)

# Outcome keys and their allowed values; `<key>:<name>` narrows one to a resource name
# (CodeBuild project, ECS service name, App Runner service name).
OUTCOME_VALUES = {
    "codebuild": ("SUCCEEDED", "FAILED"),
    "codebuild.failed_phase": (
        "DOWNLOAD_SOURCE",
        "INSTALL",
        "PRE_BUILD",
        "BUILD",
        "POST_BUILD",
        "UPLOAD_ARTIFACTS",
    ),
    "ecs.deployment": ("COMPLETED", "FAILED"),
    "ecs.task": tuple(str(code) for code in range(256)),  # the essential container's exit code
    "elbv2.target": ("healthy", "unhealthy"),
    "apprunner": ("SUCCEEDED", "FAILED"),
    "apprunner.account": ("existing", "new"),
    "apprunner.customdomain": ("route53", "auto", "FAILED"),
    "ses.verification": ("route53", "auto"),
    "acm.validation": ("route53", "auto"),
}
OUTCOME_DEFAULTS = {
    "codebuild": "SUCCEEDED",
    "codebuild.failed_phase": "BUILD",
    "ecs.deployment": "COMPLETED",
    "ecs.task": "0",
    "elbv2.target": "healthy",
    "apprunner": "SUCCEEDED",
    "apprunner.account": "existing",
    "apprunner.customdomain": "route53",
    "ses.verification": "route53",
    "acm.validation": "route53",
}


class ConfigError(ValueError):
    pass


def _parse_pairs(text: str) -> dict[str, str]:
    out = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"expected key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


class Config:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._durations: dict[str, float] = {}
        self._outcomes: dict[str, str] = {}
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._durations = {k: 0.0 for k in DURATION_KEYS}
            acm = os.environ.get("MOTO_ACM_VALIDATION_WAIT")
            if acm:
                self._durations["acm.issue"] = float(acm)
            self._outcomes = dict(OUTCOME_DEFAULTS)
        self.update(
            {
                "durations": _parse_pairs(os.environ.get("EMULATOR_DURATIONS", "")),
                "outcomes": _parse_pairs(os.environ.get("EMULATOR_OUTCOMES", "")),
            }
        )
        self._sync_acm()

    def _sync_acm(self) -> None:
        from moto import settings

        # moto compares the certificate's age with this module attribute on every read.
        settings.ACM_VALIDATION_WAIT = int(self.duration("acm.issue"))

    def update(self, body: dict[str, Any]) -> None:
        if not isinstance(body, dict):
            raise ConfigError("expected a JSON object")
        unknown = set(body) - {"durations", "outcomes"}
        if unknown:
            raise ConfigError(f"unknown field(s) {sorted(unknown)}")
        durations = body.get("durations") or {}
        outcomes = body.get("outcomes") or {}
        new_d: dict[str, float | None] = {}
        for key, value in durations.items():
            base = key.split(":", 1)[0]
            if base not in DURATION_KEYS:
                raise ConfigError(f"unknown duration {key!r}; known: {', '.join(DURATION_KEYS)}")
            if value is None and base != key:
                new_d[key] = None  # removes a per-name override
                continue
            try:
                seconds = float(value)
            except (TypeError, ValueError):
                raise ConfigError(f"duration {key} must be a number of seconds") from None
            if seconds < 0:
                raise ConfigError(f"duration {key} must be >= 0")
            new_d[key] = seconds
        new_o: dict[str, str] = {}
        for key, value in outcomes.items():
            base = key.split(":", 1)[0]
            if base not in OUTCOME_VALUES:
                raise ConfigError(f"unknown outcome {key!r}; known: {', '.join(OUTCOME_VALUES)}")
            if value is None:
                new_o[key] = ""  # removes a per-name override
                continue
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)  # exit codes may be given as numbers
            if value not in OUTCOME_VALUES[base]:
                allowed = "an exit code 0..255" if base == "ecs.task" else str(OUTCOME_VALUES[base])
                raise ConfigError(f"outcome {key} must be one of {allowed}")
            new_o[key] = value
        with self._lock:
            for key, seconds in new_d.items():
                if seconds is None:
                    self._durations.pop(key, None)
                else:
                    self._durations[key] = seconds
            for key, value in new_o.items():
                if value:
                    self._outcomes[key] = value
                else:
                    self._outcomes.pop(key, None)
        if "acm.issue" in new_d:
            self._sync_acm()

    def duration(self, key: str, *names: str | None) -> float:
        """Seconds for `key`; `<key>:<name>` (set through the control API) wins for that
        resource name. With several names (most specific first, e.g. `<cluster>/<service>`
        and `<service>`), the first one set wins."""
        with self._lock:
            for name in names:
                if name is not None and f"{key}:{name}" in self._durations:
                    return self._durations[f"{key}:{name}"]
            return self._durations[key]

    def any_duration(self, prefix: str) -> bool:
        """Whether any duration under `prefix` (plain or per name) is above zero."""
        with self._lock:
            return any(v > 0 for k, v in self._durations.items() if k.startswith(prefix))

    def outcome(self, key: str, *names: str | None) -> str:
        """The outcome for `key`; narrowed like `duration`."""
        with self._lock:
            for name in names:
                if name is not None and f"{key}:{name}" in self._outcomes:
                    return self._outcomes[f"{key}:{name}"]
            return self._outcomes[key]

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"durations": dict(self._durations), "outcomes": dict(self._outcomes)}


CONFIG = Config()
