"""Fault injection: real throttling codes per protocol, 5xx, latency, drops, rates, counts."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker, TransientRetryableChecker


def error(fn, **kw) -> ClientError:
    with pytest.raises(ClientError) as e:
        fn(**kw)
    return e.value


def is_throttle(e: ClientError) -> bool:
    """botocore's own retry classifier, which mirrors the Rust SDK's throttling list."""
    ctx = RetryContext(attempt_number=1, parsed_response=e.response, http_response=None, caught_exception=None)
    return ThrottledRetryableChecker().is_retryable(ctx)


@pytest.mark.parametrize(
    "service,call,status,code",
    [
        ("ecs", lambda c: c.list_clusters(), 400, "ThrottlingException"),
        ("apprunner", lambda c: c.list_services(), 400, "ThrottlingException"),
        ("rds", lambda c: c.describe_db_clusters(), 400, "Throttling"),
        ("ec2", lambda c: c.describe_vpcs(), 503, "RequestLimitExceeded"),
        ("s3", lambda c: c.list_buckets(), 503, "SlowDown"),
        ("route53", lambda c: c.list_hosted_zones(), 400, "Throttling"),
        ("sesv2", lambda c: c.list_email_identities(), 429, "TooManyRequestsException"),
        ("cloudformation", lambda c: c.describe_stacks(), 400, "Throttling"),
    ],
)
def test_throttle_codes_per_protocol(aws, control, service, call, status, code):
    control.faults([{"service": service, "kind": "throttle"}])
    with pytest.raises(ClientError) as e:
        call(aws(service))
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert e.value.response["Error"]["Code"] == code
    assert is_throttle(e.value)


def test_next_n_calls_then_success(aws, control):
    control.faults([{"service": "rds", "operation": "DescribeDBClusters", "kind": "throttle", "count": 2}])
    rds = aws("rds")
    for _ in range(2):
        assert error(rds.describe_db_clusters).response["Error"]["Code"] == "Throttling"
    assert rds.describe_db_clusters()["DBClusters"] == []
    rds.describe_db_instances()  # other operations are untouched
    report = control.report()
    assert report["rules"][0]["fired"] == 2 and len(report["fired"]) == 2
    assert report["fired"][0]["operation"] == "DescribeDBClusters"


def test_skip_lets_first_calls_through(aws, control):
    control.faults([{"service": "ecs", "kind": "error", "skip": 1, "count": 1}])
    ecs = aws("ecs")
    ecs.list_clusters()
    e = error(ecs.list_clusters)
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 500 and e.response["Error"]["Code"] == "InternalFailure"
    ecs.list_clusters()


def fired_pattern(aws, control, seed: int) -> list[int]:
    control.faults([{"service": "sts", "kind": "throttle", "rate": 0.3}], seed=seed)
    sts = aws("sts")
    out = []
    for i in range(200):
        try:
            sts.get_caller_identity()
        except ClientError:
            out.append(i)
    return out


def test_rate_is_seeded_and_close_to_configured(aws, control):
    first = fired_pattern(aws, control, seed=7)
    assert 40 <= len(first) <= 80, len(first)
    assert fired_pattern(aws, control, seed=7) == first
    assert fired_pattern(aws, control, seed=8) != first


def test_5xx_variants_are_transient(aws, control):
    control.faults([{"service": "s3", "kind": "error", "status": 503, "count": 1}, {"service": "ec2", "kind": "error", "count": 1}])
    e = error(aws("s3").list_buckets)
    assert (e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]) == (503, "SlowDown")
    e = error(aws("ec2").describe_vpcs)
    assert (e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]) == (500, "InternalError")
    ctx = RetryContext(attempt_number=1, parsed_response=e.response, http_response=None, caught_exception=None)
    assert TransientRetryableChecker().is_retryable(ctx) or e.response["ResponseMetadata"]["HTTPStatusCode"] >= 500


def test_custom_code_and_message(aws, control):
    control.faults([{"service": "ecs", "operation": "CreateService", "kind": "error", "status": 400, "code": "ClientException", "message": "boom"}])
    e = error(aws("ecs").create_service, serviceName="x", cluster="default")
    assert e.response["Error"] == {"Code": "ClientException", "Message": "boom"} or e.response["Error"]["Code"] == "ClientException"


def test_latency(aws, control):
    control.faults([{"service": "sts", "kind": "latency", "latency_ms": 400}])
    start = time.monotonic()
    aws("sts").get_caller_identity()
    assert time.monotonic() - start >= 0.4


def test_drop_connection(aws, control):
    control.faults([{"service": "sts", "kind": "drop", "count": 1}])
    sts = aws("sts")
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        sts.get_caller_identity()
    sts.get_caller_identity()


def test_bad_rules_rejected(control):
    for body in ({"rules": [{"kind": "explode"}]}, {"rules": [{"kind": "throttle", "rate": 2}]}, {"rules": [{"kind": "throttle", "colour": "red"}]}, {"rules": [{"kind": "latency"}]}, {"wat": 1}):
        status, answer = control.request("POST", "/_emulator/faults", body)
        assert status == 400 and "error" in answer
    assert control.request("DELETE", "/_emulator/faults")[0] == 200
    assert control.report()["rules"] == []


def test_faults_spare_the_control_api(control):
    control.faults([{"kind": "error"}])  # every service, every operation
    assert control.request("GET", "/_emulator/health")[0] == 200
    assert control.request("GET", "/_emulator/config")[0] == 200
