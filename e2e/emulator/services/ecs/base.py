"""What the ECS modules share: one lock for all ECS extension state, moto's backends,
identifiers in AWS's formats, and answering an ECS operation from a handler with the
model's validation on both sides."""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import threading
from collections.abc import Callable
from typing import Any

from ...core import model, wire

# Every piece of ECS extension state (deployments, revisions, tasks, Express services) is
# read and written under this lock; handlers may call each other while holding it.
LOCK = threading.RLock()

Handler = Callable[[wire.Call, dict[str, Any]], dict[str, Any]]


def ecs_backend(account: str, region: str) -> Any:
    from moto.ecs.models import ecs_backends

    return ecs_backends[account][region]


def ec2_backend(account: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account][region]


def parts(arn: str) -> tuple[str, str]:
    """(account, region) of an ARN."""
    fields = arn.split(":")
    return fields[4], fields[3]


def digits(n: int = 19) -> str:
    """A numeric id like AWS's service revision ids (no leading zero)."""
    return str(secrets.randbelow(9 * 10 ** (n - 1)) + 10 ** (n - 1))


def token(n: int = 21) -> str:
    """An id like AWS's service deployment ids (letters, digits, '-' and '_')."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(secrets.choice(alphabet) for _ in range(n))


def stable_hex(seed: str, n: int = 32) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


def ip_in(cidr: str, seed: str) -> str:
    """A private address inside `cidr`, stable for `seed`, avoiding the 4 addresses AWS
    reserves at the start of a subnet and the broadcast address."""
    net = ipaddress.ip_network(cidr, strict=False)
    usable = max(net.num_addresses - 5, 1)
    return str(net.network_address + 4 + int(stable_hex(seed, 12), 16) % usable)


def subnet_info(account: str, region: str, subnet_id: str) -> tuple[str, str] | None:
    """(CIDR, availability zone) of a moto subnet."""
    try:
        s = ec2_backend(account, region).get_subnet(subnet_id)
    except Exception:
        return None
    return s.cidr_block, s.availability_zone


def image_digest(account: str, region: str, image: str) -> str:
    """The digest ECS resolves an image reference to: the reference's own digest, the
    digest of a tag in moto's ECR, or (for registries nobody emulates) a stable made-up one."""
    if "@sha256:" in image:
        return "sha256:" + image.split("@sha256:", 1)[1]
    repo, _, tag = image.rpartition(":")
    if "/" in tag or not repo:
        repo, tag = image, "latest"
    host, _, name = repo.partition("/")
    if ".dkr.ecr." in host and name:
        try:
            from moto.ecr.models import ecr_backends

            ecr_account, ecr_region = host.split(".")[0], host.split(".")[3]
            images = ecr_backends[ecr_account][ecr_region].repositories[name].images
            for img in images:
                if tag in (img.image_tags or []) or getattr(img, "image_tag", None) == tag:
                    return img.get_image_digest()
        except Exception:
            pass
    return "sha256:" + hashlib.sha256(image.encode()).hexdigest()


def answer(call: wire.Call, handlers: dict[str, Handler]) -> wire.Response:
    """Validates the request against botocore's ecs model, runs the operation's handler
    under LOCK and validates the answer against the output shape."""
    op = model.service_model("ecs").operation_model(call.operation or "")
    params = wire.json_params(call, op)
    with LOCK:
        result = handlers[op.name](call, params)
    return wire.json_response(call, model.build_output(op, result))
