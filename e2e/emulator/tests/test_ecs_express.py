"""ECS Express Mode extension: model validation, moto-backed services, status machine."""

from __future__ import annotations

import re
import time

import pytest
from botocore.exceptions import ClientError

from awserror import code, fails_with

ROLE = "arn:aws:iam::123456789012:role/ecsInfrastructureRoleForExpressServices"
EXEC = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"


def create(ecs, name="redcap-web", **kw):
    return ecs.create_express_gateway_service(
        serviceName=name,
        infrastructureRoleArn=ROLE,
        executionRoleArn=EXEC,
        primaryContainer={"image": "public.ecr.aws/nginx/nginx:latest", "containerPort": 8080},
        tags=[{"key": "app", "value": "redcap"}],
        **kw,
    )["service"]


def test_create_is_a_real_ecs_service(aws):
    ecs = aws("ecs")
    svc = create(ecs)
    assert svc["status"]["statusCode"] == "ACTIVE"
    assert svc["serviceArn"] == "arn:aws:ecs:us-east-1:123456789012:service/default/redcap-web"
    conf = svc["activeConfigurations"][0]
    assert re.fullmatch(r"redcap-web-[0-9a-f]{10}\.ecs\.us-east-1\.on\.aws", conf["ingressPaths"][0]["endpoint"])
    assert conf["cpu"] == "1024" and conf["memory"] == "2048" and conf["healthCheckPath"] == "/ping"
    assert conf["scalingTarget"]["minTaskCount"] == 1
    assert svc["serviceArn"] in ecs.list_services(cluster="default")["serviceArns"]
    described = ecs.describe_services(cluster="default", services=["redcap-web"])["services"][0]
    assert described["taskDefinition"] == conf["taskDefinitionArn"]
    assert described["deployments"][0]["rolloutState"] == "COMPLETED"
    td = ecs.describe_task_definition(taskDefinition=conf["taskDefinitionArn"])["taskDefinition"]
    assert td["requiresCompatibilities"] == ["FARGATE"] and td["containerDefinitions"][0]["portMappings"][0]["containerPort"] == 8080
    got = ecs.describe_express_gateway_service(serviceArn=svc["serviceArn"], include=["TAGS"])["service"]
    assert got["tags"] == [{"key": "app", "value": "redcap"}]
    assert "tags" not in ecs.describe_express_gateway_service(serviceArn=svc["serviceArn"])["service"]


def test_update_registers_new_revision(aws):
    ecs = aws("ecs")
    svc = create(ecs)
    r = ecs.update_express_gateway_service(serviceArn=svc["serviceArn"], cpu="2048", memory="4096", scalingTarget={"minTaskCount": 2, "maxTaskCount": 4})["service"]
    target = r["targetConfiguration"]
    assert target["cpu"] == "2048" and target["taskDefinitionArn"].endswith(":2")
    described = ecs.describe_services(cluster="default", services=[svc["serviceArn"]])["services"][0]
    assert described["desiredCount"] == 2 and described["taskDefinition"] == target["taskDefinitionArn"]


def test_delete_drains_then_inactive(aws, control):
    control.config(durations={"ecs.express.drain": 1.0})
    ecs = aws("ecs")
    arn = create(ecs)["serviceArn"]
    assert ecs.delete_express_gateway_service(serviceArn=arn)["service"]["status"]["statusCode"] == "DRAINING"
    with fails_with("ServiceNotActiveException"):
        ecs.update_express_gateway_service(serviceArn=arn, cpu="2048")
    time.sleep(1.1)
    assert ecs.describe_express_gateway_service(serviceArn=arn)["service"]["status"]["statusCode"] == "INACTIVE"
    with fails_with("ServiceNotActiveException"):
        ecs.delete_express_gateway_service(serviceArn=arn)
    create(ecs)  # name reusable once the old service is inactive


def test_duplicate_and_semantic_errors(aws):
    ecs = aws("ecs")
    create(ecs)
    with fails_with("InvalidParameterException"):
        create(ecs)
    with fails_with("InvalidParameterException"):
        ecs.create_express_gateway_service(infrastructureRoleArn=ROLE, executionRoleArn=EXEC)
    with fails_with("ClusterNotFoundException"):
        create(ecs, name="other", cluster="nope")
    with fails_with("ResourceNotFoundException"):
        ecs.describe_express_gateway_service(serviceArn="arn:aws:ecs:us-east-1:123456789012:service/default/missing")


def test_model_validation(aws):
    ecs = aws("ecs", validate=False)
    with pytest.raises(ClientError) as e:
        ecs.create_express_gateway_service(serviceName="x", primaryContainer={"image": "nginx"})
    assert code(e) == "InvalidParameterException" and "infrastructureRoleArn" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        create(ecs, name="y", scalingTarget={"autoScalingMetric": "VIBES"})
    assert code(e) == "InvalidParameterException" and "VIBES" in e.value.response["Error"]["Message"]
    assert ecs.list_clusters()["clusterArns"] == []  # nothing was created
