"""Small helpers shared by the extension modules: account, clock, pagination, ids.

No service behaviour and no I/O besides reading moto's account mapping.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from .model import ApiError
from .wire import Call


def account_id(call: Call) -> str:
    """The moto account of the caller's access key (moto's default account otherwise)."""
    try:
        from moto.iam.models import get_account_id_from

        return get_account_id_from(call.access_key)
    except Exception:
        from moto.core import DEFAULT_ACCOUNT_ID

        return DEFAULT_ACCOUNT_ID


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def epoch(t: dt.datetime) -> float:
    """A timestamp as JSON protocols send it: epoch seconds, millisecond precision."""
    return round(t.timestamp(), 3)


def elapsed(since: dt.datetime) -> float:
    return (now() - since).total_seconds()


def hex_id(n: int = 32) -> str:
    return secrets.token_hex(n // 2)


def paginate(items: list[Any], params: dict[str, Any], default_max: int = 100) -> tuple[list[Any], str | None]:
    """Offset tokens: opaque enough for clients, deterministic for tests."""
    token = params.get("NextToken") or params.get("nextToken")
    try:
        start = int(token) if token else 0
    except ValueError:
        raise ApiError("InvalidRequestException", "invalid NextToken") from None
    size = int(params.get("MaxResults") or params.get("maxResults") or default_max)
    page = items[start : start + size]
    more = start + size < len(items)
    return page, (str(start + size) if more else None)
