"""Every AWS service the emulator changes, one module each, registered in SERVICES.

A module holds ALL of its service's behaviour (extensions, missing operations, lifecycle
specs, error codes, moto patches) and exposes `install(reg)`, which declares it on the
registry (core/hooks.py): `reg.before`/`reg.after` hooks, `reg.on_reset`, `reg.patch` for
moto patches. Adding a service: a new `services/<service>.py` with `install(reg)`, and its
module in SERVICES below. Services not listed are moto's, unchanged (apart from the
cross-service corrections in core/errors.py).
"""

from __future__ import annotations

from ..core.hooks import Registry
from . import acm, applicationautoscaling, apprunner, cloudformation, cloudwatch, codebuild, ec2, ecr, ecs, elbv2, events, logs, rds, route53, s3, sesv2, wafv2

SERVICES = [acm, applicationautoscaling, apprunner, cloudformation, cloudwatch, codebuild, ec2, ecr, ecs, elbv2, events, logs, rds, route53, s3, sesv2, wafv2]


def install(reg: Registry) -> None:
    for service in SERVICES:
        service.install(reg)
