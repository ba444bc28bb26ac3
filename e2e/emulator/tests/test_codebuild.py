"""CodeBuild builds that push images to ECR, paginated build lists, idempotent starts."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from awserror import fails_with

ACCOUNT = "123456789012"
REPO = "redcap/rc-test"
URI = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{REPO}"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0000"


def project(cb, name="rc-test-image", variables=None):
    env = [{"name": k, "value": v, "type": "PLAINTEXT"} for k, v in (variables or {"ECR_REPOSITORY_URI": URI, "IMAGE_TAG": "15.8.0-aaaa"}).items()]
    return cb.create_project(
        name=name,
        source={"type": "S3", "location": "rc-test-build/contexts/abc.zip", "buildspec": "version: 0.2\n"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0", "computeType": "BUILD_GENERAL1_MEDIUM", "privilegedMode": True, "environmentVariables": env},
        serviceRole=f"arn:aws:iam::{ACCOUNT}:role/redcap/rc-test-image-build",
        encryptionKey=KEY,
        logsConfig={"cloudWatchLogs": {"status": "ENABLED", "groupName": "/redcap/rc-test/image-build"}},
    )["project"]


def repository(ecr, mutability="IMMUTABLE"):
    ecr.create_repository(repositoryName=REPO, imageTagMutability=mutability)


def test_a_successful_build_pushes_its_tag_when_it_ends(aws, control):
    cb, ecr = aws("codebuild"), aws("ecr")
    control.config(durations={"codebuild.build:rc-test-image": 1.0})
    repository(ecr)
    project(cb)
    b = cb.start_build(projectName="rc-test-image", environmentVariablesOverride=[{"name": "IMAGE_TAG", "value": "15.8.0-bbbb"}])["build"]
    env = {v["name"]: v["value"] for v in b["environment"]["environmentVariables"]}
    assert env == {"ECR_REPOSITORY_URI": URI, "IMAGE_TAG": "15.8.0-bbbb"}, "the override wins"
    assert b["logs"]["groupName"] == "/redcap/rc-test/image-build" and b["logs"]["streamName"] == b["id"].split(":")[1]
    assert "group=%2Fredcap%2Frc-test%2Fimage-build" in b["logs"]["deepLink"]
    assert b["source"]["location"] == "rc-test-build/contexts/abc.zip"
    # Nothing in ECR while the build runs.
    with fails_with("ImageNotFoundException"):
        ecr.describe_images(repositoryName=REPO, imageIds=[{"imageTag": "15.8.0-bbbb"}])
    assert cb.batch_get_builds(ids=[b["id"]])["builds"][0]["buildStatus"] == "IN_PROGRESS"
    time.sleep(1.1)
    # ECR sees the push without anyone polling the build first.
    detail = ecr.describe_images(repositoryName=REPO, imageIds=[{"imageTag": "15.8.0-bbbb"}])["imageDetails"][0]
    assert detail["imageDigest"].startswith("sha256:") and len(detail["imageDigest"]) == 71
    done = cb.batch_get_builds(ids=[b["id"]])["builds"][0]
    assert done["buildStatus"] == "SUCCEEDED"
    assert done["exportedEnvironmentVariables"] == [{"name": "IMAGE_DIGEST", "value": detail["imageDigest"]}]
    # Polling again pushes nothing more.
    cb.batch_get_builds(ids=[b["id"]])
    assert len(ecr.list_images(repositoryName=REPO)["imageIds"]) == 1


def test_failed_and_refused_pushes(aws, control):
    cb, ecr = aws("codebuild"), aws("ecr")
    project(cb)
    # No repository: the push fails the build.
    b = cb.start_build(projectName="rc-test-image")["build"]
    done = cb.batch_get_builds(ids=[b["id"]])["builds"][0]
    failed = [p for p in done["phases"] if p.get("phaseStatus") == "FAILED"]
    assert done["buildStatus"] == "FAILED" and failed[0]["phaseType"] == "BUILD"
    assert "does not exist" in failed[0]["contexts"][0]["message"]
    # An immutable tag that exists already: refused too.
    repository(ecr)
    first = cb.start_build(projectName="rc-test-image")["build"]["id"]
    assert cb.batch_get_builds(ids=[first])["builds"][0]["buildStatus"] == "SUCCEEDED"
    second = cb.start_build(projectName="rc-test-image")["build"]["id"]
    again = cb.batch_get_builds(ids=[second])["builds"][0]
    assert again["buildStatus"] == "FAILED"
    assert "immutable" in [p for p in again["phases"] if p.get("phaseStatus") == "FAILED"][0]["contexts"][0]["message"]
    # A configured failure pushes nothing.
    control.config(outcomes={"codebuild:rc-test-image": "FAILED"})
    cb.update_project(name="rc-test-image", environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0", "computeType": "BUILD_GENERAL1_MEDIUM", "environmentVariables": [{"name": "ECR_REPOSITORY_URI", "value": URI}, {"name": "IMAGE_TAG", "value": "other"}]})
    failing = cb.start_build(projectName="rc-test-image")["build"]["id"]
    assert cb.batch_get_builds(ids=[failing])["builds"][0]["buildStatus"] == "FAILED"
    with pytest.raises(ClientError):
        ecr.describe_images(repositoryName=REPO, imageIds=[{"imageTag": "other"}])


def test_builds_without_image_variables_push_nothing(aws):
    cb, ecr = aws("codebuild"), aws("ecr")
    repository(ecr)
    project(cb, variables={"SOMETHING": "else"})
    b = cb.start_build(projectName="rc-test-image")["build"]["id"]
    assert cb.batch_get_builds(ids=[b])["builds"][0]["buildStatus"] == "SUCCEEDED"
    assert ecr.list_images(repositoryName=REPO)["imageIds"] == []


def test_builds_are_listed_newest_first_one_hundred_per_page(aws, control):
    cb = aws("codebuild")
    control.config(durations={"codebuild.build:rc-test-image": 600})
    project(cb)
    ids = [cb.start_build(projectName="rc-test-image")["build"]["id"] for _ in range(230)]
    pages, token = [], None
    while True:
        out = cb.list_builds_for_project(projectName="rc-test-image", **({"nextToken": token} if token else {}))
        pages.append(out["ids"])
        token = out.get("nextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [100, 100, 30]
    assert [i for p in pages for i in p] == list(reversed(ids))
    asc = cb.list_builds_for_project(projectName="rc-test-image", sortOrder="ASCENDING")["ids"]
    assert asc == ids[:100]
    with fails_with("ResourceNotFoundException"):
        cb.list_builds_for_project(projectName="missing")


def test_an_idempotency_token_answers_the_same_build(aws, control):
    cb = aws("codebuild")
    control.config(durations={"codebuild.build:rc-test-image": 60})
    project(cb)
    a = cb.start_build(projectName="rc-test-image", idempotencyToken="tok-1")["build"]["id"]
    b = cb.start_build(projectName="rc-test-image", idempotencyToken="tok-1")["build"]["id"]
    c = cb.start_build(projectName="rc-test-image", idempotencyToken="tok-2")["build"]["id"]
    assert a == b != c
    assert len(cb.list_builds_for_project(projectName="rc-test-image")["ids"]) == 2


def test_per_project_durations_leave_other_projects_alone(aws, control):
    cb = aws("codebuild")
    control.config(durations={"codebuild.build:slow": 60})
    project(cb, name="slow", variables={"A": "1"})
    project(cb, name="fast", variables={"A": "1"})
    slow = cb.start_build(projectName="slow")["build"]["id"]
    fast = cb.start_build(projectName="fast")["build"]["id"]
    status = {b["id"]: b["buildStatus"] for b in cb.batch_get_builds(ids=[slow, fast])["builds"]}
    assert status == {slow: "IN_PROGRESS", fast: "SUCCEEDED"}
    stopped = cb.stop_build(id=slow)["build"]
    assert stopped["buildStatus"] == "STOPPED"


def test_projects_keep_their_key_and_default_timeouts(aws):
    cb = aws("codebuild")
    created = project(cb)
    assert created["encryptionKey"] == KEY
    p = cb.batch_get_projects(names=["rc-test-image"])["projects"][0]
    assert p["encryptionKey"] == KEY and p["timeoutInMinutes"] == 60 and p["queuedTimeoutInMinutes"] == 480


def test_logs_associate_kms_key(aws):
    logs = aws("logs")
    logs.create_log_group(logGroupName="/redcap/rc-test/image-build")
    logs.associate_kms_key(logGroupName="/redcap/rc-test/image-build", kmsKeyId=KEY)
    group = logs.describe_log_groups(logGroupNamePrefix="/redcap/rc-test/image-build")["logGroups"][0]
    assert group["kmsKeyId"] == KEY
    with fails_with("ResourceNotFoundException"):
        logs.associate_kms_key(logGroupName="/missing", kmsKeyId=KEY)
