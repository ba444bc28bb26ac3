"""AWS errors as boto3 raises them, for the emulator's tests."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import pytest
from botocore.exceptions import ClientError


def code(e: pytest.ExceptionInfo[ClientError]) -> str:
    return e.value.response["Error"]["Code"]


@contextmanager
def fails_with(expected: str) -> Iterator[pytest.ExceptionInfo[ClientError]]:
    """The block must raise a ClientError whose AWS error code is `expected`."""
    with pytest.raises(ClientError) as e:
        yield e
    assert code(e) == expected, f"{code(e)} instead of {expected}: {e.value}"
